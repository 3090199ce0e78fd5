"""Güvenlik Sözcüğümü Unuttum: self-service recovery and the agent-started reset link.

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
import time
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.crypto import constant_time_compare
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters, sensitive_variables
from django.views.decorators.http import require_http_methods

from audit.actor import Actor
from audit.log import record
from nesportal.contact import with_phone
from nesportal.decorators import throttled

from . import lockout, stepup
from .forms import IdentifierCaptchaForm, mutable_copy
from .models import Citizen, SmsChallenge, SmsMessage, WordResetLink
from .services import session_hash, subject_digest
from .sms_queue import queue_sms
from .stepup import CodeStep
from .tokens import open_reset_link

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


# --- services -------------------------------------------------------------------------------


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


# --- forms ----------------------------------------------------------------------------------


class RecoveryStartForm(IdentifierCaptchaForm):
    birth_date = forms.DateField(
        label=gettext_lazy("Doğum Tarihi"),
        input_formats=["%d.%m.%Y", "%d/%m/%Y", "%d-%m-%Y", "%Y-%m-%d"],
        help_text=gettext_lazy("Başvuru formunuzdaki doğum tarihiniz, ör. 23.04.1985."),
        error_messages={"invalid": gettext_lazy("Doğum tarihini GG.AA.YYYY biçiminde giriniz.")},
        widget=forms.TextInput(
            attrs={
                "autocomplete": "bday",
                "inputmode": "numeric",
                "placeholder": gettext_lazy("GG.AA.YYYY"),
            }
        ),
    )


class NewWordForm(forms.Form):
    new_word1 = forms.CharField(
        label=gettext_lazy("Yeni Güvenlik Sözcüğü"),
        max_length=128,
        strip=False,
        help_text=gettext_lazy(
            "En az 8 karakter. T.C. Kimlik No'nuz, doğum tarihiniz, adınız ya da çok kullanılan "
            "bir sözcük olamaz."
        ),
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password", "autofocus": True}),
    )
    new_word2 = forms.CharField(
        label=gettext_lazy("Yeni Güvenlik Sözcüğü (tekrar)"),
        max_length=128,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def __init__(self, citizen: Citizen, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.citizen = citizen

    @sensitive_variables("word1", "word2")
    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        word1, word2 = data.get("new_word1"), data.get("new_word2")
        if word1 and word2 and not constant_time_compare(word1, word2):
            self.add_error("new_word2", _("Girdiğiniz iki Güvenlik Sözcüğü aynı değil."))
        elif word1:
            try:
                validate_new_word(word1, self.citizen)
            except ValidationError as exc:
                self.add_error("new_word1", exc)
        return data


# --- views ----------------------------------------------------------------------------------


def _recovery_step() -> CodeStep:
    """The recovery's SMS Onay Kodu: after the birth date, to the registered mobile."""
    return CodeStep(
        purpose=SmsChallenge.Purpose.RECOVERY,
        session_key=SESSION_RECOVERY,
        template="accounts/recovery_code.html",
        code_url=reverse("accounts:recovery_code"),
        resend_url=reverse("accounts:recovery_code_resend"),
        restart_url=reverse("accounts:forgot_word"),
        anonymous=True,
        max_age=RECOVERY_MAX_AGE,
        restart_message=RECOVERY_EXPIRED,
    )


def _state(request: HttpRequest) -> dict[str, Any] | None:
    """The recovery state (pending code or verified), if still fresh."""
    return stepup.stored(request, SESSION_RECOVERY, RECOVERY_MAX_AGE)


@sensitive_post_parameters("birth_date", "captcha_1")
@sensitive_variables()
@never_cache
@require_http_methods(["GET", "POST"])
@throttled("recovery")
def forgot_word(request: HttpRequest) -> HttpResponse:
    actor = Actor.from_request(request)
    form = RecoveryStartForm(request.POST or None)
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            citizen = check_birth_date(
                form.cleaned_data["identifier"],
                form.cleaned_data["birth_date"],
                actor=actor,
            )
            if citizen is None:
                form.add_error(None, RECOVERY_FAILED)
            else:
                request.session.cycle_key()
                sent = stepup.start(request, _recovery_step(), citizen)
                if not isinstance(sent, stepup.Refused):
                    record("nes.recovery.code_sent", actor=actor, citizen=citizen)
                    return sent
                form.add_error(None, sent.message)
                status = sent.status
        elif form.has_error("captcha"):
            record("nes.recovery.captcha_failed", actor=actor)
        data = mutable_copy(form.data)
        data.pop("birth_date", None)
        data.pop("captcha_1", None)
        form.data = data
    return render(request, "accounts/forgot_word.html", {"form": form}, status=status)


