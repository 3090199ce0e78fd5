"""Şifreli Giriş (password login), the SMS code step, the İşlemler Menüsü and logout."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters, sensitive_variables
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from audit.actor import Actor
from audit.log import record
from nesportal.contact import with_phone
from nesportal.decorators import throttled
from nesportal.http import PortalRequest

from .decorators import citizen_required
from .forms import CodeForm, LoginForm, mutable_copy
from .models import Citizen, SmsChallenge
from .otp import Outcome, SmsRateLimited, issue_challenge, rebind_recent_challenge, verify_code
from .services import SESSION_PENDING, check_security_word, login_citizen, logout_citizen
from .sms import backend_class, read_outbox
from .sms_queue import SmsUnavailable
from .stepup import (
    add_outcome_error,
    countdown_text,
    rate_limit_message,
    resend_wait,
    seconds_left,
)

# The half-authenticated state (security word passed, SMS code not yet) is time-boxed.
PENDING_MAX_AGE = 10 * 60

LOGIN_FAILED = with_phone(
    gettext_lazy(
        "Girdiğiniz bilgiler doğrulanamadı. 3 kez hatalı giriş yapılan hesaplar güvenlik "
        "nedeniyle bloke olur; bu durumda hesabınızı yeniden açtırmak için %(phone)s numaralı "
        "Çağrı Merkezimizi arayınız."
    )
)


# The broker (Redis) could not take the SMS (accounts.sms_queue.SmsUnavailable).
SMS_UNAVAILABLE = gettext_lazy("SMS gönderilemedi, lütfen tekrar deneyiniz.")


@dataclass(frozen=True)
class MenuItem:
    label: str
    url_name: str | None  # None: not built yet, shown as a disabled button


def menu_items() -> list[MenuItem]:
    """Every operation of the İşlemler Menüsü, in the order of the CA's site."""
    return [
        MenuItem(_("Sertifikamı Kullanıma Aç"), "certificates:open_list"),
        MenuItem(_("Sertifikamı İptal Et"), "certificates:revoke_start"),
        MenuItem(_("Bilgi Güncelle"), "accounts:profile"),
        MenuItem(_("Sertifika Listele"), "certificates:list"),
        MenuItem(_("PIN/PUK Bilgisi"), "pinvault:pinpuk"),
        MenuItem(_("E-Onay İşlemleri"), "eonay:index"),
        MenuItem(_("Kilit Çözme"), "pinvault:unlock_list"),
        MenuItem(_("Askıdan İndir"), "certificates:reinstate_list"),
    ]


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    if getattr(request, "citizen", None) is not None:
        return redirect("accounts:menu")
    return render(request, "accounts/home.html")


def _start_pending(request: HttpRequest, citizen: Citizen) -> None:
    """Security word passed: send (or re-use) an SMS code and remember it in this session."""
    purpose = SmsChallenge.Purpose.LOGIN
    found = rebind_recent_challenge(citizen, purpose)
    challenge, token = found or issue_challenge(citizen, purpose, actor=Actor.from_request(request))
    request.session[SESSION_PENDING] = {
        "citizen": citizen.pk,
        "challenge": str(challenge.pk),
        "binding": token,
        "since": int(time.time()),
    }


def _pending(request: HttpRequest) -> dict[str, Any] | None:
    pending = request.session.get(SESSION_PENDING)
    if not pending or time.time() - pending.get("since", 0) > PENDING_MAX_AGE:
        request.session.pop(SESSION_PENDING, None)
        return None
    return pending


@sensitive_post_parameters("security_word", "captcha_1")
@sensitive_variables()
@never_cache
@require_http_methods(["GET", "POST"])
@throttled("login")
def login(request: HttpRequest) -> HttpResponse:
    actor = Actor.from_request(request)
    if getattr(request, "citizen", None) is not None:
        return redirect("accounts:menu")
    form = LoginForm(request.POST or None)
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            citizen = check_security_word(
                form.cleaned_data["identifier"],
                form.cleaned_data["security_word"],
                actor=actor,
            )
            if citizen is None:
                form.add_error(None, LOGIN_FAILED)
            else:
                try:
                    _start_pending(request, citizen)
                except SmsRateLimited as exc:
                    form.add_error(None, rate_limit_message(exc))
                    status = 429
                except SmsUnavailable:
                    # Nothing was sent and nothing is left (see queue_sms); the word was right,
                    # so no strike either: the citizen simply tries again.
                    form.add_error(None, SMS_UNAVAILABLE)
                    status = 503
                else:
                    return redirect("accounts:login_code")
        elif form.has_error("captcha"):
            # No account is looked up and nothing is said about one: only the bot signal.
            record("nes.login.captcha_failed", actor=actor)
        # A bound form re-renders with a fresh captcha; the word is never echoed back.
        data = mutable_copy(form.data)
        data.pop("security_word", None)
        data.pop("captcha_1", None)
        form.data = data
    return render(request, "accounts/login.html", {"form": form}, status=status)


