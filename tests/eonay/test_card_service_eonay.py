"""E-Onay consent signed with the token and verified: the REAL Akıllı Kart Servisi process with a
SoftHSM2 token holding the citizen's key (tests/cardtoken.py), through its HTTP API, and the
portal's endpoints (esign/consent_views.py) with the Django test client.

The portal makes the text, the service signs it with the token (CMS, CAdES-BES, detached), the
portal verifies it against our CA and the certificate's live status and stores it.
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from django.test import Client
from django.urls import reverse

from accounts.models import Citizen
from audit.models import AuditEvent
from certificates.models import Certificate
from eonay.models import Application, CardSignature, Consent
from esign.consent import verify_cms
from nesportal.testing import login_as
from nesportal.testing.factories import ApplicationFactory
from tests.cardtoken import make_token, request, run_service

PIN = "731942"
ORIGIN = "http://testserver"
FIRST = Consent.Scope.FIRST


def card_of(row: Certificate) -> x509.Certificate:
    return x509.load_der_x509_certificate(bytes(row.der))


@pytest.fixture
def service(tmp_path: Path, citizen: Citizen, certificate_factory: Any) -> Any:
    row, key = certificate_factory(citizen, "active")
    token = make_token(tmp_path / "token", key=key, certificate=card_of(row), pin=PIN)
    with run_service(token, origins=[ORIGIN], state_dir=tmp_path / "state") as running:
        running.token = token  # type: ignore[attr-defined]
        running.row = row  # type: ignore[attr-defined]
        yield running


def service_sign(service: Any, text: str, *, pin: str = PIN) -> tuple[int, Any]:
    status, _, body = request(
        service,
        "POST",
        "/v1/sign",
        body={
            "kind": "consent",
            "token_serial": service.token.serial,
            "certificate_id": service.token.ids[0],
            "pin": pin,
            "text": text,
        },
    )
    return status, body


def test_a_consent_signed_with_the_token_is_verified_and_stored(
    service: Any, citizen: Citizen
) -> None:
    client = login_as(Client(), citizen)
    prepared = client.post(reverse("esign_eonay:consent_prepare", args=[FIRST, "give"])).json()

    status, signed = service_sign(service, prepared["text"])

    assert status == 200, signed
    cms = base64.b64decode(signed["cms_b64"])
    # The service's CMS is exactly the contract's (the pure verifier agrees).
    assert verify_cms(cms, prepared["text"]).certificate == card_of(service.row)
    response = client.post(
        prepared["post_url"], {"cms": signed["cms_b64"]}, content_type="application/json"
    )
    assert response.status_code == 200, response.content
    consent = Consent.objects.get(citizen=citizen, scope=FIRST, withdrawn_at=None)
    assert consent.given_signature is not None
    assert consent.given_signature.certificate == service.row
    assert bytes(consent.given_signature.cms) == cms
    assert consent.given_signature.text == prepared["text"]
    event = AuditEvent.objects.get(action="nes.eonay.consent_given")
    assert (event.data["method"], event.data["serial"]) == ("card", service.row.serial_number)
    # The PIN went to the service and the token only.
    assert PIN not in service.output()
    assert not AuditEvent.objects.filter(data__icontains=PIN).exists()


def test_an_application_approved_with_the_token(
    service: Any, citizen: Citizen, staff_factory: Any
) -> None:
    application = ApplicationFactory(citizen=citizen, entered_by=staff_factory())
    client = login_as(Client(), citizen)
    prepared = client.post(
        reverse("esign_eonay:decide_prepare", args=[application.pk, "approve"])
    ).json()

    status, signed = service_sign(service, prepared["text"])
    assert status == 200, signed
    response = client.post(
        prepared["post_url"], {"cms": signed["cms_b64"]}, content_type="application/json"
    )

    assert response.status_code == 200, response.content
    application.refresh_from_db()
    assert application.status == Application.Status.APPROVED
    assert application.decision_signature == CardSignature.objects.get()


def test_the_service_refuses_a_text_out_of_format_and_a_wrong_pin(
    service: Any, citizen: Citizen
) -> None:
    client = login_as(Client(), citizen)
    prepared = client.post(reverse("esign_eonay:consent_prepare", args=[FIRST, "give"])).json()

    status, body = service_sign(service, prepared["text"] + "\n")
    assert (status, body["error"]) == (400, "format_refused")
    status, body = service_sign(service, "anything at all")
    assert (status, body["error"]) == (400, "format_refused")
    status, body = service_sign(service, prepared["text"], pin="000000")
    assert status == 401 and body["error"] == "pin_incorrect"
    assert not Consent.objects.exists()
