"""What the card signs: the login challenge (as the portal verifies it) and the E-Onay text as a
detached CAdES-BES CMS — and nothing else (the real service process, SoftHSM2)."""

from __future__ import annotations

import base64
import hashlib
import shutil
import subprocess
import uuid
from pathlib import Path
from typing import Any

import pytest
from asn1crypto import cms
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding
from django.test import Client

from accounts.models import Citizen
from esign.protocol import signed_message, verify_signature
from tests.cardservice.helpers import ORIGIN, consent_body, consent_text, login_body, sign
from tests.cardtoken import Service, Token, make_token, request, run_service
from tests.esign.helpers import MENU, PAGE, get_challenge


@pytest.mark.parametrize("index", [0, 1], ids=["ec", "rsa"])
def test_login_signature_verifies_with_the_portals_protocol(
    service: Service, token: Token, ec_pair: Any, rsa_pair: Any, index: int
) -> None:
    certificate = (ec_pair, rsa_pair)[index][1]
    body = login_body(token, index=index)

    status, headers, data = sign(service, body)

    assert status == 200, data
    assert set(data) == {"signature_b64", "certificate_der_b64"}
    assert headers["access-control-allow-origin"] == ORIGIN
    der = base64.b64decode(data["certificate_der_b64"])
    assert der == certificate.public_bytes(serialization.Encoding.DER)
    signature = base64.b64decode(data["signature_b64"])
    message = signed_message(body["challenge_id"], base64.b64decode(body["nonce_b64"]))
    assert verify_signature(certificate.public_key(), signature, message)
    if index == 0:  # DER, not PKCS#11's raw r‖s
        assert signature[0] == 0x30
        certificate.public_key().verify(signature, message, ec.ECDSA(hashes.SHA256()))
    # a different challenge id or nonce does not verify
    assert not verify_signature(
        certificate.public_key(),
        signature,
        signed_message(uuid.uuid4(), base64.b64decode(body["nonce_b64"])),
    )


def test_the_portal_logs_in_with_the_services_signature(
    client: Client, citizen: Citizen, certificate_factory: Any, tmp_path: Path
) -> None:
    row, key = certificate_factory(citizen, "active")
    certificate = x509.load_der_x509_certificate(bytes(row.der))
    token = make_token(tmp_path / "token", key=key, certificate=certificate)
    challenge = get_challenge(client)

    with run_service(token, origins=[ORIGIN], state_dir=tmp_path / "state") as running:
        status, _headers, data = sign(
            running,
            login_body(
                token,
                challenge_id=challenge["challenge_id"],
                nonce_b64=challenge["nonce_b64"],
            ),
        )
    assert status == 200, data
    response = client.post(
        PAGE,
        {
            "challenge_id": challenge["challenge_id"],
            "signature": data["signature_b64"],
            "certificate": data["certificate_der_b64"],
        },
    )

    assert response.status_code == 302
    assert response["Location"] == MENU


def _signed_attrs(signer: cms.SignerInfo) -> dict[str, Any]:
    return {attr["type"].native: attr["values"] for attr in signer["signed_attrs"]}


@pytest.mark.parametrize(
    ("index", "action"),
    [(0, "consent.give"), (0, "application.approve"), (1, "consent.withdraw")],
    ids=["ec-give", "ec-approve", "rsa-withdraw"],
)
def test_consent_is_a_detached_cades_bes_cms(
    service: Service, token: Token, ec_pair: Any, rsa_pair: Any, index: int, action: str
) -> None:
    certificate = (ec_pair, rsa_pair)[index][1]
    certificate_der = certificate.public_bytes(serialization.Encoding.DER)
    text = consent_text(action=action)

    status, _headers, data = sign(service, consent_body(token, text, index=index))

    assert status == 200, data
    assert set(data) == {"cms_b64", "certificate_der_b64"}
    assert base64.b64decode(data["certificate_der_b64"]) == certificate_der
    content_info = cms.ContentInfo.load(base64.b64decode(data["cms_b64"]))
    assert content_info["content_type"].native == "signed_data"
    signed_data = content_info["content"]
    assert signed_data["version"].native == "v1"
    assert [d["algorithm"].native for d in signed_data["digest_algorithms"]] == ["sha256"]
    assert signed_data["encap_content_info"]["content_type"].native == "data"
    assert signed_data["encap_content_info"]["content"].native is None  # detached
    assert [c.chosen.dump() for c in signed_data["certificates"]] == [certificate_der]
    (signer,) = signed_data["signer_infos"]
    assert signer["version"].native == "v1"
    sid = signer["sid"].chosen
    assert sid["serial_number"].native == certificate.serial_number
    assert sid["issuer"].dump() == certificate.issuer.public_bytes()
    assert signer["digest_algorithm"]["algorithm"].native == "sha256"
    attrs = _signed_attrs(signer)
    assert set(attrs) == {
        "content_type",
        "signing_time",
        "message_digest",
        "signing_certificate_v2",
    }
    assert attrs["content_type"][0].native == "data"
    assert attrs["message_digest"][0].native == hashlib.sha256(text.encode("utf-8")).digest()
    (ess,) = attrs["signing_certificate_v2"][0]["certs"]
    assert ess["hash_algorithm"]["algorithm"].native == "sha256"
    assert ess["cert_hash"].native == hashlib.sha256(certificate_der).digest()
    assert attrs["signing_time"][0].native is not None
    # the signature is over the DER of the signed attributes as a SET OF (tag 0x31)
    to_verify = signer["signed_attrs"].untag().dump(force=True)
    assert to_verify[0] == 0x31
    signature = signer["signature"].native
    algorithm = signer["signature_algorithm"]["algorithm"].native
    if index == 0:
        assert algorithm == "sha256_ecdsa"
        certificate.public_key().verify(signature, to_verify, ec.ECDSA(hashes.SHA256()))
    else:
        assert algorithm == "sha256_rsa"
        certificate.public_key().verify(signature, to_verify, padding.PKCS1v15(), hashes.SHA256())


