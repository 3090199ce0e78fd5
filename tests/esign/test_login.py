"""E-İmzalı Giriş logins: success, refusals, strikes and the lock, the TLS client certificate.

Every refusal is the same generic message with status 400; the precise reason is asserted on
the audit log (``nes.login.esign_failed``, or ``nes.esign.signature_invalid`` for a signature
that does not prove key possession), together with the strike it did or did not cost.
"""

from __future__ import annotations

import base64
import datetime as dt
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import time_machine
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from django.conf import settings as django_settings
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.models import Citizen, SmsMessage
from accounts.services import SESSION_CITIZEN
from audit.models import AuditEvent
from certificates import ca as ca_module
from certificates import pki
from certificates.models import Certificate
from certificates.services import issue_certificate
from esign.models import LoginChallenge
from esign.protocol import sign_challenge
from esign.services import BINDING_COOKIE
from nesportal.testing.factories import tckn_for
from tests.esign.helpers import (
    MENU,
    PAGE,
    TLS,
    assert_refused,
    failures,
    get_challenge,
    junk_post,
    login,
    pem,
    signed_post,
    strikes,
)

pytestmark = pytest.mark.django_db


# --- success ---------------------------------------------------------------------------------


def test_it_logs_in_with_a_valid_active_certificate(
    client: Client, citizen: Citizen, active: tuple[Certificate, Any]
) -> None:
    row, key = active
    Citizen.objects.filter(pk=citizen.pk).update(failure_count=2)
    client.get(PAGE)
    old_session_key = client.session.session_key

    response = login(client, key, row)

    assert response.status_code == 302 and response["Location"] == MENU
    session = response.wsgi_request.session
    assert session[SESSION_CITIZEN] == citizen.pk
    assert session.session_key != old_session_key  # rotated
    assert response.cookies[BINDING_COOKIE].value == ""  # the binding is spent
    assert strikes(citizen) == 0
    assert LoginChallenge.objects.exclude(used_at=None).count() == 1
    passed = AuditEvent.objects.get(action="nes.login.esign_passed")
    assert passed.citizen == citizen and passed.data["serial"] == row.serial_number
    assert AuditEvent.objects.filter(action="nes.login.succeeded", citizen=citizen).exists()
    assert failures() == []
    assert client.get(MENU).status_code == 200


def test_it_carries_the_etsi_identity_and_still_accepts_the_legacy_form(
    client: Client, citizen: Citizen, active: tuple[Certificate, Any], demo_pki: Any
) -> None:
    """New certificates say PNOTR-… (ETSI EN 319 412-1); ones issued as TCKTR-… still log in."""
    row, _key = active
    subject = x509.load_der_x509_certificate(bytes(row.der)).subject
    [serial] = subject.get_attributes_for_oid(x509.NameOID.SERIAL_NUMBER)
    assert serial.value == f"PNOTR-{citizen.tckn}"

    key = ec.generate_private_key(ec.SECP256R1())
    now = timezone.now()
    not_after = now + dt.timedelta(days=30)
    # issue_qualified_certificate no longer writes TCKTR- (not an ETSI identity type), so the
    # legacy certificate is built as the portal built it before: same CA, old serialNumber.
    material = ca_module.material()
    legacy = (
        x509.CertificateBuilder()
        .subject_name(
            x509.Name(
                [
                    x509.NameAttribute(x509.NameOID.COUNTRY_NAME, "TR"),
                    x509.NameAttribute(x509.NameOID.SERIAL_NUMBER, f"TCKTR-{citizen.tckn}"),
                    x509.NameAttribute(x509.NameOID.GIVEN_NAME, citizen.first_name),
                    x509.NameAttribute(x509.NameOID.SURNAME, citizen.last_name),
                    x509.NameAttribute(x509.NameOID.COMMON_NAME, citizen.greeting_name),
                ]
            )
        )
        .issuer_name(material.certificate.subject)
        .public_key(key.public_key())
        .serial_number(pki.random_serial())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(not_after)
        .sign(material.private_key, hashes.SHA256())
    )
    Certificate.objects.filter(pk=row.pk).update(not_after=now)  # the new one expired today
    recorded = Certificate.objects.create(
        ca_id=row.ca_id,
        citizen=citizen,
        serial_number=format(legacy.serial_number, "x"),
        der=legacy.public_bytes(serialization.Encoding.DER),
        subject_name=citizen.greeting_name,
        not_before=now - dt.timedelta(days=1),
        not_after=not_after,
        fingerprint_sha256=pki.fingerprint_sha256(legacy),
        status=Certificate.Status.ACTIVE,
        opened_at=now,
    )

    response = login(client, key, legacy)

    assert response.status_code == 302 and response["Location"] == MENU
    passed = AuditEvent.objects.get(action="nes.login.esign_passed")
    assert passed.data["serial"] == recorded.serial_number


