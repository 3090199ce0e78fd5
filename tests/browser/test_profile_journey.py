"""Bilgi Güncelle in a real browser: new mobile number confirmed with the code sent to it, then
a new postal address. SMS go to the file backend, read as a person trying the demo would."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from accounts.models import Citizen, SmsMessage
from audit.models import AuditEvent
from nesportal.testing import sms_code

from .test_login_journey import log_in, read_outbox, shot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

NEW_PHONE = "+905551234567"
NEW_ADDRESS = "Kızılay Mah. Gazi Mustafa Kemal Blv. No: 5/3, 06420 Çankaya / Ankara"


@pytest.fixture
def browser_context_args(browser_context_args: dict[str, Any]) -> dict[str, Any]:
    return {**browser_context_args, "locale": "tr-TR"}


@pytest.fixture
def outbox(settings: Any, tmp_path: Path) -> Path:
    path = tmp_path / "sms-outbox.jsonl"
    settings.SMS_BACKEND = "file"
    settings.SMS_OUTBOX_PATH = path
    settings.CAPTCHA_TEST_MODE = True
    return path


def test_it_changes_the_mobile_number_and_the_address(
    live_server: Any, page: Page, citizen_factory: Any, outbox: Path
) -> None:
    citizen: Citizen = citizen_factory(first_name="Şirin", last_name="Yıldız")
    old_phone = citizen.mobile_phone
    log_in(page, live_server.url, citizen, outbox)

    page.get_by_role("link", name="Bilgi Güncelle").click()
    expect(page).to_have_url(re.compile(r"/bilgi-guncelle/$"))
    expect(page.get_by_role("heading", name="Bilgi Güncelle", exact=True)).to_be_visible()
    expect(page.get_by_text(citizen.tckn or "", exact=True)).to_be_visible()
    expect(page.get_by_text("bu sayfadan değiştirilemez")).to_be_visible()
    expect(page.locator("[data-current-phone]")).to_have_text(citizen.masked_phone)
    shot(page, "profile-01")

    # A landline is refused in Turkish, then the new mobile number gets a code.
    page.get_by_label("Yeni cep telefonu numarası").fill("0312 123 45 67")
    page.get_by_role("button", name="Yeni numaraya kod gönder").click()
    expect(page.locator("#id_mobile_phone_error")).to_contain_text(
        "Türkiye'de kayıtlı bir cep telefonu numarası giriniz"
    )
    page.get_by_label("Yeni cep telefonu numarası").fill("0555 123 45 67")
    page.get_by_role("button", name="Yeni numaraya kod gönder").click()

    expect(page).to_have_url(re.compile(r"/bilgi-guncelle/telefon/onay/$"))
    expect(page.get_by_text("+90 5** *** ** 67")).to_be_visible()
    shot(page, "profile-02-code")
    messages = read_outbox(outbox)
    assert messages[-1]["to"] == NEW_PHONE
    page.get_by_label("SMS Onay Kodu").fill(sms_code(messages, to=NEW_PHONE))
    page.get_by_role("button", name="Onayla").click()

    expect(page).to_have_url(re.compile(r"/bilgi-guncelle/$"))
    expect(page.get_by_role("status").filter(has_text="olarak güncellendi")).to_be_visible()
    expect(page.locator("[data-current-phone]")).to_have_text("+90 5** *** ** 67")
    assert NEW_PHONE not in page.content()
    notices = read_outbox(outbox)
    assert any(m["to"] == old_phone and "değiştirildi" in m["body"] for m in notices)

    page.get_by_label("Yeni posta adresi").fill(NEW_ADDRESS)
    page.get_by_role("button", name="Adresi kaydet").click()
    expect(page.get_by_text("Adresiniz güncellendi.")).to_be_visible()
    expect(page.locator("[data-current-address]")).to_contain_text("Kızılay Mah.")
    shot(page, "profile-03-done")

    citizen.refresh_from_db()
    assert citizen.mobile_phone == NEW_PHONE
    assert citizen.address == NEW_ADDRESS
    assert AuditEvent.objects.filter(citizen=citizen, action="nes.profile.phone_changed").exists()
    assert SmsMessage.objects.filter(
        citizen=citizen, kind=SmsMessage.Kind.PHONE_CHANGED, to_number=old_phone
    ).exists()
