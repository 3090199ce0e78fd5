"""``record()``: the one way code writes to the audit log."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .actor import Actor
from .models import AuditEvent

if TYPE_CHECKING:
    from accounts.models import Citizen


def record(
    action: str,
    *,
    actor: Actor | None = None,
    citizen: Citizen | None = None,
    subject: str = "",
    **data: Any,
) -> AuditEvent:
    """Append one event. ``data`` holds identifiers and outcomes only, never a secret.

    ``actor`` (``audit.actor``) says who acted: its staff user becomes the event's actor and
    its address the event's IP. ``citizen`` is the citizen the event is about, named
    explicitly (an agent's unlock is about a citizen the agent is not)."""
    return AuditEvent.objects.create(
        action=action,
        citizen=citizen,
        actor=actor.audit_user if actor is not None else None,
        subject=subject,
        ip_address=actor.ip if actor is not None else None,
        data=data,
    )
