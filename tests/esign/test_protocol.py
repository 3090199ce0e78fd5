"""The signature protocol (esign/protocol.py): pure, so these tests need no database."""

from __future__ import annotations

import base64
import datetime as dt
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from esign.protocol import (
    CertificateFormatError,
    ProtocolError,
    SignatureFormatError,
    decode_signature,
    parse_certificate,
    sign_challenge,
    signed_message,
    verify_signature,
)

ROOT = Path(__file__).resolve().parent.parent.parent


def self_signed() -> x509.Certificate:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "protocol test")])
    now = dt.datetime.now(dt.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )


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


def test_it_imports_no_django_and_nothing_of_the_project() -> None:
    """A card tool may take esign/protocol.py alone: only ``cryptography`` and the stdlib."""
    code = (
        "import sys; import esign.protocol; "
        "print(sorted({m.split('.')[0] for m in sys.modules} & "
        "{'django', 'accounts', 'audit', 'certificates', 'nesportal', 'pinvault', 'eonay'}))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_it_verifies_rsa_and_refuses_other_key_types() -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    challenge_id, nonce = uuid.uuid4(), b"\x02" * 32
    message = signed_message(challenge_id, nonce)

    signature = sign_challenge(nonce, challenge_id, key)

    assert verify_signature(key.public_key(), signature, message)
    assert not verify_signature(key.public_key(), signature[:-1] + b"\x00", message)
    assert not verify_signature(key.public_key(), b"", message)
    other = ed25519.Ed25519PrivateKey.generate()
    assert not verify_signature(other.public_key(), other.sign(message), message)
    with pytest.raises(TypeError):
        sign_challenge(nonce, challenge_id, other)


def test_it_reads_pem_and_base64_der_certificates() -> None:
    cert = self_signed()
    der = cert.public_bytes(serialization.Encoding.DER)
    pem = cert.public_bytes(serialization.Encoding.PEM)

    assert parse_certificate(pem) == cert
    assert parse_certificate(pem.decode()) == cert
    wrapped = base64.encodebytes(der).decode()  # with newlines, as tools write it
    assert parse_certificate(wrapped) == cert


@pytest.mark.parametrize(
    "text",
    [
        "not a certificate",
        "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----",
        base64.b64encode(b"\x30\x03\x02\x01\x00").decode(),  # base64, but not a certificate
        b"\xff\xfe",
        "",
    ],
)
def test_it_refuses_what_is_not_a_certificate(text: str | bytes) -> None:
    with pytest.raises(CertificateFormatError) as caught:
        parse_certificate(text)
    # Still a ValueError, as callers written against the old contract expect.
    assert isinstance(caught.value, ProtocolError) and isinstance(caught.value, ValueError)


def test_it_decodes_standard_and_url_safe_base64_signatures() -> None:
    raw = bytes(range(256))

    assert decode_signature(base64.b64encode(raw).decode()) == raw
    url_safe = base64.urlsafe_b64encode(raw).decode().rstrip("=")
    assert decode_signature(url_safe) == raw
    assert decode_signature(" ".join(base64.b64encode(raw).decode())) == raw
    with pytest.raises(SignatureFormatError):
        decode_signature("%%% not base64 %%%")
