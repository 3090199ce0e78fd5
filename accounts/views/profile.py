"""Bilgi Güncelle pages: the forms, the new number's SMS Onay Kodu step (``accounts.stepup``)
and the e-mail confirmation link. The rules are in ``accounts.profile``."""

from __future__ import annotations

import smtplib
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_variables
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from audit.actor import Actor
from nesportal.http import CitizenRequest

from .. import stepup
from ..decorators import citizen_required
from ..forms import AddressForm, EmailForm, PhoneForm
from ..models import (
    Citizen,
    ContactChange,
    SmsChallenge,
)
from ..profile import (
    PHONE_LIFETIME,
    ContactChangeError,
    EmailBudgetExceeded,
    cancel_phone_change,
    change_address,
    confirm_email_change,
    confirm_phone_change,
    email_link_state,
    new_phone_code,
    open_changes,
    start_email_change,
    start_phone_change,
)
from ..stepup import CodeStep
from ..tokens import token_hash

SESSION_PHONE = "nes_pending_phone"


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
        return new_phone_code(change, actor=actor)

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
        cancel_phone_change(change)
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
            {"change": change, "refused": email_link_state(change, now)},
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
