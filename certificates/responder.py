"""The OCSP responder (RFC 6960, and the RFC 5019 lightweight profile), built for volume.

Contract
========

* **Never a 500.** Whatever a client sends gets an OCSP response: ``malformedRequest`` for
  anything undecodable or out of range (zero or negative serials, more than 20 octets, more than
  ``pki.MAX_CERT_IDS`` CertIDs, oversized bodies), ``unauthorized`` for a CertID of another
  issuer, ``internalError`` when our side fails (CA files unreadable, database down, signing
  failed). Every CertID of a request is answered (RFC 6960 §4.2.2.3).
* **One query.** A request costs one indexed query for the statuses of its serials; no CRL is
  loaded, the CA and signer are loaded once per process (``certificates.ca``).
* **Pre-signed responses.** A nonce-less request for one certificate is answered from a response
  kept in the shared cache (Redis in production) while that certificate's status has not
  changed. Each cached response records the certificate's ``status_version``; a transition sets
  the certificate's version key in the cache once it commits (``status_committed``), so a cached
  response of an older version is never served again — even one a racing request stored after
  the change, because a response is stored only while the version key still holds the version
  it was signed for. Requests with a nonce, or for several certificates, are signed fresh.
* **Retention beyond expiry.** Status stays available after a certificate expires: responses
  about an expired certificate carry archiveCutoff = the issuing CA's notBefore (ETSI
  EN 319 411-2 CSS-6.3.10-08).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from cryptography import x509
from cryptography.x509 import ocsp
from django.conf import settings
from django.core.cache import cache
from django.utils import timezone
from django.utils.http import http_date

from . import ca as ca_module
from . import pki
from .models import Certificate

logger = logging.getLogger(__name__)

# Real OCSP requests are 70–150 bytes (a signed one with its certificate a few hundred more);
# anything bigger is refused unread rather than parsed.
MAX_OCSP_REQUEST = 4096

Status = Certificate.Status


@dataclass(frozen=True)
class Answer:
    """A DER OCSP response and what HTTP may say about it.

    ``cacheable`` only for a successful nonce-less answer about one certificate (RFC 5019 §6.2:
    then ``this_update``/``next_update``/``etag`` are set).
    """

    der: bytes
    cacheable: bool = False
    this_update: datetime | None = None
    next_update: datetime | None = None
    etag: str = ""


def unsuccessful(status: ocsp.OCSPResponseStatus) -> Answer:
    """The unsigned, uncacheable answer with an unsuccessful ``status`` (``malformedRequest``,
    ``unauthorized``, ``internalError``): :func:`pki.unsuccessful_ocsp_response`."""
    return Answer(pki.unsuccessful_ocsp_response(status))


# --- statuses -------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Row:
    info: pki.CertStatusInfo
    version: int


def _status_rows(ca_id: int, serials: Sequence[int], *, archive_cutoff: datetime) -> dict:
    """Serial → its status (one query); serials we never issued are absent."""
    hexes = {f"{serial:x}": serial for serial in serials}
    rows = Certificate.objects.filter(ca_id=ca_id, serial_number__in=list(hexes)).values_list(
        "serial_number",
        "status",
        "revoked_at",
        "revocation_reason",
        "suspended_at",
        "issued_at",
        "not_after",
        "status_version",
    )
    now = timezone.now()
    found = {}
    for serial, status, revoked_at, reason, suspended_at, issued_at, not_after, version in rows:
        cutoff = archive_cutoff if not_after <= now else None
        if status == Status.ACTIVE:
            info = pki.CertStatusInfo(status="good", archive_cutoff=cutoff)
        elif status == Status.REVOKED:
            info = pki.CertStatusInfo(
                status="revoked",
                revoked_at=revoked_at,
                reason=x509.ReasonFlags[reason],
                archive_cutoff=cutoff,
            )
        else:  # pending (not yet opened for use) or suspended: on hold
            info = pki.CertStatusInfo(
                status="revoked",
                revoked_at=suspended_at or issued_at,
                reason=x509.ReasonFlags.certificate_hold,
                archive_cutoff=cutoff,
            )
        found[hexes[serial]] = _Row(info, version)
    return found


# --- the pre-signed cache -------------------------------------------------------------------


def cache_enabled() -> bool:
    return bool(settings.NES_OCSP_RESPONSE_CACHE)


def _version_key(ca_id: int, serial: int) -> str:
    return f"ocsp:v:{ca_id}:{serial:x}"


def _response_key(ca_id: int, serial: int, algorithm: str) -> str:
    return f"ocsp:r:{ca_id}:{serial:x}:{algorithm}"


# The CertID hash algorithms a cached response can be keyed by (pki accepts these).
_ALGORITHMS = ("sha1", "sha224", "sha256", "sha384", "sha512")


def _cached(ca_id: int, cert_id: pki.OcspCertId, now: datetime) -> Answer | None:
    version_key = _version_key(ca_id, cert_id.serial_number)
    response_key = _response_key(ca_id, cert_id.serial_number, cert_id.hash_algorithm.name)
    try:
        found = cache.get_many([version_key, response_key])
    except Exception:
        logger.warning("OCSP cache unreachable; signing fresh", exc_info=True)
        return None
    entry = found.get(response_key)
    if entry is None or version_key not in found or entry[0] != found[version_key]:
        return None
    _version, der, this_update, next_update, etag = entry
    if next_update - now < _validity() / 2:
        return None  # half its life gone: sign a new one
    return Answer(der, True, this_update, next_update, etag)


def _store(ca_id: int, cert_id: pki.OcspCertId, version: int, answer: Answer) -> None:
    version_key = _version_key(ca_id, cert_id.serial_number)
    response_key = _response_key(ca_id, cert_id.serial_number, cert_id.hash_algorithm.name)
    try:
        cache.add(version_key, version, timeout=None)
        if cache.get(version_key) != version:
            return  # the status changed since we read it: this response is already old
        entry = (version, answer.der, answer.this_update, answer.next_update, answer.etag)
        cache.set(response_key, entry, timeout=int(_validity().total_seconds() / 2))
    except Exception:
        logger.warning("OCSP cache unreachable; response not kept", exc_info=True)


def status_changed(certificate: Certificate) -> None:
    """A transition committed: responses signed for an older status must never be served."""
    if not cache_enabled():
        return
    try:
        cache.set(
            _version_key(certificate.ca_id, certificate.serial_int),
            certificate.status_version,
            timeout=None,
        )
        cache.delete_many(
            [_response_key(certificate.ca_id, certificate.serial_int, name) for name in _ALGORITHMS]
        )
    except Exception:
        # Cached responses expire after half their validity at the latest (README: limits).
        logger.error(
            "OCSP cache not updated after a status change of %s", certificate.serial_number
        )


def _validity() -> timedelta:
    return timedelta(seconds=settings.NES_OCSP_VALIDITY_SECONDS)


# --- answering ------------------------------------------------------------------------------


def presigned(request_der: bytes) -> Answer | None:
    """The pre-signed answer to a nonce-less single-certificate request, if the shared cache
    holds one for the certificate's current status; else None (the caller answers in full).

    Never raises: anything unusual (a bad request, the CA files, the cache) is left to
    :func:`answer`. Used by the view and by the WSGI fast path (``certificates.fastpath``).
    """
    if not cache_enabled() or len(request_der) > MAX_OCSP_REQUEST:
        return None
    try:
        request = pki.parse_ocsp_request(request_der)
        if request.nonce is not None or len(request.cert_ids) != 1:
            return None
        [cert_id] = request.cert_ids
        material = ca_module.material()
        if not pki.issued_by(material, cert_id):
            return None
        return _cached(ca_module.issuing_ca().id, cert_id, timezone.now())
    except Exception:
        return None


def http_headers(answer: Answer, *, now: datetime | None = None) -> dict[str, str]:
    """The caching headers of an answer: RFC 5019 §6.2 for a cacheable one, never kept else."""
    if not answer.cacheable:
        # A nonced answer is for one request only; errors must not be kept either.
        return {"Cache-Control": "no-cache, no-store, max-age=0"}
    assert answer.this_update is not None and answer.next_update is not None
    now = now or timezone.now()
    left = int((answer.next_update - now).total_seconds())
    max_age = max(0, min(settings.NES_OCSP_HTTP_MAX_AGE, left))
    return {
        "ETag": answer.etag,
        "Last-Modified": http_date(answer.this_update.timestamp()),
        "Expires": http_date(answer.next_update.timestamp()),
        "Cache-Control": f"max-age={max_age}, public, no-transform, must-revalidate",
    }


def answer(request_der: bytes) -> Answer:
    """The OCSP response to a DER request (see the module docstring); never raises."""
    if len(request_der) > MAX_OCSP_REQUEST:
        return unsuccessful(ocsp.OCSPResponseStatus.MALFORMED_REQUEST)
    try:
        request = pki.parse_ocsp_request(request_der)
    except pki.OcspRequestError as exc:
        return unsuccessful(exc.status)
    try:
        material = ca_module.material()
        ca_row = ca_module.issuing_ca()
    except Exception:
        # RFC 6960 §2.3: the responder's own trouble is internalError, not an HTML 500 page
        # that a relying party cannot read.
        logger.exception("OCSP responder cannot load the issuing CA")
        return unsuccessful(ocsp.OCSPResponseStatus.INTERNAL_ERROR)
    if not all(pki.issued_by(material, cert_id) for cert_id in request.cert_ids):
        return unsuccessful(ocsp.OCSPResponseStatus.UNAUTHORIZED)

    now = timezone.now()
    single = request.cert_ids[0] if len(request.cert_ids) == 1 else None
    use_cache = single is not None and request.nonce is None and cache_enabled()
    if use_cache and single is not None:
        hit = _cached(ca_row.id, single, now)
        if hit is not None:
            return hit
    try:
        rows = _status_rows(
            ca_row.id,
            [cert_id.serial_number for cert_id in request.cert_ids],
            archive_cutoff=material.certificate.not_valid_before_utc,
        )
    except Exception:
        logger.exception("OCSP status lookup failed")
        return unsuccessful(ocsp.OCSPResponseStatus.INTERNAL_ERROR)
    statuses = [rows.get(cert_id.serial_number) for cert_id in request.cert_ids]
    this_update = now.replace(microsecond=0)
    try:
        der = pki.sign_ocsp_response(
            material,
            request,
            [row.info if row else None for row in statuses],
            now=this_update,
            validity=_validity(),
        )
    except Exception:
        logger.exception("OCSP response could not be signed")
        return unsuccessful(ocsp.OCSPResponseStatus.INTERNAL_ERROR)
    if request.nonce is not None or single is None:
        return Answer(der)
    result = Answer(
        der,
        cacheable=True,
        this_update=this_update,
        next_update=this_update + _validity(),
        etag='"' + hashlib.sha256(der).hexdigest()[:32] + '"',
    )
    row = statuses[0]
    if use_cache and row is not None:
        _store(ca_row.id, single, row.version, result)
    return result
