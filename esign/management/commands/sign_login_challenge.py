"""Reference client for E-İmzalı Giriş: fetch a challenge, sign it, post it, print the result.

    manage.py sign_login_challenge --url http://127.0.0.1:8000 --key KEY.pem --cert CERT.pem
    manage.py sign_login_challenge --url https://portal.example --p12 card.p12 --password …

The protocol is ``esign/protocol.py`` (and README "E-İmzalı Giriş"). A real
signing tool does the same with the key on the AKİS card (PKCS#11) instead of a file.
"""

from __future__ import annotations

import base64
import os
from pathlib import Path
from typing import Any

import requests
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12
from django.core.management.base import BaseCommand, CommandError

from esign.protocol import sign_challenge

TIMEOUT = 15


def login_with_key(
    base_url: str,
    private_key: Any,
    certificate: x509.Certificate,
    *,
    session: requests.Session | None = None,
) -> dict[str, Any]:
    """Run the protocol against ``base_url`` and return the portal's JSON answer (plus
    ``status``). The same ``session`` keeps the cookies, so it is logged in afterwards."""
    session = session or requests.Session()
    base = base_url.rstrip("/")
    response = session.get(
        base + "/e-imzali-giris/soru/", headers={"Accept": "application/json"}, timeout=TIMEOUT
    )
    response.raise_for_status()
    challenge = response.json()
    signature = sign_challenge(
        base64.b64decode(challenge["nonce_b64"]), challenge["challenge_id"], private_key
    )
    post_url = base + challenge["post_url"]
    answer = session.post(
        post_url,
        data={
            "challenge_id": challenge["challenge_id"],
            "signature": base64.b64encode(signature).decode("ascii"),
            "certificate": certificate.public_bytes(serialization.Encoding.PEM).decode("ascii"),
        },
        headers={
            "Accept": "application/json",
            "X-CSRFToken": challenge["csrf_token"],
            # Django's CSRF check on HTTPS wants the Origin (or Referer) of the portal itself.
            "Origin": base,
            "Referer": post_url,
        },
        timeout=TIMEOUT,
    )
    try:
        result = answer.json()
    except ValueError:
        result = {"ok": False, "error": answer.text[:200]}
    return {**result, "status": answer.status_code}


def load_pem_pair(key_path: Path, cert_path: Path, password: str | None) -> tuple[Any, Any]:
    key = serialization.load_pem_private_key(
        key_path.read_bytes(), password=password.encode() if password else None
    )
    return key, x509.load_pem_x509_certificate(cert_path.read_bytes())


def load_p12(path: Path, password: str | None) -> tuple[Any, Any]:
    key, cert, _extra = pkcs12.load_key_and_certificates(
        path.read_bytes(), password.encode() if password else None
    )
    if key is None or cert is None:
        raise ValueError(f"{path} holds no private key and certificate")
    return key, cert


class Command(BaseCommand):
    help = (
        "E-İmzalı Giriş reference client: get a login challenge from the portal, sign it with "
        "a PEM or PKCS#12 key and post the signature with the certificate."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--url", default="http://127.0.0.1:8000", help="The portal's URL.")
        parser.add_argument("--key", type=Path, help="Private key (PEM).")
        parser.add_argument("--cert", type=Path, help="Certificate (PEM).")
        parser.add_argument("--p12", type=Path, help="Key and certificate (PKCS#12).")
        parser.add_argument(
            "--password",
            help="Password of the PKCS#12 file or encrypted PEM key (default: $NES_KEY_PASSWORD).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        password = options["password"] or os.environ.get("NES_KEY_PASSWORD")
        try:
            if options["p12"]:
                key, cert = load_p12(options["p12"], password)
            elif options["key"] and options["cert"]:
                key, cert = load_pem_pair(options["key"], options["cert"], password)
            else:
                raise CommandError("Give --key and --cert, or --p12.")
        except (OSError, ValueError, TypeError) as exc:
            raise CommandError(f"Cannot read the key or certificate: {exc}") from exc
        try:
            result = login_with_key(options["url"], key, cert)
        except requests.RequestException as exc:
            raise CommandError(f"The portal did not answer: {exc}") from exc
        if result.get("ok"):
            self.stdout.write(
                self.style.SUCCESS(f"Logged in (HTTP {result['status']}): {result['redirect']}")
            )
        else:
            raise CommandError(
                f"Login refused (HTTP {result['status']}): {result.get('error', '')}"
            )
