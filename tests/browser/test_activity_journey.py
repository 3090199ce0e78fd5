"""Hesap Hareketlerim and the menu at a glance in a real browser: log in through the real pages,
read "Son girişiniz" and the status lines on the menu, open the security log, find the login and
the failed attempt in plain Turkish, and page back to older events."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from accounts.activity import PER_PAGE, device_summary
from accounts.models import Citizen
from audit.log import record
from nesportal.testing.factories import ApplicationFactory
from tests.browser.test_login_journey import (  # noqa: F401 (fixtures)
    WRONG_WORD,
    browser_context_args,
    citizen,
    csp_violations,
    log_in,
    outbox,
    shot,
    submit_login,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

OLDER_EVENTS = PER_PAGE + 5


def test_it_shows_the_glance_and_the_security_log(
    live_server: Any,
    page: Page,
    citizen: Citizen,  # noqa: F811
    outbox: Path,  # noqa: F811
    certificate_factory: Any,
) -> None:
    cert, _key = certificate_factory(citizen, "active")
    ApplicationFactory(citizen=citizen)
    for n in range(OLDER_EVENTS):  # a citizen who has used the site for a while
        record("nes.pinpuk.viewed", citizen=citizen, card=f"AKIS-{7_000_000_000 + n}")
    refused = csp_violations(page)

    # A first visit, a wrong security word, then the visit that reads the log.
    log_in(page, live_server.url, citizen, outbox)
    page.locator("main").get_by_role("button", name="Çıkış").click()
    expect(page).to_have_url(re.compile(r"/giris/$"))
    submit_login(page, citizen.identifier, WRONG_WORD)
    expect(page.get_by_role("alert")).to_contain_text("doğrulanamadı")
    log_in(page, live_server.url, citizen, outbox)

    device = device_summary(page.evaluate("navigator.userAgent"))
    assert device  # chromium's User-Agent names a browser and a system
    note = page.locator(".last-login")
    expect(note).to_contain_text(re.compile(r"Son girişiniz: \d\d\.\d\d\.\d{4} \d\d:\d\d, "))
    expect(note).to_contain_text(device)
    expect(note).to_contain_text(re.compile(r"Son başarısız deneme: \d\d\.\d\d\.\d{4} \d\d:\d\d"))
    end = timezone.localtime(cert.not_after).strftime("%d.%m.%Y")
    status = page.get_by_role("list", name="Hesabınızın durumu")
    expect(
        status.get_by_role("link", name=f"Sertifikanız {end} tarihine kadar geçerli.")
    ).to_be_visible()
    expect(status.get_by_role("link", name="1 başvuru onayınızı bekliyor.")).to_have_attribute(
        "href", "/e-onay/"
    )
    expect(page.locator(".expiry-banner")).to_have_count(0)  # three years to go
    shot(page, "activity-01-menu")

    page.locator("a.menu-button", has_text="Hesap Hareketlerim").click()
    expect(page).to_have_url(re.compile(r"/hesap-hareketlerim/$"))
    expect(page.get_by_role("heading", name="Hesap Hareketlerim")).to_be_visible()
    events = page.locator(".activity-list > li")
    expect(events).to_have_count(PER_PAGE)
    expect(events.first).to_contain_text("Giriş yaptınız")  # this visit, newest first
    expect(events.first).to_contain_text(f"Cihaz: {device}")
    expect(events.nth(1)).to_contain_text("Hatalı Güvenlik Sözcüğü girildi")
    expect(events.nth(2)).to_contain_text("Çıkış yaptınız")
    expect(page.get_by_role("link", name="En yeni işlemler")).to_have_count(0)
    assert "nes." not in page.locator("main").inner_text()
    shot(page, "activity-02-log")

    page.get_by_role("link", name="Daha eski işlemler").click()
    expect(page).to_have_url(re.compile(r"/hesap-hareketlerim/\?once=\d+$"))
    expect(page.get_by_role("link", name="En yeni işlemler")).to_be_visible()
    older = page.locator(".activity-list > li")
    expect(older.last).to_contain_text("Adınıza yeni sertifika üretildi")
    expect(older.first).to_contain_text("PIN/PUK bilginiz görüntülendi")
    expect(page.get_by_role("link", name="Daha eski işlemler")).to_have_count(0)

    older.first.get_by_role("link").click()
    expect(page).to_have_url(re.compile(r"/hesap-hareketlerim/\d+/$"))
    expect(page.get_by_role("heading", name="PIN/PUK bilginiz görüntülendi")).to_be_visible()
    expect(page.locator("main")).to_contain_text("AKIS-")
    page.get_by_role("link", name="Hesap Hareketlerim").click()
    expect(page).to_have_url(re.compile(r"/hesap-hareketlerim/$"))
    assert refused == []
