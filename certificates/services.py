"""Certificate workflows: transition + audit entry + SMS notice + CRL, in one place.

Each function runs the model transition and writes its audit entry and queues the holder's SMS
in the same transaction; the CRL is re-signed right after the commit (the CA row is marked
stale inside the transaction, so even if signing failed the next CRL request re-signs). A
refused transition raises ``CertificateError`` and still leaves one audit entry
(``nes.certificate.refused``), so two racing requests leave one entry each.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from accounts.models import Citizen, SmsMessage
from accounts.tasks import queue_sms
from audit.log import record

from . import ca as ca_module
from .models import Certificate, CertificateAuthority, CertificateError, CertificateStatusChange

logger = logging.getLogger(__name__)

NOTICES = {
    Certificate.Status.ACTIVE: SmsMessage.Kind.CERT_OPENED,
    Certificate.Status.SUSPENDED: SmsMessage.Kind.CERT_SUSPENDED,
    Certificate.Status.REVOKED: SmsMessage.Kind.CERT_REVOKED,
}


def _publish_after_commit(ca_id: int) -> None:
    def publish() -> None:
        try:
            ca_module.publish_crl(ca_id)
        except Exception:  # the row stays stale: the next CRL request signs it
            logger.exception("CRL for CA %s could not be signed after a status change", ca_id)

    transaction.on_commit(publish)


def _run(
    action: str,
    cert: Certificate,
    transition: Callable[[], CertificateStatusChange],
    *,
    request: HttpRequest | None,
    citizen: Citizen | None,
    actor: object = None,
    notice: str | None = None,
    **data: object,
) -> CertificateStatusChange:
    """Run ``transition`` with its audit entry, SMS notice and CRL re-signing.

    The holder's SMS is ``notice`` if given, otherwise the one for the new status.
    """
    try:
        with transaction.atomic():
            change = transition()
            CertificateAuthority.objects.filter(pk=cert.ca_id).update(crl_stale=True)
            record(
                f"nes.certificate.{action}",
                citizen=cert.citizen,
                actor=actor,
                request=request,
                serial=cert.serial_number,
                from_status=change.from_status,
                to_status=change.to_status,
                **data,
            )
            kind = notice or NOTICES.get(change.to_status)
            if kind:
                queue_sms(
                    cert.citizen,
                    kind,
                    request=request,
                    context={"serial": cert.serial_number},
                )
            _publish_after_commit(cert.ca_id)
    except CertificateError as exc:
        record(
            "nes.certificate.refused",
            citizen=cert.citizen,
            actor=actor,
            request=request,
            serial=cert.serial_number,
            attempted=action,
            status=Certificate.objects.values_list("status", flat=True).get(pk=cert.pk),
        )
        raise exc
    return change


def open_certificate(
    cert: Certificate, *, citizen: Citizen, request: HttpRequest | None = None
) -> CertificateStatusChange:
    return _run(
        "opened",
        cert,
        lambda: cert.open_for_use(by_citizen=citizen),
        request=request,
        citizen=citizen,
    )


def _hold_change(
    action: str,
    cert: Certificate,
    *,
    citizen: Citizen | None,
    user: object,
    request: HttpRequest | None,
) -> CertificateStatusChange:
    """Suspend or reinstate: by the holder if ``citizen`` is given, by the CA otherwise."""
    by = Certificate.SuspendedBy.HOLDER if citizen is not None else Certificate.SuspendedBy.CA
    if action == "suspended":
        method, notice = cert.suspend, None
    else:
        method, notice = cert.reinstate, SmsMessage.Kind.CERT_REINSTATED
    return _run(
        action,
        cert,
        lambda: method(by=by, by_citizen=citizen, by_user=user),
        request=request,
        citizen=citizen,
        actor=user,
        notice=notice,
        by=by,
    )


def suspend_certificate(
    cert: Certificate,
    *,
    citizen: Citizen | None = None,
    user: object = None,
    request: HttpRequest | None = None,
) -> CertificateStatusChange:
    return _hold_change("suspended", cert, citizen=citizen, user=user, request=request)


def reinstate_certificate(
    cert: Certificate,
    *,
    citizen: Citizen | None = None,
    user: object = None,
    request: HttpRequest | None = None,
) -> CertificateStatusChange:
    return _hold_change("reinstated", cert, citizen=citizen, user=user, request=request)


def revoke_certificate(
    cert: Certificate,
    *,
    reason: str,
    citizen: Citizen | None = None,
    user: object = None,
    request: HttpRequest | None = None,
) -> CertificateStatusChange:
    return _run(
        "revoked",
        cert,
        lambda: cert.revoke(reason=reason, by_citizen=citizen, by_user=user),
        request=request,
        citizen=citizen,
        actor=user,
        reason=reason,
    )


def issue_certificate(
    citizen: Citizen,
    public_key: object,
    *,
    kind: str = Certificate.Kind.NES,
    not_before: datetime | None = None,
    not_after: datetime | None = None,
    validity_days: int = 3 * 365,
) -> Certificate:
    """Issue a qualified certificate for ``citizen`` from a public key (the card's).

    The new certificate starts *pending*: its holder must open it for use.
    """
    from cryptography.hazmat.primitives import serialization
    from django.conf import settings

    from . import pki

    ca_row = ca_module.issuing_ca()
    not_before = not_before or timezone.now()
    not_after = not_after or not_before + timezone.timedelta(days=validity_days)
    identity = f"TCKTR-{citizen.tckn}" if citizen.tckn else f"PASTR-{citizen.passport_no}"
    serial = pki.random_serial()
    cert = pki.issue_qualified_certificate(
        ca_module.material(),
        public_key=public_key,
        serial_number=serial,
        given_name=citizen.first_name,
        surname=citizen.last_name,
        identity=identity,
        not_before=not_before,
        not_after=not_after,
        crl_url=ca_module.crl_url(ca_row.slug),
        ocsp_url=ca_module.ocsp_url(),
        ca_issuers_url=ca_module.ca_issuers_url(ca_row.slug),
        policy_oid=settings.NES_POLICY_OID,
        pds_url=settings.NES_PDS_URL,
    )
    with transaction.atomic():
        row = Certificate.objects.create(
            ca=ca_row,
            citizen=citizen,
            serial_number=format(serial, "x"),
            kind=kind,
            der=cert.public_bytes(serialization.Encoding.DER),
            subject_name=citizen.greeting_name,
            not_before=not_before,
            not_after=not_after,
            issued_at=min(timezone.now(), not_before),
            fingerprint_sha256=pki.fingerprint_sha256(cert),
        )
        CertificateAuthority.objects.filter(pk=ca_row.pk).update(crl_stale=True)
        record("nes.certificate.issued", citizen=citizen, serial=row.serial_number, kind=kind)
        _publish_after_commit(ca_row.pk)
    return row
