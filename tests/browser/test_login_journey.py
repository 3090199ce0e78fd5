"""The Şifreli Giriş journey in a real browser (Playwright driving Debian's chromium).

The captcha runs in test mode (the answer "passed" is accepted), SMS go to the file backend and
the code is read from that outbox, exactly as a person trying the demo reads it at /dev/sms/.

Set ``NES_SHOTS_DIR=/some/dir`` to save full-page screenshots of every screen the tests visit.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import pyotp
import pytest
from playwright.sync_api import Browser, Page, expect

from accounts.callcentre import ensure_call_centre_group
from accounts.models import Citizen
from audit.models import AuditEvent
from nesportal.testing import sms_code
from nesportal.testing.factories import (
    DEFAULT_SECURITY_WORD,
    CallCentreAgentFactory,
)
from tests.browser.a11y import assert_accessible, running

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CALL_CENTRE = "444 5 576"
AGENT_PASSWORD = "Personel-Parola-2026"
WRONG_WORD = "yanlış-sözcük"
FIRST_NAME = "Şirin"
LAST_NAME = "Yıldız"
GREETING = "Sayın ŞİRİN YILDIZ"  # Turkish capitals: i → İ, ı → I


@pytest.fixture
def browser_context_args(browser_context_args: dict[str, Any]) -> dict[str, Any]:
    """A Turkish citizen's browser (chromium's own default is en-US)."""
    return {**browser_context_args, "locale": "tr-TR"}


@pytest.fixture
def call_centre_group(transactional_db: None) -> None:
    """The "Çağrı Merkezi" group, recreated if a transactional test's flush removed it.

    serialized_rollback cannot bring it back here: once Playwright's event loop runs, Django
    hands this thread a new database connection, which lacks the serialized snapshot.
    """
    ensure_call_centre_group()


@pytest.fixture
def outbox(settings: Any, tmp_path: Path) -> Path:
    """SMS go to a JSON-lines file; the live server runs in this process and sees the setting."""
    path = tmp_path / "sms-outbox.jsonl"
    settings.SMS_BACKEND = "file"
    settings.SMS_OUTBOX_PATH = path
    settings.CAPTCHA_TEST_MODE = True
    return path


@pytest.fixture
def citizen(citizen_factory: Any) -> Citizen:
    return citizen_factory(first_name=FIRST_NAME, last_name=LAST_NAME)


def read_outbox(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def shot(page: Page, name: str) -> None:
    """A screen of a journey: axe finds no WCAG 2.2 A/AA violation on it (tests/browser/a11y.py),
    and ``NES_SHOTS_DIR=/some/dir`` saves its screenshot."""
    assert_accessible(page, name)
    directory = os.environ.get("NES_SHOTS_DIR")
    if directory:
        Path(directory).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(directory) / f"{name}.png"), full_page=True)


def csp_violations(page: Page) -> list[str]:
    """Collects what the browser refuses under the Content-Security-Policy (nesportal/settings.py):
    chromium logs each refused script, style or image to the console."""
    refused: list[str] = []

    def on_console(message: Any) -> None:
        if "Content Security Policy" in message.text and not running(page):
            refused.append(message.text)

    page.on("console", on_console)
    return refused


def captcha_key(page: Page) -> str:
    return page.locator("input[name='captcha_0']").input_value()


def expect_captcha_image_loaded(page: Page) -> None:
    image = page.locator("img[data-captcha-image]")
    expect(image).to_be_visible()
    page.wait_for_function(
        "() => { const i = document.querySelector('img[data-captcha-image]');"
        " return i && i.complete && i.naturalWidth > 0; }"
    )


def submit_login(page: Page, identifier: str, word: str) -> None:
    """Fill the Şifreli Giriş form (captcha in test mode) and press Giriş."""
    expect(page.get_by_role("heading", name="Şifreli Giriş")).to_be_visible()
    page.get_by_label("T.C. Kimlik No / Pasaport No").fill(identifier)
    page.get_by_label("Resimdeki Yazı", exact=True).fill("passed")
    page.get_by_label("Güvenlik Sözcüğü", exact=True).fill(word)
    page.get_by_role("button", name="Giriş", exact=True).click()


def enter_code(page: Page, code: str) -> None:
    expect(page).to_have_url(re.compile(r"/giris/sms/$"))
    page.get_by_label("SMS Onay Kodu").fill(code)
    page.get_by_role("button", name="Onayla").click()


def log_in(page: Page, base_url: str, citizen: Citizen, outbox: Path) -> None:
    """The whole journey up to the İşlemler Menüsü."""
    page.goto(f"{base_url}/giris/")
    submit_login(page, citizen.identifier, DEFAULT_SECURITY_WORD)
    expect(page).to_have_url(re.compile(r"/giris/sms/$"))
    enter_code(page, sms_code(read_outbox(outbox), to=citizen.mobile_phone))
    expect(page).to_have_url(re.compile(r"/islemler/$"))


def test_it_logs_in_through_the_real_pages(
    live_server: Any, page: Page, citizen: Citizen, outbox: Path
) -> None:
    refused = csp_violations(page)
    page.goto(f"{live_server.url}/giris/")
    expect(page).to_have_title(re.compile("Şifreli Giriş"))
    expect(page.locator("html")).to_have_attribute("lang", "tr")
    expect(page.get_by_text(CALL_CENTRE).first).to_be_visible()
    expect_captcha_image_loaded(page)
    page.get_by_label("T.C. Kimlik No / Pasaport No").fill(citizen.identifier)
    shot(page, "01-login")

    # "Yenile" swaps image and key in place: no navigation, the typed ID is still there.
    image = page.locator("img[data-captcha-image]")
    old_src, old_key = image.get_attribute("src"), captcha_key(page)
    page.evaluate("window.__sameDocument = true")
    page.get_by_role("button", name="Yenile").click()
    expect(image).not_to_have_attribute("src", old_src or "")
    expect(page.locator("input[name='captcha_0']")).not_to_have_value(old_key)
    new_key = captcha_key(page)
    assert new_key and new_key in (image.get_attribute("src") or "")
    assert page.evaluate("window.__sameDocument") is True
    expect(page.get_by_label("T.C. Kimlik No / Pasaport No")).to_have_value(citizen.identifier)
    expect_captcha_image_loaded(page)

    page.get_by_label("Resimdeki Yazı").fill("passed")
    page.get_by_label("Güvenlik Sözcüğü", exact=True).fill(DEFAULT_SECURITY_WORD)
    page.get_by_role("button", name="Giriş", exact=True).click()

    expect(page).to_have_url(re.compile(r"/giris/sms/$"))
    expect(page.get_by_role("heading", name="SMS Onay Kodu")).to_be_visible()
    expect(page.get_by_text(citizen.masked_phone)).to_be_visible()
    assert citizen.mobile_phone not in page.content()
    countdown = page.locator("[data-countdown-value]")
    expect(countdown).to_have_text(re.compile(r"^\d{1,3}$|^\d{1,2}:\d{2}$"))
    expect(countdown).not_to_have_text(countdown.inner_text())  # it ticks
    shot(page, "02-sms")
    messages = read_outbox(outbox)
    assert [m["to"] for m in messages] == [citizen.mobile_phone]
    enter_code(page, sms_code(messages))

    expect(page).to_have_url(re.compile(r"/islemler/$"))
    expect(page.get_by_text(GREETING)).to_be_visible()
    expect(page.get_by_role("link", name="Sertifikamı İptal Et")).to_be_visible()
    expect(page.get_by_role("link", name="PIN/PUK Bilgisi")).to_be_visible()
    expect(page.get_by_role("link", name="E-Onay İşlemleri")).to_be_visible()
    shot(page, "03-menu")

    page.locator("main").get_by_role("button", name="Çıkış").click()
    expect(page).to_have_url(re.compile(r"/giris/$"))
    expect(page.get_by_role("heading", name="Şifreli Giriş")).to_be_visible()
    expect(page.get_by_text("çıkış yaptınız")).to_be_visible()

    # The session ended on the server: the menu now sends the visitor to the login page.
    page.goto(f"{live_server.url}/islemler/")
    expect(page).to_have_url(re.compile(r"/giris/$"))
    expect(page.get_by_text("giriş yapmanız gerekir")).to_be_visible()
    # Captcha refresh, countdown and the pages themselves work under the strict policy.
    assert refused == []


def test_it_locks_after_three_wrong_words_and_an_agent_unlocks(
    live_server: Any,
    page: Page,
    browser: Browser,
    citizen: Citizen,
    outbox: Path,
    call_centre_group: None,
) -> None:
    page.goto(f"{live_server.url}/giris/")
    keys = {captcha_key(page)}
    for _attempt in range(3):
        submit_login(page, citizen.identifier, WRONG_WORD)
        alert = page.get_by_role("alert")
        expect(alert).to_contain_text("doğrulanamadı")
        expect(alert).to_contain_text(CALL_CENTRE)
        expect(page.get_by_label("Güvenlik Sözcüğü", exact=True)).to_have_value("")
        keys.add(captcha_key(page))
    assert len(keys) == 4, "every attempt must show a new captcha"
    shot(page, "04-login-failed")

    citizen.refresh_from_db()
    assert citizen.locked_at is not None
    assert citizen.lock_reason == Citizen.LockReason.WRONG_WORD

    # The right word no longer helps, and the answer is the same as for a wrong word.
    submit_login(page, citizen.identifier, DEFAULT_SECURITY_WORD)
    expect(page).to_have_url(re.compile(r"/giris/$"))
    expect(page.get_by_role("alert")).to_contain_text(CALL_CENTRE)
    # The only SMS is the lock notice: no code was sent for the locked account.
    notices = read_outbox(outbox)
    assert [m["to"] for m in notices] == [citizen.mobile_phone]
    assert "bloke" in notices[0]["body"] and CALL_CENTRE in notices[0]["body"]
    with pytest.raises(LookupError):
        sms_code(notices)
    citizen.refresh_from_db()
    assert citizen.locked_at is not None

    # A call-centre agent, in a browser of their own, finds and unlocks the citizen.
    agent = CallCentreAgentFactory()
    agent_context = browser.new_context(locale="tr-TR")
    try:
        admin = agent_context.new_page()
        admin_refused = csp_violations(admin)
        admin.goto(f"{live_server.url}/admin/")
        admin.locator("#id_username").fill(agent.username)
        admin.locator("#id_password").fill(AGENT_PASSWORD)
        admin.locator("input[type='submit']").click()
        # The second factor: a code of the agent's authenticator (enrolled on the first visit).
        expect(admin).to_have_url(re.compile(r"/admin/dogrulama/kur/$"))
        secret = admin.locator("#totp-secret").inner_text().replace(" ", "")
        admin.get_by_label("Uygulamadaki 6 haneli kod").fill(pyotp.TOTP(secret).now())
        admin.get_by_role("button", name="Doğrula ve ekle").click()
        admin.get_by_role("link", name="Kaydettim, devam et").click()
        expect(admin.locator("#user-tools")).to_contain_text(agent.username)

        admin.goto(f"{live_server.url}/admin/accounts/citizen/")
        admin.locator("#searchbar").fill(citizen.identifier)
        admin.locator("#searchbar").press("Enter")
        rows = admin.locator("#result_list tbody tr")
        expect(rows).to_have_count(1)
        expect(rows.first).to_contain_text(citizen.identifier)
        rows.first.locator("input[name='_selected_action']").check()
        admin.locator("select[name='action']").select_option(label="Kilidi aç")
        admin.locator("button[name='index']").click()

        admin.get_by_label("Kilit açma gerekçesi").fill("Vatandaş aradı, kimliği doğrulandı.")
        shot(admin, "05-admin-unlock")
        admin.locator("input[type='submit'][value='Kilidi aç']").click()
        expect(admin.locator("ul.messagelist")).to_contain_text("kilidi açıldı")
        # Django's admin (login, change list, action page) needs nothing the policy refuses.
        assert admin_refused == []
    finally:
        agent_context.close()

    citizen.refresh_from_db()
    assert citizen.locked_at is None
    assert citizen.failure_count == 0
    event = AuditEvent.objects.get(action="nes.account.unlocked", citizen=citizen)
    assert event.actor_id == agent.pk
    assert event.data.get("reason") == "Vatandaş aradı, kimliği doğrulandı."

    # The citizen can log in again.
    log_in(page, live_server.url, citizen, outbox)
    expect(page.get_by_text(GREETING)).to_be_visible()


def test_it_locks_after_three_wrong_sms_codes(
    live_server: Any, page: Page, citizen: Citizen, outbox: Path
) -> None:
    page.goto(f"{live_server.url}/giris/")
    submit_login(page, citizen.identifier, DEFAULT_SECURITY_WORD)
    right = sms_code(read_outbox(outbox))
    wrong = f"{(int(right) + 1) % 1_000_000:06d}"

    for left in (2, 1):
        enter_code(page, wrong)
        # Under the field and in the error summary at the top (issue 14): the field's own.
        expect(page.locator("#id_code_error")).to_contain_text(f"Kalan deneme hakkınız: {left}")
    enter_code(page, wrong)

    expect(page).to_have_url(re.compile(r"/giris/kilitli/$"))
    expect(page.get_by_role("heading", name="Hesabınız bloke edildi")).to_be_visible()
    expect(page.get_by_role("alert")).to_contain_text(CALL_CENTRE)
    shot(page, "06-locked")
    citizen.refresh_from_db()
    assert citizen.locked_at is not None
    assert citizen.lock_reason == Citizen.LockReason.WRONG_CODE

    # The right code is useless now: the pending login is gone.
    page.goto(f"{live_server.url}/giris/sms/")
    expect(page).to_have_url(re.compile(r"/giris/$"))


def test_the_language_switch_shows_english(
    live_server: Any, page: Page, citizen: Citizen, outbox: Path
) -> None:
    page.goto(f"{live_server.url}/giris/")
    page.get_by_role("button", name="English").click()
    expect(page).to_have_url(re.compile(r"/giris/$"))
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.get_by_role("heading", name="Password Login")).to_be_visible()
    expect(page.get_by_role("button", name="Refresh")).to_be_visible()
    shot(page, "07-login-en")

    # The whole journey works in English; the choice survives the login.
    page.get_by_label("National ID number / Passport number").fill(citizen.identifier)
    page.get_by_label("Text in the image").fill("passed")
    page.get_by_label("Security word", exact=True).fill(DEFAULT_SECURITY_WORD)
    page.get_by_role("button", name="Log in", exact=True).click()
    expect(page).to_have_url(re.compile(r"/giris/sms/$"))
    expect(page.get_by_role("heading", name="SMS confirmation code")).to_be_visible()
    shot(page, "08-sms-en")
    # The SMS comes in the language of the page that asked for it (accounts.language).
    assert "is your NES Portal login code" in read_outbox(outbox)[-1]["body"]
    page.get_by_label("SMS confirmation code").fill(sms_code(read_outbox(outbox)))
    page.get_by_role("button", name="Confirm").click()
    expect(page).to_have_url(re.compile(r"/islemler/$"))
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.get_by_text("Dear ŞİRİN YILDIZ")).to_be_visible()
    shot(page, "09-menu-en")

    page.get_by_role("button", name="Türkçe").click()
    expect(page).to_have_url(re.compile(r"/islemler/$"))
    expect(page.locator("html")).to_have_attribute("lang", "tr")
    expect(page.get_by_text(GREETING)).to_be_visible()


def test_the_login_page_fits_a_phone(browser: Browser, live_server: Any, outbox: Path) -> None:
    context = browser.new_context(
        viewport={"width": 390, "height": 844}, is_mobile=True, locale="tr-TR"
    )
    try:
        page = context.new_page()
        page.goto(f"{live_server.url}/giris/")
        expect_captcha_image_loaded(page)
        overflow = page.evaluate(
            "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        shot(page, "10-login-mobile")
        assert overflow <= 0, f"the page is {overflow}px wider than a 390px phone"
    finally:
        context.close()
