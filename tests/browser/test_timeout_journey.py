"""The idle-logout warning and the end of the PIN/PUK view grant, in a real browser.

The page's clock is Playwright's (``page.clock``): it is moved forward instead of waiting, so a
two-minute warning takes no time. The server keeps its own real clock: "Oturumu uzat" must move
the session's expiry in the database, and the page's own end of the session must log out.
Login and the SMS codes work as in test_login_journey.py, whose fixtures are reused.
"""

from __future__ import annotations

import datetime as dt
import re
import time
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.contrib.sessions.backends.db import SessionStore
from django.contrib.sessions.models import Session
from playwright.sync_api import Page, expect

from accounts.models import Citizen
from nesportal.testing import sms_code
from pinvault import vault
from pinvault.models import AkisCard
from pinvault.views import SESSION_GRANTS
from tests.browser.a11y import assert_accessible
from tests.browser.test_login_journey import (  # noqa: F401 (fixtures)
    browser_context_args,
    citizen,
    csp_violations,
    enter_code,
    log_in,
    outbox,
    read_outbox,
    shot,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SESSION_SECONDS = 200  # a short idle timeout; the warning comes 120 s before its end
WARNING_SECONDS = 120
ENDED = "Güvenliğiniz için, uzun süre işlem yapılmadığından oturumunuz sona erdi."
HIDDEN = "Güvenliğiniz için PIN/PUK bilginiz gizlendi; yeniden görmek için SMS Onay Kodu isteyiniz."
PIN = "482913"
PUK = "73915046"


@pytest.fixture
def short_session(settings: Any) -> None:
    settings.SESSION_COOKIE_AGE = SESSION_SECONDS
    settings.NES_SESSION_WARNING_SECONDS = WARNING_SECONDS


def session_cookie(page: Page) -> str:
    cookies = {c["name"]: c["value"] for c in page.context.cookies()}
    return cookies[settings.SESSION_COOKIE_NAME]


def session_expiry(page: Page) -> dt.datetime:
    return Session.objects.get(session_key=session_cookie(page)).expire_date


def seconds(value: float) -> int:
    return int(value * 1000)


def test_it_warns_before_the_idle_logout_extends_and_ends_the_session(
    live_server: Any,
    page: Page,
    citizen: Citizen,  # noqa: F811
    outbox: Path,  # noqa: F811
    short_session: None,
) -> None:
    refused = csp_violations(page)
    page.clock.install()
    log_in(page, live_server.url, citizen, outbox)
    dialog = page.get_by_role("alertdialog", name="Oturumunuz kapanmak üzere")
    extend = dialog.get_by_role("button", name="Oturumu uzat")
    expect(dialog).to_be_hidden()
    page.get_by_role("link", name="Menü").focus()

    # Two minutes before the end: the warning, with the focus on "Oturumu uzat".
    page.clock.fast_forward(seconds(SESSION_SECONDS - WARNING_SECONDS + 5))
    expect(dialog).to_be_visible()
    expect(extend).to_be_focused()
    expect(dialog.locator("[data-session-countdown]")).to_have_text(re.compile(r"^01:[45]\d$"))
    assert_accessible(page, "session warning")
    shot(page, "timeout-01-warning")

    # "Oturumu uzat" (the keyboard's Enter on the focused button): the expiry moves on the server.
    before = session_expiry(page)
    page.keyboard.press("Enter")
    expect(dialog).to_be_hidden()
    expect(page.locator("[data-session-status]")).to_have_text("Oturumunuz uzatıldı.")
    expect(page.get_by_role("link", name="Menü")).to_be_focused()
    extended = session_expiry(page)
    assert extended > before

    # Escape on the warning keeps the session too (the citizen is there).
    page.clock.fast_forward(seconds(SESSION_SECONDS - WARNING_SECONDS + 5))
    expect(dialog).to_be_visible()
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    assert session_expiry(page) > extended

    # Nobody answers: at the end the page goes to the login page, which says why.
    page.clock.fast_forward(seconds(SESSION_SECONDS - WARNING_SECONDS + 5))
    expect(dialog).to_be_visible()
    page.clock.fast_forward(seconds(WARNING_SECONDS))
    expect(page).to_have_url(re.compile(r"/giris/$"))
    expect(page.get_by_role("status").filter(has_text=ENDED)).to_be_visible()
    shot(page, "timeout-02-ended")
    page.goto(f"{live_server.url}/islemler/")
    expect(page).to_have_url(re.compile(r"/giris/$"))
    assert not refused


def test_the_warning_works_in_english(
    live_server: Any,
    page: Page,
    citizen: Citizen,  # noqa: F811
    outbox: Path,  # noqa: F811
    short_session: None,
) -> None:
    page.clock.install()
    log_in(page, live_server.url, citizen, outbox)
    page.get_by_role("button", name="English").click()
    page.clock.fast_forward(seconds(SESSION_SECONDS - WARNING_SECONDS + 5))

    dialog = page.get_by_role("alertdialog", name="Your session is about to end")
    expect(dialog).to_be_visible()
    expect(dialog.get_by_role("button", name="Stay logged in")).to_be_focused()


def test_the_pin_and_puk_leave_the_page_when_the_grant_ends(
    live_server: Any,
    page: Page,
    citizen: Citizen,  # noqa: F811
    outbox: Path,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("pinvault.views.GRANT_SECONDS", 60)  # the live server runs in this process
    card = AkisCard.objects.create(
        citizen=citizen,
        serial_number="AKIS-4081726354",
        produced_on=dt.date(2021, 3, 8),
        state=AkisCard.State.ACTIVE,
    )
    vault.store(card, "pin", PIN)
    vault.store(card, "puk", PUK)
    page.clock.install()
    log_in(page, live_server.url, citizen, outbox)
    page.goto(f"{live_server.url}/pin-puk/{card.serial_number}/")
    page.get_by_role("button", name="SMS Onay Kodu Gönder").click()
    page.get_by_label("SMS Onay Kodu").fill(sms_code(read_outbox(outbox), to=citizen.mobile_phone))
    page.get_by_role("button", name="Onayla", exact=True).click()
    expect(page.locator("[data-secret=pin]")).to_have_text(PIN)
    expect(page.locator("[data-countdown-value]")).to_have_text(re.compile(r"^00:[0-5]\d$"))
    notice = page.locator("[data-secrets-hidden-notice]")
    expect(notice).to_be_hidden()

    page.clock.fast_forward(seconds(61))

    expect(notice).to_be_visible()
    expect(notice).to_contain_text(HIDDEN)
    expect(notice).to_be_focused()
    expect(page.locator("[data-secret]")).to_have_count(0)
    html = page.content()
    assert PIN not in html and PUK not in html, "removed from the page, not only hidden"
    assert_accessible(page, "PIN/PUK hidden")
    shot(page, "timeout-03-pinpuk-hidden")

    # The way back: a new SMS Onay Kodu. The server's real clock has not moved: end its grant
    # in the session, as 60 real seconds would have.
    store = SessionStore(session_key=session_cookie(page))
    store[SESSION_GRANTS] = {card.serial_number: time.time() - 1}
    store.save()
    notice.get_by_role("link").click()
    expect(page).to_have_url(re.compile(rf"/pin-puk/{card.serial_number}/$"))
    expect(page.get_by_role("button", name="SMS Onay Kodu Gönder")).to_be_visible()


def test_favicon_ico_is_not_a_404(live_server: Any, page: Page) -> None:
    response = page.request.get(f"{live_server.url}/favicon.ico")

    assert response.status == 200
    assert response.headers["content-type"].startswith("image/svg+xml")


def test_the_header_has_44_px_touch_targets_on_a_phone_and_the_skip_link_comes_first(
    live_server: Any,
    page: Page,
    citizen: Citizen,  # noqa: F811
    outbox: Path,  # noqa: F811
) -> None:
    page.set_viewport_size({"width": 390, "height": 844})
    log_in(page, live_server.url, citizen, outbox)
    targets = page.locator(".site-header a, .site-header button")
    assert targets.count() >= 5  # brand, Menü, Yardım, Çıkış, English
    for i in range(targets.count()):
        box = targets.nth(i).bounding_box()
        assert box is not None
        name = targets.nth(i).inner_text()
        assert box["height"] >= 44 and box["width"] >= 44, f"{name!r}: {box}"

    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="İçeriğe geç")
    expect(skip).to_be_focused()
    expect(skip).to_be_visible()
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/islemler/#main$"))
