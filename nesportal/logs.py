"""Request ids and one-line log records for refused requests.

Every request gets an id (``request.request_id``, the ``X-Request-ID`` response header, the
error pages, and ``request_id=`` in every log line written while it runs), so that a citizen
can read the code on an error page to the call centre and an operator finds the matching log
lines. The id comes from the client's ``X-Request-ID`` header only when
``NES_TRUST_REQUEST_ID_HEADER`` is on (the reverse proxy sets the header and strips any the
client sent) and only if it matches ``REQUEST_ID_RE``; otherwise it is a fresh random one.

Refused requests — a wrong Host (``django.security.DisallowedHost``), too many fields or too
large a body, any other ``SuspiciousOperation``, and 400/403/404/405/429 answers on
``django.request`` — are written as ONE line without a traceback (``OneLineRefusals``): they
are the client's fault, and one client could otherwise fill the disk with 48 KB of chained
tracebacks per 3-byte request. Real faults (5xx) keep their traceback.
"""

from __future__ import annotations

import logging
import re
import secrets
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any

from django.conf import settings
from django.core.signals import request_finished
from django.http import HttpRequest, HttpResponse

from .http import PortalRequest

REQUEST_ID_HEADER = "X-Request-ID"
REQUEST_ID_RE = re.compile(r"[A-Za-z0-9-]{8,64}")
NO_REQUEST = "-"

_request_id: ContextVar[str] = ContextVar("nes_request_id", default=NO_REQUEST)

# Status codes of django.request records that are a refusal, not a fault.
REFUSED_STATUSES = frozenset({400, 403, 404, 405, 429})
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def new_request_id() -> str:
    return secrets.token_hex(16)


def current_request_id() -> str:
    """The id of the request this thread (or task) is serving, or ``"-"``."""
    return _request_id.get()


def request_id_of(request: HttpRequest | None) -> str:
    return getattr(request, "request_id", None) or current_request_id()


class RequestIdMiddleware:
    """First in MIDDLEWARE: gives the request its id and the response its header.

    The id stays in the context variable until the response is closed (``request_finished``):
    Django writes its "Not Found: /path" record after the whole middleware chain returned.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: PortalRequest) -> HttpResponse:
        request_id = self.incoming(request) or new_request_id()
        request.request_id = request_id
        _request_id.set(request_id)
        response = self.get_response(request)
        response[REQUEST_ID_HEADER] = request_id
        return response

    @staticmethod
    def incoming(request: HttpRequest) -> str | None:
        if not settings.NES_TRUST_REQUEST_ID_HEADER:
            return None
        value = request.META.get("HTTP_X_REQUEST_ID", "")
        return value if REQUEST_ID_RE.fullmatch(value) else None


def _forget_request_id(**_kwargs: Any) -> None:
    _request_id.set(NO_REQUEST)


request_finished.connect(_forget_request_id, dispatch_uid="nesportal.logs.forget_request_id")


def request_id_context(request: HttpRequest) -> dict[str, str]:
    """Template context processor: ``{{ request_id }}``."""
    return {"request_id": request_id_of(request)}


class RequestIdFilter(logging.Filter):
    """A handler filter: every record gets ``record.request_id`` (``"-"`` outside a request)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            # Django's records carry the request itself (extra={"request": …}).
            record.request_id = request_id_of(getattr(record, "request", None))
        return True


def is_refusal(record: logging.LogRecord) -> bool:
    if record.name.startswith("django.security"):
        return True
    if record.name == "django.request":
        return getattr(record, "status_code", None) in REFUSED_STATUSES
    return False


class OneLineRefusals(logging.Filter):
    """A handler filter: a refused request becomes one line, without traceback.

    The exception's type and message are kept (they say why it was refused), control
    characters of the client's input are escaped so that a path cannot forge a second line, and
    the level is at most WARNING (Django logs ``django.security.*`` at ERROR).
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if not is_refusal(record):
            return True
        message = record.getMessage()
        if record.exc_info and record.exc_info[1] is not None:
            exc = record.exc_info[1]
            reason = f"{type(exc).__name__}: {exc}"
            if str(exc) not in message:
                message = f"{message} ({reason})"
            elif type(exc).__name__ not in message:
                message = f"{message} ({type(exc).__name__})"
        record.msg = _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", message)
        record.args = None
        record.exc_info = None
        record.exc_text = None
        record.stack_info = None
        if record.levelno > logging.WARNING:
            # Django logs django.security.* at ERROR; a refusal is not a fault of ours.
            record.levelno, record.levelname = logging.WARNING, "WARNING"
        return True
