"""``manage.py sign_login_challenge``, the E-İmzalı Giriş reference client, on a live server."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12
from django.core.management import call_command
from django.core.management.base import CommandError

from audit.models import AuditEvent
from tests.esign.helpers import (
    MENU,
    pem,
)


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
