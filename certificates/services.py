"""Certificate workflows: transition + audit entry + SMS notice, in one place.

Each function runs the model transition and writes its audit entry and queues the holder's SMS
in the same transaction. The transition itself records that the CRLs must be re-signed and,
once the transaction commits, OCSP answers the new status and one publication task is queued
(``certificates.publication``): no signing happens in the citizen's request. A refused
transition raises ``CertificateError`` and still leaves one audit entry
(``nes.certificate.refused``), so two racing requests leave one entry each.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from cryptography.hazmat.primitives import serialization
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts.models import Citizen, SmsMessage
from accounts.sms_queue import queue_sms
from audit.actor import Actor
from audit.log import record

from . import ca as ca_module
from . import pki, publication
from .models import (
    Certificate,
    CertificateError,
    CertificateStatusChange,
    CrlShard,
    announce_after_commit,
)

# The holder's SMS for the status a transition reached (keyed by the plain status string that
# CertificateStatusChange.to_status holds).
NOTICES: dict[str, str] = {
    Certificate.Status.ACTIVE: SmsMessage.Kind.CERT_OPENED,
    Certificate.Status.SUSPENDED: SmsMessage.Kind.CERT_SUSPENDED,
    Certificate.Status.REVOKED: SmsMessage.Kind.CERT_REVOKED,
}


def _run(
    action: str,
    cert: Certificate,
    transition: Callable[[], CertificateStatusChange],
    *,
    actor: Actor | None,
    citizen: Citizen | None,
    notice: str | None = None,
    **data: Any,
) -> CertificateStatusChange:
    """Run ``transition`` with its audit entry and SMS notice.

    The holder's SMS is ``notice`` if given, otherwise the one for the new status.
    """
    try:
        with transaction.atomic():
            change = transition()
            record(
                f"nes.certificate.{action}",
                citizen=cert.citizen,
                actor=actor,
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
                    actor=actor,
                    context={"serial": cert.serial_number},
                )
    except CertificateError as exc:
        record(
            "nes.certificate.refused",
            citizen=cert.citizen,
            actor=actor,
            serial=cert.serial_number,
            attempted=action,
            status=Certificate.objects.values_list("status", flat=True).get(pk=cert.pk),
        )
        raise exc
    return change


def open_certificate(
    cert: Certificate, *, citizen: Citizen, actor: Actor | None = None
) -> CertificateStatusChange:
    return _run(
        "opened",
        cert,
        lambda: cert.open_for_use(by_citizen=citizen),
        actor=actor,
        citizen=citizen,
    )


def _hold_change(
    action: str,
    cert: Certificate,
    *,
    citizen: Citizen | None,
    actor: Actor | None,
    reason: str = "",
) -> CertificateStatusChange:
    """Suspend or reinstate: by the holder if ``citizen`` is given, by the CA otherwise.

    Both take the same path (the model transition, CRL demand, OCSP, audit, the holder's SMS):
    a hold by the CA is published as certificateHold exactly like the holder's own. The CA's
    staff give a ``reason``; it is kept on the status change and in the audit entry.
    """
    by = Certificate.SuspendedBy.HOLDER if citizen is not None else Certificate.SuspendedBy.CA
    method: Callable[..., CertificateStatusChange]
    user = actor.audit_user if actor is not None else None
    if action == "suspended":
        method, notice = cert.suspend, None
    else:
        method, notice = cert.reinstate, SmsMessage.Kind.CERT_REINSTATED
    data: dict[str, Any] = {"by": by}
    if reason:
        data["reason"] = reason
    return _run(
        action,
        cert,
        lambda: method(by=by, by_citizen=citizen, by_user=user, reason=reason),
        actor=actor,
        citizen=citizen,
        notice=notice,
        **data,
    )


def suspend_certificate(
    cert: Certificate,
    *,
    citizen: Citizen | None = None,
    actor: Actor | None = None,
    reason: str = "",
) -> CertificateStatusChange:
    """The holder's suspension (``citizen``), or the CA's (no citizen; a staff ``actor`` and a
    ``reason``)."""
    return _hold_change("suspended", cert, citizen=citizen, actor=actor, reason=reason)


def reinstate_certificate(
    cert: Certificate,
    *,
    citizen: Citizen | None = None,
    actor: Actor | None = None,
    reason: str = "",
) -> CertificateStatusChange:
    """Askıdan İndir by the holder (only their own suspension), or by the CA (any)."""
    return _hold_change("reinstated", cert, citizen=citizen, actor=actor, reason=reason)


def revoke_certificate(
    cert: Certificate,
    *,
    reason: str,
    citizen: Citizen | None = None,
    actor: Actor | None = None,
) -> CertificateStatusChange:
    return _run(
        "revoked",
        cert,
        lambda: cert.revoke(
            reason=reason,
            by_citizen=citizen,
            by_user=actor.audit_user if actor is not None else None,
        ),
        actor=actor,
        citizen=citizen,
        reason=reason,
    )


def issue_certificate(
    citizen: Citizen,
    public_key: pki.SubjectPublicKey,
    *,
    kind: str = Certificate.Kind.NES,
    not_before: datetime | None = None,
    not_after: datetime | None = None,
    validity_days: int = 3 * 365,
) -> Certificate:
    """Issue a qualified certificate for ``citizen`` from a public key (the card's).

    The new certificate starts *pending* (on hold in CRL and OCSP): its holder must open it for
    use. Its CRL distribution point names its temporal shard (``certificates.publication``).
    """
    ca_row = ca_module.issuing_ca()
    not_before = not_before or timezone.now()
    not_after = not_after or not_before + timedelta(days=validity_days)
    shard = ca_module.shard_for(not_after)
    serial = pki.random_serial()
    cert = pki.issue_qualified_certificate(
        ca_module.material(),
        public_key=public_key,
        serial_number=serial,
        given_name=citizen.first_name,
        surname=citizen.last_name,
        identity=pki.natural_person_identity(citizen.tckn or None, citizen.passport_no or None),
        not_before=not_before,
        not_after=not_after,
        crl_url=ca_module.crl_url(ca_row.slug, shard),
        ocsp_url=ca_module.ocsp_url(),
        ca_issuers_url=ca_module.ca_issuers_url(ca_row.slug),
        policy_oid=settings.NES_POLICY_OID,
        pds_url=settings.NES_PDS_URL,
    )
    publication.ensure_shards(ca_row.id, {shard})
    with transaction.atomic():
        row = Certificate.objects.create(
            ca_id=ca_row.id,
            citizen=citizen,
            serial_number=format(serial, "x"),
            kind=kind,
            der=cert.public_bytes(serialization.Encoding.DER),
            subject_name=citizen.greeting_name,
            not_before=not_before,
            not_after=not_after,
            issued_at=min(timezone.now(), not_before),
            fingerprint_sha256=pki.fingerprint_sha256(cert),
            crl_shard=shard,
        )
        CrlShard.objects.note_change(row)
        record("nes.certificate.issued", citizen=citizen, serial=row.serial_number, kind=kind)
        announce_after_commit(row)
    return row
