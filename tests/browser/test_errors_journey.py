"""Errors announced and pages that fit a phone, in a real browser (issue 14).

A failed Şifreli Giriş: the title starts with "Hata:", the focus is on the error summary, each
field's accessible description (what a screen reader reads with it) holds its error, and a
summary link takes the focus to its field. At 390×844 the pages after Askıya Al, Askıdan İndir
and the Kullanıma Aç refusal — each carrying a long serial — never scroll sideways, and a failed
Bilgi Güncelle form shows its summary, focused, in view. The birth date is formatted as typed.

Fixtures and helpers come from test_login_journey.py (captcha test mode, file SMS outbox).
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from accounts.models import Citizen
from certificates.models import Certificate
from nesportal.testing.factories import DEFAULT_SECURITY_WORD
from tests.browser.test_login_journey import (  # noqa: F401 (fixtures)
    browser_context_args,
    citizen,
    enter_code,
    log_in,
    outbox,
    read_outbox,
    shot,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 390, "height": 844}
FOCUSED_SUMMARY = "() => document.activeElement?.matches('[data-error-summary]') ?? false"
SCROLL_WIDTH = "() => document.documentElement.scrollWidth"


def described_by(page: Page, selector: str) -> str:
    """The text of the elements ``selector``'s aria-describedby names ("" for a missing id)."""
    return page.evaluate(
        """(selector) => {
            const input = document.querySelector(selector);
            return (input.getAttribute('aria-describedby') || '').split(/\\s+/)
                .map((id) => document.getElementById(id)?.textContent.trim() ?? '').join(' | ');
        }""",
        selector,
    )


def assert_no_sideways_scroll(page: Page) -> None:
    width = page.evaluate(SCROLL_WIDTH)
    assert width <= PHONE["width"], f"{page.url} is {width} px wide at {PHONE['width']} px"


def test_a_failed_login_focuses_the_summary_and_describes_each_field(
    live_server: Any,
    page: Page,
    citizen: Citizen,  # noqa: F811
    outbox: Path,  # noqa: F811
) -> None:
    page.goto(f"{live_server.url}/giris/")
    page.get_by_label("T.C. Kimlik No / Pasaport No").fill("1234567895")  # a wrong check digit
    page.get_by_label("Resimdeki Yazı", exact=True).fill("yanlış")
    page.get_by_role("button", name="Giriş", exact=True).click()

    expect(page).to_have_title(re.compile(r"^Hata: Şifreli Giriş"))
    summary = page.get_by_role("alert")
    expect(summary).to_contain_text("Sorun var")
    expect(summary).to_be_focused()
    assert page.evaluate(FOCUSED_SUMMARY) is True
    shot(page, "errors-01-login-summary")

    # What a screen reader reads with each field: its help text and its error.
    identifier = page.get_by_label("T.C. Kimlik No / Pasaport No")
    expect(identifier).to_have_attribute("aria-invalid", "true")
    expect(identifier).to_have_accessible_description(re.compile("T.C. Kimlik No"))
    captcha = page.get_by_label("Resimdeki Yazı", exact=True)
    expect(captcha).to_have_accessible_description(re.compile("Resimdeki yazıyı doğru giriniz"))
    assert "Resimdeki yazıyı doğru giriniz" in described_by(page, "#id_captcha_1")
    word = page.get_by_label("Güvenlik Sözcüğü", exact=True)
    expect(word).to_have_attribute("aria-invalid", "true")
    assert described_by(page, "#id_security_word").strip()
    expect(word).to_have_accessible_description(re.compile(r"\w"))

    # A summary link moves the focus to its field.
    summary.get_by_role("link", name=re.compile("Resimdeki yazıyı")).click()
    expect(captcha).to_be_focused()

    # Corrected, the same page goes on (the captcha answered in test mode).
    identifier.fill(citizen.identifier)
    captcha.fill("passed")
    word.fill(DEFAULT_SECURITY_WORD)
    page.get_by_role("button", name="Giriş", exact=True).click()
    expect(page).to_have_url(re.compile(r"/giris/sms/$"))
    expect(page).not_to_have_title(re.compile("Hata"))
    expect(page.locator("[data-error-summary]")).to_have_count(0)


