"""``record()``: the one way code writes to the audit log."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.http import HttpRequest

from .models import AuditEvent

if TYPE_CHECKING:
    from accounts.models import Citizen


def client_ip(request: HttpRequest | None) -> str | None:
    """The peer address. Behind a proxy, configure the proxy (gunicorn ``forwarded_allow_ips``)
    rather than trusting a client-supplied X-Forwarded-For here."""
    if request is None:
        return None
    return request.META.get("REMOTE_ADDR") or None


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
