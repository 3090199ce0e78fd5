"""E-Onay signed with the card: the JSON endpoints of the E-Onay page's "Kartımla İmzala".

``…/hazirla/`` makes the text to sign (kept in the session), ``…/imzala/`` takes the card's
CMS over it; the checks and what a refusal costs are ``esign.card_eonay``'s contract. Both are
CSRF-protected POSTs of the logged-in citizen; an application is looked up together with the
citizen, so another citizen's id is a 404 before anything else happens.
"""

from __future__ import annotations

import json
from typing import Any

from django.contrib import messages
from django.http import HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from accounts.decorators import citizen_required
from audit.actor import Actor
from eonay.models import Application, Consent
from nesportal.decorators import throttled
from nesportal.http import CitizenRequest
from receipts.models import Receipt
from receipts.services import receipt_for

from . import card_eonay
from .card_eonay import CardSigningRefused, Operation

# What a POST body may be at most (the CMS in base64 and a little JSON around it).
MAX_BODY = card_eonay.MAX_CMS_B64_CHARS + 1024


def _own(request: CitizenRequest, pk: int) -> Application:
    """The logged-in citizen's application, or 404 (also for another citizen's)."""
    return get_object_or_404(Application, citizen=request.citizen, pk=pk)


def _refused(message: Any, status: int) -> JsonResponse:
    return JsonResponse({"ok": False, "error": str(message)}, status=status)


def _cms_field(request: CitizenRequest) -> Any:
    """``cms`` (base64 DER) from a JSON body or a form field; None if it cannot be read."""
    if len(request.body) > MAX_BODY:
        return None
    if request.content_type == "application/json":
        try:
            body = json.loads(request.body or b"null")
        except (ValueError, UnicodeDecodeError):
            return None
        return body.get("cms") if isinstance(body, dict) else None
    return request.POST.get("cms")


def _prepare(request: CitizenRequest, operation: Operation, post_url: str) -> JsonResponse:
    try:
        prepared = card_eonay.prepare(request.session, request.citizen, operation)
    except CardSigningRefused as exc:
        return _refused(exc.message, exc.status)
    return JsonResponse({**prepared, "post_url": post_url, "action": operation.action})


def _sign(request: CitizenRequest, operation: Operation) -> JsonResponse:
    try:
        card_eonay.sign(
            request.session,
            request.citizen,
            operation,
            _cms_field(request),
            actor=Actor.from_request(request),
        )
    except CardSigningRefused as exc:
        return _refused(exc.message, exc.status)
    return JsonResponse({"ok": True, "redirect": reverse("eonay:index")})


# --- standing consent ------------------------------------------------------------------------


def _consent_refusal(request: CitizenRequest, scope: str, action: str) -> JsonResponse | None:
    """The consent is already in the wanted state (e.g. changed in another tab): 409."""
    if action in Consent.objects.allowed_actions(request.citizen, scope):
        return None
    label = Consent.Scope(scope).label
    if action == Consent.Action.GIVE:
        text = _("%(scope)s için sürekli onayınız zaten verilmiş.")
    else:
        text = _("%(scope)s için verilmiş bir sürekli onayınız bulunmuyor.")
    return _refused(text % {"scope": label}, 409)


@never_cache
@throttled("eonay_card")
@citizen_required
@require_POST
def consent_prepare(request: CitizenRequest, scope: str, action: str) -> HttpResponse:
    refusal = _consent_refusal(request, scope, action)
    if refusal is not None:
        return refusal
    operation = Operation.consent(scope, give=action == Consent.Action.GIVE)
    post_url = reverse("esign_eonay:consent_sign", args=[scope, action])
    return _prepare(request, operation, post_url)


@never_cache
@throttled("eonay_card")
@citizen_required
@require_POST
def consent_sign(request: CitizenRequest, scope: str, action: str) -> HttpResponse:
    give = action == Consent.Action.GIVE
    response = _sign(request, Operation.consent(scope, give=give))
    if response.status_code == 200:
        label = Consent.Scope(scope).label
        if give:
            text = _(
                "%(scope)s için sürekli onayınız kartınızla imzalanarak kaydedildi. Bu kapsamda "
                "bundan sonra girilecek başvurular otomatik olarak onaylanacaktır."
            )
        else:
            text = _(
                "%(scope)s için sürekli onayınız kartınızla imzalanarak geri alındı. Bu "
                "kapsamdaki yeni başvurular onayınızı bekleyecektir."
            )
        messages.success(request, text % {"scope": label})
    return response


# --- approving or rejecting an application ---------------------------------------------------


@never_cache
@throttled("eonay_card")
@citizen_required
@require_POST
def decide_prepare(request: CitizenRequest, pk: int, decision: str) -> HttpResponse:
    application = _own(request, pk)
    if decision not in application.allowed_actions():
        return _refused(application.decision_refusal() or "", 409)
    operation = Operation.decision(application, approve=decision == Application.Action.APPROVE)
    post_url = reverse("esign_eonay:decide_sign", args=[application.pk, decision])
    return _prepare(request, operation, post_url)


@never_cache
@throttled("eonay_card")
@citizen_required
@require_POST
def decide_sign(request: CitizenRequest, pk: int, decision: str) -> HttpResponse:
    application = _own(request, pk)
    approve = decision == Application.Action.APPROVE
    response = _sign(request, Operation.decision(application, approve=approve))
    if response.status_code == 200:
        if approve:
            text = _(
                "%(ref)s numaralı başvuruyu kartınızla imzalayarak onayladınız. Başvurunuz "
                "işleme alınacaktır."
            )
        else:
            text = _(
                "%(ref)s numaralı başvuruyu kartınızla imzalayarak reddettiniz. Bu başvuru "
                "işleme alınmayacaktır."
            )
        messages.success(request, text % {"ref": application.reference})
        receipt = receipt_for(
            request.citizen, Receipt.Kind.EONAY_DECISION, application.reference or ""
        )
        if receipt is not None:
            request.session[card_eonay.SESSION_RECEIPT] = receipt.reference
    return response
