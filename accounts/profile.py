"""Bilgi Güncelle: the citizen updates mobile phone, e-mail and postal address.

* Name, surname, T.C. Kimlik No / passport number and birth date come from the certificate
  application and are only shown here; the forms below have no field for them, so a crafted
  POST cannot change them. The page says how to have them corrected.
* Address: saved at once; audited with before/after; an SMS notice goes to the registered mobile.
* Mobile phone: the new number takes effect only after the SMS Onay Kodu sent *to the new number*
  is typed in (purpose PHONE_CHANGE, subject = the new E.164 number, bound to this session), so
  whoever asks for the change must hold the new phone, and a code sent to the old number (a
  login code, say) can never confirm it. Wrong codes are strikes like any SMS code (3 → lock).
  The change (a ``ContactChange`` row) expires after 10 minutes. On success the citizen row is
  locked, the number set, the old number told (PHONE_CHANGED) and the new one greeted
  (CONTACT_UPDATED), all in one transaction.
* E-mail: a link with a random token (only its SHA-256 is stored) is mailed to the *new* address
  and is valid for 24 hours. Opening it (GET) only shows a confirmation button, so mail scanners
  that fetch links do not confirm anything; the POST confirms with a conditional UPDATE, so a link
  works once. The link works only for the same citizen, logged in: a link that leaks from a
  mailbox is useless without the security word and the SMS code. Someone who opens it logged out
  is sent to the login page with a message asking them to open the link again afterwards.
* Every change is a POST (CSRF), scoped to ``request.citizen``, and written to the audit log with
  before/after values (agents see them in admin, "Son bilgi değişiklikleri").
* Budgets (figures in ``nesportal/limits.py``), so the forms cannot be used to bomb a phone or a
  mailbox: codes to one *new* number, whoever asks, at most
  ``PHONE_CHANGE_CODES_PER_NUMBER_PER_DAY`` (on top of the citizen's own code budget); e-mail
  confirmations at most ``EMAIL_CONFIRMATIONS_PER_CITIZEN_PER_DAY`` per citizen and
  ``EMAIL_CONFIRMATIONS_PER_ADDRESS_PER_DAY`` per target address (case-insensitive, ``+tag``
  removed: :func:`email_budget_key`). Counted in the database under locks (the citizen's row;
  on PostgreSQL an advisory lock on the number or address, which several citizens may ask
  for), refused with a message on the form (429), no SMS or mail, nothing written, and audited
  as ``nes.sms.budget_exceeded`` / ``nes.email.budget_exceeded`` with the target masked.
  A confirmation mail the SMTP server refused costs nothing (its row is removed).
"""

from __future__ import annotations

import hashlib
import math
import secrets
import smtplib
from datetime import datetime, timedelta
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import messages
from django.core.mail import send_mail
from django.db import connection, transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_variables
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from audit.actor import Actor
from audit.log import record
from nesportal import limits
from nesportal.contact import CALL_CENTRE_PHONE
from nesportal.exceptions import PortalError
from nesportal.http import CitizenRequest

from . import stepup
from .decorators import citizen_required
from .identity import mask_phone
from .models import (
    Citizen,
    ContactChange,
    SmsChallenge,
    SmsMessage,
    normalize_phone,
    validate_turkish_mobile,
)
from .otp import SmsRateLimited, budget_wait, issue_challenge
from .sms_queue import queue_sms
from .stepup import CodeStep
from .tokens import token_hash

SESSION_PHONE = "nes_pending_phone"
PHONE_LIFETIME = timedelta(minutes=10)
EMAIL_LIFETIME = timedelta(hours=24)
ADDRESS_MAX_LENGTH = 500

# What the CONTACT_UPDATED SMS names; the SMS is always Turkish, so these are not translated.
SMS_FIELD = {"phone": "cep telefonu", "email": "e-posta", "address": "adres"}


# --- forms -----------------------------------------------------------------------------------


