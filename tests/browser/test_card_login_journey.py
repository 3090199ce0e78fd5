"""E-İmzalı Giriş with the card, in a real browser, with the REAL Akıllı Kart Servisi process and
a SoftHSM2 token holding the citizen's key and certificate (tests/cardtoken.py).

home → E-İmzalı Giriş → the card's certificate listed → PIN → İşlemler Menüsü; a suspended
certificate (clear message, no login); the service absent (the install help, "Tekrar dene"
once it runs); three wrong PINs (locked, pointing to Kilit Çözme). ``NES_SHOTS_DIR`` saves
screenshots; every ``shot`` runs axe.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from playwright.sync_api import Page, expect

from accounts.models import Citizen
from audit.models import AuditEvent
from certificates.models import Certificate
from tests.browser.test_login_journey import (  # noqa: F401 (fixtures)
    GREETING,
    browser_context_args,
    citizen,
    csp_violations,
    shot,
)
from tests.cardtoken import (
    Token,
    free_port,
    make_token,
    require_softhsm,
    run_service,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PIN = "123456"
LOGIN_BUTTON = "Kartla Giriş Yap"
PIN_LABEL = "Kartınızın PIN'i"


def card_of(row: Certificate) -> x509.Certificate:
    return x509.load_der_x509_certificate(bytes(row.der))


def token_for(tmp_path: Path, pairs: list[tuple[Certificate, Any]], name: str = "token") -> Token:
    (row, key), *extra = pairs
    return make_token(
        tmp_path / name,
        key=key,
        certificate=card_of(row),
        pin=PIN,
        extra=[(k, card_of(r)) for r, k in extra],
    )


def open_esign_login(page: Page, base_url: str) -> None:
    page.goto(base_url + "/")
    page.get_by_role("link", name=re.compile("^E-İmzalı Giriş")).click()
    expect(page).to_have_url(re.compile(r"/e-imzali-giris/$"))
    expect(page.get_by_role("heading", name="E-İmzalı Giriş", exact=True)).to_be_visible()


def test_it_logs_in_with_the_card_through_the_service(
    live_server: Any,
    page: Page,
    citizen: Citizen,  # noqa: F811
    certificate_factory: Any,
    settings: Any,
    tmp_path: Path,
) -> None:
    row, key = certificate_factory(citizen, "active")
    token = token_for(tmp_path, [(row, key)])
    refused = csp_violations(page)
    with run_service(token, origins=[live_server.url], state_dir=tmp_path / "state") as service:
        settings.NES_CARD_SERVICE_URL = service.url
        open_esign_login(page, live_server.url)

        choice = page.get_by_role("radio", name=re.compile(re.escape(row.serial_number)))
        expect(choice).to_be_checked()
        expect(choice).to_be_enabled()
        expect(page.get_by_text("Kartınız okundu")).to_be_visible()
        # The manual method waits behind "Gelişmiş".
        expect(page.get_by_label("İmza (base64)")).to_be_hidden()
        pin = page.get_by_label(PIN_LABEL)
        expect(pin).to_have_attribute("type", "password")
        expect(pin).to_have_attribute("inputmode", "numeric")
        expect(pin).to_have_attribute("autocomplete", "off")
        shot(page, "card-00-listed")

        pin.fill(PIN)
        page.get_by_role("button", name=LOGIN_BUTTON).click()

        expect(page).to_have_url(re.compile(r"/islemler/$"))
        expect(page.get_by_text(GREETING)).to_be_visible()
        shot(page, "card-01-menu")
        assert PIN not in service.output()
    passed = AuditEvent.objects.get(action="nes.login.esign_passed")
    assert passed.citizen == citizen and passed.data["serial"] == row.serial_number
    assert not refused
    # The PIN never went to the portal: no audit record, no request body holds it.
    assert not AuditEvent.objects.filter(data__icontains=PIN).exists()


def test_a_suspended_certificate_is_shown_with_why_and_cannot_log_in(
    live_server: Any,
    page: Page,
    citizen: Citizen,  # noqa: F811
    certificate_factory: Any,
    settings: Any,
    tmp_path: Path,
) -> None:
    suspended, suspended_key = certificate_factory(citizen, "suspended")
    token = token_for(tmp_path, [(suspended, suspended_key)])
    with run_service(token, origins=[live_server.url], state_dir=tmp_path / "state") as service:
        settings.NES_CARD_SERVICE_URL = service.url
        open_esign_login(page, live_server.url)

        choice = page.get_by_role("radio", name=re.compile(re.escape(suspended.serial_number)))
        expect(choice).to_be_disabled()
        expect(page.get_by_text("Askıda", exact=True)).to_be_visible()
        expect(page.get_by_text(re.compile("Bu sertifika askıdadır"))).to_be_visible()
        expect(page.get_by_text(re.compile("hiçbiriyle şu an giriş yapılamaz"))).to_be_visible()
        expect(page.get_by_role("button", name=LOGIN_BUTTON)).to_be_disabled()
        shot(page, "card-10-suspended")
    assert not AuditEvent.objects.filter(action="nes.login.esign_passed").exists()


def test_a_certificate_suspended_meanwhile_is_refused_with_a_clear_message(
    live_server: Any,
    page: Page,
    citizen: Citizen,  # noqa: F811
    certificate_factory: Any,
    settings: Any,
    tmp_path: Path,
) -> None:
    """Listed as usable, suspended (by the call centre, say) before the button is pressed: the
    portal refuses, and since the signature proved the holder's key, it says why."""
    row, key = certificate_factory(citizen, "active")
    token = token_for(tmp_path, [(row, key)])
    with run_service(token, origins=[live_server.url], state_dir=tmp_path / "state") as service:
        settings.NES_CARD_SERVICE_URL = service.url
        open_esign_login(page, live_server.url)
        expect(
            page.get_by_role("radio", name=re.compile(re.escape(row.serial_number)))
        ).to_be_checked()
        row.suspend(by=Certificate.SuspendedBy.HOLDER, by_citizen=citizen)

        page.get_by_label(PIN_LABEL).fill(PIN)
        page.get_by_role("button", name=LOGIN_BUTTON).click()

        alert = page.get_by_role("alert")
        expect(alert).to_contain_text("Bu sertifika askıdadır")
        expect(page).to_have_url(re.compile(r"/e-imzali-giris/$"))
        shot(page, "card-11-suspended-refused")
    assert not AuditEvent.objects.filter(action="nes.login.esign_passed").exists()
    citizen.refresh_from_db()
    assert citizen.failure_count == 1  # the strike rules are unchanged


