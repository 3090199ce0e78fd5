"""The CA's public repository: CRLs, the ARL, CA certificates, the PDS page and OCSP.

Relying parties (signature verifiers, openssl, integrators' software) call these without a
session, so none of them needs a login, and the OCSP POST is CSRF-exempt: it changes nothing and
a relying party has no CSRF token. These responses read no session and carry no
``Content-Language`` and no ``Vary: Cookie`` (``nesportal.middleware``), so any HTTP cache can
keep them. Client input never causes a 500: OCSP answers with its own error statuses
(``certificates.responder``), an unknown CA or shard is a 404.

Caching: a CRL is served from memory with its ETag and Last-Modified (conditional GETs get a
304) and ``Cache-Control: max-age`` up to its planned refresh (``publication.crl_http_max_age``);
a nonce-less OCSP response for one certificate carries the RFC 5019 §6.2 headers aligned to its
nextUpdate, capped by ``NES_OCSP_HTTP_MAX_AGE``; nonced responses are never cached.
"""

from __future__ import annotations

import logging

from cryptography.hazmat.primitives import serialization
from cryptography.x509 import ocsp
from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.cache import get_conditional_response
from django.utils.http import http_date
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_safe

from . import ca as ca_module
from . import pki, publication, responder

logger = logging.getLogger(__name__)

MAX_OCSP_REQUEST = responder.MAX_OCSP_REQUEST
CRL_CONTENT_TYPE = "application/pkix-crl"
CERT_CONTENT_TYPE = "application/pkix-cert"
PEM_CONTENT_TYPE = "application/x-pem-file"
OCSP_REQUEST_TYPE = "application/ocsp-request"
OCSP_RESPONSE_TYPE = "application/ocsp-response"
ARL_MAX_AGE = 3600
CA_CERT_MAX_AGE = 3600


def _check_slug(slug: str) -> None:
    """404 for any slug but the configured issuing CA's (we operate one CA)."""
    if slug != settings.NES_CA_SLUG:
        raise Http404("unknown CA")


def _unavailable() -> HttpResponse:
    response = HttpResponse(
        "CRL geçici olarak sunulamıyor / CRL temporarily unavailable\n",
        status=503,
        content_type="text/plain; charset=utf-8",
    )
    response["Retry-After"] = "30"
    response["Cache-Control"] = "no-store"
    return response


def _serve_crl(request: HttpRequest, slug: str, shard: str) -> HttpResponse:
    try:
        ca_row = ca_module.issuing_ca()
        published = publication.current(ca_row.id, shard)
    except (publication.CrlUnavailable, pki.CaConfigurationError):
        logger.exception("CRL %s/%s cannot be served", slug, shard or "full")
        return _unavailable()
    last_modified = published.this_update.timestamp()
    conditional = get_conditional_response(
        request, etag=published.etag, last_modified=int(last_modified)
    )
    if conditional is not None:
        response = conditional
    else:
        response = HttpResponse(published.der, content_type=CRL_CONTENT_TYPE)
        name = f"{slug}-{shard}" if shard else slug
        response["Content-Disposition"] = f'inline; filename="{name}.crl"'
    response["ETag"] = published.etag
    response["Last-Modified"] = http_date(last_modified)
    response["Expires"] = http_date(published.next_update.timestamp())
    response["Cache-Control"] = (
        f"public, max-age={publication.crl_http_max_age(published)}, no-transform"
    )
    return response


@require_safe
def crl(request: HttpRequest, slug: str) -> HttpResponse:
    """The full CRL (DER): every unexpired revoked or held certificate of the issuing CA."""
    _check_slug(slug)
    return _serve_crl(request, slug, "")


@require_safe
def crl_shard(request: HttpRequest, slug: str, shard: str) -> HttpResponse:
    """One temporal shard (DER): the CRL distribution point of certificates ending that month."""
    _check_slug(slug)
    try:
        valid = publication.valid_shard_name(shard)
    except pki.CaConfigurationError:
        return _unavailable()
    if not valid:
        raise Http404("unknown shard")
    return _serve_crl(request, slug, shard)


@require_safe
def arl(request: HttpRequest, slug: str) -> HttpResponse:
    """The root's CRL (ARL), from the file the operator provides (``NES_ARL_PATH``)."""
    _check_slug(slug)
    try:
        der = ca_module.arl_der()
    except (OSError, ValueError):
        logger.exception("ARL file %s cannot be read", settings.NES_ARL_PATH)
        return _unavailable()
    response = HttpResponse(der, content_type=CRL_CONTENT_TYPE)
    response["Cache-Control"] = f"public, max-age={ARL_MAX_AGE}"
    response["Content-Disposition"] = f'inline; filename="{slug}-root.crl"'
    return response


