"""One visit as a citizen makes it, in a real browser: log in, then every operation of the
İşlemler Menüsü once — never told to wait (README "SMS budget") — and, from a notice SMS,
"Bu işlemi ben yapmadım": the stolen-card case stopped in one click.

Login and the SMS codes work as in test_login_journey.py (captcha test mode, file SMS outbox);
its fixtures and helpers are reused. ``NES_SHOTS_DIR=/some/dir`` saves screenshots.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone
from playwright.sync_api import Browser, Page, expect

from accounts.models import Citizen
from certificates.models import Certificate
from eonay.models import Application
from nesportal.testing import sms_code
from nesportal.testing.factories import ApplicationFactory
from pinvault import vault
from pinvault.models import AkisCard
from tests.browser.test_login_journey import (  # noqa: F401 (fixtures)
    browser_context_args,
    citizen,
    log_in,
    outbox,
    read_outbox,
    shot,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

NOT_ME = re.compile(r"https?://[^/\s]+(/y/[A-Za-z0-9_-]{22})$")


def never_told_to_wait(page: Page) -> None:
    text = page.locator("main").inner_text()
    for words in ("en fazla", "saniye bekleyiniz", "dakika sonra yeniden deneyiniz"):
        assert words not in text, text


def type_code(page: Page, outbox_path: Path, citizen: Citizen, button: str) -> None:  # noqa: F811
    page.get_by_label("SMS Onay Kodu").fill(
        sms_code(read_outbox(outbox_path), to=citizen.mobile_phone)
    )
    page.get_by_role("button", name=button, exact=True).click()
    never_told_to_wait(page)


@pytest.fixture
def holdings(citizen: Citizen, certificate_factory: Any) -> dict[str, Any]:  # noqa: F811
    now = timezone.now()
    card = AkisCard.objects.create(
        citizen=citizen, serial_number="AKIS-4081726354", produced_on=dt.date(2021, 3, 8)
    )
    locked = AkisCard.objects.create(
        citizen=citizen,
        serial_number="AKIS-9172635408",
        produced_on=dt.date(2016, 11, 2),
        state=AkisCard.State.PIN_LOCKED,
    )
    old = AkisCard.objects.create(
        citizen=citizen, serial_number="AKIS-1029384756", produced_on=dt.date(2009, 4, 20)
    )
    for item, pin, puk in ((card, "482913", "73915046"), (locked, "305816", "66120394")):
        vault.store(item, "pin", pin)
        vault.store(item, "puk", puk)
    vault.store(old, "puk", "50718293")
    staff = get_user_model().objects.create_superuser("yonetici", password="Yonetici-Demo-2026!")
    return {
        "nes": certificate_factory(citizen, "active", now=now - dt.timedelta(days=40))[0],
        "mobile": certificate_factory(citizen, "active", kind="mobile")[0],
        "card": card,
        "locked": locked,
        "old": old,
        "application": ApplicationFactory(citizen=citizen, entered_by=staff),
    }


def test_every_menu_operation_once_in_one_visit(
    live_server: Any,
    page: Page,
    citizen: Citizen,  # noqa: F811
    outbox: Path,  # noqa: F811
    holdings: dict[str, Any],
) -> None:
    base = live_server.url
    log_in(page, base, citizen, outbox)

    # Sertifikamı İptal Et: the mobile certificate.
    mobile = holdings["mobile"]
    page.get_by_role("link", name="Sertifikamı İptal Et").click()
    page.get_by_role("radio", name=re.compile(mobile.serial_number)).check()
    page.get_by_role("radio", name="Artık kullanmayacağım").check()
    page.get_by_role("button", name="Devam").click()
    page.get_by_role("button", name="SMS Onay Kodu Gönder").click()
    never_told_to_wait(page)
    type_code(page, outbox, citizen, "Onayla ve İptal Et")
    expect(page.get_by_role("heading", name="Sertifikanız iptal edildi")).to_be_visible()
    shot(page, "visit-01-revoked")

    # PIN/PUK Bilgisi: view, then save as PDF and delete — one code for the three.
    card = holdings["card"]
    page.goto(f"{base}/pin-puk/{card.serial_number}/")
    page.get_by_role("button", name="SMS Onay Kodu Gönder").click()
    never_told_to_wait(page)
    type_code(page, outbox, citizen, "Onayla")
    expect(page.locator("[data-secret=pin]")).to_have_text("482913")
    with page.expect_download():
        page.get_by_role("button", name="Parolalarımı Kaydet").click()
    page.locator("#sil").get_by_role("link", name="Parolalarımı Sil").click()
    page.get_by_role("button", name="Evet, Parolalarımı Sil").click()
    expect(page).to_have_url(re.compile(rf"/pin-puk/{card.serial_number}/silindi/$"))
    shot(page, "visit-02-deleted")

    # Kilit Çözme: the PIN-locked card.
    locked = holdings["locked"]
    page.goto(f"{base}/kilit-cozme/{locked.serial_number}/")
    page.get_by_role("button", name="SMS Onay Kodu Gönder").click()
    never_told_to_wait(page)
    type_code(page, outbox, citizen, "Onayla ve Yeni PIN Oluştur")
    expect(page.get_by_role("heading", name=re.compile("yeni PIN"))).to_be_visible()

    # The old card's PUK.
    old = holdings["old"]
    page.goto(f"{base}/kilit-cozme/{old.serial_number}/")
    page.get_by_role("button", name="SMS Onay Kodu Gönder").click()
    never_told_to_wait(page)
    type_code(page, outbox, citizen, "Onayla")
    expect(page.locator("[data-secret=puk]")).to_have_text("50718293")

    # E-Onay İşlemleri: approve the waiting application.
    application = holdings["application"]
    page.goto(f"{base}/islemler/")
    page.get_by_role("link", name="E-Onay İşlemleri").click()
    page.locator("section.card", has_text=application.reference).get_by_role(
        "button", name="Onayla", exact=True
    ).click()
    never_told_to_wait(page)
    type_code(page, outbox, citizen, "Başvuruyu Onayla")
    expect(
        page.get_by_text(f"{application.reference} numaralı başvuruyu onayladınız")
    ).to_be_visible()
    application.refresh_from_db()
    assert application.status == Application.Status.APPROVED

    # Bilgi Güncelle: a new mobile number, confirmed by a code sent to it.
    page.goto(f"{base}/bilgi-guncelle/")
    page.get_by_label("Yeni cep telefonu numarası").fill("0532 999 88 77")
    page.get_by_role("button", name="Yeni numaraya kod gönder").click()
    never_told_to_wait(page)
    page.get_by_label("SMS Onay Kodu").fill(sms_code(read_outbox(outbox), to="+905329998877"))
    page.get_by_role("button", name="Onayla", exact=True).click()
    never_told_to_wait(page)
    citizen.refresh_from_db()
    assert citizen.mobile_phone == "+905329998877"
    shot(page, "visit-03-profile")

    # Every notice of the visit went out (none held back by the notice cap).
    bodies = [m["body"] for m in read_outbox(outbox)]
    assert not [b for b in bodies if "yeni bildirim gönderilmeyecek" in b]
    assert sum(1 for b in bodies if NOT_ME.search(b)) >= 7


def test_a_stolen_card_is_stopped_from_the_notice_sms(
    live_server: Any,
    browser: Browser,
    page: Page,
    citizen: Citizen,  # noqa: F811
    outbox: Path,  # noqa: F811
    certificate_factory: Any,
) -> None:
    base = live_server.url
    nes = certificate_factory(citizen, "active")[0]
    # The thief, who knows the security word and has the phone for a moment, is logged in
    # and looks at the PIN/PUK page: the holder's phone gets the notices.
    thief = browser.new_page()
    log_in(thief, base, citizen, outbox)
    thief.goto(f"{base}/sertifikalar/")
    thief.get_by_role("link", name=nes.serial_number).click()
    thief.get_by_role("link", name="Askıya Al").click()
    thief.get_by_role("button", name="Askıya Al").click()
    thief.get_by_role("link", name="Menü", exact=True).click()
    thief.get_by_role("link", name="Askıdan İndir").click()
    thief.get_by_role("button", name="Askıdan İndir").click()
    notice = read_outbox(outbox)[-1]["body"]
    assert "askıdan indirildi" in notice
    match = NOT_ME.search(notice)
    assert match, notice

    # 3 a.m.: the holder taps the link in the SMS.
    page.goto(f"{base}{match.group(1)}")
    expect(page).to_have_url(re.compile(r"/y/$"))  # the token left the address bar
    expect(page.get_by_role("heading", name="Bu işlemi ben yapmadım")).to_be_visible()
    shot(page, "notme-01-form")
    page.get_by_label("T.C. Kimlik No / Pasaport No").fill(citizen.identifier)
    page.get_by_label("Resimdeki Yazı").fill("passed")
    page.get_by_role("button", name="Hesabımı Korumaya Al").click()
    expect(page).to_have_url(re.compile(r"/y/tamam/$"))
    expect(page.get_by_role("heading", name="Hesabınız korumaya alındı")).to_be_visible()
    expect(page.get_by_text(nes.serial_number)).to_be_visible()
    expect(page.get_by_role("heading", name="Şimdi ne yapmalısınız?")).to_be_visible()
    shot(page, "notme-02-done")
    nes.refresh_from_db()
    assert nes.status == Certificate.Status.SUSPENDED

    # The thief's session is over.
    thief.goto(f"{base}/islemler/")
    expect(thief).to_have_url(re.compile(r"/giris/$"))
    # The link works once.
    page.goto(f"{base}{match.group(1)}")
    expect(page.get_by_text("Bu bağlantı daha önce kullanıldı")).to_be_visible()
    assert "korumaya alındı" in read_outbox(outbox)[-1]["body"]
