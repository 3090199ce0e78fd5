import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "nesportal.settings")

django_application = get_wsgi_application()

from certificates.fastpath import OcspFastPath  # noqa: E402 (needs the apps loaded)

# Pre-signed OCSP answers skip the middleware chain (certificates/fastpath.py).
application = OcspFastPath(django_application)
