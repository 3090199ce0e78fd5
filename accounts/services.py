"""Login and call-centre workflows: security-word check, session binding, the reset link.

The security word counts into the 3-strike lock (``accounts.lockout``, which states the
contract): a strike is *reserved* before the Argon2 check runs, and a request that cannot
reserve one never touches the real hash. The Argon2 check itself runs outside any transaction
or row lock. A right word whose hash has older parameters than ``nesportal.hashers``' is
hashed again and stored with a conditional UPDATE on the old hash (``_rehash``).
"""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any

from django.contrib.auth.hashers import check_password, make_password
from django.db import transaction
from django.http import HttpRequest
from django.middleware.csrf import rotate_token
from django.utils import timezone
from django.utils.crypto import constant_time_compare, salted_hmac
from django.views.decorators.debug import sensitive_variables

from audit.actor import Actor
from audit.log import record
from nesportal import hashers
from nesportal.http import PortalRequest

from . import lockout
from .activity import device_summary
from .models import Citizen, SmsMessage, WordResetLink
from .sms_queue import queue_sms
from .tokens import reset_link_token, token_hash

SESSION_CITIZEN = "nes_citizen"
SESSION_CITIZEN_HASH = "nes_citizen_hash"
SESSION_PENDING = "nes_pending_login"


def subject_digest(identifier: str) -> str:
    """Keyed digest of an identifier that matched no citizen: lets the audit log group attempts
    on one unknown ID without storing the ID itself."""
    return "id:" + salted_hmac("nesportal.audit.subject", identifier).hexdigest()[:24]


@sensitive_variables("word")
def check_security_word(identifier: str, word: str, *, actor: Actor) -> Citizen | None:
    """Return the citizen if ``word`` is their security word, else None.

    Unknown ID, wrong word and locked account all return None after the same work (one Argon2
    verification) so a caller cannot tell them apart.
    """
    citizen = Citizen.objects.by_identifier(identifier).first()
    if citizen is None:
        lockout.check_dummy(word)
        record("nes.login.word_failed", actor=actor, subject=subject_digest(identifier))
        return None

    if not lockout.reserve_strike(citizen.pk):
        lockout.check_dummy(word)
        record("nes.login.locked_attempt", actor=actor, citizen=citizen)
        return None

    # Outside any transaction: Argon2 takes ~30 ms and must not hold a row lock.
    stored = citizen.security_word_hash
    # Django calls the setter only for a right word whose hash must_update (other parameters
    # or algorithm than the preferred hasher's); it is stored below, once the strike is back.
    outdated: list[bool] = []
    if check_password(word, stored, setter=lambda _word: outdated.append(True)):
        # If parallel wrong attempts locked the account meanwhile, the lock wins.
        if lockout.reset_strikes(citizen.pk):
            if outdated:
                _rehash(citizen, word, stored, actor=actor)
            citizen.refresh_from_db()
            record("nes.login.word_passed", actor=actor, citizen=citizen)
            return citizen
        record("nes.login.locked_attempt", actor=actor, citizen=citizen)
        return None

    citizen.refresh_from_db(fields=["failure_count"])
    record(
        "nes.login.word_failed",
        actor=actor,
        citizen=citizen,
        failure_count=citizen.failure_count,
    )
    lockout.lock(citizen.pk, Citizen.LockReason.WRONG_WORD, actor=actor, now=timezone.now())
    return None


@sensitive_variables("word", "new_hash")
def _rehash(citizen: Citizen, word: str, stored: str, *, actor: Actor) -> bool:
    """The word was right but its hash has other parameters than the preferred hasher's (or
    another algorithm): store a new hash, only if the stored one is still ``stored``.

    The conditional UPDATE means a word changed meanwhile (recovery, a reset link, another
    login's rehash) is never overwritten; this login goes on either way. The new hash changes
    ``session_hash``: the citizen's *other* sessions and a half-done recovery elsewhere end,
    as after a word change (once per parameter change, at a login). The login in progress
    reads the citizen afresh, so its session is bound to the new hash."""
    new_hash = make_password(word)  # outside any transaction, like the check
    stored_now = Citizen.objects.filter(pk=citizen.pk, security_word_hash=stored).update(
        security_word_hash=new_hash
    )
    if stored_now:
        record(
            "nes.login.word_rehashed",
            actor=actor,
            citizen=citizen,
            old=hashers.parameters(stored),
            new=hashers.parameters(new_hash),
        )
    return bool(stored_now)


def session_hash(citizen: Citizen) -> str:
    """Changes when the security word changes, the account is locked or every session is ended
    (``session_epoch``, "Bu işlemi ben yapmadım"): ends such sessions."""
    return salted_hmac(
        "nesportal.accounts.session",
        f"{citizen.pk}:{citizen.security_word_hash}:{citizen.locked_at}:{citizen.session_epoch}",
        algorithm="sha256",
    ).hexdigest()


def login_citizen(request: PortalRequest, citizen: Citizen) -> None:
    """Start the citizen's session: new session key and CSRF token (what a page fetched before the
    login knew of either is worthless after it), bound to the citizen's current state. Every
    login path (Şifreli Giriş, E-İmzalı Giriş) goes through here."""
    request.session.pop(SESSION_PENDING, None)
    request.session.cycle_key()
    rotate_token(request)
    request.session[SESSION_CITIZEN] = citizen.pk
    request.session[SESSION_CITIZEN_HASH] = session_hash(citizen)
    request.citizen = citizen
    record(
        "nes.login.succeeded",
        actor=Actor.from_request(request),
        citizen=citizen,
        # Hesap Hareketlerim shows it: "Chrome 131 · Windows", never the raw header.
        device=device_summary(request.headers.get("User-Agent", "")),
    )


def session_citizen(request: HttpRequest) -> Citizen | None:
    citizen_id = request.session.get(SESSION_CITIZEN)
    if citizen_id is None:
        return None
    try:
        citizen = Citizen.objects.get(pk=citizen_id)
    except (Citizen.DoesNotExist, ValueError, TypeError):
        return None
    if not constant_time_compare(
        request.session.get(SESSION_CITIZEN_HASH, ""), session_hash(citizen)
    ):
        return None
    return citizen


def logout_citizen(request: HttpRequest) -> None:
    citizen = getattr(request, "citizen", None)
    if citizen is not None:
        record("nes.logout", actor=Actor.from_request(request), citizen=citizen)
    request.session.flush()


def create_reset_link(
    citizen: Citizen, *, agent: Any, reason: str, now: datetime | None = None
) -> WordResetLink:
    """An agent's reset link: stored as a hash, sent by SMS (the token is derived at send time,
    ``accounts.tokens``). Supersedes the citizen's earlier open links."""
    now = now or timezone.now()
    with transaction.atomic():
        WordResetLink.objects.filter(citizen=citizen, used_at=None, expires_at__gt=now).update(
            expires_at=now
        )
        link = WordResetLink.objects.create(
            citizen=citizen,
            # Placeholder until the id exists; the token depends on it.
            token_hash="pending-" + secrets.token_hex(24),
            created_by=agent,
            reason=reason,
            created_at=now,
            expires_at=now + WordResetLink.LIFETIME,
        )
        link.token_hash = token_hash(reset_link_token(link))
        link.save(update_fields=["token_hash"])
        record(
            "nes.recovery.link_sent",
            actor=Actor.staff(agent),
            citizen=citizen,
            reason=reason,
            link=link.pk,
        )
        queue_sms(
            citizen,
            SmsMessage.Kind.WORD_RESET_LINK,
            context={"reset_link": str(link.pk)},
            expires=link.expires_at,
        )
    return link
