"""Kart Kontrol in a real browser: with the real Akıllı Kart Servisi and a SoftHSM2 token every
check is ✓; without the service the first check is ✗ with the install advice and the others
are not checked."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from playwright.sync_api import Page, expect

from accounts.models import Citizen
from nesportal.testing import sms_code
from nesportal.testing.factories import DEFAULT_SECURITY_WORD
from tests.browser.test_login_journey import (  # noqa: F401 (fixtures)
    browser_context_args,
    citizen,
    csp_violations,
    outbox,
    read_outbox,
    shot,
    submit_login,
)
from tests.cardtoken import free_port, make_token, run_service

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CHECKS = ("service", "module", "reader", "card", "certificates", "status", "pin")


def check(page: Page, name: str) -> Any:
    return page.locator(f"[data-check='{name}']")


def test_every_check_passes_with_the_service_and_the_card(
    live_server: Any,
    page: Page,
    citizen: Citizen,  # noqa: F811
    certificate_factory: Any,
    settings: Any,
    tmp_path: Path,
    outbox: Path,  # noqa: F811
) -> None:
    row, key = certificate_factory(citizen, "active")
    token = make_token(
        tmp_path / "token", key=key, certificate=x509.load_der_x509_certificate(bytes(row.der))
    )
    refused = csp_violations(page)
    with run_service(token, origins=[live_server.url], state_dir=tmp_path / "state") as service:
        settings.NES_CARD_SERVICE_URL = service.url
        # Anonymous, from the E-İmzalı Giriş page's link.
        page.goto(live_server.url + "/e-imzali-giris/")
        page.get_by_role("link", name=re.compile("Kart Kontrol")).click()
        expect(page).to_have_url(re.compile(r"/kart-kontrol/$"))
        expect(page.get_by_role("heading", name="Kart Kontrol")).to_be_visible()
        expect(page.get_by_text("Bütün kontroller başarılı")).to_be_visible()
        for name in CHECKS:
            expect(check(page, name)).to_have_attribute("data-state", "pass")
            expect(check(page, name).locator(".check-mark")).to_have_text("✓")
        expect(check(page, "yours")).to_have_count(0)  # anonymous: nobody to compare with
        expect(check(page, "status")).to_contain_text(row.serial_number)
        expect(check(page, "status")).to_contain_text("Geçerli")
        expect(check(page, "pin")).to_contain_text("kalan deneme hakkı: 3")
        expect(page.get_by_label(re.compile("PIN"))).to_have_count(0)  # no PIN asked here
        shot(page, "check-00-all-passed")

        # Logged in: the certificate on the card is the citizen's own.
        page.goto(live_server.url + "/giris/")
        settings.CAPTCHA_TEST_MODE = True
        submit_login(page, citizen.identifier, DEFAULT_SECURITY_WORD)
        page.get_by_label("SMS Onay Kodu").fill(
            sms_code(read_outbox(outbox), to=citizen.mobile_phone)
        )
        page.get_by_role("button", name="Onayla").click()
        expect(page).to_have_url(re.compile(r"/islemler/$"))
        page.goto(live_server.url + "/kart-kontrol/")
        expect(check(page, "yours")).to_have_attribute("data-state", "pass")
        expect(page.get_by_text("Bütün kontroller başarılı")).to_be_visible()
        shot(page, "check-01-yours")
    assert not refused


def test_without_the_service_the_first_check_fails_with_advice(
    live_server: Any, page: Page, settings: Any
) -> None:
    settings.NES_CARD_SERVICE_URL = f"http://127.0.0.1:{free_port()}"
    page.goto(live_server.url + "/kart-kontrol/")

    service = check(page, "service")
    expect(service).to_have_attribute("data-state", "fail")
    expect(service.locator(".check-mark")).to_have_text("✗")
    expect(service).to_contain_text("yanıt veren bir servis yok")
    expect(service.get_by_role("link", name="Akıllı Kart Servisi'ni indir (zip)")).to_be_visible()
    expect(service).to_contain_text("nes-kart-servisi serve --origin")
    for name in CHECKS[1:]:
        expect(check(page, name)).to_have_attribute("data-state", "skip")
    expect(page.get_by_text("1 kontrol başarısız")).to_be_visible()
    shot(page, "check-10-no-service")