def _der_response(der: bytes, filename: str) -> HttpResponse:
    response = HttpResponse(der, content_type=CERT_CONTENT_TYPE)
    response["Cache-Control"] = f"public, max-age={CA_CERT_MAX_AGE}"
    response["Content-Disposition"] = f'inline; filename="{filename}"'
    return response


@require_safe
def ca_certificate(request: HttpRequest, slug: str) -> HttpResponse:
    """The issuing CA's certificate (DER): the AIA caIssuers URL in every certificate."""
    _check_slug(slug)
    der = ca_module.material().certificate.public_bytes(serialization.Encoding.DER)
    return _der_response(der, f"{slug}.crt")


@require_safe
def root_certificate(request: HttpRequest, slug: str) -> HttpResponse:
    """The root certificate (DER): the AIA caIssuers URL in the issuing CA certificate."""
    _check_slug(slug)
    der = ca_module.material().chain[-1].public_bytes(serialization.Encoding.DER)
    return _der_response(der, f"{slug}-root.crt")


@require_safe
def ca_chain(request: HttpRequest, slug: str) -> HttpResponse:
    """Issuing CA then root (PEM), for integrators' trust stores and ``openssl -CAfile``."""
    _check_slug(slug)
    pem = "".join(pki.certificate_to_pem(cert) for cert in ca_module.material().chain)
    response = HttpResponse(pem, content_type=PEM_CONTENT_TYPE)
    response["Cache-Control"] = f"public, max-age={CA_CERT_MAX_AGE}"
    response["Content-Disposition"] = f'attachment; filename="{slug}-chain.pem"'
    return response


@require_safe
def pds(request: HttpRequest) -> HttpResponse:
    """The PKI disclosure statement (the QcPDS URL written into every certificate)."""
    slug = settings.NES_CA_SLUG
    return render(
        request,
        "certificates/pds.html",
        {
            "policy_oid": settings.NES_POLICY_OID,
            "qcp_oid": pki.QCP_N_QSCD,
            "crl_url": ca_module.crl_url(slug),
            "crl_shard_url": ca_module.crl_url(slug, "YYYYMM"),
            "arl_url": ca_module.arl_url(slug),
            "ca_url": ca_module.ca_issuers_url(slug),
            "root_url": ca_module.root_certificate_url(slug),
            "chain_url": ca_module.url(f"/ca/{slug}-chain.pem"),
            "ocsp_url": ca_module.ocsp_url(),
        },
    )


# --- OCSP -----------------------------------------------------------------------------------


def _ocsp_http_response(request: HttpRequest, answer: responder.Answer) -> HttpResponse:
    conditional = None
    if answer.cacheable and request.method in ("GET", "HEAD"):
        # A POST is never conditional (it would get a 412).
        conditional = get_conditional_response(request, etag=answer.etag)
    response = conditional or HttpResponse(answer.der, content_type=OCSP_RESPONSE_TYPE)
    for header, value in responder.http_headers(answer).items():
        response[header] = value
    return response


def _malformed(request: HttpRequest) -> HttpResponse:
    return _ocsp_http_response(
        request, responder.unsuccessful(ocsp.OCSPResponseStatus.MALFORMED_REQUEST)
    )


@csrf_exempt
@require_http_methods(["GET", "HEAD", "POST"])
def ocsp_post(request: HttpRequest) -> HttpResponse:
    """RFC 6960 Appendix A.1 POST: the DER request is the body (a GET here has no request)."""
    if request.method != "POST":
        return _malformed(request)
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > MAX_OCSP_REQUEST:
        # Refused before reading: nobody makes us buffer megabytes to learn they are garbage.
        return _malformed(request)
    return _ocsp_http_response(request, responder.answer(request.read(MAX_OCSP_REQUEST + 1)))


@require_safe
def ocsp_get(request: HttpRequest, encoded: str) -> HttpResponse:
    """RFC 6960 Appendix A.1 GET: ``/ocsp/<url-encoded base64 of the DER request>``."""
    if len(encoded) > 2 * MAX_OCSP_REQUEST:
        return _malformed(request)
    try:
        request_der = pki.ocsp_request_from_get_path(encoded)
    except ValueError:
        return _malformed(request)
    return _ocsp_http_response(request, responder.answer(request_der))
