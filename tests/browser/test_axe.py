"""axe-core (WCAG 2.2 A/AA) on every screen a citizen and an agent meet, in Turkish and English,
at desktop (1280×800) and phone (390×844) sizes; and nowhere a sideways scroll on the phone.

The screens are reached the way a person reaches them — forms submitted wrong to show their
errors, SMS code pages after "SMS Onay Kodu Gönder" — with the session of a logged-in citizen
(``login_as``) or agent (``staff_login``) handed to the browser as its cookie. The journeys run
axe on every screen they photograph too (``tests.browser.test_login_journey.shot``).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.test import Client
from django.utils import timezone
from playwright.sync_api import Browser, BrowserContext, Page

from accounts.models import Citizen, SmsMessage
from accounts.sms_queue import queue_sms
from accounts.sms_texts import render_body
from nesportal.testing import login_as, staff_login
from nesportal.testing.factories import ApplicationFactory
from pinvault import vault
from pinvault.models import AkisCard
from tests.browser.a11y import describe, violations

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SIZES = {"desktop": {"width": 1280, "height": 800}, "phone": {"width": 390, "height": 844}}
LANGUAGES = ("tr", "en")


@pytest.fixture
def holder(citizen_factory: Any, certificate_factory: Any, captcha_test_mode: None) -> Citizen:
    citizen = citizen_factory(first_name="Şirin", last_name="Yıldız")
    now = timezone.now()
    certificate_factory(citizen, "expired", now=now - dt.timedelta(days=60))
    certificate_factory(citizen, "active", now=now - dt.timedelta(days=20))
    certificate_factory(citizen, "pending")
    certificate_factory(citizen, "suspended", kind="mobile")
    card = AkisCard.objects.create(
        citizen=citizen, serial_number="AKIS-4081726354", produced_on=dt.date(2021, 3, 8)
    )
    vault.store(card, "pin", "482913")
    vault.store(card, "puk", "73915046")
    AkisCard.objects.create(
        citizen=citizen,
        serial_number="AKIS-9172635408",
        produced_on=dt.date(2016, 11, 2),
        state=AkisCard.State.PIN_LOCKED,
    )
    staff = get_user_model().objects.create_superuser("yonetici", password="Yonetici-Demo-2026!")
    ApplicationFactory(citizen=citizen, entered_by=staff)
    return citizen


def _context(browser: Browser, size: str, language: str, base_url: str) -> BrowserContext:
    context = browser.new_context(viewport=SIZES[size], locale="tr-TR", base_url=base_url)
    context.add_cookies(
        [{"name": settings.LANGUAGE_COOKIE_NAME, "value": language, "url": base_url}]
    )
    return context


def _session_cookie(context: BrowserContext, client: Client, base_url: str) -> None:
    key = client.cookies[settings.SESSION_COOKIE_NAME].value
    context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": key, "url": base_url}])


class Walk:
    """Collects axe's findings and sideways scrolling per screen; fails once, with all of them."""

    def __init__(self, page: Page, size: str, language: str) -> None:
        self.page, self.size, self.language = page, size, language
        self.problems: list[str] = []
        self.screens = 0

    def check(self, screen: str) -> None:
        self.page.wait_for_load_state("load")
        self.screens += 1
        found = violations(self.page)
        if found:
            self.problems.append(f"{screen} ({self.page.url}):\n{describe(found)}")
        if self.size == "phone":
            wide = self.page.evaluate("document.documentElement.scrollWidth")
            if wide > SIZES["phone"]["width"]:
                self.problems.append(f"{screen}: scrolls sideways ({wide} px at 390 px)")

    def visit(self, path: str, screen: str) -> None:
        self.page.goto(path)
        self.check(screen)

    def submit_empty(self, path: str, screen: str, button: Callable[[Page], Any]) -> None:
        """The form at ``path`` sent without filling it: its errors are the screen."""
        self.page.goto(path)
        button(self.page).click()
        self.check(screen)


def _submit(page: Page) -> Any:
    return page.locator("main form button[type=submit]").first


