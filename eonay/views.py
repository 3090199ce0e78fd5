"""E-Onay İşlemleri: the citizen's waiting applications, decisions and standing consent.

* Every application is looked up together with the logged-in citizen (``_own``): another
  citizen's id is a 404 on every method, before anything else happens.
* Each decision and each consent change is a POST that sends a fresh SMS Onay Kodu (purpose
  EONAY). The code's subject names what it confirms (``app:<id>:approve``, ``app:<id>:reject``,
  ``consent:<scope>``), and the session's pending step-up names the exact operation, so a code
  asked for one application or decision cannot confirm another.
* Decisions are final: ``services.decide_application`` refuses a second one (409).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, NamedTuple

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters, sensitive_variables
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.decorators import citizen_required
from accounts.forms import CodeForm
from accounts.models import SmsChallenge
from accounts.otp import Outcome, SmsRateLimited, issue_challenge, verify_code
from accounts.stepup import add_outcome_error, code_step_context
from accounts.stepup import rate_limit_message as _rate_limit_message
from audit.actor import Actor
from nesportal.http import CitizenRequest

from .models import Application, ApplicationError, Consent
from .services import decide_application, give_consent, withdraw_consent

SESSION_STEPUP = "nes_eonay_stepup"
STEPUP_MAX_AGE = 10 * 60
PURPOSE = SmsChallenge.Purpose.EONAY

# --- helpers -------------------------------------------------------------------------------


def _own(request: CitizenRequest, pk: int) -> Application:
    """The logged-in citizen's application, or 404 (also for another citizen's)."""
    return get_object_or_404(
        Application.objects.select_related("decided_by_consent"),
        citizen=request.citizen,
        pk=pk,
    )


class Step(NamedTuple):
    """One step-up operation: its session key, the code's subject and its two URLs."""

    op: str
    subject: str
    code_url: str
    resend_url: str


def app_subject(application: Application, decision: str) -> str:
    return f"app:{application.pk}:{decision}"


def consent_subject(scope: str) -> str:
    return f"consent:{scope}"


def _index_page(request: CitizenRequest, *, error: Any = None, status: int = 200) -> HttpResponse:
    citizen = request.citizen
    applications = list(
        Application.objects.filter(citizen=citizen).select_related("decided_by_consent")
    )
    # One query for every scope (what ``active_consent`` answers per scope).
    active = {c.scope: c for c in Consent.objects.filter(citizen=citizen, withdrawn_at=None)}
    scopes = [
        {"scope": scope, "label": scope.label, "consent": active.get(scope)}
        for scope in Consent.Scope
    ]
    context = {
        "waiting": [a for a in applications if a.is_waiting],
        "decided": sorted(
            (a for a in applications if not a.is_waiting),
            key=lambda a: (a.decided_at, a.pk),
            reverse=True,
        ),
        "scopes": scopes,
        "error": error,
    }
    return render(request, "eonay/index.html", context, status=status)


def _pending(request: HttpRequest, op: str) -> dict[str, Any] | None:
    """This session's pending step-up, if it is fresh and for exactly ``op``."""
    pending = request.session.get(SESSION_STEPUP)
    if not pending or time.time() - pending.get("since", 0) > STEPUP_MAX_AGE:
        request.session.pop(SESSION_STEPUP, None)
        return None
    if pending.get("op") != op:
        return None
    return pending


def _send_code(request: CitizenRequest, step: Step, *, force: bool = False) -> HttpResponse | str:
    """Send (or reuse) the step-up code and go to the code page; a rate-limit message else."""
    op, subject, code_url = step.op, step.subject, step.code_url
    pending = _pending(request, op)
    if not force and pending and pending.get("challenge"):
        challenge = SmsChallenge.objects.filter(pk=pending["challenge"]).first()
        if challenge is not None and challenge.is_open():
            # The code already sent is still valid: no second SMS for a double click.
            return redirect(code_url)
    try:
        challenge, token = issue_challenge(
            request.citizen,
            PURPOSE,
            subject=subject,
            actor=Actor.from_request(request),
        )
    except SmsRateLimited as exc:
        return _rate_limit_message(exc)
    request.session[SESSION_STEPUP] = {
        "op": op,
        "subject": subject,
        "challenge": str(challenge.pk),
        "binding": token,
        "since": int(time.time()),
    }
    return redirect(code_url)