def test_without_the_service_the_page_explains_the_installation(
    live_server: Any,
    page: Page,
    citizen: Citizen,  # noqa: F811
    certificate_factory: Any,
    settings: Any,
    tmp_path: Path,
) -> None:
    require_softhsm()
    row, key = certificate_factory(citizen, "active")
    port = free_port()
    settings.NES_CARD_SERVICE_URL = f"http://127.0.0.1:{port}"  # nothing listens there yet
    open_esign_login(page, live_server.url)

    expect(page.get_by_role("heading", name="Akıllı Kart Servisi bulunamadı")).to_be_visible()
    expect(page.get_by_text("AKİS kart okuyucu sürücüsünü kurunuz")).to_be_visible()
    download = page.get_by_role("link", name="Akıllı Kart Servisi'ni indir (zip)")
    expect(download).to_have_attribute("href", "/kart-servisi/indir/")
    expect(page.get_by_text("nes-kart-servisi serve --origin")).to_be_visible()
    expect(page.get_by_text(re.compile(r"127\.0\.0\.1:48620"))).to_be_visible()
    expect(page.get_by_role("link", name=re.compile("Kart Kontrol"))).to_be_visible()
    shot(page, "card-20-absent")

    # The manual method for integrators is still there, behind "Gelişmiş".
    page.get_by_text("Gelişmiş: imzayı elle yapıştırın").click()
    expect(page.get_by_label("İmza (base64)")).to_be_visible()

    token = token_for(tmp_path, [(row, key)])
    with run_service(token, origins=[live_server.url], state_dir=tmp_path / "state", port=port):
        page.get_by_role("button", name="Tekrar dene").click()
        expect(
            page.get_by_role("radio", name=re.compile(re.escape(row.serial_number)))
        ).to_be_checked()
        expect(page.get_by_role("heading", name="Akıllı Kart Servisi bulunamadı")).to_be_hidden()
        shot(page, "card-21-found-after-retry")


def test_three_wrong_pins_lock_the_card_and_point_to_kilit_cozme(
    live_server: Any,
    page: Page,
    citizen: Citizen,  # noqa: F811
    certificate_factory: Any,
    settings: Any,
    tmp_path: Path,
) -> None:
    row, key = certificate_factory(citizen, "active")
    token = token_for(tmp_path, [(row, key)])
    with run_service(token, origins=[live_server.url], state_dir=tmp_path / "state") as service:
        settings.NES_CARD_SERVICE_URL = service.url
        open_esign_login(page, live_server.url)
        expect(
            page.get_by_role("radio", name=re.compile(re.escape(row.serial_number)))
        ).to_be_checked()
        alert = page.get_by_role("alert")
        for left in (2, 1):
            page.get_by_label(PIN_LABEL).fill("000000")
            page.get_by_role("button", name=LOGIN_BUTTON).click()
            expect(alert).to_contain_text(f"PIN hatalı. Kalan deneme hakkınız: {left}")
            expect(page.get_by_label(PIN_LABEL)).to_have_value("")
            page.wait_for_timeout(1100)  # the service's pause between two PIN attempts
        shot(page, "card-30-wrong-pin")
        page.get_by_label(PIN_LABEL).fill("000000")
        page.get_by_role("button", name=LOGIN_BUTTON).click()

        expect(alert).to_contain_text("PIN'i 3 kez hatalı girildiği için bloke oldu")
        link = alert.get_by_role("link", name="Şifreli Giriş ve Kilit Çözme")
        expect(link).to_have_attribute("href", "/giris/")
        expect(page.get_by_role("button", name=LOGIN_BUTTON)).to_be_disabled()
        shot(page, "card-31-locked")

        # Read again: the card's status says locked, the page says so before any PIN.
        page.reload()
        expect(page.get_by_role("alert")).to_contain_text("bloke oldu")
        expect(page.get_by_role("button", name=LOGIN_BUTTON)).to_be_disabled()
    assert not AuditEvent.objects.filter(action="nes.login.esign_passed").exists()
    citizen.refresh_from_db()
    assert citizen.failure_count == 0  # wrong PINs never reach the portal
