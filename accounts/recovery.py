"""Güvenlik Sözcüğümü Unuttum, the rules: self-service recovery and the agent-started reset link.

The forms are in ``accounts.forms``, the pages in ``accounts.views.recovery``.

Security contract
-----------------
* Self-service recovery needs all of: the T.C. Kimlik No / Pasaport No, a solved single-use
  captcha, the date of birth from the application form, and an SMS code sent to the registered
  mobile. The phone alone is never enough: no code is sent before the birth date is right.
* The birth-date check counts into the *same* 3-strike lock as the security word at login: a
  strike is reserved with the same conditional UPDATE (``failure_count < 3`` and not locked)
  before the date is compared, so parallel requests cannot get extra guesses. A right date
  gives back its own strike (it resets nothing else); a wrong one keeps it and the third
  locks the account, reason "wrong birth date" (``accounts.lockout``). Wrong SMS codes count
  exactly like login codes (``verify_code``).
* Recovery codes have a budget of their own (``RECOVERY_CODES_PER_HOUR`` and their own resend
  window, ``accounts.otp.code_budget``): anyone who knows an ID and a birth date can ask for
  them, so they never use up the holder's own login codes.
* Unknown ID, locked account and wrong date give the same page after the same work: one Argon2
  verification of a dummy hash (as long as a login check) and one constant-time comparison.
* The half-done recovery lives in the session that started it, for at most 10 minutes, and is
  bound to the citizen's security-word hash and lock state at the time the code passed: if
  either changes, the state is void. The new word is stored with a conditional UPDATE on the
  old hash, so one verified state sets a word at most once.
* Setting a word changes ``security_word_hash``, which changes ``session_hash``: every session
  of the citizen ends at its next request (``CitizenMiddleware``). Sessions are not deleted
  from the session store: they are not indexed by citizen, and finding them would mean
  decoding every session. They are useless anyway and expire after 10 idle minutes.
* Agent reset links (made by ``accounts.services.create_reset_link``): the token is
  HMAC(server key, link id ‖ created_at), derived again when the SMS is rendered
  (``accounts.tokens``); only its SHA-256 is stored. The link works once (conditional UPDATE on
  ``used_at``), for 30 minutes, and not for a locked account (unlock first).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.crypto import constant_time_compare
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.debug import sensitive_variables

from audit.actor import Actor
from audit.log import record
from nesportal.contact import with_phone

from . import lockout
from .models import Citizen, SmsChallenge, SmsMessage, WordResetLink
from .services import subject_digest
from .sms_queue import queue_sms

SESSION_RECOVERY = "nes_recovery"
RECOVERY_MAX_AGE = 10 * 60
MIN_WORD_LENGTH = 8
# Compared against when there is no citizen, so every path does one comparison.
_DUMMY_DATE = "1900-01-01"

RECOVERY_FAILED = with_phone(
    gettext_lazy(
        "Girdiğiniz bilgiler doğrulanamadı. Bilgiler 3 kez hatalı girilirse hesabınız güvenlik "
        "nedeniyle bloke olur; bu durumda %(phone)s numaralı Çağrı Merkezimizi arayınız."
    )
)
RECOVERY_EXPIRED = gettext_lazy(
    "Güvenlik Sözcüğü yenileme işleminin süresi doldu. Lütfen yeniden başlayınız."
)


class RecoveryError(Exception):
    """The recovery state or the link is no longer valid (used, expired, locked, changed)."""


@sensitive_variables("birth_date")
def check_birth_date(
    identifier: str, birth_date: dt.date, *, actor: Actor | None
) -> Citizen | None:
    """Return the citizen if ``birth_date`` is theirs, else None (see the module contract).

    Every path runs one Argon2 verification of the dummy hash and one constant-time
    comparison, so unknown ID, locked account, wrong and right date cost the same.
    """
    given = birth_date.isoformat()
    citizen = Citizen.objects.by_identifier(identifier).first()
    if citizen is None:
        lockout.check_dummy()
        constant_time_compare(given, _DUMMY_DATE)
        record("nes.recovery.fact_failed", actor=actor, subject=subject_digest(identifier))
        return None

    reserved = lockout.reserve_strike(citizen.pk)
    lockout.check_dummy()
    matches = constant_time_compare(given, citizen.birth_date.isoformat())
    if not reserved:
        record("nes.recovery.locked_attempt", actor=actor, citizen=citizen)
        return None

    if matches:
        # Give back this attempt's strike; earlier strikes stay. If parallel wrong attempts
        # locked the account meanwhile, the lock wins.
        if lockout.give_back_strike(citizen.pk):
            citizen.refresh_from_db()
            record("nes.recovery.fact_passed", actor=actor, citizen=citizen)
            return citizen
        record("nes.recovery.locked_attempt", actor=actor, citizen=citizen)
        return None

    citizen.refresh_from_db(fields=["failure_count"])
    record(
        "nes.recovery.fact_failed",
        actor=actor,
        citizen=citizen,
        failure_count=citizen.failure_count,
    )
    lockout.lock(citizen.pk, Citizen.LockReason.WRONG_BIRTH_DATE, actor=actor, now=timezone.now())
    return None


def _date_forms(day: dt.date) -> set[str]:
    """The birth date as people write it, separators removed (23041985, 19850423, 230485…)."""
    d, m, y, yy = f"{day.day:02d}", f"{day.month:02d}", f"{day.year:04d}", f"{day.year % 100:02d}"
    return {d + m + y, y + m + d, m + d + y, d + m + yy, yy + m + d, f"{day.day}{day.month}{y}"}


@sensitive_variables("word", "compact")
def validate_new_word(word: str, citizen: Citizen) -> None:
    """Django's password validators (with the citizen's data for the similarity check), plus:
    not the ID number and not the birth date in any common format."""
    errors: list[ValidationError] = []
    compact = "".join(ch for ch in word if ch.isalnum()).casefold()
    identifier = citizen.identifier.casefold()
    if identifier and identifier in compact:
        errors.append(
            ValidationError(
                _("Güvenlik Sözcüğü T.C. Kimlik No'nuzu ya da Pasaport No'nuzu içeremez."),
                code="contains_identifier",
            )
        )
    if any(form in compact for form in _date_forms(citizen.birth_date)):
        errors.append(
            ValidationError(
                _("Güvenlik Sözcüğü doğum tarihinizi içeremez."), code="contains_birth_date"
            )
        )
    # An unsaved user stands in for the citizen: UserAttributeSimilarityValidator compares the
    # word with its username, names and e-mail (and needs ``_meta`` for its message).
    user = get_user_model()(
        username=citizen.identifier,
        first_name=citizen.first_name,
        last_name=citizen.last_name,
        email=citizen.email,
    )
    try:
        validate_password(word, user)
    except ValidationError as exc:
        errors.extend(exc.error_list)
    if len(word) < MIN_WORD_LENGTH and not any(e.code == "password_too_short" for e in errors):
        errors.append(
            ValidationError(
                _("Güvenlik Sözcüğü en az %(min)d karakter olmalıdır.") % {"min": MIN_WORD_LENGTH},
                code="password_too_short",
            )
        )
    if errors:
        raise ValidationError(errors)


@sensitive_variables("word", "new_hash")
def set_new_word(
    citizen: Citizen,
    word: str,
    *,
    expected_hash: str,
    actor: Actor | None,
    via: str,
    link: WordResetLink | None = None,
    now: dt.datetime | None = None,
) -> Citizen:
    """Store the new word (if the old hash is still ``expected_hash`` and the account is not
    locked), reset the failure counters, void open SMS codes, audit and notify by SMS.

    With ``link``, the link is claimed in the same transaction: single use under races.
    Raises ``RecoveryError`` if anything changed meanwhile.
    """
    now = now or timezone.now()
    new_hash = make_password(word)  # Argon2 outside the transaction: no row lock held for it
    with transaction.atomic():
        if link is not None:
            claimed = WordResetLink.objects.filter(
                pk=link.pk, citizen=citizen, used_at=None, expires_at__gt=now
            ).update(used_at=now)
            if not claimed:
                raise RecoveryError("link used or expired")
        changed = Citizen.objects.filter(
            pk=citizen.pk, locked_at=None, security_word_hash=expected_hash
        ).update(security_word_hash=new_hash, failure_count=0, code_failure_count=0)
        if not changed:
            raise RecoveryError("citizen locked or word changed meanwhile")
        SmsChallenge.objects.filter(citizen=citizen, consumed_at=None, invalidated_at=None).update(
            invalidated_at=now
        )
        citizen.refresh_from_db()
        # Event data only: typed Any, since record()'s own keywords share the namespace.
        extra: dict[str, Any] = {"link": link.pk} if link is not None else {}
        record(
            "nes.recovery.word_changed",
            # The agent who sent the link vouched for the change; without one, nobody did.
            actor=(actor or Actor()).with_user(link.created_by if link is not None else None),
            citizen=citizen,
            via=via,
            **extra,
        )
        queue_sms(
            citizen,
            SmsMessage.Kind.WORD_CHANGED,
            actor=actor,
            expires=now + dt.timedelta(hours=1),
        )
    return citizen
