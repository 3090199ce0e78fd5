"""Güvenlik Sözcüğümü Unuttum pages: the start form, the SMS Onay Kodu step (``accounts.stepup``),
the new word and the agent-started reset link. The rules are in ``accounts.recovery``."""

from __future__ import annotations

import time
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.crypto import constant_time_compare
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters, sensitive_variables
from django.views.decorators.http import require_http_methods

from audit.actor import Actor
from audit.log import record
from nesportal.decorators import throttled

from .. import stepup
from ..forms import NewWordForm, RecoveryStartForm, mutable_copy
from ..models import Citizen, SmsChallenge
from ..recovery import (
    RECOVERY_EXPIRED,
    RECOVERY_FAILED,
    RECOVERY_MAX_AGE,
    SESSION_RECOVERY,
    RecoveryError,
    check_birth_date,
    set_new_word,
)
from ..services import session_hash
from ..stepup import CodeStep
from ..tokens import open_reset_link


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
    state = _state(request)
    if state is not None and "verified" in state:  # the code passed already: no new one
        return redirect("accounts:recovery_new_word")
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
