"""The portal's URLs (``nesportal.urls``) plus ``/bench/bare/``; only bench/bare_settings.py
names this module."""

from django.urls import include, path

from nesportal.urls import handler400, handler403, handler404, handler500

from .bare_views import bare

__all__ = ["handler400", "handler403", "handler404", "handler500", "urlpatterns"]

urlpatterns = [
    path("bench/bare/", bare, name="bench-bare"),
    path("", include("nesportal.urls")),
]
