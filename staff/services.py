"""Staff login to admin: the password, then the second factor (django-otp), then the session.

* The password step never logs anyone in: a right password only opens the second-factor page,
  in this session, for ``STAFF_PENDING_MAX_AGE`` seconds (``staff.views``).
* The second factor is a TOTP code of the staff member's authenticator (``SealedTOTPDevice``)
  or one backup code (``HashedStaticDevice``). The device rows are locked while a code is
  checked (django-otp's ``for_verify`` discipline), so a code verifies at most once even when
  submitted twice at the same instant; TOTP's ``last_t`` refuses a code already used.
* Wrong passwords and wrong codes take strikes on one counter (``staff.guard``); django-otp's
  throttle makes each device wait 1, 2, 4 … seconds after a wrong code.
* Unknown or non-staff usernames get the same answer after the same work (one check of the
  citizens' dummy hash, ``accounts.lockout.check_dummy``, with the current parameters); the
  audit log keeps only a keyed digest of a username that matched nobody.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone
from django.utils.crypto import salted_hmac
from django.utils.translation import gettext_lazy as _
from django.views.decorators.debug import sensitive_variables
from django_otp.models import Device
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts import lockout
from audit.actor import Actor
from audit.log import record
from nesportal.limits import STAFF_MAX_FAILURES

from . import guard
from .models import HashedStaticDevice, SealedTOTPDevice, StaffGuard

TOTP_SHAPE = re.compile(r"^[0-9]{6}$")
DEVICE_NAME = _("Kimlik doğrulayıcı uygulama")
BACKUP_NAME = _("Yedek kodlar")


@dataclass(frozen=True)
class Outcome:
    """What a second-factor attempt came to.

    ``kind``: ``ok`` (``device`` verified it), ``wrong`` (``left`` attempts before the lock),
    ``throttled`` (django-otp asks to wait ``wait`` seconds; no strike), ``locked``, or
    ``restart`` (nothing to confirm any more: enrolment finished in another tab)."""

    kind: str
    device: Device | None = None
    left: int = 0
    wait: int = 0
    backup_codes_left: int | None = None
    codes: list[str] = field(default_factory=list)


def username_digest(username: str) -> str:
    return "staff:" + salted_hmac("nesportal.audit.staff-username", username).hexdigest()[:24]


def has_device(user: Any) -> bool:
    return SealedTOTPDevice.objects.filter(user=user, confirmed=True).exists()


@sensitive_variables("password")
def check_password_step(username: str, password: str, *, actor: Actor) -> Any | None:
    """The staff member whose password this is, or ``None`` (the same for every refusal)."""
    user_model = get_user_model()
    user = user_model._default_manager.filter(**{user_model.USERNAME_FIELD: username}).first()
    if user is None or not user.is_active or not user.is_staff:
        lockout.check_dummy(password)
        record("nes.staff.password_failed", actor=actor, subject=username_digest(username))
        return None
    name = user.get_username()
    if not guard.reserve_strike(user.pk):
        lockout.check_dummy(password)
        record("nes.staff.locked_attempt", actor=actor, subject=name)
        return None
    if user.check_password(password):
        if guard.give_back_strike(user.pk):
            record("nes.staff.password_passed", actor=actor, subject=name)
            return user
        record("nes.staff.locked_attempt", actor=actor, subject=name)
        return None
    record(
        "nes.staff.password_failed",
        actor=actor,
        subject=name,
        failure_count=guard.failures(user.pk),
    )
    guard.lock_if_exhausted(user, StaffGuard.LockReason.WRONG_PASSWORD, actor=actor)
    return None


def _wait_seconds(data: dict[str, Any] | None) -> int:
    until = (data or {}).get("locked_until")
    if until is None:
        return 1
    return max(1, int((until - timezone.now()).total_seconds() + 0.999))


def _no_strike_left(user: Any, *, actor: Actor) -> Outcome:
    """No strike could be reserved: locked, or every strike is held by parallel attempts that
    are still being checked (then try again in a moment: nothing is locked yet)."""
    if guard.is_locked(user.pk):
        record("nes.staff.locked_attempt", actor=actor, subject=user.get_username())
        return Outcome("locked")
    return Outcome("throttled", wait=1)


def _failed(user: Any, *, actor: Actor, what: str) -> Outcome:
    """A wrong code: its strike stays; the last allowed one locks the account."""
    name = user.get_username()
    record("nes.staff.token_failed", actor=actor, subject=name, device=what)
    if guard.lock_if_exhausted(user, StaffGuard.LockReason.WRONG_TOKEN, actor=actor):
        return Outcome("locked")
    return Outcome("wrong", left=max(0, STAFF_MAX_FAILURES - guard.failures(user.pk)))


def _passed(user: Any, device: Device, *, actor: Actor) -> Outcome:
    if not guard.clear(user.pk):  # parallel failures locked the account meanwhile
        return Outcome("locked")
    actor = replace(actor, user=user)
    if isinstance(device, HashedStaticDevice):
        left = device.codes_left
        record("nes.staff.backup_code_used", actor=actor, subject=user.get_username(), left=left)
        record("nes.staff.login", actor=actor, subject=user.get_username(), method="backup")
        return Outcome("ok", device=device, backup_codes_left=left)
    record("nes.staff.login", actor=actor, subject=user.get_username(), method="totp")
    return Outcome("ok", device=device)


@sensitive_variables("token")
def verify_second_factor(user: Any, token: str, *, actor: Actor) -> Outcome:
    """Check a TOTP code (six digits) or else a backup code against ``user``'s devices."""
    token = "".join(token.split())
    totp = bool(TOTP_SHAPE.match(token))
    if not guard.reserve_strike(user.pk):
        return _no_strike_left(user, actor=actor)
    model: type[SealedTOTPDevice] | type[HashedStaticDevice] = (
        SealedTOTPDevice if totp else HashedStaticDevice
    )
    waits: list[int] = []
    with transaction.atomic():
        devices = list(model.objects.select_for_update().filter(user=user, confirmed=True))
        for device in devices:
            allowed, data = device.verify_is_allowed()
            if not allowed:
                waits.append(_wait_seconds(data))
                continue
            if device.verify_token(token):
                matched: Device | None = device
                break
        else:
            matched = None
    if matched is not None:
        return _passed(user, matched, actor=actor)
    if devices and len(waits) == len(devices):  # not checked at all: no guess was made
        guard.give_back_strike(user.pk)
        return Outcome("throttled", wait=min(waits))
    return _failed(user, actor=actor, what="totp" if totp else "backup")


