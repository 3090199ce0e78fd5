"""The CA's public repository: CRL, CA certificates, PKI disclosure statement and OCSP.

Relying parties (signature verifiers, openssl, integrators' software) call these without a
session, so none of them needs a login, and the OCSP POST is CSRF-exempt: it changes nothing and
a relying party has no CSRF token. Client input never causes a 500: an OCSP request that cannot
be read is answered with ``malformedRequest`` (RFC 6960 §2.3), an unknown CA with a 404.

Revocation status must show at once (issue 3: "within a second"), so OCSP responses are not
cached by HTTP caches and the CRL only for a minute; the CRL itself is re-signed on every status
change (``certificates.services``) and re-signed here if it is stale or due.
"""

from __future__ import annotations

import logging

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509 import ocsp
from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.http import http_date
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_safe

from . import ca as ca_module
from . import pki
from .models import CertificateAuthority

logger = logging.getLogger(__name__)

# Real OCSP requests are 70–150 bytes (a signed one with its certificate a few hundred more);
# anything bigger is refused unread rather than parsed.
MAX_OCSP_REQUEST = 4096
CRL_MAX_AGE = 60

CRL_CONTENT_TYPE = "application/pkix-crl"
CERT_CONTENT_TYPE = "application/pkix-cert"
PEM_CONTENT_TYPE = "application/x-pem-file"
OCSP_REQUEST_TYPE = "application/ocsp-request"
OCSP_RESPONSE_TYPE = "application/ocsp-response"


def _check_slug(slug: str) -> None:
    """404 for any slug but the configured issuing CA's (we operate one CA)."""
    if slug != settings.NES_CA_SLUG:
        raise Http404("unknown CA")


def _issuing_ca(slug: str) -> CertificateAuthority:
    """The configured issuing CA's row, or 404 for any other slug."""
    _check_slug(slug)
    return ca_module.issuing_ca()


@require_safe
def crl(request: HttpRequest, slug: str) -> HttpResponse:
    """The CA's current full CRL (DER), re-signed first if a status changed since."""
    der = ca_module.current_crl(_issuing_ca(slug))
    this_update = x509.load_der_x509_crl(der).last_update_utc
    response = HttpResponse(der, content_type=CRL_CONTENT_TYPE)
    response["Cache-Control"] = f"public, max-age={CRL_MAX_AGE}"
    response["Last-Modified"] = http_date(this_update.timestamp())
    response["Content-Disposition"] = f'inline; filename="{slug}.crl"'
    return response


@require_safe
def ca_certificate(request: HttpRequest, slug: str) -> HttpResponse:
    """The issuing CA's certificate (DER): the AIA caIssuers URL in every certificate."""
    _check_slug(slug)
    der = ca_module.material().certificate.public_bytes(serialization.Encoding.DER)
    response = HttpResponse(der, content_type=CERT_CONTENT_TYPE)
    response["Cache-Control"] = "public, max-age=3600"
    response["Content-Disposition"] = f'inline; filename="{slug}.crt"'
    return response


@require_safe
def ca_chain(request: HttpRequest, slug: str) -> HttpResponse:
    """Issuing CA then root (PEM), for integrators' trust stores and ``openssl -CAfile``."""
    _check_slug(slug)
    pem = "".join(pki.certificate_to_pem(cert) for cert in ca_module.material().chain)
    response = HttpResponse(pem, content_type=PEM_CONTENT_TYPE)
    response["Cache-Control"] = "public, max-age=3600"
    response["Content-Disposition"] = f'attachment; filename="{slug}-chain.pem"'
    return response


@require_safe
def pds(request: HttpRequest) -> HttpResponse:
    """The PKI disclosure statement (the QcPDS URL written into every certificate)."""
    return render(
        request,
        "certificates/pds.html",
        {
            "policy_oid": settings.NES_POLICY_OID,
            "qcp_oid": pki.QCP_N_QSCD,
            "crl_url": ca_module.crl_url(settings.NES_CA_SLUG),
            "ca_url": ca_module.ca_issuers_url(settings.NES_CA_SLUG),
            "chain_url": ca_module.url(f"/ca/{settings.NES_CA_SLUG}-chain.pem"),
            "ocsp_url": ca_module.ocsp_url(),
        },
    )


def _ocsp_http_response(der: bytes) -> HttpResponse:
    response = HttpResponse(der, content_type=OCSP_RESPONSE_TYPE)
    # A suspension or revocation must be visible to the very next request.
    response["Cache-Control"] = "no-cache, no-store, max-age=0"
    return response


def _unsuccessful(status: ocsp.OCSPResponseStatus) -> HttpResponse:
    der = ocsp.OCSPResponseBuilder.build_unsuccessful(status).public_bytes(
        serialization.Encoding.DER
    )
    return _ocsp_http_response(der)


def _answer(request_der: bytes) -> HttpResponse:
    if len(request_der) > MAX_OCSP_REQUEST:
        return _unsuccessful(ocsp.OCSPResponseStatus.MALFORMED_REQUEST)
    try:
        material = ca_module.material()
        ca_row = ca_module.issuing_ca()
    except Exception:
        # RFC 6960 §2.3: the responder's own trouble is internalError, not an HTML 500 page
        # that a relying party cannot read.
        logger.exception("OCSP responder cannot load the issuing CA")
        return _unsuccessful(ocsp.OCSPResponseStatus.INTERNAL_ERROR)
    der = pki.ocsp_response(
        material,
        request_der,
        lookup=lambda serial: ca_module.ocsp_status(ca_row, serial),
        now=timezone.now(),
    )
    return _ocsp_http_response(der)


@csrf_exempt
@require_http_methods(["GET", "HEAD", "POST"])
def ocsp_post(request: HttpRequest) -> HttpResponse:
    """RFC 6960 Appendix A.1 POST: the DER request is the body (a GET here has no request)."""
    if request.method != "POST":
        return _unsuccessful(ocsp.OCSPResponseStatus.MALFORMED_REQUEST)
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > MAX_OCSP_REQUEST:
        # Refused before reading: nobody makes us buffer megabytes to learn they are garbage.
        return _unsuccessful(ocsp.OCSPResponseStatus.MALFORMED_REQUEST)
    return _answer(request.read(MAX_OCSP_REQUEST + 1))


@require_safe
def ocsp_get(request: HttpRequest, encoded: str) -> HttpResponse:
    """RFC 6960 Appendix A.1 GET: ``/ocsp/<url-encoded base64 of the DER request>``."""
    if len(encoded) > 2 * MAX_OCSP_REQUEST:
        return _unsuccessful(ocsp.OCSPResponseStatus.MALFORMED_REQUEST)
    try:
        request_der = pki.ocsp_request_from_get_path(encoded)
    except ValueError:
        return _unsuccessful(ocsp.OCSPResponseStatus.MALFORMED_REQUEST)
    return _answer(request_der)
