"""Plain helpers shared by the PIN/PUK Bilgisi, Kilit Çözme and PDF page tests.

The step-up goes through the real pages: ask for the code (POST), read it from the locmem SMS
outbox as the holder reads their phone, type it in (POST). SMS are queued on commit, so every
POST runs with the on-commit callbacks executed.
"""

from __future__ import annotations

import io
import json
import re
from html import unescape
from typing import Any

from django.test import Client
from django.urls import reverse

from nesportal.testing import sms_code
from nesportal.testing.factories import DEFAULT_PIN, DEFAULT_PUK
from pinvault.models import AkisCard

# Cards come from nesportal.testing.factories.AkisCardFactory, with this PIN and PUK.
PIN = DEFAULT_PIN
PUK = DEFAULT_PUK


def url(name: str, card: AkisCard) -> str:
    return reverse(f"pinvault:{name}", kwargs={"card": card.serial_number})


def post(capture: Any, client: Client, path: str, data: dict[str, str] | None = None) -> Any:
    """POST with the on-commit callbacks (the SMS tasks) executed."""
    with capture(execute=True):
        return client.post(path, data or {})


def step_up(
    capture: Any,
    client: Client,
    card: AkisCard,
    outbox: list[dict[str, Any]],
    *,
    flow: str = "pinpuk",
    then: str = "view",
) -> Any:
    """Ask for the SMS code of ``flow`` ("pinpuk" or "unlock") and type it in; the response."""
    start = url("pinpuk_card" if flow == "pinpuk" else "unlock_card", card)
    data = {"then": then} if flow == "pinpuk" else {}
    response = post(capture, client, start, data)
    assert response.status_code == 302, response.content.decode()
    code_url = url(f"{flow}_code", card)
    assert response["Location"] == code_url
    code = sms_code(outbox, to=card.citizen.mobile_phone)
    return post(capture, client, code_url, {"code": code})


def session_text(client: Client) -> str:
    """Everything this client's session holds, as text (to search it for secrets)."""
    return json.dumps(dict(client.session.items()), default=str)


def html(response: Any) -> str:
    """The page's text with HTML entities resolved (Django escapes ' as &#x27; in variables)."""
    return unescape(response.content.decode())


def secret_spans(response: Any) -> dict[str, str]:
    """The secrets a page shows, by their data-secret name."""
    return dict(re.findall(r'data-secret="([a-z-]+)">([^<]+)<', html(response)))


def pdf_text(data: bytes, password: str | None = None) -> str:
    from pypdf import PdfReader

    reader = PdfReader(io.BytesIO(data))
    if password is not None:
        assert reader.decrypt(password)
    return "\n".join(page.extract_text() for page in reader.pages)
