"""The issuing CA this portal operates: its key material (from files), its row and its URLs.

Paths come from settings (``NES_CA_*``, ``NES_OCSP_*``, ``NES_ARL_PATH``; README
"Configuration"). The demo creates them with ``manage.py create_demo_ca``. Key material is
loaded once per process and reloaded when a file changes; it is never written to the database.
The CA's database row is looked up once per process too (it only changes with the CA
certificate), so an OCSP answer or a certificate page costs no query for it.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from django.conf import settings

from . import pki
from .models import CertificateAuthority

_lock = threading.Lock()
_material: dict[tuple, pki.CaMaterial] = {}
_rows: dict[tuple[str, bytes], CaRow] = {}
_arl: dict[tuple, bytes] = {}


@dataclass(frozen=True)
class CaRow:
    """What callers need of the CA's row: its id and slug (never a CRL)."""

    id: int
    slug: str


def ca_paths() -> pki.CaPaths:
    return _paths(
        settings.NES_CA_CERT_PATH,
        settings.NES_CA_KEY_PATH,
        settings.NES_CA_CHAIN_PATH,
        settings.NES_OCSP_CERT_PATH,
        settings.NES_OCSP_KEY_PATH,
    )


@lru_cache(maxsize=8)
def _paths(cert: str, key: str, chain: str, ocsp_cert: str, ocsp_key: str) -> pki.CaPaths:
    return pki.CaPaths(
        certificate=Path(cert),
        key=Path(key),
        chain=(Path(chain),),
        ocsp_certificate=Path(ocsp_cert) if ocsp_cert else None,
        ocsp_key=Path(ocsp_key) if ocsp_key else None,
    )


def _stamp(files: list[Path]) -> tuple:
    return tuple((str(p), p.stat().st_mtime_ns) for p in files if p.exists())


# The files are looked at (stat) at most once a second per process: OCSP calls this on every
# request, and a renewed CA file may take a second to be noticed.
_STAMP_TTL = 1.0
_stamps: dict[pki.CaPaths, tuple[float, tuple]] = {}


def material() -> pki.CaMaterial:
    """The issuing CA's certificate, key, chain and OCSP signer (reloaded when a file changes,
    noticed within a second).

    Raises ``pki.CaConfigurationError`` when the files are missing or do not belong together.
    """
    paths = ca_paths()
    now = time.monotonic()
    seen = _stamps.get(paths)
    if seen is not None and now - seen[0] < _STAMP_TTL and seen[1] in _material:
        return _material[seen[1]]
    files = [paths.certificate, paths.key, *paths.chain]
    files += [p for p in (paths.ocsp_certificate, paths.ocsp_key) if p is not None]
    key = _stamp(files)
    with _lock:
        if key not in _material:
            _material.clear()
            _material[key] = pki.load_ca(paths)
        _stamps.clear()
        _stamps[paths] = (now, key)
        return _material[key]


def certificate() -> x509.Certificate:
    """The issuing CA's certificate, also when its key or the OCSP signer cannot be loaded.

    Serving what is already signed (the CRLs, until their nextUpdate) and naming the CA's row
    must not depend on the signing key: with the key file gone, relying parties still get the
    last CRLs while OCSP answers internalError. In that degraded state the certificate file is
    read on every call. Raises ``pki.CaConfigurationError`` when the certificate itself is bad.
    """
    try:
        return material().certificate
    except pki.CaConfigurationError:
        return pki.load_ca_certificate(ca_paths().certificate)


@lru_cache(maxsize=8)
def _der(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.DER)


def issuing_ca() -> CaRow:
    """The configured issuing CA's row (created on first use, then remembered per process)."""
    cert = certificate()
    der = _der(cert)
    cache_key = (settings.NES_CA_SLUG, der)
    row = _rows.get(cache_key)
    if row is not None:
        return row
    ca, created = CertificateAuthority.objects.only("id", "slug", "certificate_der").get_or_create(
        slug=settings.NES_CA_SLUG,
        defaults={"name": _common_name(cert), "certificate_der": der},
    )
    if not created and bytes(ca.certificate_der) != der:
        # A renewed CA certificate (same key or new): keep the row, follow the files.
        CertificateAuthority.objects.filter(pk=ca.pk).update(
            certificate_der=der, name=_common_name(cert)
        )
    row = CaRow(id=ca.pk, slug=ca.slug)
    with _lock:
        _rows.clear()
        _rows[cache_key] = row
    return row


def forget_rows() -> None:
    """Drop the per-process memory of CA rows and files (tests that recreate the database or
    rewrite the CA files call it)."""
    with _lock:
        _rows.clear()
        _stamps.clear()


def _common_name(cert: x509.Certificate) -> str:
    names = cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
    return str(names[0].value) if names else cert.subject.rfc4514_string()


# --- URLs written into certificates (and served by certificates.public_urls) ---------------


def url(path: str) -> str:
    return settings.PORTAL_BASE_URL.rstrip("/") + path


def crl_path(ca_slug: str, shard: str = "") -> str:
    """``/crl/<slug>.crl`` (the full CRL) or ``/crl/<slug>/<shard>.crl``."""
    return f"/crl/{ca_slug}/{shard}.crl" if shard else f"/crl/{ca_slug}.crl"


def crl_url(ca_slug: str, shard: str = "") -> str:
    return url(crl_path(ca_slug, shard))


def arl_url(ca_slug: str) -> str:
    """The root's CRL (ARL): the CRL distribution point of the issuing CA certificate."""
    return url(f"/crl/{ca_slug}-root.crl")


def ca_issuers_url(ca_slug: str) -> str:
    return url(f"/ca/{ca_slug}.crt")


def root_certificate_url(ca_slug: str) -> str:
    """The root certificate: the AIA caIssuers URL of the issuing CA certificate."""
    return url(f"/ca/{ca_slug}-root.crt")


def ocsp_url() -> str:
    return url("/ocsp")


def shard_for(not_after: datetime) -> str:
    """The temporal CRL shard of a certificate: the UTC year and month its validity ends."""
    return not_after.astimezone(UTC).strftime("%Y%m")


# --- the root's CRL (ARL) -------------------------------------------------------------------


def arl_der() -> bytes:
    """The ARL file the operator provides (``NES_ARL_PATH``; DER or PEM), read when it changes.

    Raises ``FileNotFoundError`` when there is none. The portal never signs an ARL itself: the
    root key is offline (the demo signs one with ``manage.py sign_arl``).
    """
    path = Path(settings.NES_ARL_PATH)
    key = (str(path), path.stat().st_mtime_ns)
    with _lock:
        if key not in _arl:
            data = path.read_bytes()
            crl = (
                x509.load_pem_x509_crl(data)
                if data.lstrip().startswith(b"-----")
                else x509.load_der_x509_crl(data)
            )
            _arl.clear()
            _arl[key] = crl.public_bytes(serialization.Encoding.DER)
        return _arl[key]
