"""E-İmzalı Giriş in a real browser: home → E-İmzalı Giriş → "Gelişmiş" → paste signature and
certificate (the manual method for integrators; the card login through the Akıllı Kart Servisi
is tests/browser/test_card_login_journey.py).

Here the test plays the signing tool: it reads the
challenge shown on the page, signs it in Python with the holder's key (``sign_challenge``, as
``manage.py sign_login_challenge`` does) and pastes the result into the form's text areas.
``NES_SHOTS_DIR=/some/dir`` saves screenshots.
"""

from __future__ import annotations

import base64
import re
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from playwright.sync_api import Page, expect

from accounts.models import Citizen
from audit.models import AuditEvent
from certificates.models import Certificate
from esign.protocol import sign_challenge
from tests.browser.test_login_journey import (  # noqa: F401 (fixtures)
    GREETING,
    browser_context_args,
    citizen,
    shot,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def pem(row: Certificate) -> str:
    cert = x509.load_der_x509_certificate(bytes(row.der))
    return cert.public_bytes(serialization.Encoding.PEM).decode("ascii")


def open_advanced(page: Page) -> None:
    """The manual method waits behind "Gelişmiş" (a <details>): open it unless it is open."""
    advanced = page.locator("details#gelismis")
    if advanced.get_attribute("open") is None:
        page.get_by_text("Gelişmiş: imzayı elle yapıştırın").click()
    expect(page.get_by_label("İmza (base64)")).to_be_visible()


def sign_shown_challenge(page: Page, key: Any, row: Certificate) -> None:
    """What the citizen's signing tool does with the challenge on the screen."""
    box = page.locator("[data-esign-challenge]")
    challenge_id = box.get_attribute("data-challenge-id")
    nonce_b64 = box.get_attribute("data-nonce")
    assert challenge_id and nonce_b64
    expect(page.locator("#esign-nonce")).to_have_text(nonce_b64)
    signature = sign_challenge(base64.b64decode(nonce_b64), challenge_id, key)
    page.get_by_label("İmza (base64)").fill(base64.b64encode(signature).decode())
    page.get_by_label("Sertifika (PEM ya da base64 DER)").fill(pem(row))


def test_it_logs_in_with_a_signed_challenge(
    live_server: Any,
    page: Page,
    citizen: Citizen,  # noqa: F811
    certificate_factory: Any,
    settings: Any,
) -> None:
    # No card service on this port: the page offers the install help (and "Gelişmiş").
    settings.NES_CARD_SERVICE_URL = "http://127.0.0.1:9"
    row, key = certificate_factory(citizen, "active")
    revoked, revoked_key = certificate_factory(citizen, "revoked", kind=Certificate.Kind.MOBILE)

    page.goto(live_server.url + "/")
    page.get_by_role("link", name=re.compile("^E-İmzalı Giriş")).click()
    expect(page).to_have_url(re.compile(r"/e-imzali-giris/$"))
    expect(page.get_by_role("heading", name="E-İmzalı Giriş", exact=True)).to_be_visible()
    expect(page.get_by_label("İmza (base64)")).to_be_hidden()  # behind "Gelişmiş"
    open_advanced(page)
    expect(page.locator(".countdown")).to_contain_text(re.compile(r"0[12]:\d\d"))
    shot(page, "esign-00-page")

    # A revoked certificate: the generic refusal and a new challenge to try again.
    first_id = page.locator("[data-esign-challenge]").get_attribute("data-challenge-id")
    sign_shown_challenge(page, revoked_key, revoked)
    page.get_by_role("button", name="Giriş", exact=True).click()
    expect(page.get_by_role("alert")).to_contain_text("E-imzalı giriş yapılamadı")
    assert page.locator("[data-esign-challenge]").get_attribute("data-challenge-id") != first_id
    expect(page.get_by_label("İmza (base64)")).to_have_value("")
    open_advanced(page)  # still open after the refusal
    shot(page, "esign-01-refused")

    sign_shown_challenge(page, key, row)
    shot(page, "esign-02-filled")
    page.get_by_role("button", name="Giriş", exact=True).click()

    expect(page).to_have_url(re.compile(r"/islemler/$"))
    expect(page.get_by_text(GREETING)).to_be_visible()
    shot(page, "esign-03-menu")
    passed = AuditEvent.objects.get(action="nes.login.esign_passed")
    assert passed.citizen == citizen and passed.data["serial"] == row.serial_number
    citizen.refresh_from_db()
    assert citizen.failure_count == 0  # the refusal's strike was cleared by the success
