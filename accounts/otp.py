"""SMS Onay Kodu: issuing and verifying one-time codes.

Security contract
-----------------
* A code is six digits from RFC 4226 HOTP (``pyotp``) whose secret is
  HMAC-SHA256(server key, challenge id ‖ purpose ‖ citizen id) (``accounts.codes``). Nothing
  that reveals the code is stored: not the code, not its secret. The sending task receives the
  challenge id only and derives the text itself.
* A challenge is bound to the browser session that asked for it (the row keeps the SHA-256 of a
  random token that lives only in that session) and to a purpose: a login code is useless for a
  step-up and vice versa.
* Valid for 180 s, single use, and the third wrong code invalidates it. A wrong code is also a
  strike on the citizen's code-failure counter, which only a right code resets (not a new
  login with the right word): three wrong codes in a row lock the account (``accounts.lockout``).
* Verification runs under row locks (challenge, then citizen) in one transaction, so two
  parallel submissions of one code give exactly one success. Codes are compared with
  ``hmac.compare_digest``.
* Budgets (figures in ``nesportal/limits.py``), checked under the citizen's row lock:
  the holder's *own* codes (login, revoke, PIN/PUK, Kilit Çözme, E-Onay, phone change) and the
  *recovery* codes (which anyone who knows an ID and a birth date can trigger) are two separate
  budgets, each with its own hourly limit, so hammering the recovery path never refuses the
  holder's own login a code. A new code for the same operation (purpose and subject) waits
  60 seconds after the last one; a code for another operation does not. A code SMS that finally
  failed (never delivered) costs nothing and its code is void. Every refusal is audited as
  ``nes.sms.budget_exceeded`` (no number, no code).
"""

from __future__ import annotations

import hmac
import math
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import ngettext
from django.views.decorators.debug import sensitive_variables

from audit.actor import Actor
from audit.log import record
from nesportal import limits
from nesportal.exceptions import PortalError

from . import lockout
from .codes import expected_code
from .models import MAX_FAILURES, Citizen, SmsChallenge, SmsMessage
from .sms_queue import queue_sms
from .tokens import token_hash

# Keyed by str: callers pass a purpose as stored on SmsChallenge (TextChoices are strs).
CODE_KIND: dict[str, SmsMessage.Kind] = {
    SmsChallenge.Purpose.LOGIN: SmsMessage.Kind.LOGIN_CODE,
    SmsChallenge.Purpose.REVOKE: SmsMessage.Kind.REVOKE_CODE,
    SmsChallenge.Purpose.PINPUK: SmsMessage.Kind.PINPUK_CODE,
    SmsChallenge.Purpose.UNLOCK: SmsMessage.Kind.UNLOCK_CODE,
    SmsChallenge.Purpose.RECOVERY: SmsMessage.Kind.RECOVERY_CODE,
    SmsChallenge.Purpose.PHONE_CHANGE: SmsMessage.Kind.PHONE_CHANGE_CODE,
    SmsChallenge.Purpose.EONAY: SmsMessage.Kind.EONAY_CODE,
}


class SmsRateLimited(PortalError):
    """A budget refuses this code SMS: too soon after the previous one of the same budget
    (``budget="resend"``), the hourly limit of the own or the recovery codes, or the daily
    limit of codes to one new phone number. ``message`` is what the citizen reads."""

    def __init__(
        self,
        retry_after: int,
        hourly: bool,
        *,
        budget: str = "",
        limit: int = 0,
        citizen: Citizen | None = None,
        **detail: str,
    ) -> None:
        super().__init__(retry_after)
        self.retry_after = retry_after
        self.hourly = hourly
        self.budget = budget or ("own_codes" if hourly else "resend")
        self.limit = limit or (limits.OWN_CODES_PER_HOUR if hourly else 0)
        self.citizen = citizen
        self.detail = detail  # identifiers for the audit log only: masked, never a secret

    @property
    def message(self) -> str:
        minutes = max(1, round(self.retry_after / 60))
        if self.budget == "recovery_codes":
            return ngettext(
                "Güvenlik Sözcüğü yenileme için bir saat içinde en fazla %(limit)d SMS Onay Kodu "
                "gönderilebilir. Lütfen %(minutes)d dakika sonra yeniden deneyiniz. Giriş ve "
                "diğer işlemleriniz için gönderilen kodlar bu sınırdan etkilenmez.",
                "Güvenlik Sözcüğü yenileme için bir saat içinde en fazla %(limit)d SMS Onay Kodu "
                "gönderilebilir. Lütfen %(minutes)d dakika sonra yeniden deneyiniz. Giriş ve "
                "diğer işlemleriniz için gönderilen kodlar bu sınırdan etkilenmez.",
                minutes,
            ) % {"limit": self.limit, "minutes": minutes}
        if self.budget == "phone_number":
            hours = max(1, math.ceil(self.retry_after / 3600))
            return ngettext(
                "Bu numaraya bir gün içinde en fazla %(limit)d onay kodu gönderilebilir. Lütfen "
                "%(hours)d saat sonra yeniden deneyiniz ya da başka bir numara giriniz.",
                "Bu numaraya bir gün içinde en fazla %(limit)d onay kodu gönderilebilir. Lütfen "
                "%(hours)d saat sonra yeniden deneyiniz ya da başka bir numara giriniz.",
                hours,
            ) % {"limit": self.limit, "hours": hours}
        if self.hourly:
            return ngettext(
                "Bir saat içinde en fazla %(limit)d SMS Onay Kodu gönderilebilir. Lütfen "
                "%(minutes)d dakika sonra yeniden deneyiniz.",
                "Bir saat içinde en fazla %(limit)d SMS Onay Kodu gönderilebilir. Lütfen "
                "%(minutes)d dakika sonra yeniden deneyiniz.",
                minutes,
            ) % {"limit": self.limit, "minutes": minutes}
        return ngettext(
            "Yeni kod isteyebilmek için %(seconds)d saniye bekleyiniz.",
            "Yeni kod isteyebilmek için %(seconds)d saniye bekleyiniz.",
            self.retry_after,
        ) % {"seconds": self.retry_after}

    def audit(self, actor: Actor | None) -> None:
        """Record the refusal (``nes.sms.budget_exceeded``). ``issue_challenge`` does, after its
        own transaction; a caller that wraps it in a transaction of its own, which the refusal
        rolls back (and the audit event with it), calls this again after that rollback."""
        record(
            "nes.sms.budget_exceeded",
            actor=actor,
            citizen=self.citizen,
            budget=self.budget,
            limit=self.limit,
            retry_after=self.retry_after,
            **self.detail,
        )