def _mutations() -> list[tuple[str, str]]:
    good = consent_text()
    lines = good.split("\n")
    return [
        ("extra line", good + "\nextra: 1"),
        ("trailing newline", good + "\n"),
        ("CRLF", good.replace("\n", "\r\n")),
        ("CR in statement", good + "\r"),
        ("control character", good.replace("veriyorum", "veri\x07yorum")),
        ("NUL", good.replace("veriyorum", "veri\x00yorum")),
        ("bidi override", good.replace("veriyorum", "veri\u202eyorum")),
        ("line separator", good.replace("veriyorum", "veri\u2028yorum")),
        ("too long statement", consent_text(statement="ş" * 301)),
        ("too long text", consent_text(statement="ğ" * 1100)),
        ("empty statement", consent_text(statement="")),
        ("wrong order", "\n".join([lines[0], lines[2], lines[1], *lines[3:]])),
        ("missing line", "\n".join(lines[:-1])),
        ("wrong header", good.replace("EONAY/1", "EONAY/2")),
        ("lower-case header", good.replace("NES-PORTAL-EONAY/1", "nes-portal-eonay/1")),
        ("unknown action", consent_text(action="consent.sell")),
        (
            "scope for an application",
            consent_text(action="application.approve", second="scope: kurum_odemeli_ilk"),
        ),
        ("application for consent", consent_text(second="application: B-1")),
        ("unknown scope", consent_text(second="scope: her_sey")),
        (
            "lower-case application",
            consent_text(action="application.reject", second="application: b-1"),
        ),
        ("TC 10 digits", consent_text(citizen="TC 1234567890")),
        ("TC Arabic digits", consent_text(citizen="TC ١٢٣٤٥٦٧٨٩٠١")),
        ("passport short", consent_text(citizen="PASAPORT AB12")),
        ("no Z", consent_text(time="2026-03-01T12:00:00")),
        ("offset", consent_text(time="2026-03-01T12:00:00+03:00")),
        ("impossible date", consent_text(time="2026-02-30T12:00:00Z")),
        ("short nonce", consent_text(nonce="A" * 42)),
        ("padded nonce", consent_text(nonce="A" * 43 + "=")),
        ("standard base64 nonce", consent_text(nonce="+" * 43)),
        ("non-canonical nonce", consent_text(nonce="A" * 42 + "B")),
        ("space after colon", good.replace("action: ", "action:  ")),
        ("leading space", " " + good),
        ("login prefix", "NES-PORTAL-LOGIN\x00" + good),
    ]


@pytest.mark.parametrize(("name", "text"), _mutations(), ids=[m[0] for m in _mutations()])
def test_a_text_not_in_the_format_is_refused(
    service: Service, token: Token, name: str, text: str
) -> None:
    status, _headers, data = request(service, "POST", "/v1/sign", body=consent_body(token, text))

    assert (status, data) == (400, {"error": "format_refused"}), name


def test_a_passport_citizen_and_turkish_statement_are_accepted(
    service: Service, token: Token
) -> None:
    text = consent_text(
        citizen="PASAPORT U12345678",
        statement="Başvurumu onaylıyorum — “Kurum ödemeli” sertifika; İĞÜŞÖÇ ığüşöç.",
    )

    status, _headers, data = sign(service, consent_body(token, text))

    assert status == 200, data


