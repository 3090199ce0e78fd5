"""E-Onay with the card, in a real browser, with the REAL Akıllı Kart Servisi process and a
SoftHSM2 token holding the citizen's key and certificate (tests/cardtoken.py).

home → E-İmzalı Giriş (card, PIN) → İşlemler Menüsü → E-Onay İşlemleri → "Kartımla Onay Ver" on
the standing consent → the statement, the card's certificate, PIN → shown as "Kartınızla
imzaladınız"; then an application approved the same way. Without the service the card buttons
stay hidden and the SMS Onay Kodu path is all there is. ``NES_SHOTS_DIR`` saves screenshots;
every ``shot`` runs axe.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from django.contrib.auth import get_user_model
from django.test import Client
from playwright.sync_api import Page, expect

from accounts.models import Citizen
from audit.models import AuditEvent
from certificates.models import Certificate
from eonay.models import Application, CardSignature, Consent
from nesportal.testing import login_as
from nesportal.testing.factories import ApplicationFactory
from tests.browser.test_login_journey import (  # noqa: F401 (fixtures)
    GREETING,
    browser_context_args,
    citizen,
    csp_violations,
    shot,
)
from tests.cardtoken import make_token, run_service

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PIN = "731942"
PIN_LABEL = "Kartınızın PIN'i"
CARD_BUTTON = "Kartımla İmzala"


def card_of(row: Certificate) -> x509.Certificate:
    return x509.load_der_x509_certificate(bytes(row.der))


def log_in_with_the_card(page: Page, base_url: str) -> None:
    page.goto(base_url + "/")
    page.get_by_role("link", name=re.compile("^E-İmzalı Giriş")).click()
    expect(page).to_have_url(re.compile(r"/e-imzali-giris/$"))
    expect(page.get_by_text("Kartınız okundu")).to_be_visible()
    page.get_by_label(PIN_LABEL).fill(PIN)
    page.get_by_role("button", name="Kartla Giriş Yap").click()
    expect(page).to_have_url(re.compile(r"/islemler/$"))
    expect(page.get_by_text(GREETING)).to_be_visible()


def sign_in_dialog(page: Page) -> None:
    dialog = page.locator("dialog[data-eonay-card]")
    expect(dialog).to_be_visible()
    expect(dialog.get_by_role("status")).to_contain_text("Sertifikanız bulundu")
    pin = dialog.get_by_label(PIN_LABEL)
    expect(pin).to_have_attribute("type", "password")
    # The service allows one PIN attempt per second per card (the login's was just now).
    page.wait_for_timeout(1100)
    pin.fill(PIN)
    dialog.get_by_role("button", name=CARD_BUTTON, exact=True).click()


def test_a_standing_consent_and_a_decision_signed_with_the_card(
    live_server: Any,
    page: Page,
    citizen: Citizen,  # noqa: F811
    certificate_factory: Any,
    settings: Any,
    tmp_path: Path,
) -> None:
    row, key = certificate_factory(citizen, "active")
    staff = get_user_model().objects.create_superuser("yonetici", password="Yonetici-Demo-2026!")
    waiting = ApplicationFactory(citizen=citizen, entered_by=staff, kind="kart_degisimi")
    token = make_token(tmp_path / "token", key=key, certificate=card_of(row), pin=PIN)
    refused = csp_violations(page)
    with run_service(token, origins=[live_server.url], state_dir=tmp_path / "state") as service:
        settings.NES_CARD_SERVICE_URL = service.url
        log_in_with_the_card(page, live_server.url)

        page.get_by_role("link", name="E-Onay İşlemleri").click()
        expect(page).to_have_url(re.compile(r"/e-onay/$"))
        consent_row = page.locator("tr", has_text="Kurum ödemeli ilk başvuru")
        card_button = consent_row.get_by_role("button", name=re.compile("^Kartımla Onay Ver"))
        expect(card_button).to_be_visible()  # the service answered
        expect(
            consent_row.get_by_role("button", name="Sürekli Onay Ver", exact=True)
        ).to_be_visible()
        shot(page, "eonay-card-00-page")

        card_button.click()
        dialog = page.locator("dialog[data-eonay-card]")
        expect(dialog.locator("[data-card-statement]")).to_contain_text("sürekli onay veriyorum")
        expect(dialog.locator("[data-card-certificate]")).to_contain_text(row.serial_number)
        shot(page, "eonay-card-01-dialog")
        sign_in_dialog(page)

        expect(page).to_have_url(re.compile(r"/e-onay/$"))
        expect(page.get_by_text(re.compile("kartınızla imzalanarak kaydedildi"))).to_be_visible()
        signed = page.locator("tr", has_text="Kurum ödemeli ilk başvuru")
        expect(signed).to_contain_text("Kartınızla imzaladınız")
        expect(signed).to_contain_text(row.serial_number)
        shot(page, "eonay-card-02-consent-signed")

        # The replacement card application waits for an explicit decision: approve it too.
        section = page.locator("section.card", has_text=waiting.reference)
        section.get_by_role("button", name=re.compile("^Kartımla Onayla.*onayla")).click()
        expect(dialog.locator("[data-card-statement]")).to_contain_text(waiting.reference)
        sign_in_dialog(page)
        expect(page.get_by_text(re.compile("kartınızla imzalayarak onayladınız"))).to_be_visible()
        decided = page.locator("#decided tr", has_text=waiting.reference)
        expect(decided).to_contain_text("Kartınızla imzaladınız: onayladınız")
        shot(page, "eonay-card-03-decided")
        assert PIN not in service.output()

    consent = Consent.objects.get(citizen=citizen, withdrawn_at=None)
    assert consent.given_signature is not None
    assert consent.given_signature.certificate == row
    waiting.refresh_from_db()
    assert waiting.status == Application.Status.APPROVED
    assert waiting.decision_signature is not None
    assert CardSignature.objects.count() == 2
    assert not AuditEvent.objects.filter(data__icontains=PIN).exists()
    assert not refused


def test_without_the_service_only_the_sms_code_is_offered(
    live_server: Any,
    page: Page,
    citizen: Citizen,  # noqa: F811
    settings: Any,
) -> None:
    settings.NES_CARD_SERVICE_URL = "http://127.0.0.1:9"  # nothing listens there
    cookies = login_as(Client(), citizen).cookies  # the login itself is the other journeys'
    page.context.add_cookies(
        [
            {"name": name, "value": morsel.value, "url": live_server.url}
            for name, morsel in cookies.items()
        ]
    )
    page.goto(live_server.url + "/e-onay/")
    expect(page.get_by_role("button", name="Sürekli Onay Ver", exact=True).first).to_be_visible()
    page.wait_for_timeout(500)  # the status request fails at once (connection refused)
    buttons = page.locator("[data-eonay-card-button]")
    expect(buttons).to_have_count(2)
    for button in buttons.all():
        expect(button).to_be_hidden()
    shot(page, "eonay-card-10-no-service")