def _wait(since: datetime, window: timedelta, now: datetime) -> int:
    return max(1, math.ceil((since + window - now).total_seconds()))


def budget_wait(rows: QuerySet, limit: int, window: timedelta, now: datetime) -> int | None:
    """Seconds until the oldest of ``rows`` (created within ``window``) leaves the window, when
    ``limit`` of them are there already; None while there is room. Call under the lock that
    serialises the budget (the citizen's row, or an advisory lock on the number/address)."""
    if rows.count() < limit:
        return None
    oldest = rows.order_by("created_at").values_list("created_at", flat=True).first()
    assert oldest is not None
    return _wait(oldest, window, now)


def code_budget(purpose: str) -> tuple[str, tuple[str, ...], int]:
    """(budget name, the SMS kinds it counts, its hourly limit) for a code of ``purpose``."""
    if CODE_KIND[purpose] in SmsMessage.RECOVERY_CODE_KINDS:
        return "recovery_codes", SmsMessage.RECOVERY_CODE_KINDS, limits.RECOVERY_CODES_PER_HOUR
    return "own_codes", SmsMessage.OWN_CODE_KINDS, limits.OWN_CODES_PER_HOUR


def _check_code_budget(
    citizen: Citizen, purpose: str, now: datetime, subject: str = ""
) -> SmsRateLimited | None:
    """The refusal for one more code of ``purpose`` now, or None (caller holds the row lock)."""
    budget, kinds, limit = code_budget(purpose)
    # The resend rule is about a pending code for the same operation (purpose and subject):
    # after a code was used, voided (lock, unlock, undelivered) or expired, or for another
    # operation (the revocation after the login, another card), a new one may come at once (the
    # hourly limit still holds). A pending recovery code never delays the holder's login code.
    # Codes to a *new* number wait whatever the number: they reach phones that are not the
    # holder's, and a logged-in session must not spray them.
    same = {} if purpose == SmsChallenge.Purpose.PHONE_CHANGE else {"subject": subject}
    latest = (
        SmsChallenge.objects.filter(
            citizen=citizen,
            purpose=purpose,
            **same,
            consumed_at=None,
            invalidated_at=None,
            expires_at__gt=now,
        )
        .order_by("-created_at")
        .first()
    )
    if latest and latest.created_at + SmsChallenge.RESEND_AFTER > now:
        return SmsRateLimited(
            _wait(latest.created_at, SmsChallenge.RESEND_AFTER, now),
            hourly=False,
            budget="resend",
            citizen=citizen,
            purpose=purpose,
            resend_budget=budget,
        )
    hour = timedelta(hours=1)
    window = SmsMessage.objects.filter(
        citizen=citizen, kind__in=kinds, created_at__gt=now - hour
    ).exclude(status__in=SmsMessage.FREE_STATUSES)
    wait = budget_wait(window, limit, hour, now)
    if wait is not None:
        return SmsRateLimited(
            wait,
            hourly=True,
            budget=budget,
            limit=limit,
            citizen=citizen,
            purpose=purpose,
        )
    return None


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


