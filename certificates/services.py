"""Certificate workflows: transition + audit entry + SMS notice, in one place.

Each function runs the model transition and writes its audit entry and queues the holder's SMS
in the same transaction. The transition itself records that the CRLs must be re-signed and,
once the transaction commits, OCSP answers the new status and one publication task is queued
(``certificates.publication``): no CRL is signed in the citizen's request (a revocation
asks for one OCSP answer after its commit, for its receipt: below). A refused
transition raises ``CertificateError`` and still leaves one audit entry
(``nes.certificate.refused``), so two racing requests leave one entry each.

Receipts of revocations
-----------------------
A revocation issues its receipt (``receipts.services.issue_receipt``) in its own transaction;
the reference goes into ``nes.certificate.revoked`` and the holder's SMS. The receipt also
states two facts that only exist after the commit, both measured, never assumed:

* **When OCSP first answered "revoked".** Right after the commit (an on-commit callback
  registered after the transition's own, so the OCSP cache has already dropped the old
  status), :func:`observe_revocation` sends the responder a real OCSP request for the
  certificate through ``certificates.responder.answer`` (the code path of every OCSP request,
  cache included) and, if the signed answer says revoked with the certificate's reason, stores
  its producedAt in the receipt, once (``receipts.services.add_facts`` never overwrites). If
  that first look fails or does not say revoked yet, the next download of the receipt looks
  again. Nothing is written on the public OCSP path: the receipt is written here.
* **The CRL number.** The transaction reads, under the row lock its own CRL demand holds, the
  shard's current CRL number N and demand W (``CrlShard.number``/``wanted``). A CRL stored with
  ``signed >= W`` read the demand after the revocation committed and its entries later, so it
  lists the certificate; a CRL numbered above N signed from older demand is checked against
  its own entries. The first such CRL seen (after the commit, or at a download) is stored, once.
  Until then the receipt says the certificate will be in the next CRL, numbered above N (or
  above the current number). The embedded default publishes in the commit callbacks, so its
  receipts name the CRL at once; with a worker the number appears about a second later.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts.models import Citizen, SmsMessage
from accounts.sms_queue import queue_sms
from audit.actor import Actor
from audit.log import record
from receipts.models import Receipt
from receipts.services import add_facts, issue_receipt

from . import ca as ca_module
from . import pki, publication, responder
from .models import (
    Certificate,
    CertificateError,
    CertificateStatusChange,
    CrlShard,
    announce_after_commit,
)

logger = logging.getLogger(__name__)

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
    notify: bool = True,
    receipt: Callable[[CertificateStatusChange], Receipt] | None = None,
    **data: Any,
) -> CertificateStatusChange:
    """Run ``transition`` with its audit entry and SMS notice.

    The holder's SMS is ``notice`` if given, otherwise the one for the new status; none with
    ``notify=False`` (a caller that sends one SMS for several transitions). With ``receipt``,
    the receipt it issues (in the same transaction) is named in both.
    """
    try:
        with transaction.atomic():
            change = transition()
            context = {"serial": cert.serial_number}
            if receipt is not None:
                issued = receipt(change)
                data["receipt"] = context["receipt"] = issued.reference
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
            if kind and notify:
                queue_sms(
                    cert.citizen,
                    kind,
                    actor=actor,
                    context=context,
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
    notify: bool = True,
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
        notify=notify,
        **data,
    )


def suspend_certificate(
    cert: Certificate,
    *,
    citizen: Citizen | None = None,
    actor: Actor | None = None,
    reason: str = "",
    notify: bool = True,
) -> CertificateStatusChange:
    """The holder's suspension (``citizen``), or the CA's (no citizen; a staff ``actor`` and a
    ``reason``). ``notify=False``: no SMS of its own ("Bu işlemi ben yapmadım" sends one)."""
    return _hold_change(
        "suspended", cert, citizen=citizen, actor=actor, reason=reason, notify=notify
    )


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
    """Revoke for good, with a receipt for the holder (see "Receipts of revocations")."""

    def issue(change: CertificateStatusChange) -> Receipt:
        # The CRL row is locked by this transaction's demand (note_change): its number and
        # demand cannot move before the commit.
        number, wanted = CrlShard.objects.values_list("number", "wanted").get(
            ca_id=cert.ca_id, shard=cert.crl_shard
        )
        issued = issue_receipt(
            cert.citizen,
            Receipt.Kind.REVOCATION,
            subject=cert.serial_number,
            actor=actor,
            now=change.at,
            facts={
                "ca": cert.ca_id,
                "serial": cert.serial_number,
                "kind": cert.kind,
                "reason": reason,
                "revoked_at": change.at.isoformat(),
                "by": "holder" if citizen is not None else "ca",
                "crl_shard": cert.crl_shard,
                "crl_number_before": number,
                "crl_wanted": wanted,
            },
        )
        # After the transition's own callbacks (OCSP cache, CRL publication): see above.
        transaction.on_commit(lambda: observe_revocation(issued, cert))
        return issued

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
        receipt=issue,
        reason=reason,
    )


def _ocsp_revoked_at(cert: Certificate) -> datetime | None:
    """Ask the OCSP responder, through the path of every OCSP request, about ``cert``: the
    producedAt of its answer if that says revoked (not on hold), else None."""
    material = ca_module.material()
    leaf = x509.load_der_x509_certificate(bytes(cert.der))
    request = (
        ocsp.OCSPRequestBuilder()
        .add_certificate(leaf, material.certificate, hashes.SHA1())  # noqa: S303 (RFC 5019)
        .build()
    )
    answer = responder.answer(request.public_bytes(serialization.Encoding.DER))
    response = ocsp.load_der_ocsp_response(answer.der)
    if response.response_status != ocsp.OCSPResponseStatus.SUCCESSFUL:
        return None
    if response.certificate_status != ocsp.OCSPCertStatus.REVOKED:
        return None
    if response.revocation_reason == x509.ReasonFlags.certificate_hold:
        return None
    return response.produced_at_utc


def _crl_listing(cert: Certificate, facts: dict[str, Any]) -> tuple[int, datetime] | None:
    """(number, thisUpdate) of the shard's current CRL if it lists the revocation, else None."""
    row = (
        CrlShard.objects.filter(ca_id=cert.ca_id, shard=cert.crl_shard)
        .values_list("number", "signed", "this_update")
        .first()
    )
    if row is None:
        return None
    number, signed, this_update = row
    if this_update is None or number <= facts["crl_number_before"]:
        return None
    if signed >= facts["crl_wanted"]:
        return number, this_update
    # Signed from demand read before the revocation committed; its entries may still have been
    # read after it. Its own entries decide.
    stored = (
        CrlShard.objects.filter(ca_id=cert.ca_id, shard=cert.crl_shard)
        .values_list("number", "this_update", "der")
        .first()
    )
    if stored is None or stored[1] is None or stored[2] is None:
        return None
    crl = x509.load_der_x509_crl(bytes(stored[2]))
    if crl.get_revoked_certificate_by_serial_number(cert.serial_int) is None:
        return None
    return stored[0], stored[1]


