"""Shared steps of the staff login tests: the password page, the code page, an authenticator."""

from __future__ import annotations

import re
import time
from typing import Any

import pyotp
from django.test import Client
from django.urls import reverse

from staff.models import SealedTOTPDevice

PASSWORD = "Personel-Parola-2026"  # StaffUserFactory's
LOGIN = reverse("admin:login")
VERIFY = reverse("admin:otp_verify")
ENROL = reverse("admin:otp_enrol")
INDEX = reverse("admin:index")
GENERIC = "Kullanıcı adı ya da parola hatalı."
LOCKED_MESSAGE = "Hesabınız art arda hatalı denemeler nedeniyle kilitlendi."
SECRET_RE = re.compile(r'<code id="totp-secret">([A-Z2-7 ]+)</code>')
CODES_RE = re.compile(r"<li><code>([a-z2-7]{4}-[a-z2-7]{4})</code></li>")


def authenticator(user: Any) -> str:
    """Enrol a confirmed authenticator for ``user``; its secret in base32 (as an app holds it)."""
    device = SealedTOTPDevice.create_for(user, name="test")
    device.confirmed = True
    device.save(update_fields=["confirmed"])
    return device.secret_text.replace(" ", "")


def totp(secret: str, at: float | None = None) -> str:
    return pyotp.TOTP(secret).at(at if at is not None else time.time())


def other_code(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


def password_step(client: Client, username: str, password: str = PASSWORD) -> Any:
    return client.post(LOGIN, {"username": username, "password": password, "next": INDEX})


def code_step(client: Client, token: str) -> Any:
    return client.post(VERIFY, {"token": token})
