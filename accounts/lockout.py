"""The 3-strike lock: the one place that counts a citizen's failed proofs and locks the account.

Security contract
-----------------
* Two counters on the citizen row, each capped at ``MAX_FAILURES`` (3) by check constraints:

  - ``failure_count``, the *strikes*: a wrong security word (login), a wrong birth date
    (Güvenlik Sözcüğümü Unuttum) and a failed E-İmzalı Giriş after key possession was proven
    all count here, on one counter;
  - ``code_failure_count``: wrong SMS Onay Kodu in a row (:func:`count_code_failure`); only a
    right code resets it (:func:`reset_counters`), a new login with the right word does not.

* **Reserve before you check.** :func:`reserve_strike` is one conditional UPDATE
  (``failure_count < 3 AND locked_at IS NULL`` → ``failure_count + 1``) that runs *before* the
  secret is checked. A request that cannot reserve a strike never checks the real secret
  (it checks the dummy hash instead, :func:`check_dummy`). So at most three checks happen
  between two successes, however many requests arrive at once, and the Argon2 check (~30 ms)
  runs outside any transaction or row lock. Not django-axes: it checks the lock before
  authenticating and records the failure afterwards, so parallel requests get extra guesses.
* **After the check.** A success calls :func:`reset_strikes` (back to 0: login, E-İmzalı Giriş)
  or :func:`give_back_strike` (only its own strike: a right birth date proves less than a
  word). Both are conditional on the account not being locked and return False if parallel
  failures locked it meanwhile: the lock wins. A failure keeps its strike and calls
  :func:`lock`, which locks only if a counter has reached the maximum.
* **One lock, once.** :func:`lock` sets ``locked_at`` and the :class:`~accounts.models.Citizen.
  LockReason` (what the locking attempt was) in one conditional UPDATE (not yet locked), and in
  the same transaction voids every open SMS challenge, audits ``nes.account.locked`` and queues
  the ``ACCOUNT_LOCKED`` SMS. Of any number of racing callers exactly one locks, audits and
  notifies. A locked account also ends every session (``accounts.services.session_hash``
  includes ``locked_at``).
* **Unlock** (:func:`unlock`, call centre only) clears the lock and both counters and voids
  open challenges, audited with the agent and their reason. The only other place that clears
  the counters is a new security word (``accounts.recovery.set_new_word``), in the same
  conditional UPDATE that stores it, and never on a locked account.
* **Same work for everyone.** :func:`check_dummy` verifies a random word against a fixed
  Argon2 hash with the current parameters (``nesportal.hashers``): unknown IDs and locked
  accounts cost the same as a wrong secret on a current hash, and the answer is the same, so a
  caller cannot tell them apart. (A citizen whose hash still has older, dearer parameters
  costs more until their next login rehashes it: ``accounts.services.check_security_word``.)
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from typing import Any

from django.contrib.auth.hashers import check_password, make_password
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from audit.actor import Actor
from audit.log import record
from nesportal.hashers import is_current

from .models import MAX_FAILURES, Citizen, SmsChallenge, SmsMessage
from .sms_queue import queue_sms

LockReason = Citizen.LockReason

__all__ = [
    "MAX_FAILURES",
    "LockReason",
    "check_dummy",
    "count_code_failure",
    "dummy_hash",
    "give_back_strike",
    "lock",
    "reserve_strike",
    "reset_counters",
    "reset_strikes",
    "unlock",
]

_dummy_hash: str | None = None


def dummy_hash() -> str:
    """An Argon2 hash of a random word, checked when there is no real hash to check.

    Made with the preferred hasher's current parameters, and made again if they change
    (``nesportal.hashers.is_current``; settings overridden in tests, a new hasher): an unknown
    ID must cost what a wrong word on a current hash costs."""
    global _dummy_hash
    if _dummy_hash is None or not is_current(_dummy_hash):
        _dummy_hash = make_password(secrets.token_urlsafe(24))
    return _dummy_hash


@sensitive_variables("secret")
def check_dummy(secret: str | None = None) -> None:
    """Do the work of one Argon2 verification that can never succeed (unknown ID, locked
    account, or a check whose secret is not a hash, like a birth date)."""
    check_password(secret if secret is not None else secrets.token_urlsafe(16), dummy_hash())


def reserve_strike(citizen_id: int) -> bool:
    """Take one strike before checking a secret; False if the account is locked or has no
    strike left (then do not check the real secret)."""
    return bool(
        Citizen.objects.filter(
            pk=citizen_id, locked_at=None, failure_count__lt=MAX_FAILURES
        ).update(failure_count=F("failure_count") + 1)
    )


def reset_strikes(citizen_id: int) -> bool:
    """The secret was right: no strikes left standing. False if the account was locked
    meanwhile (the lock wins and the caller must refuse)."""
    return bool(Citizen.objects.filter(pk=citizen_id, locked_at=None).update(failure_count=0))


def give_back_strike(citizen_id: int) -> bool:
    """The secret was right, but it only returns its own strike (earlier ones stay). False if
    the account was locked meanwhile (the lock wins)."""
    return bool(
        Citizen.objects.filter(pk=citizen_id, locked_at=None, failure_count__gt=0).update(
            failure_count=F("failure_count") - 1
        )
    )


def reset_counters(citizen: Citizen) -> None:
    """A right SMS code: both counters back to 0 (the caller holds the citizen's row lock)."""
    Citizen.objects.filter(pk=citizen.pk).update(failure_count=0, code_failure_count=0)
    citizen.failure_count = citizen.code_failure_count = 0


def count_code_failure(citizen: Citizen) -> int:
    """A wrong SMS code: one more on the code counter (capped), returned. The caller holds the
    citizen's row lock and calls :func:`lock` when it reaches ``MAX_FAILURES``."""
    citizen.code_failure_count = min(citizen.code_failure_count + 1, MAX_FAILURES)
    Citizen.objects.filter(pk=citizen.pk).update(code_failure_count=citizen.code_failure_count)
    return citizen.code_failure_count


def lock(
    citizen_id: int,
    reason: str,
    *,
    actor: Actor | None,
    now: datetime | None = None,
) -> bool:
    """Lock the account if a counter reached the maximum, with ``reason`` (a ``LockReason``).
    True if this call locked it; False if it was locked already or has strikes left."""
    now = now or timezone.now()
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
            record("nes.account.locked", actor=actor, citizen=citizen, reason=reason)
            queue_sms(
                citizen,
                SmsMessage.Kind.ACCOUNT_LOCKED,
                actor=actor,
                expires=now + timedelta(hours=1),
                context={"reason": str(reason)},
            )
    return bool(locked)


def unlock(citizen: Citizen, *, agent: Any, reason: str) -> bool:
    """Call-centre unlock: clears the lock and both counters. False if it was not locked."""
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
            actor=Actor.staff(agent),
            citizen=citizen,
            reason=reason,
            previous_reason=citizen.lock_reason,
        )
    citizen.refresh_from_db()
    return True