def observe_revocation(receipt: Receipt, cert: Certificate | None = None) -> dict[str, Any]:
    """The receipt's facts with what is now known of the revocation's publication.

    Stores, once each, ``ocsp_revoked_at`` and ``crl_number``/``crl_this_update`` when they
    are first seen (see "Receipts of revocations"). The returned dict also holds
    ``crl_next_at_least`` (not stored): the lowest number the CRL that will list it can have.
    Never raises: a receipt is shown with what could be learnt.
    """
    facts = dict(receipt.facts)
    try:
        if cert is None:
            cert = Certificate.objects.get(
                ca_id=facts["ca"], citizen_id=receipt.citizen_id, serial_number=facts["serial"]
            )
        new: dict[str, Any] = {}
        if "ocsp_revoked_at" not in facts:
            at = _ocsp_revoked_at(cert)
            if at is not None:
                new["ocsp_revoked_at"] = at.isoformat()
        if "crl_number" not in facts:
            listed = _crl_listing(cert, facts)
            if listed is not None:
                new["crl_number"], new["crl_this_update"] = listed[0], listed[1].isoformat()
        if new:
            facts = dict(add_facts(receipt, **new))
        current = (
            CrlShard.objects.filter(ca_id=cert.ca_id, shard=cert.crl_shard)
            .values_list("number", flat=True)
            .first()
        )
    except Exception:
        logger.exception("receipt %s: revocation facts not observed", receipt.reference)
        current = None
    facts["crl_next_at_least"] = max(facts.get("crl_number_before", 0), current or 0) + 1
    return facts


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
