"""The staff account lock: wrong passwords and wrong second-factor codes, counted together.

The same discipline as the citizens' lock (``accounts.lockout``): a strike is *reserved* with a
conditional UPDATE (``failure_count < STAFF_MAX_FAILURES`` and not locked) before the password
or code is checked, so parallel guesses cannot get past the limit; a right password gives its
own strike back (a password alone proves nothing more), a right second factor clears the count,
a wrong one keeps its strike and the last allowed one locks the account. Only a superuser
unlocks (``unlock``, with a reason, audited).
"""

from __future__ import annotations

from typing import Any

from django.db.models import F
from django.utils import timezone

from audit.actor import Actor
from audit.log import record
from nesportal.limits import STAFF_MAX_FAILURES

from .models import StaffGuard


def _guard(user_id: int) -> Any:
    StaffGuard.objects.get_or_create(user_id=user_id)
    return StaffGuard.objects.filter(user_id=user_id)


def reserve_strike(user_id: int) -> bool:
    """One strike taken before a check; ``False``: the account is locked (or out of strikes)."""
    return bool(
        _guard(user_id)
        .filter(failure_count__lt=STAFF_MAX_FAILURES, locked_at=None)
        .update(failure_count=F("failure_count") + 1)
    )


def give_back_strike(user_id: int) -> bool:
    """A right password returns its strike; ``False`` if the account locked meanwhile."""
    return bool(
        StaffGuard.objects.filter(user_id=user_id, locked_at=None, failure_count__gt=0).update(
            failure_count=F("failure_count") - 1
        )
    )


def clear(user_id: int) -> bool:
    """A right second factor: the count starts again; ``False`` if locked meanwhile."""
    return bool(StaffGuard.objects.filter(user_id=user_id, locked_at=None).update(failure_count=0))


def failures(user_id: int) -> int:
    return (
        StaffGuard.objects.filter(user_id=user_id).values_list("failure_count", flat=True).first()
        or 0
    )


def lock_if_exhausted(user: Any, reason: StaffGuard.LockReason, *, actor: Actor) -> bool:
    """Lock once the strikes are used up (by this failure or parallel ones); audited once."""
    locked = bool(
        StaffGuard.objects.filter(
            user_id=user.pk, locked_at=None, failure_count__gte=STAFF_MAX_FAILURES
        ).update(locked_at=timezone.now(), lock_reason=reason)
    )
    if locked:
        record("nes.staff.locked", actor=actor, subject=user.get_username(), reason=reason.value)
    return locked


def is_locked(user_id: int) -> bool:
    return StaffGuard.objects.filter(user_id=user_id, locked_at__isnull=False).exists()


def unlock(user: Any, *, by: Any, reason: str, actor: Actor | None = None) -> bool:
    """A superuser unlocks a staff account (``by``, with ``reason``); ``False`` if not locked."""
    unlocked = bool(
        StaffGuard.objects.filter(user_id=user.pk, locked_at__isnull=False).update(
            locked_at=None, lock_reason="", failure_count=0
        )
    )
    if unlocked:
        record(
            "nes.staff.unlocked",
            actor=actor or Actor(user=by),
            subject=user.get_username(),
            reason=reason,
        )
    return unlocked
