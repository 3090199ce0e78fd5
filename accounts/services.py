"""Login and call-centre workflows: security-word check, unlock, session binding.

The 3-strike lock is our own per-account counter (not django-axes, which checks the lock before
authenticating and records the failure afterwards, so parallel requests get extra guesses).
A strike is *reserved* with a conditional UPDATE (``failure_count < 3`` and not locked) before
the Argon2 check runs; a request that cannot reserve one never touches the real hash. So no more
than three checks can ever happen between two successes, however many requests arrive at once.
The Argon2 check itself runs outside any transaction or row lock.
"""

from __future__ import annotations

import secrets

from django.contrib.auth.hashers import check_password, make_password
from django.db import transaction
from django.db.models import F
from django.http import HttpRequest
from django.middleware.csrf import rotate_token
from django.utils import timezone
from django.utils.crypto import constant_time_compare, salted_hmac
from django.views.decorators.debug import sensitive_variables

from audit.log import record

from .models import MAX_FAILURES, Citizen, SmsChallenge

SESSION_CITIZEN = "nes_citizen"
SESSION_CITIZEN_HASH = "nes_citizen_hash"
SESSION_PENDING = "nes_pending_login"

_dummy_hash: str | None = None


def dummy_hash() -> str:
    """An Argon2 hash of a random word, checked when there is no real hash to check, so that
    unknown IDs and locked accounts cost the same work as a wrong security word."""
    global _dummy_hash
    if _dummy_hash is None:
        _dummy_hash = make_password(secrets.token_urlsafe(24))
    return _dummy_hash


def subject_digest(identifier: str) -> str:
    """Keyed digest of an identifier that matched no citizen: lets the audit log group attempts
    on one unknown ID without storing the ID itself."""
    return "id:" + salted_hmac("nesportal.audit.subject", identifier).hexdigest()[:24]


@sensitive_variables("word")
def check_security_word(identifier: str, word: str, *, request: HttpRequest) -> Citizen | None:
    """Return the citizen if ``word`` is their security word, else None.

    Unknown ID, wrong word and locked account all return None after the same work (one Argon2
    verification) so a caller cannot tell them apart.
    """
    citizen = Citizen.objects.by_identifier(identifier).first()
    if citizen is None:
        check_password(word, dummy_hash())
        record("nes.login.word_failed", request=request, subject=subject_digest(identifier))
        return None

    reserved = Citizen.objects.filter(
        pk=citizen.pk, locked_at=None, failure_count__lt=MAX_FAILURES
    ).update(failure_count=F("failure_count") + 1)
    if not reserved:
        check_password(word, dummy_hash())
        record("nes.login.locked_attempt", citizen=citizen, request=request)
        return None

    # Outside any transaction: Argon2 takes ~100 ms and must not hold a row lock.
    if check_password(word, citizen.security_word_hash):
        # Conditional: if parallel wrong attempts locked the account meanwhile, the lock wins.
        if Citizen.objects.filter(pk=citizen.pk, locked_at=None).update(failure_count=0):
            citizen.refresh_from_db()
            record("nes.login.word_passed", citizen=citizen, request=request)
            return citizen
        record("nes.login.locked_attempt", citizen=citizen, request=request)
        return None

    from .otp import lock_citizen

    citizen.refresh_from_db(fields=["failure_count"])
    record(
        "nes.login.word_failed",
        citizen=citizen,
        request=request,
        failure_count=citizen.failure_count,
    )
    lock_citizen(citizen.pk, Citizen.LockReason.WRONG_WORD, request=request, now=timezone.now())
    return None


def session_hash(citizen: Citizen) -> str:
    """Changes when the security word changes or the account is locked: ends such sessions."""
    return salted_hmac(
        "nesportal.accounts.session",
        f"{citizen.pk}:{citizen.security_word_hash}:{citizen.locked_at}",
        algorithm="sha256",
    ).hexdigest()


def login_citizen(request: HttpRequest, citizen: Citizen) -> None:
    """Start the citizen's session: new session key and CSRF token (what a page fetched before the
    login knew of either is worthless after it), bound to the citizen's current state. Every
    login path (Şifreli Giriş, E-İmzalı Giriş) goes through here."""
    request.session.pop(SESSION_PENDING, None)
    request.session.cycle_key()
    rotate_token(request)
    request.session[SESSION_CITIZEN] = citizen.pk
    request.session[SESSION_CITIZEN_HASH] = session_hash(citizen)
    request.citizen = citizen  # type: ignore[attr-defined]
    record("nes.login.succeeded", citizen=citizen, request=request)


def session_citizen(request: HttpRequest) -> Citizen | None:
    citizen_id = request.session.get(SESSION_CITIZEN)
    if citizen_id is None:
        return None
    citizen = Citizen.objects.filter(pk=citizen_id).first()
    if citizen is None or not constant_time_compare(
        request.session.get(SESSION_CITIZEN_HASH, ""), session_hash(citizen)
    ):
        return None
    return citizen


def logout_citizen(request: HttpRequest) -> None:
    citizen = getattr(request, "citizen", None)
    if citizen is not None:
        record("nes.logout", citizen=citizen, request=request)
    request.session.flush()


def unlock_citizen(citizen: Citizen, *, agent: object, reason: str) -> bool:
    """Call-centre unlock: clears the lock and the counter. False if it was not locked."""
    with transaction.atomic():
        unlocked = Citizen.objects.filter(pk=citizen.pk, locked_at__isnull=False).update(
            locked_at=None, lock_reason="", failure_count=0, code_failure_count=0
        )
        if not unlocked:
            return False
        SmsChallenge.objects.filter(citizen=citizen, consumed_at=None, invalidated_at=None).update(
            invalidated_at=timezone.now()
        )
        record(
            "nes.account.unlocked",
            citizen=citizen,
            actor=agent,
            reason=reason,
            previous_reason=citizen.lock_reason,
        )
    citizen.refresh_from_db()
    return True
