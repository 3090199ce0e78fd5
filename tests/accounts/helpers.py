"""Plain helpers shared by the accounts tests (fixtures live in conftest.py).

The login helpers solve the captcha with its real answer (read from ``CaptchaStore.response``),
as a person reading the image would.
"""

from __future__ import annotations

import datetime as dt
import re
import socket
from typing import Any

from captcha.models import CaptchaStore
from django.test import Client, RequestFactory

from accounts.models import Citizen
from accounts.services import check_security_word
from audit.actor import Actor
from audit.models import AuditEvent
from nesportal.testing.factories import DEFAULT_SECURITY_WORD

LOGIN_URL = "/giris/"
CODE_URL = "/giris/sms/"
MENU_URL = "/islemler/"
T0 = dt.datetime(2026, 3, 2, 9, 0, 0, tzinfo=dt.UTC)

GENERIC_FAILURE = "Girdiğiniz bilgiler doğrulanamadı."
CAPTCHA_ERROR = "Resimdeki yazıyı doğru giriniz."
CAPTCHA_KEY_RE = re.compile(r'name="captcha_0" value="([0-9a-f]{40})"')
CSRF_FIELD_RE = re.compile(r'name="csrfmiddlewaretoken" value="([^"]*)"')
HEX_KEY_RE = re.compile(r"[0-9a-f]{40}")


def solved_captcha(client: Client) -> dict[str, str]:
    """Load the login page and answer its captcha as a person reading the image would."""
    page = client.get(LOGIN_URL)
    assert page.status_code == 200
    match = CAPTCHA_KEY_RE.search(page.content.decode())
    assert match, "no captcha on the login page"
    key = match.group(1)
    return {"captcha_0": key, "captcha_1": CaptchaStore.objects.get(hashkey=key).response}


def login_data(
    client: Client, identifier: str, word: str = DEFAULT_SECURITY_WORD
) -> dict[str, str]:
    """The login form, filled in with a freshly solved captcha."""
    return {"identifier": identifier, "security_word": word, **solved_captcha(client)}


def comparable(response: Any) -> str:
    """The page without what differs on every render: CSRF token and captcha key/URLs."""
    html = CSRF_FIELD_RE.sub('name="csrfmiddlewaretoken" value=""', response.content.decode())
    return HEX_KEY_RE.sub("<captcha-key>", html)


def audit_count(citizen: Citizen, action: str) -> int:
    return AuditEvent.objects.filter(citizen=citizen, action=action).count()


def lock_by_wrong_words(
    citizen: Citizen, word: str = "yanlış-sözcük", ip: str = "203.0.113.9"
) -> Citizen:
    """Lock the citizen the way the login page does: three wrong security words from ``ip``."""
    for _ in range(3):
        request = RequestFactory().post(LOGIN_URL, REMOTE_ADDR=ip)
        assert check_security_word(citizen.tckn, word, actor=Actor.from_request(request)) is None
    citizen.refresh_from_db()
    assert citizen.is_locked
    return citizen


def closed_port() -> int:
    """A local TCP port nothing listens on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