@stepup.code_view
@throttled("recovery_code")
def recovery_code(request: HttpRequest) -> HttpResponse:
    state = _state(request)
    if state is not None and "verified" in state:
        return redirect("accounts:recovery_new_word")

    def verified(state: stepup.State, citizen: Citizen) -> HttpResponse:
        citizen = Citizen.objects.get(pk=citizen.pk)
        request.session[SESSION_RECOVERY] = {
            "citizen": citizen.pk,
            "verified": int(time.time()),
            "fingerprint": session_hash(citizen),
            "since": state["since"],
        }
        record("nes.recovery.code_passed", actor=Actor.from_request(request), citizen=citizen)
        return redirect("accounts:recovery_new_word")

    return stepup.code_page(request, _recovery_step(), verified)


@stepup.resend_view
@throttled("recovery_code")
def recovery_code_resend(request: HttpRequest) -> HttpResponse:
    return stepup.resend(request, _recovery_step())


def _finish(request: HttpRequest) -> HttpResponse:
    """The word is set: end this session too and send the citizen to the login page."""
    request.session.flush()
    messages.success(
        request,
        _(
            "Güvenlik Sözcüğünüz değiştirildi ve tüm oturumlarınız kapatıldı. Yeni Güvenlik "
            "Sözcüğünüzle giriş yapabilirsiniz."
        ),
    )
    return redirect("accounts:login")


@sensitive_post_parameters("new_word1", "new_word2")
@sensitive_variables()
@never_cache
@require_http_methods(["GET", "POST"])
def recovery_new_word(request: HttpRequest) -> HttpResponse:
    state = _state(request)
    citizen = None
    if state is not None and "verified" in state:
        citizen = Citizen.objects.filter(pk=state["citizen"], locked_at=None).first()
    if citizen is None or not constant_time_compare(
        state.get("fingerprint", "") if state else "", session_hash(citizen)
    ):
        request.session.pop(SESSION_RECOVERY, None)
        messages.warning(request, RECOVERY_EXPIRED)
        return redirect("accounts:forgot_word")

    form = NewWordForm(citizen, request.POST or None)
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            try:
                set_new_word(
                    citizen,
                    form.cleaned_data["new_word1"],
                    expected_hash=citizen.security_word_hash,
                    actor=Actor.from_request(request),
                    via="sms",
                )
            except RecoveryError:
                request.session.pop(SESSION_RECOVERY, None)
                messages.warning(request, RECOVERY_EXPIRED)
                return redirect("accounts:forgot_word")
            return _finish(request)
        form.data = {}
    return render(request, "accounts/recovery_new_word.html", {"form": form}, status=status)


# sensitive_variables top-most: the token (a URL kwarg) passes through the other decorators.
@sensitive_variables()
@sensitive_post_parameters("new_word1", "new_word2")
@never_cache
@require_http_methods(["GET", "POST"])
@throttled("link")
def reset_link(request: HttpRequest, token: str) -> HttpResponse:
    # Unusable links get a 200 page: Django logs the path of 4xx responses, and the path holds
    # the token.
    link = open_reset_link(token)
    if link is None:
        return render(request, "accounts/recovery_link.html", {"invalid": True})
    citizen = link.citizen
    if citizen.is_locked:
        return render(request, "accounts/recovery_link.html", {"locked": True})
    form = NewWordForm(citizen, request.POST or None)
    # 200 even for a rejected word: a 4xx would put the (still valid) token into Django's log.
    if request.method == "POST":
        if form.is_valid():
            try:
                set_new_word(
                    citizen,
                    form.cleaned_data["new_word1"],
                    expected_hash=citizen.security_word_hash,
                    actor=Actor.from_request(request),
                    via="link",
                    link=link,
                )
            except RecoveryError:
                return render(request, "accounts/recovery_link.html", {"invalid": True})
            return _finish(request)
        form.data = {}
    context = {"form": form, "masked_phone": citizen.masked_phone, "expires_at": link.expires_at}
    return render(request, "accounts/recovery_link.html", context)
