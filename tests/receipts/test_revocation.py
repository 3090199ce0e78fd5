"""The receipt of Sertifikamı İptal Et: issued with the revocation, named in its audit event and
SMS, and stating the CRL that lists the certificate and when OCSP first answered "revoked"."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from cryptography import x509
from cryptography.x509 import ocsp
from django.conf import settings
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.models import Citizen, SmsMessage
from audit.models import AuditEvent
from certificates import publication, responder, tasks
from certificates import services as cert_services
from certificates.models import Certificate, CertificateError, CrlShard
from certificates.services import observe_revocation, revoke_certificate
from nesportal.testing import login_as, sms_code
from receipts.models import Receipt
from receipts.pdf import local_time

from .helpers import download_url, receipt_text

pytestmark = pytest.mark.django_db

KEY_COMPROMISE = Certificate.RevocationReason.KEY_COMPROMISE


@pytest.fixture
def active(citizen: Citizen, certificate_factory: Any) -> Certificate:
    return certificate_factory(citizen, "active")[0]


@pytest.fixture
def no_publication(monkeypatch: pytest.MonkeyPatch) -> None:
    """No CRL publication after a commit (as while the worker has not run yet)."""
    monkeypatch.setattr(tasks, "queue_publication", lambda ca_id, shard: None)


def revoke(capture: Any, cert: Certificate, citizen: Citizen, reason: str = KEY_COMPROMISE) -> Any:
    with capture(execute=True):
        revoke_certificate(cert, reason=reason, citizen=citizen)
    return Receipt.objects.get(kind=Receipt.Kind.REVOCATION, subject=cert.serial_number)


def shard_row(cert: Certificate) -> CrlShard:
    return CrlShard.objects.get(ca_id=cert.ca_id, shard=cert.crl_shard)


def ocsp_status(cert: Certificate) -> ocsp.OCSPResponse:
    from cryptography.hazmat.primitives import hashes, serialization

    from certificates import ca as ca_module

    leaf = x509.load_der_x509_certificate(bytes(cert.der))
    request = (
        ocsp.OCSPRequestBuilder()
        .add_certificate(leaf, ca_module.material().certificate, hashes.SHA1())  # noqa: S303
        .build()
    )
    return ocsp.load_der_ocsp_response(
        responder.answer(request.public_bytes(serialization.Encoding.DER)).der
    )


def test_a_revocation_issues_one_receipt_named_in_its_audit_event_and_sms(
    citizen: Citizen,
    active: Certificate,
    sms_outbox: list[dict[str, Any]],
    django_capture_on_commit_callbacks: Any,
) -> None:
    before = shard_row(active).number
    receipt = revoke(django_capture_on_commit_callbacks, active, citizen)
    active.refresh_from_db()

    assert receipt.citizen == citizen
    assert receipt.created_at == active.revoked_at
    assert receipt.facts["serial"] == active.serial_number
    assert receipt.facts["reason"] == KEY_COMPROMISE
    assert receipt.facts["revoked_at"] == active.revoked_at.isoformat()
    assert receipt.facts["by"] == "holder"
    assert receipt.facts["crl_number_before"] == before
    revoked = AuditEvent.objects.get(action="nes.certificate.revoked", citizen=citizen)
    assert revoked.data["receipt"] == receipt.reference
    issued = AuditEvent.objects.get(action="nes.receipt.issued", citizen=citizen)
    assert issued.data == {"receipt": receipt.reference, "kind": "revocation"}
    notice = SmsMessage.objects.get(citizen=citizen, kind=SmsMessage.Kind.CERT_REVOKED)
    assert notice.context["receipt"] == receipt.reference
    assert notice.context["serial"] == active.serial_number


def test_the_ocsp_time_is_measured_through_the_responder_and_kept(
    citizen: Citizen,
    active: Certificate,
    sms_outbox: list[dict[str, Any]],
    django_capture_on_commit_callbacks: Any,
    clock: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    asked: list[int] = []
    real_answer = responder.answer

    def spy(request_der: bytes) -> responder.Answer:
        asked.append(ocsp.load_der_ocsp_request(request_der).serial_number)
        return real_answer(request_der)

    monkeypatch.setattr(responder, "answer", spy)
    receipt = revoke(django_capture_on_commit_callbacks, active, citizen)
    active.refresh_from_db()

    # One OCSP request for this certificate, through the responder's own answer().
    assert asked == [active.serial_int]
    measured = dt.datetime.fromisoformat(receipt.facts["ocsp_revoked_at"])
    # The clock is frozen: the answer was signed at the revocation's second.
    assert measured == active.revoked_at.replace(microsecond=0)
    answer = ocsp_status(active)
    assert answer.certificate_status == ocsp.OCSPCertStatus.REVOKED

    clock.shift(dt.timedelta(hours=2))
    client = login_as(Client(), citizen)
    text = receipt_text(client, receipt)
    assert local_time(measured) in text
    receipt.refresh_from_db()
    assert receipt.facts["ocsp_revoked_at"] == measured.isoformat()  # kept, not re-measured


def test_no_ocsp_time_until_ocsp_says_revoked_then_the_first_download_measures_it(
    citizen: Citizen,
    active: Certificate,
    sms_outbox: list[dict[str, Any]],
    django_capture_on_commit_callbacks: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real_answer = responder.answer
    monkeypatch.setattr(
        responder,
        "answer",
        lambda der: responder.unsuccessful(ocsp.OCSPResponseStatus.INTERNAL_ERROR),
    )
    receipt = revoke(django_capture_on_commit_callbacks, active, citizen)
    assert "ocsp_revoked_at" not in receipt.facts

    client = login_as(Client(), citizen)
    assert "Henüz ölçülmedi" in receipt_text(client, receipt)
    receipt.refresh_from_db()
    assert "ocsp_revoked_at" not in receipt.facts

    monkeypatch.setattr(responder, "answer", real_answer)
    text = receipt_text(client, receipt)
    receipt.refresh_from_db()
    assert "Henüz ölçülmedi" not in text
    assert local_time(receipt.facts["ocsp_revoked_at"]) in text


def test_a_hold_is_not_a_revoked_answer(
    citizen: Citizen, certificate_factory: Any, django_capture_on_commit_callbacks: Any
) -> None:
    suspended = certificate_factory(citizen, "suspended")[0]
    assert ocsp_status(suspended).certificate_status == ocsp.OCSPCertStatus.REVOKED
    assert cert_services._ocsp_revoked_at(suspended) is None  # certificateHold
    active = certificate_factory(citizen, "active", kind=Certificate.Kind.MOBILE)[0]
    assert cert_services._ocsp_revoked_at(active) is None  # good


def test_the_crl_number_is_that_of_the_first_crl_listing_the_certificate(
    citizen: Citizen,
    active: Certificate,
    sms_outbox: list[dict[str, Any]],
    django_capture_on_commit_callbacks: Any,
) -> None:
    before = shard_row(active).number
    # The embedded default publishes in the commit callbacks, before the receipt looks.
    receipt = revoke(django_capture_on_commit_callbacks, active, citizen)

    assert receipt.facts["crl_number"] == before + 1
    crl = publication.stored_crl(active.ca_id, active.crl_shard)
    assert crl is not None
    assert crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number == before + 1
    assert crl.get_revoked_certificate_by_serial_number(active.serial_int) is not None
    assert dt.datetime.fromisoformat(receipt.facts["crl_this_update"]) == crl.last_update_utc

    # A later CRL (the periodic re-signing) lists it too, but the receipt keeps the first.
    publication.publish_for(active.ca_id, {active.crl_shard}, force=True)
    assert shard_row(active).number == before + 2
    text = receipt_text(login_as(Client(), citizen), receipt)
    assert f"SİL numarası {before + 1} (yayın zamanı: " in text
    receipt.refresh_from_db()
    assert receipt.facts["crl_number"] == before + 1


def test_until_the_crl_is_published_the_receipt_names_the_next_number(
    citizen: Citizen,
    active: Certificate,
    sms_outbox: list[dict[str, Any]],
    django_capture_on_commit_callbacks: Any,
    no_publication: None,
) -> None:
    before = shard_row(active).number
    receipt = revoke(django_capture_on_commit_callbacks, active, citizen)
    assert "crl_number" not in receipt.facts
    client = login_as(Client(), citizen)

    text = receipt_text(client, receipt)
    assert f"numarası {before + 1} veya daha büyük olan bir sonraki SİL'de yer alacaktır" in text

    publication.publish_for(active.ca_id, {active.crl_shard})
    text = receipt_text(client, receipt)
    receipt.refresh_from_db()
    assert receipt.facts["crl_number"] == before + 1
    assert f"SİL numarası {before + 1} (yayın zamanı: " in text


def test_a_crl_signed_from_older_demand_counts_only_if_it_lists_the_certificate(
    citizen: Citizen,
    active: Certificate,
    sms_outbox: list[dict[str, Any]],
    django_capture_on_commit_callbacks: Any,
    no_publication: None,
) -> None:
    publication.publish_for(active.ca_id, {active.crl_shard}, force=True)
    signed_before = shard_row(active).number
    receipt = revoke(django_capture_on_commit_callbacks, active, citizen)
    # Pretend the CRL signed before the revocation came after it (a publisher that read the
    # demand before the commit): its entries do not list the certificate, so it does not count.
    facts = {**receipt.facts, "crl_number_before": signed_before - 1}
    Receipt.objects.filter(pk=receipt.pk).update(facts=facts)
    receipt.refresh_from_db()
    assert "crl_number" not in observe_revocation(receipt)

    # A CRL from older demand whose entries do list it counts.
    publication.publish_for(active.ca_id, {active.crl_shard})
    CrlShard.objects.filter(pk=shard_row(active).pk).update(signed=0)
    assert observe_revocation(receipt)["crl_number"] == signed_before + 1


def test_a_refused_revocation_makes_no_receipt(
    citizen: Citizen,
    active: Certificate,
    certificate_factory: Any,
    sms_outbox: list[dict[str, Any]],
    django_capture_on_commit_callbacks: Any,
) -> None:
    revoke(django_capture_on_commit_callbacks, active, citizen)
    with pytest.raises(CertificateError):
        revoke_certificate(active, reason=KEY_COMPROMISE, citizen=citizen)
    expired = certificate_factory(citizen, "expired", now=timezone.now() - dt.timedelta(days=60))[0]
    with pytest.raises(CertificateError):
        revoke_certificate(expired, reason=KEY_COMPROMISE, citizen=citizen)
    with pytest.raises(CertificateError):
        revoke_certificate(active, reason="no-such-reason", citizen=citizen)
    assert Receipt.objects.count() == 1
    assert AuditEvent.objects.filter(action="nes.receipt.issued").count() == 1


def test_the_pages_revoke_and_the_done_page_offers_the_receipt(
    citizen: Citizen,
    active: Certificate,
    send: Any,
    sms_outbox: list[dict[str, Any]],
) -> None:
    client = login_as(Client(), citizen)
    start = reverse("certificates:revoke_start")
    chosen = client.post(start, {"certificate": active.serial_number, "reason": KEY_COMPROMISE})
    assert chosen.status_code == 302
    confirm = reverse("certificates:revoke_confirm", args=[active.serial_number])
    assert send(client, confirm)["Location"] == reverse(
        "certificates:revoke_code", args=[active.serial_number]
    )
    code = sms_code(sms_outbox)
    done = send(
        client, reverse("certificates:revoke_code", args=[active.serial_number]), {"code": code}
    )
    assert done["Location"] == reverse("certificates:revoke_done", args=[active.serial_number])

    receipt = Receipt.objects.get(citizen=citizen)
    page = client.get(done["Location"]).content.decode()
    assert f'Makbuz No: <strong class="serial">{receipt.reference}</strong>' in page
    assert f'href="{download_url(receipt.reference)}"' in page
    assert "Makbuzu İndir (PDF)" in page
    # The SMS code confirmed the revocation; it is nowhere in the receipt.
    assert code not in str(receipt.facts)
    text = receipt_text(client, receipt)
    assert code not in text
    active.refresh_from_db()
    for expected in [
        "İşlem Makbuzu",
        f"Makbuz No {receipt.reference}",
        "İşlem Sertifika iptali",
        f"İşlem zamanı {local_time(receipt.created_at)}",
        "(Türkiye saati, UTC+03:00)",
        citizen.full_name,
        active.serial_number,
        "İptal nedeni Anahtarım ele geçirildi / kartım kayboldu",
        f"İptal zamanı {local_time(active.revoked_at)}",
        f"SİL numarası {receipt.facts['crl_number']} (yayın zamanı: ",
        local_time(Receipt.objects.get(pk=receipt.pk).facts["ocsp_revoked_at"]),
    ]:
        assert expected in text, expected


def test_the_receipt_is_in_english_for_an_english_session(
    citizen: Citizen,
    active: Certificate,
    sms_outbox: list[dict[str, Any]],
    django_capture_on_commit_callbacks: Any,
) -> None:
    receipt = revoke(django_capture_on_commit_callbacks, active, citizen)
    client = login_as(Client(), citizen)
    turkish = receipt_text(client, receipt)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    english = receipt_text(client, receipt)

    assert "Anahtarım ele geçirildi / kartım kayboldu" in turkish
    assert "My key has been compromised / I lost my card" in english
    assert "Anahtarım ele geçirildi" not in english
    assert "NES Portal · Personal Qualified Electronic Certificate Services" in english
    assert "A revoked certificate can never be opened for use again." in english
    assert receipt.reference in english and active.serial_number in english