@pytest.fixture
def walks(browser: Browser, live_server: Any) -> Iterator[Callable[[str, str], Walk]]:
    contexts: list[BrowserContext] = []

    def make(size: str, language: str) -> Walk:
        context = _context(browser, size, language, live_server.url)
        contexts.append(context)
        return Walk(context.new_page(), size, language)

    yield make
    for context in contexts:
        context.close()


def _not_me_path(citizen: Citizen) -> str:
    body = render_body(queue_sms(citizen, SmsMessage.Kind.CERT_SUSPENDED, context={"serial": "ab"}))
    match = re.search(r"(/y/[A-Za-z0-9_-]{22})$", body or "")
    assert match, body
    return match.group(1)


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("size", list(SIZES))
def test_every_screen_has_no_axe_violation(
    walks: Callable[[str, str], Walk],
    live_server: Any,
    holder: Citizen,
    call_centre_agent: Any,
    size: str,
    language: str,
) -> None:
    walk = walks(size, language)
    page = walk.page
    # Anonymous: the home page, the help pages it links to, the login and recovery forms (empty
    # and refused), E-İmzalı Giriş, "Bu işlemi ben yapmadım", a page that does not exist.
    walk.visit("/", "home")
    help_links = sorted(
        {
            href
            for href in page.eval_on_selector_all(
                "a[href^='/yardim']", "els => els.map(e => e.getAttribute('href'))"
            )
        }
    )
    for href in help_links:
        walk.visit(href, f"help {href}")
    walk.visit("/giris/", "login")
    walk.submit_empty("/giris/", "login refused", _submit)
    walk.visit("/guvenlik-sozcugu/unuttum/", "recovery")
    walk.submit_empty("/guvenlik-sozcugu/unuttum/", "recovery refused", _submit)
    walk.visit("/e-imzali-giris/", "e-signature login")
    walk.visit(_not_me_path(holder), "not me: form")
    walk.submit_empty("/y/", "not me: refused", _submit)
    walk.visit("/bu-sayfa-yok/", "404")

    # The citizen's pages.
    _session_cookie(page.context, login_as(Client(), holder), live_server.url)
    for path, screen in [
        ("/islemler/", "menu"),
        ("/hesap-hareketlerim/", "security log"),
        ("/sertifikalar/", "certificate list"),
        ("/sertifikalar/kullanima-ac/", "open for use"),
        ("/sertifikalar/askidan-indir/", "unsuspend list"),
        ("/sertifikalar/iptal/", "revoke start"),
        ("/pin-puk/", "PIN/PUK list"),
        ("/pin-puk/AKIS-4081726354/", "PIN/PUK card"),
        ("/kilit-cozme/", "unlock list"),
        ("/kilit-cozme/AKIS-9172635408/", "unlock card"),
        ("/e-onay/", "E-Onay"),
        ("/bilgi-guncelle/", "Bilgi Güncelle"),
    ]:
        walk.visit(path, screen)
    page.goto("/sertifikalar/")
    page.locator("tbody a").first.click()
    walk.check("certificate detail")
    page.goto("/hesap-hareketlerim/")
    page.locator("main a[href^='/hesap-hareketlerim/']").first.click()
    walk.check("security log event")
    page.goto("/sertifikalar/kullanima-ac/")
    _submit(page).click()
    walk.check("open for use refused")
    page.goto("/pin-puk/AKIS-4081726354/")
    _submit(page).click()
    walk.check("PIN/PUK code")
    page.locator("main form button[type=submit]").first.click()
    walk.check("PIN/PUK code refused")
    page.goto("/bilgi-guncelle/")
    page.locator("form[action$='/telefon/'] button[type=submit]").click()
    walk.check("Bilgi Güncelle refused")

    # The agent in admin.
    _session_cookie(page.context, staff_login(Client(), call_centre_agent), live_server.url)
    walk.visit(f"/{settings.ADMIN_URL}", "admin index")
    walk.visit(f"/{settings.ADMIN_URL}accounts/citizen/", "admin citizens")
    walk.visit(f"/{settings.ADMIN_URL}accounts/citizen/{holder.pk}/change/", "admin citizen")

    assert walk.screens >= 30
    assert not walk.problems, "\n".join(walk.problems)
