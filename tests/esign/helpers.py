"""What the E-İmzalı Giriş tests do again and again: fetch a challenge, sign it, post it, and
read back what the audit log says about the refusal. Also used by tests/nesportal/test_throttles.py.
"""

from __future__ import annotations

import base64
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from django.test import Client
from django.urls import reverse

from accounts.models import Citizen
from accounts.services import SESSION_CITIZEN
from audit.models import AuditEvent
from certificates.models import Certificate
from esign.protocol import sign_challenge
from esign.services import ESIGN_FAILED

PAGE = reverse("esign:login")
CHALLENGE = reverse("esign:challenge")
TLS = reverse("esign:tls_login")
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