def test_it_accepts_base64_der_and_an_rsa_key(
    client: Client, citizen: Citizen, demo_pki: Any
) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    row = issue_certificate(citizen, key.public_key())
    row.open_for_use(by_citizen=citizen)
    challenge = get_challenge(client)
    signature = sign_challenge(
        base64.b64decode(challenge["nonce_b64"]), challenge["challenge_id"], key
    )

    response = client.post(
        PAGE,
        {
            "challenge_id": challenge["challenge_id"],
            "signature": base64.b64encode(signature).decode(),
            "certificate": base64.b64encode(bytes(row.der)).decode(),
        },
    )

    assert response.status_code == 302 and response["Location"] == MENU


def test_it_answers_json_clients_and_enforces_csrf(
    citizen: Citizen, active: tuple[Certificate, Any]
) -> None:
    row, key = active
    client = Client(enforce_csrf_checks=True)
    challenge = get_challenge(client)

    forged = signed_post(client, challenge, key, row, HTTP_ACCEPT="application/json")
    assert forged.status_code == 403
    assert LoginChallenge.objects.get().used_at is None  # refused before any check

    response = signed_post(
        client,
        challenge,
        key,
        row,
        HTTP_ACCEPT="application/json",
        HTTP_X_CSRFTOKEN=challenge["csrf_token"],
    )
    assert response.status_code == 200
    assert response.json() == {"ok": True, "redirect": MENU}


# --- refusals --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("state", "reason"),
    [
        ("suspended", "certificate_suspended"),
        ("revoked", "certificate_revoked"),
        ("pending", "certificate_pending"),
        ("expired", "certificate_expired"),
    ],
)
def test_it_refuses_certificates_that_are_not_usable(
    client: Client, citizen: Citizen, certificate_factory: Any, state: str, reason: str
) -> None:
    row, key = certificate_factory(citizen, state)

    response = login(client, key, row)

    assert_refused(response, reason)
    assert strikes(citizen) == 1
    # The page comes back with a fresh challenge to try again.
    assert LoginChallenge.objects.filter(used_at=None).count() == 1


def test_it_refuses_a_certificate_of_another_ca_with_the_same_subject_and_serial(
    client: Client, citizen: Citizen, active: tuple[Certificate, Any], tmp_path: Path
) -> None:
    row, key = active
    pki.create_demo_pki(tmp_path, name="Sahte SHS")
    foreign_ca = pki.load_ca(pki.demo_ca_paths(tmp_path))
    real = x509.load_der_x509_certificate(bytes(row.der))
    forged = pki.issue_qualified_certificate(
        foreign_ca,
        public_key=key.public_key(),
        serial_number=real.serial_number,
        given_name=citizen.first_name,
        surname=citizen.last_name,
        identity=f"PNOTR-{citizen.tckn}",
        not_before=real.not_valid_before_utc,
        not_after=real.not_valid_after_utc,
        crl_url="http://example.invalid/crl",
        ocsp_url="http://example.invalid/ocsp",
        ca_issuers_url="http://example.invalid/ca.crt",
        policy_oid=django_settings.NES_POLICY_OID,
        pds_url="https://example.invalid/pds",
    )
    assert forged.subject == real.subject

    response = login(client, key, forged)

    assert_refused(response, "certificate_foreign_ca")
    assert strikes(citizen) == 0  # nothing ties it to the citizen


def test_it_refuses_a_certificate_our_ca_signed_but_never_recorded(
    client: Client, citizen: Citizen, demo_pki: Any
) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    now = timezone.now()
    unrecorded = pki.issue_qualified_certificate(
        ca_module.material(),
        public_key=key.public_key(),
        serial_number=pki.random_serial(),
        given_name=citizen.first_name,
        surname=citizen.last_name,
        identity=f"PNOTR-{citizen.tckn}",
        not_before=now - dt.timedelta(days=1),
        not_after=now + dt.timedelta(days=30),
        crl_url="http://example.invalid/crl",
        ocsp_url="http://example.invalid/ocsp",
        ca_issuers_url="http://example.invalid/ca.crt",
        policy_oid=django_settings.NES_POLICY_OID,
        pds_url="https://example.invalid/pds",
    )

    assert_refused(login(client, key, unrecorded), "certificate_unknown")
    assert strikes(citizen) == 0


