"""The Celery application.

With no broker configured (the embedded default) every task runs in-process, eagerly; with
``REDIS_URL`` or ``CELERY_BROKER_URL`` set, tasks go through the broker to a ``celery worker``.
"""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "nesportal.settings")

app = Celery("nesportal")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
