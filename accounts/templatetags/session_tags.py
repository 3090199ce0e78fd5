"""``{% session_seconds_left %}``: how long the citizen's session has left, for
static/js/session.js (``data-session-seconds`` on <body>).

``PortalSessionMiddleware`` writes the session at most every ``SESSION_REFRESH_SECONDS``, so the
session may end up to a minute before "now + SESSION_COOKIE_AGE". The figure here is the real
one: full when this response writes the session (changed, or its last write is stale), otherwise
what is left since the last write. It errs short, never long: a warning a little early is
harmless, an "Oturumu uzat" button after the session ended is not.
"""

from __future__ import annotations

import time

from django import template
from django.conf import settings
from django.http import HttpRequest

from nesportal.middleware import SESSION_TOUCHED

register = template.Library()


def seconds_left(request: HttpRequest, now: float | None = None) -> int:
    session = request.session
    now = time.time() if now is None else now
    age = int(settings.SESSION_COOKIE_AGE)
    touched = session.get(SESSION_TOUCHED, 0)
    if session.modified or now - touched >= settings.SESSION_REFRESH_SECONDS:
        return age
    return max(0, int(touched + age - now))


@register.simple_tag(takes_context=True)
def session_seconds_left(context: template.Context) -> int:
    request = context.get("request")
    return seconds_left(request) if request is not None else 0


@register.simple_tag
def session_warning_lead() -> int:
    """How long before the idle logout the page warns ("Oturumu uzat"): 2 minutes unless
    ``NES_SESSION_WARNING_SECONDS`` says otherwise."""
    return int(getattr(settings, "NES_SESSION_WARNING_SECONDS", 120))