def test_it_refuses_a_replayed_challenge(
    client: Client, citizen: Citizen, active: tuple[Certificate, Any]
) -> None:
    row, key = active
    other_key = ec.generate_private_key(ec.SECP256R1())
    challenge = get_challenge(client)
    assert_refused(signed_post(client, challenge, other_key, row), "signature_invalid")

    # The same challenge again, now correctly signed: it was used up by the first attempt.
    response = signed_post(client, challenge, key, row)

    assert_refused(response, "challenge_used")
    assert strikes(citizen) == 0  # neither proved possession of the key on a fresh challenge


def test_it_refuses_to_replay_a_successful_login(
    client: Client, citizen: Citizen, active: tuple[Certificate, Any]
) -> None:
    row, key = active
    challenge = get_challenge(client)
    assert signed_post(client, challenge, key, row).status_code == 302
    client.post(reverse("accounts:logout"))
    get_challenge(client)  # same browser, new binding

    response = signed_post(client, challenge, key, row)

    assert_refused(response, "challenge_other_session", passed_before=1)


def test_it_refuses_an_expired_challenge(
    client: Client, citizen: Citizen, active: tuple[Certificate, Any]
) -> None:
    row, key = active
    challenge = get_challenge(client)

    with time_machine.travel(timezone.now() + dt.timedelta(minutes=2, seconds=1), tick=False):
        response = signed_post(client, challenge, key, row)

    assert_refused(response, "challenge_expired")
    assert strikes(citizen) == 0
    assert LoginChallenge.objects.get(pk=challenge["challenge_id"]).used_at is None


def test_it_refuses_a_challenge_from_another_session(
    client: Client, citizen: Citizen, active: tuple[Certificate, Any]
) -> None:
    row, key = active
    challenge = get_challenge(Client())  # e.g. a phishing page's session

    assert_refused(signed_post(client, challenge, key, row), "challenge_other_session")
    assert strikes(citizen) == 0


def test_it_refuses_a_signature_over_another_nonce(
    client: Client, citizen: Citizen, active: tuple[Certificate, Any]
) -> None:
    row, key = active
    first = get_challenge(client)
    second = get_challenge(client)

    response = signed_post(client, first, key, row, nonce=base64.b64decode(second["nonce_b64"]))

    assert_refused(response, "signature_invalid")
    assert strikes(citizen) == 0


def test_it_refuses_a_certificate_whose_identity_is_not_the_citizens(
    client: Client, citizen: Citizen, active: tuple[Certificate, Any]
) -> None:
    row, key = active
    Citizen.objects.filter(pk=citizen.pk).update(tckn=tckn_for(99_999_999))

    assert_refused(login(client, key, row), "identity_mismatch")
    assert strikes(citizen) == 1


@pytest.mark.parametrize(
    ("certificate", "signature", "reason"),
    [
        ("not a certificate", "AAAA", "certificate_unparsable"),
        ("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----", "AAAA", None),
        (None, "%%% not base64 %%%", "signature_invalid"),
        (None, "", "form_invalid"),
    ],
)
def test_it_refuses_malformed_input_without_an_error_page(
    client: Client,
    citizen: Citizen,
    active: tuple[Certificate, Any],
    certificate: str | None,
    signature: str,
    reason: str | None,
) -> None:
    row, _key = active
    challenge = get_challenge(client)

    response = client.post(
        PAGE,
        {
            "challenge_id": challenge["challenge_id"],
            "signature": signature,
            "certificate": pem(row) if certificate is None else certificate,
        },
    )

    assert_refused(response, reason or "certificate_unparsable")


def test_it_refuses_an_unknown_or_malformed_challenge_id(client: Client, demo_pki: Any) -> None:
    client.get(PAGE)
    for challenge_id, reason in [
        ("nope", "challenge_malformed"),
        (str(uuid.uuid4()), "challenge_unknown"),
    ]:
        response = client.post(
            PAGE, {"challenge_id": challenge_id, "signature": "AAAA", "certificate": "x"}
        )
        assert_refused(response, reason)


# --- strikes and the lock --------------------------------------------------------------------


