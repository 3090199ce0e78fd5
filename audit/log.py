"""``record()``: the one way code writes to the audit log."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.http import HttpRequest

from nesportal.clientip import client_ip as _client_ip

from .models import AuditEvent

if TYPE_CHECKING:
    from accounts.models import Citizen


def client_ip(request: HttpRequest | None) -> str | None:
    """The client's address as the throttles see it (``nesportal.clientip``: the peer, or the
    trusted proxies' X-Forwarded-For entry when the peer is one of ``NES_TRUSTED_PROXIES``)."""
    if request is None:
        return None
    return _client_ip(request) or None


def record(
    action: str,
    *,
    citizen: Citizen | None = None,
    actor: Any = None,
    request: HttpRequest | None = None,
    subject: str = "",
    **data: Any,
) -> AuditEvent:
    """Append one event. ``data`` holds identifiers and outcomes only, never a secret."""
    if actor is not None and not getattr(actor, "is_authenticated", False):
        actor = None
    return AuditEvent.objects.create(
        action=action,
        citizen=citizen,
        actor=actor,
        subject=subject,
        ip_address=client_ip(request),
        data=data,
    )
