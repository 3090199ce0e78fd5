"""Şifreli Giriş (password login), the SMS code step, the İşlemler Menüsü and logout."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters, sensitive_variables
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from audit.actor import Actor
from audit.log import record
from nesportal.contact import with_phone
from nesportal.decorators import throttled
from nesportal.http import CitizenRequest, PortalRequest

from .. import stepup
from ..decorators import citizen_required
from ..forms import LoginForm, mutable_copy
from ..glance import at_a_glance
from ..models import Citizen, SmsChallenge
from ..services import SESSION_PENDING, check_security_word, login_citizen, logout_citizen
from ..sms import backend_class, read_outbox
from ..stepup import CodeStep

# The half-authenticated state (security word passed, SMS code not yet) is time-boxed.
PENDING_MAX_AGE = 10 * 60

LOGIN_FAILED = with_phone(
    gettext_lazy(
        "Girdiğiniz bilgiler doğrulanamadı. 3 kez hatalı giriş yapılan hesaplar güvenlik "
        "nedeniyle bloke olur; bu durumda hesabınızı yeniden açtırmak için %(phone)s numaralı "
        "Çağrı Merkezimizi arayınız."
    )
)


LOGIN_RESTART = gettext_lazy("Giriş işleminin süresi doldu. Lütfen yeniden giriş yapınız.")
LOGIN_CODE_INVALID = gettext_lazy(
    "Bu SMS Onay Kodu bu giriş için geçerli değil. Lütfen yeniden giriş yapınız."
)


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
        MenuItem(_("Hesap Hareketlerim"), "accounts:activity"),
    ]


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    if getattr(request, "citizen", None) is not None:
        return redirect("accounts:menu")
    return render(request, "accounts/home.html")


def _login_step() -> CodeStep:
    """The login's SMS Onay Kodu: after the security word, before the session is a citizen's."""
    return CodeStep(
        purpose=SmsChallenge.Purpose.LOGIN,
        session_key=SESSION_PENDING,
        template="accounts/login_code.html",
        code_url=reverse("accounts:login_code"),
        resend_url=reverse("accounts:login_code_resend"),
        restart_url=reverse("accounts:login"),
        anonymous=True,
        max_age=PENDING_MAX_AGE,
        restart_message=LOGIN_RESTART,
        invalid_message=LOGIN_CODE_INVALID,
    )


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
                sent = stepup.start(request, _login_step(), citizen)
                if not isinstance(sent, stepup.Refused):
                    return sent
                form.add_error(None, sent.message)
                status = sent.status
        elif form.has_error("captcha"):
            # No account is looked up and nothing is said about one: only the bot signal.
            record("nes.login.captcha_failed", actor=actor)
        # A bound form re-renders with a fresh captcha; the word is never echoed back.
        data = mutable_copy(form.data)
        data.pop("security_word", None)
        data.pop("captcha_1", None)
        form.data = data
    return render(request, "accounts/login.html", {"form": form}, status=status)


@stepup.code_view
@throttled("login_code")
def login_code(request: PortalRequest) -> HttpResponse:
    def log_in(state: stepup.State, citizen: Citizen) -> HttpResponse:
        login_citizen(request, citizen)
        return redirect("accounts:menu")

    return stepup.code_page(request, _login_step(), log_in)


@stepup.resend_view
@throttled("login_code")
def login_code_resend(request: HttpRequest) -> HttpResponse:
    return stepup.resend(request, _login_step())


@require_GET
def locked(request: HttpRequest) -> HttpResponse:
    return render(request, "accounts/locked.html", status=403)


@never_cache
@citizen_required
@require_GET
def menu(request: CitizenRequest) -> HttpResponse:
    # What waits for the citizen, the expiry banner and "Son girişiniz" (accounts.glance).
    glance = at_a_glance(request.citizen)
    return render(request, "accounts/menu.html", {"items": menu_items(), "glance": glance})


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
