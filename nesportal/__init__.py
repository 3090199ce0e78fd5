"""NES Portal project package (settings, URLs, the Celery app, test fixtures).

Deliberately imports nothing: ``nesportal.testing`` is a pytest plugin loaded by other
projects' test runs. The Celery app is imported when Django starts (``AccountsConfig.ready``)
and found by ``celery -A nesportal`` as ``nesportal.celery``.
"""
