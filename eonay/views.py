"""E-Onay İşlemleri: the citizen's waiting applications, decisions and standing consent.

* Every application is looked up together with the logged-in citizen (``_own``): another
  citizen's id is a 404 on every method, before anything else happens.
* Each decision and each consent change is a POST that sends a fresh SMS Onay Kodu (purpose
  EONAY). The code's subject names what it confirms (``app:<id>:approve``, ``app:<id>:reject``,
  ``consent:<scope>``), and the session's pending step-up names the exact operation, so a code
  asked for one application or decision cannot confirm another. The code step itself (sending,
  reuse, resend, verifying, every outcome) is the shared engine ``accounts.stepup``.
* Decisions are final: ``services.decide_application`` refuses a second one (409).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from accounts import stepup
from accounts.decorators import citizen_required
from accounts.models import Citizen, SmsChallenge
from audit.actor import Actor
from nesportal.http import CitizenRequest
from receipts.models import Receipt
from receipts.services import receipt_for

from .models import Application, ApplicationError, CardSignature, Consent
from .services import decide_application, give_consent, withdraw_consent

SESSION_STEPUP = "nes_eonay_stepup"
# The reference of the receipt of the decision just made: shown once on the next index page.
SESSION_RECEIPT = "nes_eonay_receipt"
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


def app_subject(application: Application, decision: str) -> str:
    return f"app:{application.pk}:{decision}"


def consent_subject(scope: str) -> str:
    return f"consent:{scope}"


def _attach_signatures(rows: Sequence[Application | Consent], field: str) -> None:
    """Give ``rows`` the card signatures the page shows (serial and time) in one query, and
    only when a row has one: on the SMS path (no signature) nothing runs at all."""
    ids = {getattr(row, f"{field}_id") for row in rows} - {None}
    if not ids:
        return
    found = (
        CardSignature.objects.select_related("certificate")
        .only("id", "signing_time", "certificate__serial_number")
        .in_bulk(ids)
    )
    for row in rows:
        signature_id = getattr(row, f"{field}_id")
        if signature_id is not None:
            setattr(row, field, found[signature_id])


def _index_page(request: CitizenRequest, *, error: Any = None, status: int = 200) -> HttpResponse:
    citizen = request.citizen
    applications = list(
        Application.objects.filter(citizen=citizen).select_related("decided_by_consent")
    )
    # One query for every scope (what ``active_consent`` answers per scope).
    active = {c.scope: c for c in Consent.objects.filter(citizen=citizen, withdrawn_at=None)}
    _attach_signatures(applications, "decision_signature")
    _attach_signatures(list(active.values()), "given_signature")
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
        "receipt": _just_decided(request),
    }
    return render(request, "eonay/index.html", context, status=status)


def _just_decided(request: CitizenRequest) -> Receipt | None:
    """The receipt of the decision this session just made (once), the citizen's own only."""
    reference = request.session.pop(SESSION_RECEIPT, None)
    if not reference:
        return None
    return Receipt.objects.filter(citizen=request.citizen, reference=reference).first()


def _step(
    *, subject: str, op: str, code: str, resend: str, args: list[Any], label: Any
) -> stepup.CodeStep:
    """The SMS Onay Kodu step of one operation (``accounts.stepup`` does the rest)."""
    return stepup.CodeStep(
        purpose=PURPOSE,
        session_key=SESSION_STEPUP,
        template="eonay/code.html",
        subject=subject,
        op=op,
        code_url=reverse(code, args=args),
        resend_url=reverse(resend, args=args),
        restart_url=reverse("eonay:index"),
        max_age=STEPUP_MAX_AGE,
        submit_label=label,
    )


def _start(request: CitizenRequest, step: stepup.CodeStep) -> HttpResponse:
    """Send (or reuse) the code and go to the code page; a refusal is shown on the index page."""
    sent = stepup.start(request, step, request.citizen)
    if isinstance(sent, stepup.Refused):
        return _index_page(request, error=sent.message, status=sent.status)
    return sent


# --- the page ------------------------------------------------------------------------------


@never_cache
@citizen_required
@require_GET
def index(request: CitizenRequest) -> HttpResponse:
    return _index_page(request)


# --- approving or rejecting an application ---------------------------------------------------


def _already_decided(request: CitizenRequest, application: Application) -> HttpResponse:
    return _index_page(request, error=application.decision_refusal(), status=409)


def _decide_step(application: Application, decision: str) -> stepup.CodeStep:
    subject = app_subject(application, decision)
    approve = decision == "approve"
    return _step(
        subject=subject,
        op=subject,
        code="eonay:decide_code",
        resend="eonay:decide_resend",
        args=[application.pk, decision],
        label=gettext_lazy("Başvuruyu Onayla") if approve else gettext_lazy("Başvuruyu Reddet"),
    )


@never_cache
@citizen_required
@require_POST
def decide(request: CitizenRequest, pk: int, decision: str) -> HttpResponse:
    application = _own(request, pk)
    if decision not in application.allowed_actions():
        return _already_decided(request, application)
    return _start(request, _decide_step(application, decision))


@stepup.code_view
@citizen_required
def decide_code(request: CitizenRequest, pk: int, decision: str) -> HttpResponse:
    application = _own(request, pk)
    if decision not in application.allowed_actions():
        request.session.pop(SESSION_STEPUP, None)
        return _already_decided(request, application)
    approve = decision == "approve"

    def on_ok(state: stepup.State, citizen: Citizen) -> HttpResponse:
        try:
            decide_application(
                application,
                citizen=citizen,
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
        receipt = receipt_for(citizen, Receipt.Kind.EONAY_DECISION, application.reference or "")
        if receipt is not None:
            request.session[SESSION_RECEIPT] = receipt.reference
        return redirect("eonay:index")

    context = {
        "application": application,
        "approve": approve,
        "heading": _("Başvuru onayı için SMS Onay Kodu")
        if approve
        else _("Başvuru reddi için SMS Onay Kodu"),
    }
    return stepup.code_page(request, _decide_step(application, decision), on_ok, context)


@stepup.resend_view
@citizen_required
def decide_resend(request: CitizenRequest, pk: int, decision: str) -> HttpResponse:
    application = _own(request, pk)
    if decision not in application.allowed_actions():
        return _already_decided(request, application)
    return stepup.resend(request, _decide_step(application, decision))


# --- standing consent ------------------------------------------------------------------------


def _consent_step(scope: str, action: str) -> stepup.CodeStep:
    give = action == "give"
    return _step(
        subject=consent_subject(scope),
        op=f"{consent_subject(scope)}:{action}",
        code="eonay:consent_code",
        resend="eonay:consent_resend",
        args=[scope, action],
        label=gettext_lazy("Sürekli Onayı Ver") if give else gettext_lazy("Sürekli Onayı Geri Al"),
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
    return _start(request, _consent_step(scope, action))


@stepup.code_view
@citizen_required
def consent_code(request: CitizenRequest, scope: str, action: str) -> HttpResponse:
    actor = Actor.from_request(request)
    done = _nothing_to_do(request, scope, action)
    if done is not None:
        return done
    give = action == "give"
    label = Consent.Scope(scope).label

    def on_ok(state: stepup.State, citizen: Citizen) -> HttpResponse:
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
    }
    return stepup.code_page(request, _consent_step(scope, action), on_ok, context)


@stepup.resend_view
@citizen_required
def consent_resend(request: CitizenRequest, scope: str, action: str) -> HttpResponse:
    done = _nothing_to_do(request, scope, action)
    if done is not None:
        return done
    return stepup.resend(request, _consent_step(scope, action))