def _restart(request: HttpRequest) -> HttpResponse:
    messages.warning(
        request, _("Onay işleminin süresi doldu ya da başlatılmadı. Lütfen yeniden deneyiniz.")
    )
    return redirect("eonay:index")


@sensitive_variables()
def _code_step(
    request: CitizenRequest,
    step: Step,
    *,
    on_ok: Callable[[], HttpResponse],
    context: dict[str, Any],
) -> HttpResponse:
    """The SMS Onay Kodu page of a step-up (the same machinery as login and revoke)."""
    pending = _pending(request, step.op)
    if pending is None or not pending.get("challenge"):
        return _restart(request)
    challenge = SmsChallenge.objects.filter(pk=pending["challenge"]).first()

    form = CodeForm(request.POST or None)
    status = 200
    offer_new_code = False
    if request.method == "POST":
        status = 400
        if form.is_valid():
            result = verify_code(
                pending["challenge"],
                pending["binding"],
                PURPOSE,
                form.cleaned_data["code"],
                subject=step.subject,
                actor=Actor.from_request(request),
            )
            outcome = result.outcome
            if outcome is Outcome.OK:
                request.session.pop(SESSION_STEPUP, None)
                return on_ok()
            if outcome is Outcome.LOCKED:
                # The middleware ends the session of a locked citizen on the next request.
                request.session.pop(SESSION_STEPUP, None)
                return redirect("accounts:locked")
            offer_new_code = add_outcome_error(form, result)
            if outcome is Outcome.INVALID:
                pending.pop("challenge", None)
                pending.pop("binding", None)
                request.session[SESSION_STEPUP] = pending
        form.data = {}
        if challenge is not None:
            challenge.refresh_from_db()

    context = {
        **context,
        "form": form,
        **code_step_context(
            challenge,
            masked_phone=request.citizen.masked_phone,
            offer_new_code=offer_new_code,
        ),
        "code_url": step.code_url,
        "resend_url": step.resend_url,
    }
    return render(request, "eonay/code.html", context, status=status)


def _resend(request: CitizenRequest, step: Step) -> HttpResponse:
    if _pending(request, step.op) is None:
        return _restart(request)
    result = _send_code(request, step, force=True)
    if isinstance(result, str):
        messages.error(request, result)
        return redirect(step.code_url)
    messages.success(request, _("Yeni SMS Onay Kodu gönderildi."))
    return result


# --- the page ------------------------------------------------------------------------------


@never_cache
@citizen_required
@require_GET
def index(request: CitizenRequest) -> HttpResponse:
    return _index_page(request)


# --- approving or rejecting an application ---------------------------------------------------


def _already_decided(request: CitizenRequest, application: Application) -> HttpResponse:
    return _index_page(request, error=application.decision_refusal(), status=409)


def _decide_step(application: Application, decision: str) -> Step:
    subject = app_subject(application, decision)
    args = [application.pk, decision]
    return Step(
        op=subject,
        subject=subject,
        code_url=reverse("eonay:decide_code", args=args),
        resend_url=reverse("eonay:decide_resend", args=args),
    )


@never_cache
@citizen_required
@require_POST
def decide(request: CitizenRequest, pk: int, decision: str) -> HttpResponse:
    application = _own(request, pk)
    if decision not in application.allowed_actions():
        return _already_decided(request, application)
    result = _send_code(request, _decide_step(application, decision))
    if isinstance(result, str):
        return _index_page(request, error=result, status=429)
    return result


