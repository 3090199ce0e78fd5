"""SMS Onay Kodu: issuing and verifying one-time codes.

Security contract
-----------------
* A code is six digits from RFC 4226 HOTP (``pyotp``) whose secret is
  HMAC-SHA256(server key, challenge id ‖ purpose ‖ citizen id). Nothing that reveals the code is
  stored: not the code, not its secret. The sending task receives the challenge id only and
  derives the text itself.
* A challenge is bound to the browser session that asked for it (the row keeps the SHA-256 of a
  random token that lives only in that session) and to a purpose: a login code is useless for a
  step-up and vice versa.
* Valid for 180 s, single use, and the third wrong code invalidates it. A wrong code is also a
  strike on the citizen's code-failure counter, which only a right code resets (not a new
  login with the right word): three wrong codes in a row lock the account.
* Verification runs under row locks (challenge, then citizen) in one transaction, so two
  parallel submissions of one code give exactly one success. Codes are compared with
  ``hmac.compare_digest``.
* A new code can be asked for 60 s after the pending one at the earliest, and at most five code
  SMS go to one citizen per hour; both limits are checked under the citizen's row lock.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import math
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum

import pyotp
from django.db import transaction
from django.db.models import Q
from django.http import HttpRequest
from django.utils import timezone
from django.utils.crypto import salted_hmac
from django.views.decorators.debug import sensitive_variables

from audit.log import record

from .models import MAX_FAILURES, Citizen, SmsChallenge, SmsMessage

CODE_DIGITS = 6
CODE_KIND = {
    SmsChallenge.Purpose.LOGIN: SmsMessage.Kind.LOGIN_CODE,
    SmsChallenge.Purpose.REVOKE: SmsMessage.Kind.REVOKE_CODE,
    SmsChallenge.Purpose.PINPUK: SmsMessage.Kind.PINPUK_CODE,
    SmsChallenge.Purpose.UNLOCK: SmsMessage.Kind.UNLOCK_CODE,
    SmsChallenge.Purpose.RECOVERY: SmsMessage.Kind.RECOVERY_CODE,
    SmsChallenge.Purpose.PHONE_CHANGE: SmsMessage.Kind.PHONE_CHANGE_CODE,
    SmsChallenge.Purpose.EONAY: SmsMessage.Kind.EONAY_CODE,
}


class SmsRateLimited(Exception):
    """Too soon after the previous code, or the hourly limit is reached."""

    def __init__(self, retry_after: int, hourly: bool) -> None:
        super().__init__(retry_after)
        self.retry_after = retry_after
        self.hourly = hourly


class Outcome(Enum):
    OK = "ok"
    WRONG = "wrong"  # wrong code, the challenge is still open
    EXPIRED = "expired"
    USED = "used"  # consumed, superseded or voided earlier
    LOCKED = "locked"  # the account is (now) locked
    INVALID = "invalid"  # not this session's challenge, or wrong purpose


@dataclass(frozen=True)
class Verification:
    outcome: Outcome
    citizen: Citizen | None = None
    attempts_left: int = 0


def _binding_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@sensitive_variables("secret")
def expected_code(challenge: SmsChallenge) -> str:
    """The code for ``challenge``, derived with the server key (never stored)."""
    mac = salted_hmac(
        "nesportal.accounts.otp",
        f"{challenge.pk}:{challenge.purpose}:{challenge.subject}:{challenge.citizen_id}",
        algorithm="sha256",
    ).digest()
    secret = base64.b32encode(mac).decode()
    return pyotp.HOTP(secret, digits=CODE_DIGITS).at(0)


def issue_challenge(
    citizen: Citizen,
    purpose: str,
    *,
    subject: str = "",
    to: str | None = None,
    request: HttpRequest | None = None,
    now: datetime | None = None,
) -> tuple[SmsChallenge, str]:
    """Create a challenge and queue its SMS. Returns (challenge, session binding token).

    ``subject`` names what the code confirms (e.g. a certificate serial); it is part of the
    code's derivation, so a code for one certificate cannot confirm another.

    Raises ``SmsRateLimited`` when the 60-second or hourly limit forbids a new SMS.
    """
    from .tasks import queue_sms

    now = now or timezone.now()
    token = secrets.token_urlsafe(32)
    with transaction.atomic():
        # Serialises issuing per citizen so the limits below cannot be raced.
        Citizen.objects.select_for_update().only("pk").get(pk=citizen.pk)
        # The 60-second rule is about resending a code that is still pending; after a code was
        # used, voided (lock, unlock) or expired, a new login may get one at once (the hourly
        # limit still holds).
        latest = (
            SmsChallenge.objects.filter(
                citizen=citizen, consumed_at=None, invalidated_at=None, expires_at__gt=now
            )
            .order_by("-created_at")
            .first()
        )
        if latest and latest.created_at + SmsChallenge.RESEND_AFTER > now:
            wait = latest.created_at + SmsChallenge.RESEND_AFTER - now
            raise SmsRateLimited(retry_after=max(1, math.ceil(wait.total_seconds())), hourly=False)
        window = SmsMessage.objects.filter(
            citizen=citizen,
            kind__in=SmsMessage.CODE_KINDS,
            created_at__gt=now - timedelta(hours=1),
        )
        if window.count() >= SmsMessage.HOURLY_CODE_LIMIT:
            oldest = window.order_by("created_at").first()
            assert oldest is not None
            wait = oldest.created_at + timedelta(hours=1) - now
            raise SmsRateLimited(retry_after=max(1, math.ceil(wait.total_seconds())), hourly=True)
        # A new code supersedes the open ones of the same purpose.
        SmsChallenge.objects.filter(
            citizen=citizen, purpose=purpose, consumed_at=None, invalidated_at=None
        ).update(invalidated_at=now)
        challenge = SmsChallenge.objects.create(
            citizen=citizen,
            purpose=purpose,
            subject=subject,
            binding_hash=_binding_hash(token),
            created_at=now,
            expires_at=now + SmsChallenge.LIFETIME,
        )
        queue_sms(
            citizen,
            CODE_KIND[purpose],
            challenge=challenge,
            request=request,
            expires=challenge.expires_at,
            to=to,
        )
    return challenge, token


def rebind_recent_challenge(
    citizen: Citizen, purpose: str, *, now: datetime | None = None
) -> tuple[SmsChallenge, str] | None:
    """Move a code sent less than 60 s ago to a new session instead of sending another.

    Used when a citizen passes the security-word step twice within a minute: the code already on
    their phone stays valid, and only the newest session can use it.
    """
    now = now or timezone.now()
    token = secrets.token_urlsafe(32)
    with transaction.atomic():
        challenge = (
            SmsChallenge.objects.select_for_update()
            .filter(
                citizen=citizen,
                purpose=purpose,
                consumed_at=None,
                invalidated_at=None,
                expires_at__gt=now,
                created_at__gt=now - SmsChallenge.RESEND_AFTER,
            )
            .order_by("-created_at")
            .first()
        )
        if challenge is None:
            return None
        challenge.binding_hash = _binding_hash(token)
        challenge.save(update_fields=["binding_hash"])
    return challenge, token


def lock_citizen(
    citizen_id: int, reason: str, *, request: HttpRequest | None, now: datetime
) -> bool:
    """Lock the account if its counter reached the maximum. True if this call locked it."""
    from .tasks import queue_sms

    with transaction.atomic():
        locked = Citizen.objects.filter(
            Q(failure_count__gte=MAX_FAILURES) | Q(code_failure_count__gte=MAX_FAILURES),
            pk=citizen_id,
            locked_at=None,
        ).update(locked_at=now, lock_reason=reason)
        if locked:
            citizen = Citizen.objects.get(pk=citizen_id)
            SmsChallenge.objects.filter(
                citizen=citizen, consumed_at=None, invalidated_at=None
            ).update(invalidated_at=now)
            record("nes.account.locked", citizen=citizen, request=request, reason=reason)
            queue_sms(
                citizen,
                SmsMessage.Kind.ACCOUNT_LOCKED,
                request=request,
                expires=now + timedelta(hours=1),
            )
    return bool(locked)


@sensitive_variables("code", "expected")
def verify_code(
    challenge_id: str,
    token: str,
    purpose: str,
    code: str,
    *,
    subject: str = "",
    request: HttpRequest | None = None,
    now: datetime | None = None,
) -> Verification:
    """Check ``code`` for the session's challenge. See the module docstring for the contract."""
    now = now or timezone.now()
    with transaction.atomic():
        challenge = SmsChallenge.objects.select_for_update().filter(pk=challenge_id).first()
        if (
            challenge is None
            or challenge.purpose != purpose
            or challenge.subject != subject
            or not hmac.compare_digest(challenge.binding_hash, _binding_hash(token))
        ):
            return Verification(Outcome.INVALID)
        citizen = Citizen.objects.select_for_update().get(pk=challenge.citizen_id)
        if citizen.is_locked:
            return Verification(Outcome.LOCKED, citizen)
        if challenge.consumed_at or challenge.invalidated_at:
            return Verification(Outcome.USED, citizen)
        if challenge.expires_at <= now:
            return Verification(Outcome.EXPIRED, citizen)

        expected = expected_code(challenge)
        if hmac.compare_digest(expected.encode(), code.encode()):
            challenge.consumed_at = now
            challenge.save(update_fields=["consumed_at"])
            Citizen.objects.filter(pk=citizen.pk).update(failure_count=0, code_failure_count=0)
            citizen.failure_count = citizen.code_failure_count = 0
            record("nes.login.code_passed", citizen=citizen, request=request, purpose=purpose)
            return Verification(Outcome.OK, citizen)

        challenge.wrong_attempts += 1
        if challenge.wrong_attempts >= SmsChallenge.MAX_WRONG:
            challenge.invalidated_at = now
        challenge.save(update_fields=["wrong_attempts", "invalidated_at"])
        # Counted on its own: a new login with the right word does not break "3 in a row".
        citizen.code_failure_count = min(citizen.code_failure_count + 1, MAX_FAILURES)
        Citizen.objects.filter(pk=citizen.pk).update(code_failure_count=citizen.code_failure_count)
        record(
            "nes.login.code_failed",
            citizen=citizen,
            request=request,
            purpose=purpose,
            code_failure_count=citizen.code_failure_count,
        )
        if citizen.code_failure_count >= MAX_FAILURES:
            lock_citizen(citizen.pk, Citizen.LockReason.WRONG_CODE, request=request, now=now)
            return Verification(Outcome.LOCKED, citizen)
        # A challenge cannot collect three wrong codes without the account counter reaching three
        # too (only a right code resets it), so a voided challenge always ends in LOCKED above.
        return Verification(
            Outcome.WRONG, citizen, attempts_left=MAX_FAILURES - citizen.code_failure_count
        )