def issue_challenge(
    citizen: Citizen,
    purpose: str,
    *,
    subject: str = "",
    to: str | None = None,
    actor: Actor | None = None,
    now: datetime | None = None,
) -> tuple[SmsChallenge, str]:
    """Create a challenge and queue its SMS. Returns (challenge, session binding token).

    ``subject`` names what the code confirms (e.g. a certificate serial); it is part of the
    code's derivation, so a code for one certificate cannot confirm another.

    Raises ``SmsRateLimited`` when the code's budget (resend window, hourly limit) forbids a
    new SMS; the refusal is audited here. A caller that wraps this call in a transaction of its
    own audits it again after that transaction rolled back (``exc.audit(actor)``).
    """
    now = now or timezone.now()
    token = secrets.token_urlsafe(32)
    refused = None
    with transaction.atomic():
        # Serialises issuing per citizen so the budgets below cannot be raced.
        Citizen.objects.select_for_update().only("pk").get(pk=citizen.pk)
        refused = _check_code_budget(citizen, purpose, now, subject)
        if refused is None:
            challenge = _create_challenge(citizen, purpose, subject, token, now)
            queue_sms(
                citizen,
                CODE_KIND[purpose],
                challenge=challenge,
                actor=actor,
                expires=challenge.expires_at,
                to=to,
            )
    if refused is not None:
        refused.audit(actor)
        raise refused
    return challenge, token


def _create_challenge(
    citizen: Citizen, purpose: str, subject: str, token: str, now: datetime
) -> SmsChallenge:
    # A new code supersedes the open ones of the same purpose.
    SmsChallenge.objects.filter(
        citizen=citizen, purpose=purpose, consumed_at=None, invalidated_at=None
    ).update(invalidated_at=now)
    return SmsChallenge.objects.create(
        citizen=citizen,
        purpose=purpose,
        subject=subject,
        binding_hash=token_hash(token),
        created_at=now,
        expires_at=now + SmsChallenge.LIFETIME,
    )


def rebind_recent_challenge(
    citizen: Citizen, purpose: str, *, subject: str = "", now: datetime | None = None
) -> tuple[SmsChallenge, str] | None:
    """Move a code of ``purpose`` and ``subject`` sent less than 60 s ago to a new session
    instead of sending another.

    Used when a flow is started twice within a minute (a second login with the right word, a
    second tab or device): the code already on the phone stays valid, and only the newest
    session can use it (``accounts.stepup.start``).
    """
    now = now or timezone.now()
    token = secrets.token_urlsafe(32)
    with transaction.atomic():
        challenge = (
            SmsChallenge.objects.select_for_update()
            .filter(
                citizen=citizen,
                purpose=purpose,
                subject=subject,
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
        challenge.binding_hash = token_hash(token)
        challenge.save(update_fields=["binding_hash"])
    return challenge, token


@sensitive_variables("code", "expected")
def verify_code(
    challenge_id: str,
    token: str,
    purpose: str,
    code: str,
    *,
    subject: str = "",
    actor: Actor | None = None,
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
            or not hmac.compare_digest(challenge.binding_hash, token_hash(token))
        ):
            return Verification(Outcome.INVALID)
        citizen = Citizen.objects.select_for_update().get(pk=challenge.citizen_id)
        if citizen.is_locked:
            return Verification(Outcome.LOCKED, citizen)
        if challenge.consumed_at or challenge.invalidated_at:
            return Verification(Outcome.USED, citizen)
        # A code whose SMS finally failed is void (it cost no budget either); a new one can be
        # asked for at once.
        if challenge.messages.filter(status=SmsMessage.Status.FAILED).exists():
            return Verification(Outcome.USED, citizen)
        if challenge.expires_at <= now:
            return Verification(Outcome.EXPIRED, citizen)

        expected = expected_code(challenge)
        if hmac.compare_digest(expected.encode(), code.encode()):
            challenge.consumed_at = now
            challenge.save(update_fields=["consumed_at"])
            lockout.reset_counters(citizen)
            record("nes.login.code_passed", actor=actor, citizen=citizen, purpose=purpose)
            return Verification(Outcome.OK, citizen)

        challenge.wrong_attempts += 1
        if challenge.wrong_attempts >= SmsChallenge.MAX_WRONG:
            challenge.invalidated_at = now
        challenge.save(update_fields=["wrong_attempts", "invalidated_at"])
        # Counted on its own: a new login with the right word does not break "3 in a row".
        lockout.count_code_failure(citizen)
        record(
            "nes.login.code_failed",
            actor=actor,
            citizen=citizen,
            purpose=purpose,
            code_failure_count=citizen.code_failure_count,
        )
        if citizen.code_failure_count >= MAX_FAILURES:
            lockout.lock(citizen.pk, Citizen.LockReason.WRONG_CODE, actor=actor, now=now)
            return Verification(Outcome.LOCKED, citizen)
        # A challenge cannot collect three wrong codes without the account counter reaching three
        # too (only a right code resets it), so a voided challenge always ends in LOCKED above.
        return Verification(
            Outcome.WRONG, citizen, attempts_left=MAX_FAILURES - citizen.code_failure_count
        )
