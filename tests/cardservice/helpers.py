"""What the card service tests do again and again: test certificates, sign request bodies, a
valid E-Onay text."""

from __future__ import annotations

import base64
import datetime as dt
import secrets
import time
import uuid
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.x509.oid import NameOID

from tests.cardtoken import Service, Token, request

ORIGIN = "http://127.0.0.1:8000"
OTHER_ORIGIN = "http://localhost:8000"


def self_signed(key: Any, name: str) -> x509.Certificate:
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = dt.datetime.now(dt.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
        .sign(key, hashes.SHA256())
    )


def login_body(token: Token, *, pin: str | None = None, index: int = 0, **extra: Any) -> dict:
    body = {
        "kind": "login",
        "token_serial": token.serial,
        "certificate_id": token.ids[index],
        "pin": token.pin if pin is None else pin,
        "challenge_id": str(uuid.uuid4()),
        "nonce_b64": base64.b64encode(secrets.token_bytes(32)).decode("ascii"),
    }
    body.update(extra)
    return body


def consent_text(
    *,
    action: str = "consent.give",
    second: str | None = None,
    citizen: str = "TC 12345678901",
    time: str = "2026-03-01T12:00:00Z",
    nonce: str | None = None,
    statement: str = "Kurum ödemeli sertifika başvurularım için sürekli e-onay veriyorum.",
) -> str:
    if second is None:
        second = (
            "scope: kurum_odemeli_ilk"
            if action.startswith("consent.")
            else "application: B-2026-0042"
        )
    if nonce is None:
        nonce = base64.urlsafe_b64encode(secrets.token_bytes(32)).rstrip(b"=").decode("ascii")
    return "\n".join(
        [
            "NES-PORTAL-EONAY/1",
            f"action: {action}",
            second,
            f"citizen: {citizen}",
            f"time: {time}",
            f"nonce: {nonce}",
            f"statement: {statement}",
        ]
    )


def consent_body(token: Token, text: str, *, index: int = 0, pin: str | None = None) -> dict:
    return {
        "kind": "consent",
        "token_serial": token.serial,
        "certificate_id": token.ids[index],
        "pin": token.pin if pin is None else pin,
        "text": text,
    }


def sign(service: Service, body: Any, **kwargs: Any) -> tuple[int, dict[str, str], Any]:
    """POST /v1/sign; waits out the service's 1 s between PIN attempts on a card."""
    status, headers, data = request(service, "POST", "/v1/sign", body=body, **kwargs)
    if status == 429:
        time.sleep(float(data["retry_after"]))
        status, headers, data = request(service, "POST", "/v1/sign", body=body, **kwargs)
    return status, headers, data