class PhoneForm(forms.Form):
    mobile_phone = forms.CharField(
        label=gettext_lazy("Yeni cep telefonu numarası"),
        max_length=32,
        help_text=gettext_lazy("Türkiye'de kayıtlı bir cep telefonu, ör. 0532 123 45 67."),
        error_messages={
            "required": gettext_lazy("Yeni cep telefonu numaranızı giriniz."),
            "max_length": gettext_lazy("Geçerli bir cep telefonu numarası giriniz."),
        },
        widget=forms.TextInput(attrs={"autocomplete": "tel", "inputmode": "tel"}),
    )

    def __init__(self, *args: Any, citizen: Citizen, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.citizen = citizen

    def clean_mobile_phone(self) -> str:
        value = self.cleaned_data["mobile_phone"]
        validate_turkish_mobile(value)
        number = normalize_phone(value)
        if number == self.citizen.mobile_phone:
            raise forms.ValidationError(
                _("Bu numara zaten kayıtlı cep telefonunuz. Farklı bir numara giriniz."),
                code="same",
            )
        return number


class EmailForm(forms.Form):
    email = forms.EmailField(
        label=gettext_lazy("Yeni e-posta adresi"),
        max_length=254,
        error_messages={
            "required": gettext_lazy("Yeni e-posta adresinizi giriniz."),
            "invalid": gettext_lazy("Geçerli bir e-posta adresi giriniz (ör. ad@ornek.com.tr)."),
            "max_length": gettext_lazy("E-posta adresi en fazla 254 karakter olabilir."),
        },
        widget=forms.TextInput(attrs={"autocomplete": "email", "inputmode": "email"}),
    )

    def __init__(self, *args: Any, citizen: Citizen, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.citizen = citizen

    def clean_email(self) -> str:
        local, _at, domain = self.cleaned_data["email"].rpartition("@")
        value = f"{local}@{domain.lower()}"
        if value.lower() == self.citizen.email.lower():
            raise forms.ValidationError(
                _("Bu adres zaten kayıtlı e-posta adresiniz. Farklı bir adres giriniz."),
                code="same",
            )
        return value


class AddressForm(forms.Form):
    address = forms.CharField(
        label=gettext_lazy("Yeni posta adresi"),
        max_length=ADDRESS_MAX_LENGTH,
        help_text=gettext_lazy("Mahalle, cadde/sokak, bina ve daire no, posta kodu, ilçe / il."),
        error_messages={
            "required": gettext_lazy("Yeni adresinizi giriniz."),
            "max_length": gettext_lazy("Adres en fazla %(limit_value)d karakter olabilir."),
        },
        widget=forms.Textarea(attrs={"rows": 3, "autocomplete": "street-address"}),
    )

    def __init__(self, *args: Any, citizen: Citizen, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.citizen = citizen

    def clean_address(self) -> str:
        value = "\n".join(line.strip() for line in self.cleaned_data["address"].splitlines())
        value = value.strip()
        if len(value) < 10:
            raise forms.ValidationError(
                _("Adresinizi eksiksiz yazınız (mahalle, cadde/sokak, no, ilçe / il)."),
                code="short",
            )
        if " ".join(value.split()) == " ".join(self.citizen.address.split()):
            raise forms.ValidationError(
                _("Bu adres zaten kayıtlı adresiniz."),
                code="same",
            )
        return value


# --- services --------------------------------------------------------------------------------


class ContactChangeError(PortalError):
    """The contact change cannot be done or confirmed; ``message`` is for the citizen."""


class EmailBudgetExceeded(ContactChangeError):
    """No confirmation mail: the citizen's or the address's daily budget is used up."""

    def __init__(self, message: str, *, budget: str, limit: int, retry_after: int) -> None:
        super().__init__(message)
        self.budget = budget
        self.limit = limit
        self.retry_after = retry_after


DAY = timedelta(days=1)


def email_budget_key(address: str) -> str:
    """The mailbox an address reaches, for the per-address budget: case-insensitive and
    without a ``+tag`` (RFC 5233 subaddress), so ``Ad+1@X.com`` and ``ad+2@x.com`` are one."""
    local, _at, domain = address.strip().lower().rpartition("@")
    return f"{local.split('+', 1)[0]}@{domain}"[:254]


def mask_email(address: str) -> str:
    """``a***@ornek.com.tr``: enough for an agent to recognise, not the address itself."""
    local, _at, domain = address.rpartition("@")
    return f"{local[:1]}***@{domain}"


def _serialise_on(key: str) -> None:
    """Hold a transaction-scoped lock on ``key`` (a number or an address that several citizens
    may ask for, so no citizen row serialises them). SQLite serialises all writers anyway."""
    if connection.vendor != "postgresql":
        return
    digest = hashlib.sha256(f"nesportal.budget:{key}".encode()).digest()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_advisory_xact_lock(%s)", [int.from_bytes(digest[:8], "big", signed=True)]
        )


def _check_number_budget(citizen: Citizen, number: str, now: datetime) -> None:
    """Raise ``SmsRateLimited`` if the new number had its codes for the day (whoever asked).

    Call inside the transaction that sends the code: the lock on the number is held until it
    commits, so two citizens asking for one number at once cannot both get the last code."""
    _serialise_on(f"phone:{number}")
    window = SmsMessage.objects.filter(
        kind=SmsMessage.Kind.PHONE_CHANGE_CODE, to_number=number, created_at__gt=now - DAY
    ).exclude(status__in=SmsMessage.FREE_STATUSES)
    limit = limits.PHONE_CHANGE_CODES_PER_NUMBER_PER_DAY
    wait = budget_wait(window, limit, DAY, now)
    if wait is not None:
        raise SmsRateLimited(
            wait,
            hourly=True,
            budget="phone_number",
            limit=limit,
            citizen=citizen,
            to=mask_phone(number),
        )


def _check_email_budget(citizen: Citizen, key: str, now: datetime) -> None:
    """Raise ``EmailBudgetExceeded`` if the citizen or the address had their mails for the day
    (the caller holds the citizen's row lock; the address lock is taken here)."""
    _serialise_on(f"email:{key}")
    since = now - DAY
    mine = ContactChange.objects.filter(
        citizen=citizen, field=ContactChange.Field.EMAIL, created_at__gt=since
    )
    limit = limits.EMAIL_CONFIRMATIONS_PER_CITIZEN_PER_DAY
    wait = budget_wait(mine, limit, DAY, now)
    if wait is not None:
        hours = max(1, math.ceil(wait / 3600))
        raise EmailBudgetExceeded(
            ngettext(
                "Bir gün içinde en fazla %(limit)d e-posta onay bağlantısı gönderilebilir. "
                "Lütfen %(hours)d saat sonra yeniden deneyiniz.",
                "Bir gün içinde en fazla %(limit)d e-posta onay bağlantısı gönderilebilir. "
                "Lütfen %(hours)d saat sonra yeniden deneyiniz.",
                hours,
            )
            % {"limit": limit, "hours": hours},
            budget="email_citizen",
            limit=limit,
            retry_after=wait,
        )
    theirs = ContactChange.objects.filter(
        field=ContactChange.Field.EMAIL, target_key=key, created_at__gt=since
    )
    limit = limits.EMAIL_CONFIRMATIONS_PER_ADDRESS_PER_DAY
    wait = budget_wait(theirs, limit, DAY, now)
    if wait is not None:
        hours = max(1, math.ceil(wait / 3600))
        raise EmailBudgetExceeded(
            ngettext(
                "Bu e-posta adresine bir gün içinde en fazla %(limit)d onay bağlantısı "
                "gönderilebilir. Lütfen %(hours)d saat sonra yeniden deneyiniz ya da başka bir "
                "adres giriniz.",
                "Bu e-posta adresine bir gün içinde en fazla %(limit)d onay bağlantısı "
                "gönderilebilir. Lütfen %(hours)d saat sonra yeniden deneyiniz ya da başka bir "
                "adres giriniz.",
                hours,
            )
            % {"limit": limit, "hours": hours},
            budget="email_address",
            limit=limit,
            retry_after=wait,
        )


def open_changes(citizen: Citizen, field: str, now: datetime | None = None) -> Any:
    now = now or timezone.now()
    return ContactChange.objects.filter(
        citizen=citizen, field=field, confirmed_at=None, cancelled_at=None, expires_at__gt=now
    )


def change_address(citizen: Citizen, address: str, *, actor: Actor) -> None:
    with transaction.atomic():
        locked = Citizen.objects.select_for_update().get(pk=citizen.pk)
        before = locked.address
        locked.address = address
        locked.save(update_fields=["address", "updated_at"])
        record(
            "nes.profile.address_changed",
            citizen=locked,
            actor=actor,
            before=before,
            after=address,
        )
        queue_sms(
            locked,
            SmsMessage.Kind.CONTACT_UPDATED,
            actor=actor,
            context={"field": SMS_FIELD["address"]},
        )
    citizen.address = address


def start_phone_change(
    citizen: Citizen, number: str, *, actor: Actor
) -> tuple[ContactChange, SmsChallenge, str]:
    """Record the requested number and send its code to it. Raises ``SmsRateLimited`` (the
    number's daily budget or the citizen's code budget; nothing is written then)."""
    now = timezone.now()
    try:
        with transaction.atomic():
            _check_number_budget(citizen, number, now)
            open_changes(citizen, ContactChange.Field.PHONE, now).update(cancelled_at=now)
            challenge, binding = issue_challenge(
                citizen,
                SmsChallenge.Purpose.PHONE_CHANGE,
                subject=number,
                to=number,
                actor=actor,
                now=now,
            )
            change = _record_phone_change(citizen, number, challenge, actor=actor, now=now)
    except SmsRateLimited as exc:
        exc.audit(actor)  # after the rollback, so the audit event stays
        raise
    return change, challenge, binding


def _record_phone_change(
    citizen: Citizen,
    number: str,
    challenge: SmsChallenge,
    *,
    actor: Actor,
    now: datetime,
) -> ContactChange:
    change = ContactChange.objects.create(
        citizen=citizen,
        field=ContactChange.Field.PHONE,
        old_value=citizen.mobile_phone,
        new_value=number,
        challenge=challenge,
        created_at=now,
        expires_at=now + PHONE_LIFETIME,
    )
    record(
        "nes.profile.phone_change_requested",
        citizen=citizen,
        actor=actor,
        change=change.pk,
        before=citizen.mobile_phone,
        after=number,
    )
    return change


def confirm_phone_change(change_id: int, citizen: Citizen, *, actor: Actor) -> Citizen:
    """Make the new number the registered one (the caller has verified its code)."""
    now = timezone.now()
    with transaction.atomic():
        locked = Citizen.objects.select_for_update().get(pk=citizen.pk)
        change = (
            ContactChange.objects.select_for_update()
            .filter(pk=change_id, citizen=locked, field=ContactChange.Field.PHONE)
            .first()
        )
        if change is None or change.confirmed_at or change.cancelled_at:
            raise ContactChangeError(_("Bu numara değişikliği artık geçerli değil."))
        if change.expires_at <= now:
            raise ContactChangeError(
                _("Numara değişikliğinin süresi doldu. Lütfen yeniden başlatınız.")
            )
        before = locked.mobile_phone
        locked.mobile_phone = change.new_value
        locked.save(update_fields=["mobile_phone", "updated_at"])
        change.confirmed_at = now
        change.save(update_fields=["confirmed_at"])
        record(
            "nes.profile.phone_changed",
            citizen=locked,
            actor=actor,
            change=change.pk,
            before=before,
            after=locked.mobile_phone,
        )
        queue_sms(locked, SmsMessage.Kind.PHONE_CHANGED, actor=actor, to=before)
        queue_sms(
            locked,
            SmsMessage.Kind.CONTACT_UPDATED,
            actor=actor,
            to=locked.mobile_phone,
            context={"field": SMS_FIELD["phone"]},
        )
    return locked


def email_confirm_url(token: str) -> str:
    path = reverse("accounts:profile_email_confirm", args=[token])
    return settings.PORTAL_BASE_URL.rstrip("/") + path


@sensitive_variables("token", "body")
def start_email_change(citizen: Citizen, email: str, *, actor: Actor) -> ContactChange:
    """Record the requested address and mail it a confirmation link (valid 24 hours).

    Raises ``EmailBudgetExceeded`` (audited; nothing written, no mail) when the citizen's or the
    address's daily budget is used up."""
    now = timezone.now()
    token = secrets.token_urlsafe(32)
    key = email_budget_key(email)
    try:
        with transaction.atomic():
            Citizen.objects.select_for_update().only("pk").get(pk=citizen.pk)
            _check_email_budget(citizen, key, now)
            open_changes(citizen, ContactChange.Field.EMAIL, now).update(cancelled_at=now)
            change = ContactChange.objects.create(
                citizen=citizen,
                field=ContactChange.Field.EMAIL,
                old_value=citizen.email,
                new_value=email,
                token_hash=token_hash(token),
                target_key=key,
                created_at=now,
                expires_at=now + EMAIL_LIFETIME,
            )
    except EmailBudgetExceeded as exc:
        record(
            "nes.email.budget_exceeded",
            citizen=citizen,
            actor=actor,
            budget=exc.budget,
            limit=exc.limit,
            retry_after=exc.retry_after,
            to=mask_email(email),
        )
        raise
    with translation.override("tr"):
        subject = _("NES Portal: e-posta adresinizi onaylayınız")
        body = _(
            "Sayın %(name)s,\n\n"
            "NES Portal hesabınız için bu e-posta adresi kayıt edilmek istendi. Onaylamak için "
            "aşağıdaki bağlantıyı açınız, NES Portal'a giriş yapmış olarak «Onayla» düğmesine "
            "basınız:\n\n%(url)s\n\n"
            "Bağlantı 24 saat geçerlidir ve yalnızca bir kez kullanılabilir.\n\n"
            "Bu isteği siz yapmadıysanız bu e-postayı dikkate almayınız; adresiniz "
            "değiştirilmeyecektir. Sorularınız için Çağrı Merkezi: %(phone)s\n\n"
            "NES Portal"
        ) % {"name": citizen.full_name, "url": email_confirm_url(token), "phone": CALL_CENTRE_PHONE}
    try:
        send_mail(subject, body, None, [email])
    except (smtplib.SMTPException, OSError):
        # Never delivered: no link exists, and the attempt costs no budget.
        ContactChange.objects.filter(pk=change.pk).delete()
        raise
    record(
        "nes.profile.email_change_requested",
        citizen=citizen,
        actor=actor,
        change=change.pk,
        before=citizen.email,
        after=email,
    )
    return change


def confirm_email_change(change: ContactChange, *, actor: Actor) -> Citizen:
    now = timezone.now()
    with transaction.atomic():
        locked = Citizen.objects.select_for_update().get(pk=change.citizen_id)
        # Conditional: a link works once, and not after it expired or was superseded.
        claimed = ContactChange.objects.filter(
            pk=change.pk, confirmed_at=None, cancelled_at=None, expires_at__gt=now
        ).update(confirmed_at=now)
        if not claimed:
            change.refresh_from_db()
            raise ContactChangeError(_email_link_state(change, now))
        before = locked.email
        locked.email = change.new_value
        locked.save(update_fields=["email", "updated_at"])
        record(
            "nes.profile.email_changed",
            citizen=locked,
            actor=actor,
            change=change.pk,
            before=before,
            after=locked.email,
        )
        queue_sms(
            locked,
            SmsMessage.Kind.CONTACT_UPDATED,
            actor=actor,
            context={"field": SMS_FIELD["email"]},
        )
    return locked


# --- views -----------------------------------------------------------------------------------


def _profile_page(
    request: CitizenRequest, *, status: int = 200, error: str | None = None, **forms_: Any
) -> HttpResponse:
    citizen = request.citizen
    now = timezone.now()
    context = {
        "phone_form": forms_.get("phone_form") or PhoneForm(citizen=citizen),
        "email_form": forms_.get("email_form") or EmailForm(citizen=citizen),
        "address_form": forms_.get("address_form") or AddressForm(citizen=citizen),
        "pending_email": open_changes(citizen, ContactChange.Field.EMAIL, now).first(),
        "pending_phone": _pending_phone(request),
        "error": error,
    }
    return render(request, "accounts/profile.html", context, status=status)


@never_cache
@citizen_required
@require_GET
def profile(request: CitizenRequest) -> HttpResponse:
    return _profile_page(request)


@never_cache
@citizen_required
@require_POST
def profile_address(request: CitizenRequest) -> HttpResponse:
    citizen = request.citizen
    form = AddressForm(request.POST, citizen=citizen)
    if not form.is_valid():
        return _profile_page(request, status=400, address_form=form)
    change_address(citizen, form.cleaned_data["address"], actor=Actor.from_request(request))
    messages.success(request, _("Adresiniz güncellendi."))
    return redirect("accounts:profile")


# Mobile phone ---------------------------------------------------------------------------------


PHONE_CODE_INVALID = gettext_lazy(
    "Bu SMS Onay Kodu bu numara değişikliği için geçerli değil. Yeni kod isteyiniz."
)
PHONE_RESTART = gettext_lazy(
    "Numara değişikliğinin süresi doldu ya da başlatılmadı. Lütfen yeniden başlatınız."
)
PHONE_MAX_AGE = int(PHONE_LIFETIME.total_seconds())


def _phone_step(number: str, issue: stepup.Issuer) -> CodeStep:
    """The new number's SMS Onay Kodu: sent to ``number`` and bound to it (its subject)."""
    return CodeStep(
        purpose=SmsChallenge.Purpose.PHONE_CHANGE,
        session_key=SESSION_PHONE,
        template="accounts/profile_phone_code.html",
        code_url=reverse("accounts:profile_phone_code"),
        resend_url=reverse("accounts:profile_phone_resend"),
        restart_url=reverse("accounts:profile"),
        subject=number,
        to=number,
        max_age=PHONE_MAX_AGE,
        restart_message=PHONE_RESTART,
        invalid_message=PHONE_CODE_INVALID,
        issue=issue,
    )


def _pending_phone(request: CitizenRequest) -> ContactChange | None:
    """This session's open phone change, if any."""
    state = stepup.stored(request, SESSION_PHONE, PHONE_MAX_AGE)
    change = None
    if state is not None and state.get("change"):
        change = (
            open_changes(request.citizen, ContactChange.Field.PHONE)
            .filter(pk=state["change"])
            .first()
        )
    if change is None:
        request.session.pop(SESSION_PHONE, None)
    return change


def _remember_change(request: CitizenRequest) -> None:
    """Name in the state the change its code was sent for: the code sent now, the open one
    used again or the one moved here from another session (``stepup.start``)."""
    state = request.session[SESSION_PHONE]
    state["change"] = (
        open_changes(request.citizen, ContactChange.Field.PHONE)
        .filter(challenge_id=state["challenge"])
        .values_list("pk", flat=True)
        .first()
    )
    request.session[SESSION_PHONE] = state


def _restart_phone(request: HttpRequest) -> HttpResponse:
    request.session.pop(SESSION_PHONE, None)
    messages.warning(request, PHONE_RESTART)
    return redirect("accounts:profile")


def _first_code(number: str) -> stepup.Issuer:
    """Send the first code: records the change (the number's budget, then the citizen's)."""

    def issue(citizen: Citizen, actor: Actor) -> tuple[SmsChallenge, str]:
        _change, challenge, binding = start_phone_change(citizen, number, actor=actor)
        return challenge, binding

    return issue


def _new_code(change: ContactChange) -> stepup.Issuer:
    """A new code for the same change: the 10 minutes still count from the request."""

    def issue(citizen: Citizen, actor: Actor) -> tuple[SmsChallenge, str]:
        try:
            with transaction.atomic():
                _check_number_budget(citizen, change.new_value, timezone.now())
                challenge, binding = issue_challenge(
                    citizen,
                    SmsChallenge.Purpose.PHONE_CHANGE,
                    subject=change.new_value,
                    to=change.new_value,
                    actor=actor,
                )
                ContactChange.objects.filter(pk=change.pk).update(challenge=challenge)
        except SmsRateLimited as exc:
            exc.audit(actor)  # after the rollback, so the audit event stays
            raise
        return challenge, binding

    return issue


@never_cache
@citizen_required
@require_POST
def profile_phone(request: CitizenRequest) -> HttpResponse:
    citizen = request.citizen
    form = PhoneForm(request.POST, citizen=citizen)
    if not form.is_valid():
        return _profile_page(request, status=400, phone_form=form)
    number = form.cleaned_data["mobile_phone"]
    sent = stepup.start(request, _phone_step(number, _first_code(number)), citizen)
    if not isinstance(sent, stepup.Refused):
        _remember_change(request)
        return sent
    form.add_error(None, sent.message)
    return _profile_page(request, status=sent.status, phone_form=form)


@stepup.code_view
@citizen_required
def profile_phone_code(request: CitizenRequest) -> HttpResponse:
    change = _pending_phone(request)
    if change is None:  # cancelled, expired or superseded: that code confirms nothing
        return _restart_phone(request)

    def confirm(state: stepup.State, citizen: Citizen) -> HttpResponse:
        try:
            citizen = confirm_phone_change(
                change.pk, request.citizen, actor=Actor.from_request(request)
            )
        except ContactChangeError as exc:
            messages.error(request, exc.message)
            return redirect("accounts:profile")
        messages.success(
            request,
            _(
                "Cep telefonu numaranız %(phone)s olarak güncellendi. Eski numaranıza "
                "bilgilendirme SMS'i gönderildi."
            )
            % {"phone": citizen.masked_phone},
        )
        return redirect("accounts:profile")

    return stepup.code_page(request, _phone_step(change.new_value, _new_code(change)), confirm)


@stepup.resend_view
@citizen_required
def profile_phone_resend(request: CitizenRequest) -> HttpResponse:
    change = _pending_phone(request)
    if change is None:
        return _restart_phone(request)
    return stepup.resend(request, _phone_step(change.new_value, _new_code(change)))


@never_cache
@citizen_required
@require_POST
def profile_phone_cancel(request: CitizenRequest) -> HttpResponse:
    change = _pending_phone(request)
    request.session.pop(SESSION_PHONE, None)
    if change is not None:
        now = timezone.now()
        ContactChange.objects.filter(pk=change.pk, confirmed_at=None).update(cancelled_at=now)
        if change.challenge_id is not None:  # None matched no challenge anyway
            SmsChallenge.objects.filter(
                pk=change.challenge_id, consumed_at=None, invalidated_at=None
            ).update(invalidated_at=now)
        messages.info(request, _("Numara değişikliğinden vazgeçtiniz; numaranız değişmedi."))
    return redirect("accounts:profile")


# E-mail ---------------------------------------------------------------------------------------


@never_cache
@citizen_required
@require_POST
def profile_email(request: CitizenRequest) -> HttpResponse:
    citizen = request.citizen
    form = EmailForm(request.POST, citizen=citizen)
    if not form.is_valid():
        return _profile_page(request, status=400, email_form=form)
    try:
        start_email_change(citizen, form.cleaned_data["email"], actor=Actor.from_request(request))
    except EmailBudgetExceeded as exc:
        form.add_error(None, exc.message)
        return _profile_page(request, status=429, email_form=form)
    except (smtplib.SMTPException, OSError):
        form.add_error(
            None,
            _("Onay e-postası şu anda gönderilemedi. Lütfen biraz sonra yeniden deneyiniz."),
        )
        return _profile_page(request, status=503, email_form=form)
    messages.success(
        request,
        _(
            "%(email)s adresine bir onay bağlantısı gönderdik. Bağlantıyı 24 saat içinde açıp "
            "onayladığınızda e-posta adresiniz güncellenecek."
        )
        % {"email": form.cleaned_data["email"]},
    )
    return redirect("accounts:profile")


def _email_link_state(change: ContactChange, now: datetime) -> str:
    if change.confirmed_at:
        return _("Bu bağlantı daha önce kullanıldı; e-posta adresiniz zaten onaylandı.")
    if change.cancelled_at:
        return _(
            "Bu bağlantının yerine daha yeni bir onay bağlantısı gönderildi. Lütfen en son "
            "gelen e-postadaki bağlantıyı kullanınız."
        )
    return _(
        "Bu bağlantının süresi doldu (24 saat). Bilgi Güncelle sayfasından yeniden "
        "isteyebilirsiniz."
    )


# Top-most, so the token is hidden in the other decorators' frames of an error report too.
@sensitive_variables("token")
@never_cache
@require_http_methods(["GET", "POST"])
def profile_email_confirm(request: HttpRequest, token: str) -> HttpResponse:
    citizen = getattr(request, "citizen", None)
    if citizen is None:
        messages.info(
            request,
            _(
                "E-posta adresinizi onaylamak için önce giriş yapınız, ardından e-postadaki "
                "bağlantıyı yeniden açınız."
            ),
        )
        return redirect("accounts:login")
    # Another citizen's link looks exactly like an unknown one.
    change = ContactChange.objects.filter(
        citizen=citizen, field=ContactChange.Field.EMAIL, token_hash=token_hash(token)
    ).first()
    if change is None:
        return render(request, "accounts/profile_email_invalid.html", status=404)
    now = timezone.now()
    usable = change.confirmed_at is None and change.cancelled_at is None and change.expires_at > now
    if not usable:
        return render(
            request,
            "accounts/profile_email_confirm.html",
            {"change": change, "refused": _email_link_state(change, now)},
            status=410,
        )
    if request.method == "POST":
        try:
            confirm_email_change(change, actor=Actor.from_request(request))
        except ContactChangeError as exc:
            return render(
                request,
                "accounts/profile_email_confirm.html",
                {"change": change, "refused": exc.message},
                status=410,
            )
        messages.success(
            request,
            _("E-posta adresiniz %(email)s olarak güncellendi.") % {"email": change.new_value},
        )
        return redirect("accounts:profile")
    return render(request, "accounts/profile_email_confirm.html", {"change": change})