@pytest.mark.parametrize(
    "change",
    [
        {"kind": "document"},
        {"kind": "raw", "data_b64": "AAAA"},
        {"kind": "LOGIN"},
        {"data_b64": base64.b64encode(b"anything").decode()},
        {"message_b64": base64.b64encode(b"NES-PORTAL-LOGIN\0").decode()},
        {"nonce_b64": base64.b64encode(b"x" * 31).decode()},
        {"nonce_b64": base64.b64encode(b"x" * 33).decode()},
        {"nonce_b64": base64.urlsafe_b64encode(b"\xff" * 32).decode()},
        {"nonce_b64": base64.b64encode(b"x" * 32).decode().rstrip("=")},
        {"nonce_b64": 42},
        {"challenge_id": "not-a-uuid"},
        {"challenge_id": "{12345678-1234-1234-1234-123456789abc}"},
        {"challenge_id": "123456781234123412341234567890ab"},
        {"challenge_id": "urn:uuid:12345678-1234-1234-1234-123456789abc"},
        {"challenge_id": ""},
        {"certificate_id": "xyz"},
        {"certificate_id": 1},
        {"token_serial": ""},
        {"token_serial": None},
        {"text": "NES-PORTAL-EONAY/1"},
    ],
)
def test_any_other_request_is_refused(service: Service, token: Token, change: dict) -> None:
    body = login_body(token)
    body.update(change)

    status, _headers, data = request(service, "POST", "/v1/sign", body=body)

    assert (status, data) == (400, {"error": "format_refused"})


@pytest.mark.parametrize("missing", ["kind", "token_serial", "certificate_id", "pin", "nonce_b64"])
def test_a_missing_field_is_refused(service: Service, token: Token, missing: str) -> None:
    body = login_body(token)
    del body[missing]

    status, _headers, data = request(service, "POST", "/v1/sign", body=body)

    assert (status, data) == (400, {"error": "format_refused"})


def test_a_consent_with_login_fields_is_refused(service: Service, token: Token) -> None:
    body = consent_body(token, consent_text())
    body["nonce_b64"] = base64.b64encode(b"x" * 32).decode()

    status, _headers, data = request(service, "POST", "/v1/sign", body=body)

    assert (status, data) == (400, {"error": "format_refused"})


@pytest.mark.parametrize(
    "pin", ["", "123", "12345678901234567", "12a456", "١٢٣٤٥٦", " 123456", 123456]
)
def test_a_malformed_pin_is_refused_without_an_attempt(
    service: Service, token: Token, pin: Any
) -> None:
    body = login_body(token)
    body["pin"] = pin

    status, _headers, data = request(service, "POST", "/v1/sign", body=body)

    expected = "format_refused" if not isinstance(pin, str) else "pin_malformed"
    assert (status, data) == (400, {"error": expected})
    card = next(r["card"] for r in request(service, "GET", "/v1/status")[2]["readers"] if r["card"])
    assert card["pin_tries_left"] == 3


def test_an_unknown_card_or_certificate_is_404(service: Service, token: Token) -> None:
    status, _h, data = request(
        service, "POST", "/v1/sign", body=login_body(token, token_serial="0000")
    )
    assert (status, data) == (404, {"error": "card_absent"})

    body = login_body(token, certificate_id="abcdef")
    status, _h, data = request(service, "POST", "/v1/sign", body=body)
    assert (status, data) == (404, {"error": "certificate_not_found"})


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command")
def test_openssl_verifies_the_consent_cms(service: Service, token: Token, tmp_path: Path) -> None:
    text = consent_text()
    status, _headers, data = sign(service, consent_body(token, text))
    assert status == 200, data
    (tmp_path / "cms.der").write_bytes(base64.b64decode(data["cms_b64"]))
    (tmp_path / "text").write_bytes(text.encode("utf-8"))

    done = subprocess.run(
        [
            "openssl",
            "cms",
            "-verify",
            "-binary",
            "-noverify",
            "-inform",
            "DER",
            "-in",
            str(tmp_path / "cms.der"),
            "-content",
            str(tmp_path / "text"),
            "-out",
            str(tmp_path / "out"),
        ],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )

    assert done.returncode == 0, done.stderr
    assert (tmp_path / "out").read_bytes() == text.encode("utf-8")
    (tmp_path / "text").write_bytes(text.encode("utf-8") + b" ")
    tampered = subprocess.run(
        ["openssl", "cms", "-verify", "-binary", "-noverify", "-inform", "DER"]
        + ["-in", str(tmp_path / "cms.der"), "-content", str(tmp_path / "text")],
        capture_output=True,
        timeout=30,
        check=False,
    )
    assert tampered.returncode != 0
