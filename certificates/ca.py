"""The issuing CA this portal operates: its key material (from files) and its CRL.

Paths come from settings (``NES_CA_*``, ``NES_OCSP_*``; README "Configuration"). The demo
creates them with ``manage.py create_demo_ca``. Key material is loaded once per process and
reloaded when a file changes; it is never written to the database.
"""

from __future__ import annotations

import threading
from datetime import datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from . import pki
from .models import Certificate, CertificateAuthority

CRL_VALIDITY = timedelta(hours=24)
_lock = threading.Lock()
_cache: dict[tuple, pki.CaMaterial] = {}


def ca_paths() -> pki.CaPaths:
    return pki.CaPaths(
        certificate=Path(settings.NES_CA_CERT_PATH),
        key=Path(settings.NES_CA_KEY_PATH),
        chain=[Path(settings.NES_CA_CHAIN_PATH)],
        ocsp_certificate=Path(settings.NES_OCSP_CERT_PATH) if settings.NES_OCSP_CERT_PATH else None,
        ocsp_key=Path(settings.NES_OCSP_KEY_PATH) if settings.NES_OCSP_KEY_PATH else None,
    )


def material() -> pki.CaMaterial:
    paths = ca_paths()
    files = [paths.certificate, paths.key, *paths.chain]
    files += [p for p in (paths.ocsp_certificate, paths.ocsp_key) if p is not None]
    key = tuple((str(p), p.stat().st_mtime_ns) for p in files if p.exists())
    with _lock:
        if key not in _cache:
            _cache.clear()
            _cache[key] = pki.load_ca(paths)
        return _cache[key]


def issuing_ca() -> CertificateAuthority:
    """The database row of the configured issuing CA (created on first use)."""
    cert = material().certificate
    der = cert.public_bytes(serialization.Encoding.DER)
    ca, created = CertificateAuthority.objects.get_or_create(
        slug=settings.NES_CA_SLUG,
        defaults={"name": _common_name(cert), "certificate_der": der},
    )
    if not created and bytes(ca.certificate_der) != der:
        # A renewed CA certificate (same key or new): keep the row, follow the files.
        CertificateAuthority.objects.filter(pk=ca.pk).update(
            certificate_der=der, name=_common_name(cert), crl_stale=True
        )
        ca.refresh_from_db()
    return ca


def _common_name(cert: x509.Certificate) -> str:
    names = cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
    return str(names[0].value) if names else cert.subject.rfc4514_string()


def url(path: str) -> str:
    return settings.PORTAL_BASE_URL.rstrip("/") + path


def crl_url(ca_slug: str) -> str:
    return url(f"/crl/{ca_slug}.crl")


def ca_issuers_url(ca_slug: str) -> str:
    return url(f"/ca/{ca_slug}.crt")


def ocsp_url() -> str:
    return url("/ocsp")


def crl_entries(ca: CertificateAuthority, now: datetime) -> list[pki.CrlEntry]:
    """Every unexpired certificate that must not be trusted now.

    Revoked ones with their reason; suspended ones and those not yet opened for use as
    certificateHold (a new certificate cannot be used before its holder opens it).
    """
    entries = []
    rows = Certificate.objects.filter(ca=ca, not_after__gt=now).exclude(
        status=Certificate.Status.ACTIVE
    )
    for cert in rows.only(
        "serial_number", "status", "revoked_at", "revocation_reason", "suspended_at", "issued_at"
    ):
        if cert.status == Certificate.Status.REVOKED:
            entries.append(
                pki.CrlEntry(
                    cert.serial_int, cert.revoked_at, x509.ReasonFlags[cert.revocation_reason]
                )
            )
        else:
            since = cert.suspended_at or cert.issued_at
            entries.append(pki.CrlEntry(cert.serial_int, since, x509.ReasonFlags.certificate_hold))
    return entries


def publish_crl(ca_id: int, *, now: datetime | None = None) -> CertificateAuthority:
    """Sign a new full CRL with the next CRL number (serialised by the CA row's lock)."""
    with transaction.atomic():
        ca = CertificateAuthority.objects.select_for_update().get(pk=ca_id)
        # The clock is read only once the lock is ours: read before it, a caller that waited
        # would sign a higher CRL number with an older thisUpdate than the CRL before it.
        now = now or timezone.now()
        number = ca.crl_number + 1
        crl = pki.build_crl(
            material(),
            entries=crl_entries(ca, now),
            crl_number=number,
            this_update=now,
            next_update=now + CRL_VALIDITY,
        )
        ca.crl_number = number
        ca.crl_der = crl.public_bytes(serialization.Encoding.DER)
        ca.crl_this_update = now
        ca.crl_next_update = now + CRL_VALIDITY
        ca.crl_stale = False
        ca.save(
            update_fields=[
                "crl_number",
                "crl_der",
                "crl_this_update",
                "crl_next_update",
                "crl_stale",
            ]
        )
    return ca


def current_crl(ca: CertificateAuthority, *, now: datetime | None = None) -> bytes:
    """The CRL to serve: re-signed if a status changed since or it is due within an hour."""
    check_at = now or timezone.now()
    due = ca.crl_next_update is None or ca.crl_next_update - timedelta(hours=1) <= check_at
    if ca.crl_stale or ca.crl_der is None or due:
        ca = publish_crl(ca.pk, now=now)
    return bytes(ca.crl_der)


def ocsp_status(ca: CertificateAuthority, serial: int) -> pki.CertStatusInfo | None:
    cert = Certificate.objects.filter(ca=ca, serial_number=f"{serial:x}").first()
    if cert is None:
        return None
    if cert.status == Certificate.Status.ACTIVE:
        return pki.CertStatusInfo(status="good", revoked_at=None, reason=None)
    if cert.status == Certificate.Status.REVOKED:
        return pki.CertStatusInfo(
            status="revoked",
            revoked_at=cert.revoked_at,
            reason=x509.ReasonFlags[cert.revocation_reason],
        )
    return pki.CertStatusInfo(
        status="revoked",
        revoked_at=cert.suspended_at or cert.issued_at,
        reason=x509.ReasonFlags.certificate_hold,
    )
