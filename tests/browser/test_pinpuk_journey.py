"""PIN/PUK Bilgisi and Kilit Çözme in a real browser: log in → PIN/PUK Bilgisi → SMS code →
PIN and PUK → Parolalarımı Kaydet (a real download, plain and with a password) → Parolalarımı
Sil → Kilit Çözme of a PIN-locked card produced after 2011 → the new PIN, once.

Login and the SMS codes work as in test_login_journey.py (captcha test mode, file SMS outbox);
its fixtures and helpers are reused. ``NES_SHOTS_DIR=/some/dir`` saves screenshots.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect
from pypdf import PdfReader

from accounts.models import Citizen
from audit.models import AuditEvent
from nesportal.testing import sms_code
from pinvault import pins, vault
from pinvault.models import AkisCard, CardUnlock, VaultEntry
from tests.browser.test_login_journey import (  # noqa: F401 (fixtures)
    browser_context_args,
    citizen,
    log_in,
    outbox,
    read_outbox,
    shot,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PIN = "482913"
PUK = "73915046"
PDF_PASSWORD = "Çok-gizli-2026"


@pytest.fixture
def cards(citizen: Citizen) -> dict[str, AkisCard]:  # noqa: F811
    made = {
        "card": AkisCard.objects.create(
            citizen=citizen,
            serial_number="AKIS-4081726354",
            produced_on=dt.date(2021, 3, 8),
            state=AkisCard.State.ACTIVE,
        ),
        "locked": AkisCard.objects.create(
            citizen=citizen,
            serial_number="AKIS-9172635408",
            produced_on=dt.date(2016, 11, 2),
            state=AkisCard.State.PIN_LOCKED,
        ),
        "old": AkisCard.objects.create(
            citizen=citizen,
            serial_number="AKIS-1029384756",
            produced_on=dt.date(2009, 4, 20),
            state=AkisCard.State.ACTIVE,
            wrong_puk_count=1,
        ),
    }
    vault.store(made["card"], "pin", PIN)
    vault.store(made["card"], "puk", PUK)
    vault.store(made["locked"], "pin", "305816")
    vault.store(made["locked"], "puk", "66120394")
    vault.store(made["old"], "puk", "50718293")
    return made


def type_code(page: Page, outbox_path: Path, citizen: Citizen, button: str) -> None:  # noqa: F811
    expect(page).to_have_url(re.compile(r"/onay-kodu/$"))
    page.get_by_label("SMS Onay Kodu").fill(
        sms_code(read_outbox(outbox_path), to=citizen.mobile_phone)
    )
    page.get_by_role("button", name=button, exact=True).click()


def pdf_text(path: str, password: str | None = None) -> str:
    reader = PdfReader(path)
    assert reader.is_encrypted is (password is not None)
    if password is not None:
        assert not PdfReader(path).decrypt("yanlış")
        assert reader.decrypt(password)
    assert len(reader.pages) == 1
    return reader.pages[0].extract_text()


def test_view_save_delete_and_unlock_through_the_pages(
    live_server: Any,
    page: Page,
    citizen: Citizen,  # noqa: F811
    outbox: Path,  # noqa: F811
    cards: dict[str, AkisCard],
) -> None:
    card, locked = cards["card"], cards["locked"]
    log_in(page, live_server.url, citizen, outbox)

    # PIN/PUK Bilgisi: every card, whether its secrets are stored; no secret before the code.
    page.get_by_role("link", name="PIN/PUK Bilgisi").click()
    expect(page).to_have_url(re.compile(r"/pin-puk/$"))
    rows = page.locator("tbody tr")
    expect(rows).to_have_count(3)
    expect(page.locator("main")).to_contain_text("PIN ve PUK sistemde şifreli olarak saklanıyor.")
    shot(page, "pin-01-list")
    rows.filter(has_text=card.serial_number).get_by_role("link", name="Görüntüle").click()
    expect(page).to_have_url(re.compile(rf"/pin-puk/{card.serial_number}/$"))
    expect(page.locator("main")).to_contain_text("kart sahibinin sorumluluğundadır")
    assert PIN not in page.content()
    shot(page, "pin-02-step-up")
    page.get_by_role("button", name="SMS Onay Kodu Gönder").click()
    expect(page.get_by_role("heading", name="PIN/PUK Bilgisi için SMS Onay Kodu")).to_be_visible()
    shot(page, "pin-03-code")
    type_code(page, outbox, citizen, "Onayla")

    # The PIN and PUK, with the seed's warnings and a countdown of the visit's grant.
    expect(page).to_have_url(re.compile(rf"/pin-puk/{card.serial_number}/$"))
    expect(page.locator("[data-secret=pin]")).to_have_text(PIN)
    expect(page.locator("[data-secret=puk]")).to_have_text(PUK)
    expect(page.locator("#uyarilar")).to_contain_text("DİKKATLE")
    expect(page.locator("[data-countdown-value]")).to_have_text(re.compile(r"^(29|30):\d{2}$"))
    shot(page, "pin-04-shown")

    # Parolalarımı Kaydet: a real download, first plain, then encrypted with a password.
    with page.expect_download() as download_info:
        page.get_by_role("button", name="Parolalarımı Kaydet").click()
    download = download_info.value
    assert download.suggested_filename == f"pin-puk-{card.serial_number}.pdf"
    text = pdf_text(download.path())
    assert PIN in text and PUK in text and citizen.last_name in text
    page.get_by_label("PDF parolası (isteğe bağlı)").fill(PDF_PASSWORD)
    page.get_by_label("PDF parolası (tekrar)").fill(PDF_PASSWORD)
    with page.expect_download() as download_info:
        page.get_by_role("button", name="Parolalarımı Kaydet").click()
    encrypted = download_info.value
    if os.environ.get("NES_SHOTS_DIR"):
        download.save_as(Path(os.environ["NES_SHOTS_DIR"]) / "pin-puk-plain.pdf")
        encrypted.save_as(Path(os.environ["NES_SHOTS_DIR"]) / "pin-puk-encrypted.pdf")
    assert PIN in pdf_text(encrypted.path(), PDF_PASSWORD)
    assert AuditEvent.objects.filter(action="nes.pinpuk.saved").count() == 2

    # Parolalarımı Sil: irreversible, said plainly; the rows are gone.
    page.locator("#sil").get_by_role("link", name="Parolalarımı Sil").click()
    expect(page).to_have_url(re.compile(rf"/pin-puk/{card.serial_number}/sil/$"))
    expect(page.locator("main .alert.error")).to_contain_text("GERİ ALINAMAZ")
    shot(page, "pin-05-delete-confirm")
    page.get_by_role("button", name="Evet, Parolalarımı Sil").click()
    expect(page).to_have_url(re.compile(rf"/pin-puk/{card.serial_number}/silindi/$"))
    expect(page.locator("main")).to_contain_text("bir daha hiçbir şekilde gösterilemez")
    shot(page, "pin-06-deleted")
    assert not VaultEntry.objects.filter(card=card).exists()
    page.goto(f"{live_server.url}/pin-puk/{card.serial_number}/")
    expect(page.locator("main")).to_contain_text("sizin isteğinizle sistemden silindi")
    expect(page.get_by_role("button", name="SMS Onay Kodu Gönder")).to_have_count(0)

    # Kilit Çözme of the PIN-locked card produced after 2011: a new PIN, shown once.
    page.goto(f"{live_server.url}/islemler/")
    page.get_by_role("link", name="Kilit Çözme").click()
    expect(page).to_have_url(re.compile(r"/kilit-cozme/$"))
    expect(page.locator("tbody tr").filter(has_text=cards["old"].serial_number)).to_contain_text(
        "PUK ile"
    )
    shot(page, "pin-07-unlock-list")
    page.locator("tbody tr").filter(has_text=locked.serial_number).get_by_role(
        "link", name="Kilidi Çöz"
    ).click()
    expect(page.locator("main")).to_contain_text("PIN kilitlendi. PUK ile kilit çözebilirsiniz.")
    shot(page, "pin-08-unlock-start")
    page.get_by_role("button", name="SMS Onay Kodu Gönder").click()
    type_code(page, outbox, citizen, "Onayla ve Yeni PIN Oluştur")
    expect(page.get_by_role("heading", name=re.compile("yeni PIN"))).to_be_visible()
    new_pin = page.locator("[data-secret=new-pin]").inner_text()
    assert pins.is_acceptable_pin(new_pin)
    assert vault.reveal(locked, "pin") == new_pin == vault.reveal(locked, "unlock_pin")
    locked.refresh_from_db()
    assert locked.state == AkisCard.State.ACTIVE
    assert CardUnlock.objects.filter(card=locked, applied_at=None).count() == 1
    shot(page, "pin-09-new-pin")
    with page.expect_download() as download_info:
        page.get_by_role("button", name="Parolalarımı Kaydet").click()
    assert new_pin in pdf_text(download_info.value.path())

    # Shown once: back on the card's page, the PIN is not there any more.
    page.goto(f"{live_server.url}/kilit-cozme/{locked.serial_number}/")
    expect(page.locator("main")).to_contain_text("karta yazılacak")
    assert new_pin not in page.content()
    shot(page, "pin-10-unlock-pending")

    # A card produced before 2011: its PUK (for the card tool) after an SMS code.
    old = cards["old"]
    page.get_by_role("link", name="Kilit Çözme").first.click()
    page.locator("tbody tr").filter(has_text=old.serial_number).get_by_role(
        "link", name="Ayrıntılar"
    ).click()
    expect(page.locator("main")).to_contain_text("Bu kartın kilidi PUK ile çözülür")
    expect(page.locator("main")).to_contain_text("hatalı PUK girişi: 1 / 3")
    page.get_by_role("button", name="SMS Onay Kodu Gönder").click()
    type_code(page, outbox, citizen, "Onayla")
    expect(page.locator("[data-secret=puk]")).to_have_text("50718293")
    expect(page.locator("main")).to_contain_text("kalan deneme hakkınız 2")
    shot(page, "pin-11-old-card-puk")

    # No secret ever reached an SMS.
    for message in read_outbox(outbox):
        for secret in (PIN, PUK, new_pin, "50718293"):
            assert secret not in message["body"]
