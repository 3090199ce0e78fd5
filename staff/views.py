"""Admin's login pages: password, then the second factor, or enrolment of a first authenticator.

Only ``staff.sites`` (admin's URLconf) routes to these views. Nothing here logs anyone in
before the second factor: the password step leaves a short-lived, session-bound note of whose
password passed (``SESSION_PENDING``), which the second-factor pages check again (the user's
password hash must be unchanged) before ``django.contrib.auth.login`` and ``django_otp.login``.
"""

from __future__ import annotations

import time
from functools import partial
from typing import Any

import segno
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import REDIRECT_FIELD_NAME, get_user_model
from django.contrib.auth import login as auth_login
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.crypto import constant_time_compare
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters, sensitive_variables
from django.views.decorators.http import require_http_methods
from django_otp import login as otp_login
from django_otp.middleware import is_verified

from audit.actor import Actor
from nesportal.decorators import throttled
from nesportal.limits import STAFF_PENDING_MAX_AGE

from . import services
from .forms import EnrolForm, PasswordForm, TokenForm

SESSION_PENDING = "nes_staff_pending"
BACKEND = "django.contrib.auth.backends.ModelBackend"


def _failed_login_message() -> str:
    return _(
        "Kullanıcı adı ya da parola hatalı. Art arda hatalı denemeler hesabı kilitler; hesabınız "
        "kilitlendiyse bir yöneticiye başvurunuz."
    )


def _next_url(request: HttpRequest, candidate: str | None) -> str:
    if candidate and url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return reverse("admin:index")


def _pending_user(request: HttpRequest) -> Any | None:
    """Whose password passed in this session, still fresh and unchanged; else ``None``."""
    state = request.session.get(SESSION_PENDING)
    if not isinstance(state, dict) or time.time() - state.get("since", 0) > STAFF_PENDING_MAX_AGE:
        request.session.pop(SESSION_PENDING, None)
        return None
    user_id = state.get("user")
    user = get_user_model()._default_manager.filter(pk=user_id).first() if user_id else None
    if (
        user is None
        or not (user.is_active and user.is_staff)
        or not constant_time_compare(state.get("auth", ""), user.get_session_auth_hash())
    ):
        request.session.pop(SESSION_PENDING, None)
        return None
    return user


def _actor(request: HttpRequest) -> Actor:
    return Actor.from_request(request)


def _restart(request: HttpRequest) -> HttpResponse:
    messages.warning(request, _("Girişin süresi doldu. Lütfen yeniden giriş yapınız."))
    return redirect("admin:login")


def _log_in(request: HttpRequest, user: Any, outcome: services.Outcome) -> str:
    """The second factor passed: the real login, bound to the device that passed it."""
    state = request.session.pop(SESSION_PENDING, {})
    auth_login(request, user, backend=BACKEND)
    assert outcome.device is not None
    otp_login(request, outcome.device)
    # auth_login replaced request.user: give it what OTPMiddleware gives every later request.
    request.user.is_verified = partial(is_verified, request.user)  # type: ignore[union-attr]
    return _next_url(request, state.get("next"))


def _refusal(outcome: services.Outcome) -> str:
    if outcome.kind == "throttled":
        return ngettext(
            "Çok hızlı denediniz. Lütfen %(seconds)d saniye sonra yeniden deneyiniz.",
            "Çok hızlı denediniz. Lütfen %(seconds)d saniye sonra yeniden deneyiniz.",
            outcome.wait,
        ) % {"seconds": outcome.wait}
    return ngettext(
        "Doğrulama kodu hatalı. Hesap kilitlenmeden önce %(left)d deneme hakkınız kaldı.",
        "Doğrulama kodu hatalı. Hesap kilitlenmeden önce %(left)d deneme hakkınız kaldı.",
        outcome.left,
    ) % {"left": outcome.left}


def _refused(request: HttpRequest, form: Any, outcome: services.Outcome) -> HttpResponse | int:
    """A code that did not pass: the lock page, or the form's error and its status."""
    if outcome.kind == "locked":
        return _locked(request)
    form.add_error("token", _refusal(outcome))
    return 429 if outcome.kind == "throttled" else 400


def _locked(request: HttpRequest) -> HttpResponse:
    request.session.pop(SESSION_PENDING, None)
    messages.error(
        request,
        _("Hesabınız art arda hatalı denemeler nedeniyle kilitlendi. Bir yöneticiye başvurunuz."),
    )
    return redirect("admin:login")


