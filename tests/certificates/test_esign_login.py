"""E-İmzalı Giriş: challenge, signature, certificate checks, strikes and the reference client.

Every refusal is the same generic message with status 400; the precise reason is asserted on
the audit log (``nes.login.esign_failed``, or ``nes.esign.signature_invalid`` for a signature
that does not prove key possession), together with the strike it did or did not cost.
"""

from __future__ import annotations

import base64
import datetime as dt
import threading
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import requests
import time_machine
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.hazmat.primitives.serialization import pkcs12
from django.conf import settings as django_settings
from django.contrib.sessions.models import Session
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.models import Citizen, SmsMessage
from accounts.services import SESSION_CITIZEN
from audit.models import AuditEvent
from certificates import ca as ca_module
from certificates import pki
from certificates.esign_login import (
    BINDING_COOKIE,
    ESIGN_FAILED,
    MESSAGE_PREFIX,
    purge_expired_challenges,
    sign_challenge,
    signed_message,
    verify_signature,
)
from certificates.models import Certificate, LoginChallenge
from certificates.services import issue_certificate
from nesportal.testing.factories import tckn_for

pytestmark = pytest.mark.django_db

PAGE = reverse("certificates:esign_login")
CHALLENGE = reverse("certificates:esign_challenge")
TLS = reverse("certificates:esign_tls_login")
MENU = reverse("accounts:menu")
GENERIC = str(ESIGN_FAILED)


def pem(cert: Certificate | x509.Certificate) -> str:
    if isinstance(cert, Certificate):
        cert = x509.load_der_x509_certificate(bytes(cert.der))
    return cert.public_bytes(serialization.Encoding.PEM).decode("ascii")


def get_challenge(client: Client) -> dict[str, Any]:
    response = client.get(CHALLENGE)
    assert response.status_code == 200
    assert response["Cache-Control"].startswith("max-age=0")
    return response.json()


def signed_post(
    client: Client,
    challenge: dict[str, Any],
    key: Any,
    cert: Certificate | x509.Certificate,
    *,
    nonce: bytes | None = None,
    **extra: Any,
) -> Any:
    nonce = base64.b64decode(challenge["nonce_b64"]) if nonce is None else nonce
    signature = sign_challenge(nonce, challenge["challenge_id"], key)
    data = {
        "challenge_id": challenge["challenge_id"],
        "signature": base64.b64encode(signature).decode(),
        "certificate": pem(cert),
    }
    return client.post(PAGE, data, **extra)


def login(client: Client, key: Any, cert: Certificate | x509.Certificate, **kw: Any) -> Any:
    return signed_post(client, get_challenge(client), key, cert, **kw)


FAILURE_ACTIONS = ("nes.login.esign_failed", "nes.esign.signature_invalid")


def failures() -> list[str]:
    return list(
        AuditEvent.objects.filter(action__in=FAILURE_ACTIONS)
        .order_by("pk")
        .values_list("data__reason", flat=True)
    )


def junk_post(client: Client, cert: Certificate | x509.Certificate) -> Any:
    """What an attacker can do with a victim's (public) certificate: no key, junk signature."""
    challenge = get_challenge(client)
    data = {
        "challenge_id": challenge["challenge_id"],
        "signature": base64.b64encode(b"\x30" + b"\x00" * 70).decode(),
        "certificate": pem(cert),
    }
    return client.post(PAGE, data)


def strikes(citizen: Citizen) -> int:
    citizen.refresh_from_db()
    return citizen.failure_count


def assert_refused(response: Any, reason: str, *, passed_before: int = 0) -> None:
    assert response.status_code == 400
    assert GENERIC in response.content.decode()
    assert SESSION_CITIZEN not in response.wsgi_request.session
    assert failures()[-1] == reason
    assert AuditEvent.objects.filter(action="nes.login.esign_passed").count() == passed_before


@pytest.fixture
def active(citizen: Citizen, certificate_factory: Any) -> tuple[Certificate, Any]:
    return certificate_factory(citizen, "active")


# --- the page and the challenge -------------------------------------------------------------


def test_it_shows_a_fresh_challenge_bound_to_the_browser(client: Client, demo_pki: Any) -> None:
    response = client.get(PAGE)

    assert response.status_code == 200
    html = response.content.decode()
    challenge = LoginChallenge.objects.get()
    nonce_b64 = base64.b64encode(bytes(challenge.nonce)).decode()
    assert f'data-challenge-id="{challenge.pk}"' in html
    assert nonce_b64 in html
    assert 'name="signature"' in html and 'name="certificate"' in html
    assert len(bytes(challenge.nonce)) == 32
    assert challenge.expires_at - challenge.created_at == dt.timedelta(minutes=2)
    assert challenge.used_at is None
    assert len(challenge.binding_hash) == 64
    # Only the hash is stored; the token lives in the browser's own cookie, not in a session.
    cookie = response.cookies[BINDING_COOKIE]
    assert cookie["httponly"] and cookie["samesite"] == "Strict"
    assert cookie["path"] == PAGE and 0 < int(cookie["max-age"]) <= 300
    assert challenge.binding_hash not in cookie.value
    assert Session.objects.count() == 0


