"""Makbuzu İndir: the PDF receipt of one of the logged-in citizen's irreversible actions.

* Looked up together with the logged-in citizen: another citizen's reference is a 404, like a
  reference that does not exist (or has a wrong check character), so a guess tells nothing.
* A GET that changes nothing but the receipt's own post-commit facts (a revocation's CRL
  number and OCSP time, stored once when first seen) and appends ``nes.receipt.downloaded``.
* Sent as an attachment that no cache keeps (``never_cache``), in the request's language.
"""

from __future__ import annotations

from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from accounts.decorators import citizen_required
from audit.actor import Actor
from audit.log import record
from certificates.services import observe_revocation
from nesportal.http import CitizenRequest

from .models import Receipt, normalize_reference
from .pdf import build_document, render_pdf


def pdf_filename(receipt: Receipt) -> str:
    return f"nes-makbuz-{receipt.reference}.pdf"


@never_cache
@citizen_required
@require_GET
def download(request: CitizenRequest, reference: str) -> HttpResponse:
    canonical = normalize_reference(reference)
    if canonical is None:
        raise Http404("no such receipt")
    receipt = get_object_or_404(
        Receipt.objects.select_related("citizen"), citizen=request.citizen, reference=canonical
    )
    facts = dict(receipt.facts)
    if receipt.kind == Receipt.Kind.REVOCATION:
        facts = observe_revocation(receipt)
    data = render_pdf(build_document(receipt, facts))
    record(
        "nes.receipt.downloaded",
        citizen=request.citizen,
        actor=Actor.from_request(request),
        subject=receipt.subject,
        receipt=receipt.reference,
        kind=receipt.kind,
    )
    response = HttpResponse(data, content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{pdf_filename(receipt)}"'
    response["Pragma"] = "no-cache"
    return response