@sensitive_post_parameters("password")
@sensitive_variables()
@never_cache
@require_http_methods(["GET", "POST"])
@throttled("admin_login")
def login(request: HttpRequest, *, site: Any) -> HttpResponse:
    """Step 1: the password. Opens the second-factor page (or the enrolment) for this session."""
    if request.method == "GET" and site.has_permission(request):
        return redirect(_next_url(request, request.GET.get(REDIRECT_FIELD_NAME)))
    form = PasswordForm(request.POST or None)
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            user = services.check_password_step(
                form.cleaned_data["username"], form.cleaned_data["password"], actor=_actor(request)
            )
            if user is not None:
                request.session.cycle_key()
                request.session[SESSION_PENDING] = {
                    "user": user.pk,
                    "since": int(time.time()),
                    "auth": user.get_session_auth_hash(),
                    "next": request.POST.get(REDIRECT_FIELD_NAME, ""),
                }
                step = "admin:otp_verify" if services.has_device(user) else "admin:otp_enrol"
                return redirect(step)
            form.add_error(None, _failed_login_message())
        form.data = {"username": form.data.get("username", "")}
    context = {
        **site.each_context(request),
        "title": _("Giriş"),
        "form": form,
        "next": request.GET.get(REDIRECT_FIELD_NAME, request.POST.get(REDIRECT_FIELD_NAME, "")),
        "step": 1,
    }
    return render(request, "staff/login.html", context, status=status)


@sensitive_post_parameters("token")
@sensitive_variables()
@never_cache
@require_http_methods(["GET", "POST"])
@throttled("admin_otp")
def verify(request: HttpRequest, *, site: Any) -> HttpResponse:
    """Step 2: a code of the staff member's authenticator, or one backup code."""
    user = _pending_user(request)
    if user is None:
        return _restart(request)
    if not services.has_device(user):
        return redirect("admin:otp_enrol")
    form = TokenForm(request.POST or None)
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            outcome = services.verify_second_factor(
                user, form.cleaned_data["token"], actor=_actor(request)
            )
            if outcome.kind == "ok":
                target = _log_in(request, user, outcome)
                if outcome.backup_codes_left is not None:
                    messages.warning(
                        request,
                        ngettext(
                            "Bir yedek kod kullandınız; %(count)d yedek kodunuz kaldı.",
                            "Bir yedek kod kullandınız; %(count)d yedek kodunuz kaldı.",
                            outcome.backup_codes_left,
                        )
                        % {"count": outcome.backup_codes_left},
                    )
                return redirect(target)
            refused = _refused(request, form, outcome)
            if isinstance(refused, HttpResponse):
                return refused
            status = refused
        form.data = {}
    context = {**site.each_context(request), "title": _("İki adımlı doğrulama"), "form": form}
    return render(request, "staff/verify.html", context, status=status)


@sensitive_post_parameters("token")
@sensitive_variables()
@never_cache
@require_http_methods(["GET", "POST"])
@throttled("admin_otp")
def enrol(request: HttpRequest, *, site: Any) -> HttpResponse:
    """A staff member without an authenticator adds one: QR code and secret, one code to
    confirm, then ten backup codes shown once."""
    user = _pending_user(request)
    if user is None:
        return _restart(request)
    if services.has_device(user):
        return redirect("admin:otp_verify")
    form = EnrolForm(request.POST or None)
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            outcome = services.confirm_enrolment(
                user, form.cleaned_data["token"], actor=_actor(request)
            )
            if outcome.kind == "ok":
                target = _log_in(request, user, outcome)
                context = {
                    **site.each_context(request),
                    "title": _("Yedek kodlarınız"),
                    "codes": outcome.codes,
                    "next": target,
                }
                return render(request, "staff/backup_codes.html", context)
            if outcome.kind == "restart":
                return redirect("admin:otp_verify")
            refused = _refused(request, form, outcome)
            if isinstance(refused, HttpResponse):
                return refused
            status = refused
        form.data = {}
    device = services.enrolment_device(user)
    qr = segno.make(device.config_url, error="m")
    context = {
        **site.each_context(request),
        "title": _("Kimlik doğrulayıcı ekleyin"),
        "form": form,
        # segno writes the SVG itself (no user input in it); inline, so no image URL carries
        # the secret and the CSP needs no data: images.
        "qr_svg": mark_safe(qr.svg_inline(scale=5, title=str(_("Kimlik doğrulayıcı QR kodu")))),  # noqa: S308
        "secret": device.secret_text,
        "issuer": settings.OTP_TOTP_ISSUER,
        "username": user.get_username(),
    }
    return render(request, "staff/enrol.html", context, status=status)