def test_cookie_less_challenges_store_no_session(client: Client, demo_pki: Any) -> None:
    """Issue 9, item 7: 200 anonymous GETs stored 200 session rows."""
    for i in range(20):
        fresh = Client(REMOTE_ADDR=f"192.0.2.{i + 1}")  # many clients: no per-client throttle
        assert fresh.get(CHALLENGE).status_code == 200
        assert fresh.get(PAGE).status_code == 200
        assert BINDING_COOKIE in fresh.cookies

    assert Session.objects.count() == 0
    assert LoginChallenge.objects.count() == 40


def test_one_browser_keeps_its_binding_across_challenges(client: Client, demo_pki: Any) -> None:
    get_challenge(client)
    get_challenge(client)

    assert LoginChallenge.objects.values("binding_hash").distinct().count() == 1


def test_a_forged_binding_cookie_binds_nothing(
    client: Client, citizen: Citizen, active: tuple[Certificate, Any]
) -> None:
    row, key = active
    challenge = get_challenge(client)
    client.cookies[BINDING_COOKIE] = "not-a-signed-token"

    assert_refused(signed_post(client, challenge, key, row), "challenge_other_session")
    assert strikes(citizen) == 0


def test_expired_challenges_are_purged(client: Client, demo_pki: Any) -> None:
    get_challenge(client)
    get_challenge(Client())
    later = timezone.now() + dt.timedelta(minutes=13)

    assert purge_expired_challenges(now=later) == 2
    assert LoginChallenge.objects.count() == 0


def test_it_serves_the_challenge_as_json_with_a_csrf_token(client: Client, demo_pki: Any) -> None:
    data = get_challenge(client)

    challenge = LoginChallenge.objects.get()
    assert data["challenge_id"] == str(challenge.pk)
    assert base64.b64decode(data["nonce_b64"]) == bytes(challenge.nonce)
    assert dt.datetime.fromisoformat(data["expires_at"]) == challenge.expires_at
    assert data["csrf_token"]
    assert data["post_url"] == PAGE
    assert base64.b64decode(data["message_prefix_b64"]) == MESSAGE_PREFIX


def test_it_links_the_home_page_to_the_esign_login(client: Client, db: None) -> None:
    html = client.get(reverse("accounts:home")).content.decode()
    assert f'href="{PAGE}"' in html
    assert "disabled" not in html


def test_it_sends_a_logged_in_citizen_to_the_menu(citizen_client: Client) -> None:
    response = citizen_client.get(PAGE)
    assert response.status_code == 302 and response["Location"] == MENU


def test_it_signs_the_documented_message() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    challenge_id, nonce = uuid.uuid4(), b"\x01" * 32

    message = signed_message(str(challenge_id), nonce)

    assert message == b"NES-PORTAL-LOGIN\x00" + challenge_id.bytes + nonce
    signature = sign_challenge(nonce, challenge_id, key)
    assert verify_signature(key.public_key(), signature, message)
    assert not verify_signature(key.public_key(), signature, message + b"x")
    # Raw r‖s (PKCS#11 CKM_ECDSA) is accepted too, whatever its first byte (even 0x30, DER's).
    seen_0x30 = False
    while not seen_0x30:
        signature = sign_challenge(nonce, challenge_id, key)
        r, s = decode_dss_signature(signature)
        raw = r.to_bytes(32, "big") + s.to_bytes(32, "big")
        seen_0x30 = raw[0] == 0x30
        assert verify_signature(key.public_key(), raw, message)
        assert not verify_signature(key.public_key(), raw, message + b"x")


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
    assert notice.context == {"reason": Citizen.LockReason.ESIGN_FAILED}

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