def test_the_birth_date_is_formatted_as_it_is_typed(live_server: Any, page: Page) -> None:
    page.goto(f"{live_server.url}/guvenlik-sozcugu/unuttum/")
    birth = page.get_by_label("Doğum Tarihi")
    expect(birth).to_have_attribute("inputmode", "numeric")
    birth.press_sequentially("14031980")
    expect(birth).to_have_value("14.03.1980")
    birth.press("Backspace")
    birth.press("Backspace")
    birth.press("Backspace")
    birth.press("Backspace")
    expect(birth).to_have_value("14.03.")
    birth.press("Backspace")
    expect(birth).to_have_value("14.03")
    birth.fill("")
    birth.press_sequentially("1.3.1980")
    expect(birth).to_have_value("01.03.1980")


@pytest.fixture
def certificates(citizen: Citizen, certificate_factory: Any) -> dict[str, Certificate]:  # noqa: F811
    now = timezone.now()
    return {
        "active": certificate_factory(citizen, "active", now=now - dt.timedelta(days=20))[0],
        "pending": certificate_factory(citizen, "pending")[0],
    }


def test_pages_with_long_serials_fit_a_phone(
    live_server: Any,
    page: Page,
    citizen: Citizen,  # noqa: F811
    outbox: Path,  # noqa: F811
    certificates: dict[str, Certificate],
) -> None:
    active = certificates["active"]
    assert len(active.serial_number) >= 30
    page.set_viewport_size(PHONE)
    log_in(page, live_server.url, citizen, outbox)

    # The Kullanıma Aç refusal names the valid certificate by its serial.
    page.goto(f"{live_server.url}/sertifikalar/kullanima-ac/")
    page.get_by_role("button", name="Kullanıma Aç").click()
    expect(page.get_by_role("alert")).to_contain_text(active.serial_number)
    shot(page, "errors-02-open-refused-phone")
    assert_no_sideways_scroll(page)

    # Askıya Al: the detail page with the message naming the serial.
    page.goto(f"{live_server.url}{active.get_absolute_url()}")
    page.get_by_role("link", name="Askıya Al").click()
    page.get_by_role("button", name="Askıya Al").click()
    expect(page.get_by_role("status").filter(has_text="askıya alındı")).to_be_visible()
    shot(page, "errors-03-suspended-phone")
    assert_no_sideways_scroll(page)

    # Askıdan İndir, from its list.
    page.goto(f"{live_server.url}/sertifikalar/askidan-indir/")
    assert_no_sideways_scroll(page)
    page.get_by_role("button", name="Askıdan İndir").click()
    expect(page.get_by_role("status").filter(has_text="askıdan indirildi")).to_be_visible()
    shot(page, "errors-04-reinstated-phone")
    assert_no_sideways_scroll(page)


def test_a_failed_profile_form_shows_its_summary_on_a_phone(
    live_server: Any,
    page: Page,
    citizen: Citizen,  # noqa: F811
    outbox: Path,  # noqa: F811
) -> None:
    page.set_viewport_size(PHONE)
    log_in(page, live_server.url, citizen, outbox)
    page.goto(f"{live_server.url}/bilgi-guncelle/")
    address = page.get_by_label("Yeni posta adresi")
    address.fill("kısa")
    page.get_by_role("button", name="Adresi kaydet").click()

    expect(page).to_have_title(re.compile(r"^Hata: Bilgi Güncelle"))
    summary = page.get_by_role("alert")
    expect(summary).to_be_focused()
    expect(summary).to_be_in_viewport()
    section = page.locator("section", has=page.get_by_role("heading", name="Posta adresi"))
    expect(section.locator("[data-error-summary]")).to_have_count(1)
    expect(address).to_have_accessible_description(re.compile("Adresinizi eksiksiz yazınız"))
    shot(page, "errors-05-profile-phone")
    assert_no_sideways_scroll(page)
