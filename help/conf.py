"""The help app's settings, with their defaults (override them in settings)."""

from django.conf import settings


def session_warning_seconds() -> int:
    """How long before the idle logout the page warns ("Oturumu uzat"): 2 minutes."""
    return int(getattr(settings, "NES_SESSION_WARNING_SECONDS", 120))