@sensitive_post_parameters("code")
@sensitive_variables()
@never_cache
@require_http_methods(["GET", "POST"])
@throttled("login_code")
def login_code(request: PortalRequest) -> HttpResponse:
    pending = _pending(request)
    if pending is None:
        messages.warning(request, _("Giriş işleminin süresi doldu. Lütfen yeniden giriş yapınız."))
        return redirect("accounts:login")
    challenge = (
        SmsChallenge.objects.select_related("citizen").filter(pk=pending["challenge"]).first()
    )
    if challenge is None:
        request.session.pop(SESSION_PENDING, None)
        return redirect("accounts:login")

    form = CodeForm(request.POST or None)
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            result = verify_code(
                pending["challenge"],
                pending["binding"],
                SmsChallenge.Purpose.LOGIN,
                form.cleaned_data["code"],
                actor=Actor.from_request(request),
            )
            if result.outcome is Outcome.OK:
                assert result.citizen is not None
                login_citizen(request, result.citizen)
                return redirect("accounts:menu")
            if result.outcome is Outcome.LOCKED:
                request.session.pop(SESSION_PENDING, None)
                return redirect("accounts:locked")
            if result.outcome is Outcome.INVALID:
                request.session.pop(SESSION_PENDING, None)
                return redirect("accounts:login")
            add_outcome_error(form, result)
            challenge.refresh_from_db()
        form.data = {}
    now = timezone.now()
    left = seconds_left(challenge, now)
    context = {
        "form": form,
        "masked_phone": challenge.citizen.masked_phone,
        "expires_at": challenge.expires_at,
        "seconds_left": left,
        "countdown_text": countdown_text(left),
        "resend_in": resend_wait(challenge, now),
    }
    return render(request, "accounts/login_code.html", context, status=status)


@never_cache
@require_POST
@throttled("login_code")
def login_code_resend(request: HttpRequest) -> HttpResponse:
    pending = _pending(request)
    if pending is None:
        return redirect("accounts:login")
    citizen = Citizen.objects.filter(pk=pending["citizen"], locked_at=None).first()
    if citizen is None:
        request.session.pop(SESSION_PENDING, None)
        return redirect("accounts:login")
    try:
        challenge, token = issue_challenge(
            citizen, SmsChallenge.Purpose.LOGIN, actor=Actor.from_request(request)
        )
    except SmsRateLimited as exc:
        messages.error(request, rate_limit_message(exc))
    except SmsUnavailable:
        messages.error(request, SMS_UNAVAILABLE)
    else:
        pending.update(challenge=str(challenge.pk), binding=token)
        request.session[SESSION_PENDING] = pending
        messages.success(request, _("Yeni SMS Onay Kodu gönderildi."))
    return redirect("accounts:login_code")


@require_GET
def locked(request: HttpRequest) -> HttpResponse:
    return render(request, "accounts/locked.html", status=403)


@never_cache
@citizen_required
@require_GET
def menu(request: HttpRequest) -> HttpResponse:
    return render(request, "accounts/menu.html", {"items": menu_items()})


@require_POST
def logout(request: HttpRequest) -> HttpResponse:
    logout_citizen(request)
    messages.success(request, _("Sistemden güvenli bir şekilde çıkış yaptınız."))
    return redirect("accounts:login")


@never_cache
@require_GET
def dev_sms_outbox(request: HttpRequest) -> HttpResponse:
    """Development only: the SMS outbox, so a person trying the demo can read their code."""
    if not settings.DEBUG or not backend_class().readable_outbox:
        raise Http404
    return render(request, "accounts/dev_sms.html", {"entries": read_outbox()})