# --- the reference client --------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("form", ["pem", "p12"])
def test_the_reference_client_logs_in(
    live_server: Any,
    citizen_factory: Any,
    certificate_factory: Any,
    tmp_path: Path,
    capsys: Any,
    form: str,
) -> None:
    citizen = citizen_factory()
    row, key = certificate_factory(citizen, "active")
    cert = x509.load_der_x509_certificate(bytes(row.der))
    if form == "pem":
        (tmp_path / "key.pem").write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        (tmp_path / "cert.pem").write_text(pem(cert))
        args = ["--key", str(tmp_path / "key.pem"), "--cert", str(tmp_path / "cert.pem")]
    else:
        (tmp_path / "card.p12").write_bytes(
            pkcs12.serialize_key_and_certificates(
                b"card", key, cert, None, serialization.BestAvailableEncryption(b"1234")
            )
        )
        args = ["--p12", str(tmp_path / "card.p12"), "--password", "1234"]

    call_command("sign_login_challenge", "--url", live_server.url, *args)

    assert f"Logged in (HTTP 200): {MENU}" in capsys.readouterr().out
    assert AuditEvent.objects.filter(action="nes.login.esign_passed", citizen=citizen).exists()


@pytest.mark.django_db(transaction=True)
def test_the_reference_client_reports_a_refusal(
    live_server: Any, citizen_factory: Any, certificate_factory: Any, tmp_path: Path
) -> None:
    row, key = certificate_factory(citizen_factory(), "revoked")
    (tmp_path / "key.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    (tmp_path / "cert.pem").write_text(pem(row))

    with pytest.raises(CommandError, match="Login refused \\(HTTP 400\\)"):
        call_command(
            "sign_login_challenge",
            "--url",
            live_server.url,
            "--key",
            str(tmp_path / "key.pem"),
            "--cert",
            str(tmp_path / "cert.pem"),
        )


# --- races (PostgreSQL, real threads over HTTP) ----------------------------------------------


def _parallel_posts(url: str, cookies: Any, payloads: list[dict[str, str]]) -> list[int]:
    barrier = threading.Barrier(len(payloads))
    statuses: list[int] = []

    def post(payload: dict[str, str]) -> None:
        with requests.Session() as session:
            session.cookies.update(cookies)
            barrier.wait(timeout=30)
            response = session.post(
                url + PAGE,
                data=payload,
                headers={"X-CSRFToken": cookies["nes_csrftoken"], "Referer": url + PAGE},
                allow_redirects=False,
                timeout=30,
            )
            statuses.append(response.status_code)

    threads = [threading.Thread(target=post, args=(p,)) for p in payloads]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return statuses


def _fetch_challenges(url: str, count: int) -> tuple[Any, list[dict[str, Any]]]:
    session = requests.Session()
    challenges = [session.get(url + CHALLENGE, timeout=30).json() for _ in range(count)]
    return session.cookies.get_dict(), challenges


def _payload(challenge: dict[str, Any], key: Any, row: Certificate) -> dict[str, str]:
    signature = sign_challenge(
        base64.b64decode(challenge["nonce_b64"]), challenge["challenge_id"], key
    )
    return {
        "challenge_id": challenge["challenge_id"],
        "signature": base64.b64encode(signature).decode(),
        "certificate": pem(row),
    }


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_it_lets_exactly_one_of_parallel_replays_in(
    live_server: Any, citizen_factory: Any, certificate_factory: Any
) -> None:
    citizen = citizen_factory()
    row, key = certificate_factory(citizen, "active")
    cookies, [challenge] = _fetch_challenges(live_server.url, 1)

    statuses = _parallel_posts(live_server.url, cookies, [_payload(challenge, key, row)] * 6)

    assert sorted(statuses) == [302] + [400] * 5
    assert AuditEvent.objects.filter(action="nes.login.esign_passed").count() == 1
    assert failures() == ["challenge_used"] * 5


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_it_checks_at_most_three_certificates_however_many_arrive_at_once(
    live_server: Any, citizen_factory: Any, certificate_factory: Any
) -> None:
    citizen = citizen_factory()
    row, key = certificate_factory(citizen, "revoked")  # signed right, but not usable
    cookies, challenges = _fetch_challenges(live_server.url, 8)

    statuses = _parallel_posts(
        live_server.url, cookies, [_payload(c, key, row) for c in challenges]
    )

    assert statuses == [400] * 8
    reasons = failures()
    assert reasons.count("certificate_revoked") == 3
    assert reasons.count("citizen_locked") == 5
    citizen.refresh_from_db()
    assert citizen.failure_count == 3 and citizen.locked_at is not None


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_parallel_forged_posts_cost_no_strike(
    live_server: Any, citizen_factory: Any, certificate_factory: Any
) -> None:
    citizen = citizen_factory()
    row, _key = certificate_factory(citizen, "active")
    wrong_key = ec.generate_private_key(ec.SECP256R1())
    cookies, challenges = _fetch_challenges(live_server.url, 8)

    statuses = _parallel_posts(
        live_server.url, cookies, [_payload(c, wrong_key, row) for c in challenges]
    )

    assert statuses == [400] * 8
    assert failures() == ["signature_invalid"] * 8
    citizen.refresh_from_db()
    assert citizen.failure_count == 0 and citizen.locked_at is None