@sensitive_post_parameters("code")
@never_cache
@citizen_required
@require_http_methods(["GET", "POST"])
def decide_code(request: CitizenRequest, pk: int, decision: str) -> HttpResponse:
    application = _own(request, pk)
    if decision not in application.allowed_actions():
        request.session.pop(SESSION_STEPUP, None)
        return _already_decided(request, application)
    approve = decision == "approve"

    def on_ok() -> HttpResponse:
        try:
            decide_application(
                application,
                citizen=request.citizen,
                approve=approve,
                actor=Actor.from_request(request),
            )
        except ApplicationError:
            return _already_decided(request, application)
        if approve:
            text = _("%(ref)s numaralı başvuruyu onayladınız. Başvurunuz işleme alınacaktır.")
        else:
            text = _("%(ref)s numaralı başvuruyu reddettiniz. Bu başvuru işleme alınmayacaktır.")
        messages.success(request, text % {"ref": application.reference})
        return redirect("eonay:index")

    context = {
        "application": application,
        "approve": approve,
        "heading": _("Başvuru onayı için SMS Onay Kodu")
        if approve
        else _("Başvuru reddi için SMS Onay Kodu"),
        "submit_label": _("Başvuruyu Onayla") if approve else _("Başvuruyu Reddet"),
    }
    return _code_step(request, _decide_step(application, decision), on_ok=on_ok, context=context)


@never_cache
@citizen_required
@require_POST
def decide_resend(request: CitizenRequest, pk: int, decision: str) -> HttpResponse:
    application = _own(request, pk)
    if decision not in application.allowed_actions():
        return _already_decided(request, application)
    return _resend(request, _decide_step(application, decision))


# --- standing consent ------------------------------------------------------------------------


def _consent_step(scope: str, action: str) -> Step:
    args = [scope, action]
    return Step(
        op=f"{consent_subject(scope)}:{action}",
        subject=consent_subject(scope),
        code_url=reverse("eonay:consent_code", args=args),
        resend_url=reverse("eonay:consent_resend", args=args),
    )


def _nothing_to_do(request: CitizenRequest, scope: str, action: str) -> HttpResponse | None:
    """The consent is already in the wanted state (e.g. given in another tab)."""
    allowed = Consent.objects.allowed_actions(request.citizen, scope)
    if action not in allowed:
        request.session.pop(SESSION_STEPUP, None)
        label = Consent.Scope(scope).label
        if Consent.Action.WITHDRAW in allowed:
            text = _("%(scope)s için sürekli onayınız zaten verilmiş.")
        else:
            text = _("%(scope)s için verilmiş bir sürekli onayınız bulunmuyor.")
        messages.info(request, text % {"scope": label})
        return redirect("eonay:index")
    return None


@never_cache
@citizen_required
@require_POST
def consent(request: CitizenRequest, scope: str, action: str) -> HttpResponse:
    done = _nothing_to_do(request, scope, action)
    if done is not None:
        return done
    result = _send_code(request, _consent_step(scope, action))
    if isinstance(result, str):
        return _index_page(request, error=result, status=429)
    return result


@sensitive_post_parameters("code")
@never_cache
@citizen_required
@require_http_methods(["GET", "POST"])
def consent_code(request: CitizenRequest, scope: str, action: str) -> HttpResponse:
    actor = Actor.from_request(request)
    done = _nothing_to_do(request, scope, action)
    if done is not None:
        return done
    give = action == "give"
    label = Consent.Scope(scope).label

    def on_ok() -> HttpResponse:
        citizen = request.citizen
        if give:
            give_consent(citizen, scope, actor=actor)
            text = _(
                "%(scope)s için sürekli onayınız kaydedildi. Bu kapsamda bundan sonra girilecek "
                "başvurular otomatik olarak onaylanacaktır."
            )
        else:
            withdraw_consent(citizen, scope, actor=actor)
            text = _(
                "%(scope)s için sürekli onayınız geri alındı. Bu kapsamdaki yeni başvurular "
                "onayınızı bekleyecektir."
            )
        messages.success(request, text % {"scope": label})
        return redirect("eonay:index")

    context = {
        "scope_label": label,
        "give": give,
        "heading": _("Sürekli onay için SMS Onay Kodu")
        if give
        else _("Sürekli onayı geri almak için SMS Onay Kodu"),
        "submit_label": _("Sürekli Onayı Ver") if give else _("Sürekli Onayı Geri Al"),
    }
    return _code_step(request, _consent_step(scope, action), on_ok=on_ok, context=context)


@never_cache
@citizen_required
@require_POST
def consent_resend(request: CitizenRequest, scope: str, action: str) -> HttpResponse:
    done = _nothing_to_do(request, scope, action)
    if done is not None:
        return done
    return _resend(request, _consent_step(scope, action))