def test_forged_posts_with_a_victims_certificate_cost_no_strike(
    client: Client, citizen: Citizen, active: tuple[Certificate, Any]
) -> None:
    """Issue 9 target: 3 forged E-İmzalı Giriş posts with a victim's certificate → 0 strikes."""
    row, key = active
    wrong_key = ec.generate_private_key(ec.SECP256R1())

    for _ in range(3):
        assert_refused(junk_post(client, row), "signature_invalid")
        assert_refused(login(client, wrong_key, row), "signature_invalid")

    citizen.refresh_from_db()
    assert (citizen.failure_count, citizen.locked_at) == (0, None)
    forged = AuditEvent.objects.filter(action="nes.esign.signature_invalid")
    assert forged.count() == 6
    assert {(e.citizen_id, e.data["serial"], e.data["strike"]) for e in forged} == {
        (citizen.pk, row.serial_number, False)
    }
    assert not AuditEvent.objects.filter(action="nes.login.esign_failed").exists()
    # And the holder, with the card, still logs in.
    assert login(client, key, row).status_code == 302


def test_a_revoked_certificate_with_a_junk_signature_costs_no_strike(
    client: Client, citizen: Citizen, certificate_factory: Any
) -> None:
    row, _key = certificate_factory(citizen, "revoked")

    for _ in range(3):
        assert_refused(junk_post(client, row), "signature_invalid")

    assert strikes(citizen) == 0


def test_a_revoked_certificate_with_a_valid_signature_costs_one_strike(
    client: Client, citizen: Citizen, certificate_factory: Any
) -> None:
    row, key = certificate_factory(citizen, "revoked")

    assert_refused(login(client, key, row), "certificate_revoked")

    assert strikes(citizen) == 1
    failed = AuditEvent.objects.get(action="nes.login.esign_failed")
    assert failed.citizen == citizen and failed.data["failure_count"] == 1


def test_it_locks_the_account_after_three_failed_attempts(
    client: Client, citizen: Citizen, certificate_factory: Any, sms_outbox: list
) -> None:
    row, key = certificate_factory(citizen, "suspended")
    active_row, active_key = certificate_factory(citizen, "active", kind=Certificate.Kind.MOBILE)

    for expected in (1, 2, 3):
        assert_refused(login(client, key, row), "certificate_suspended")
        assert strikes(citizen) == expected

    citizen.refresh_from_db()
    assert citizen.locked_at is not None
    assert citizen.lock_reason == Citizen.LockReason.ESIGN_FAILED
    locked = AuditEvent.objects.get(action="nes.account.locked", citizen=citizen)
    assert locked.data["reason"] == Citizen.LockReason.ESIGN_FAILED
    notice = SmsMessage.objects.get(citizen=citizen, kind=SmsMessage.Kind.ACCOUNT_LOCKED)
    assert notice.context["reason"] == Citizen.LockReason.ESIGN_FAILED

    # Now even a usable certificate with its key cannot log in, and no strike is added.
    assert_refused(login(client, active_key, active_row), "citizen_locked")
    assert strikes(citizen) == 3


def test_it_shares_the_counter_with_the_security_word(
    client: Client, citizen: Citizen, certificate_factory: Any
) -> None:
    row, key = certificate_factory(citizen, "suspended")
    Citizen.objects.filter(pk=citizen.pk).update(failure_count=2)  # two wrong words

    assert_refused(login(client, key, row), "certificate_suspended")

    citizen.refresh_from_db()
    assert citizen.failure_count == 3 and citizen.locked_at is not None


# --- TLS client certificate from the reverse proxy -------------------------------------------


def test_it_ignores_the_tls_endpoint_unless_configured(
    client: Client, active: tuple[Certificate, Any]
) -> None:
    row, _key = active
    response = client.post(TLS, HTTP_X_SSL_CLIENT_CERT=quote(pem(row)))
    assert response.status_code == 404
    assert "Tarayıcı Sertifikasıyla" not in client.get(PAGE).content.decode()


def test_it_logs_in_with_a_tls_client_certificate_when_configured(
    client: Client, citizen: Citizen, certificate_factory: Any, settings: Any
) -> None:
    settings.ESIGN_TRUST_PROXY_CERT_HEADER = "X-SSL-Client-Cert"
    row, _key = certificate_factory(citizen, "active")
    suspended, _ = certificate_factory(citizen, "suspended", kind=Certificate.Kind.MOBILE)
    assert "Tarayıcı Sertifikasıyla" in client.get(PAGE).content.decode()

    assert_refused(client.post(TLS), "tls_no_certificate")
    assert_refused(
        client.post(TLS, HTTP_X_SSL_CLIENT_CERT=quote(pem(suspended))), "certificate_suspended"
    )
    response = client.post(TLS, HTTP_X_SSL_CLIENT_CERT=quote(pem(row)))

    assert response.status_code == 302 and response["Location"] == MENU
    passed = AuditEvent.objects.get(action="nes.login.esign_passed")
    assert passed.data["method"] == "tls_client_certificate"
    assert strikes(citizen) == 0