def enrolment_device(user: Any) -> SealedTOTPDevice:
    """The unconfirmed authenticator this staff member is enrolling (made on first visit)."""
    device = SealedTOTPDevice.objects.filter(user=user, confirmed=False).order_by("-pk").first()
    return device or SealedTOTPDevice.create_for(user, name=str(DEVICE_NAME))


@sensitive_variables("token", "codes")
def confirm_enrolment(user: Any, token: str, *, actor: Actor) -> Outcome:
    """The first code from the new authenticator confirms it; ten backup codes come with it
    (in ``Outcome.codes``, to be shown once: only their digests are stored)."""
    token = "".join(token.split())
    if not guard.reserve_strike(user.pk):
        return _no_strike_left(user, actor=actor)
    with transaction.atomic():
        devices = list(SealedTOTPDevice.objects.select_for_update().filter(user=user))
        pending = [d for d in devices if not d.confirmed]
        if any(d.confirmed for d in devices) or not pending:
            guard.give_back_strike(user.pk)
            return Outcome("restart")
        device = max(pending, key=lambda d: d.pk)
        allowed, data = device.verify_is_allowed()
        if not allowed:
            guard.give_back_strike(user.pk)
            return Outcome("throttled", wait=_wait_seconds(data))
        if not (TOTP_SHAPE.match(token) and device.verify_token(token)):
            verified = False
        else:
            verified = True
            device.confirmed = True
            device.save(update_fields=["confirmed"])
            SealedTOTPDevice.objects.filter(user=user, confirmed=False).delete()
            backup = HashedStaticDevice.objects.filter(user=user).first()
            if backup is None:
                backup = HashedStaticDevice.objects.create(user=user, name=str(BACKUP_NAME))
            codes = backup.replace_codes()
    if not verified:
        return _failed(user, actor=actor, what="enrolment")
    record(
        "nes.staff.device_added",
        actor=replace(actor, user=user),
        subject=user.get_username(),
        backup_codes=len(codes),
    )
    outcome = _passed(user, device, actor=actor)
    return replace(outcome, codes=codes)


def reset_devices(user: Any, *, by: Any, reason: str, actor: Actor | None = None) -> int:
    """An administrator removes a colleague's authenticator and backup codes: the next login
    leads to a new enrolment, and sessions verified with the old device end at once."""
    with transaction.atomic():
        removed = TOTPDevice.objects.filter(user=user).delete()[1].get(TOTPDevice._meta.label, 0)
        removed += (
            StaticDevice.objects.filter(user=user).delete()[1].get(StaticDevice._meta.label, 0)
        )
    record(
        "nes.staff.devices_reset",
        actor=actor or Actor(user=by),
        subject=user.get_username(),
        reason=reason,
        removed=removed,
    )
    return removed
