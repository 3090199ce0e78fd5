"""The captcha's audio in a real browser (Debian's chromium): "Sesli dinle" shows a player in the
page that loads the WAV of the current key, "Tekrar dinle" plays it again, "Yenile" gives the
player the new key's audio; in English the button is "Listen"; without JavaScript the link opens
the audio in the browser instead of downloading a file.

espeak-ng (or flite) must be installed for the page to offer audio at all (CI installs both).
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.utils import translation
from playwright.sync_api import Browser, Page, expect

from tests.browser.a11y import assert_accessible
from tests.browser.test_login_journey import (  # noqa: F401 (fixtures)
    browser_context_args,
    captcha_key,
    csp_violations,
    expect_captcha_image_loaded,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

AUDIO = "audio[data-captcha-audio]"
PLAYER_NAME = "Doğrulama sesi"
# Metadata loaded (readyState >= HAVE_METADATA) and a real length: the browser decoded the WAV.
LOADED = (
    "() => { const a = document.querySelector('audio[data-captcha-audio]');"
    " return a && a.readyState >= 1 && a.duration > 0 && !a.error; }"
)


def audio_src(page: Page) -> str:
    return str(page.locator(AUDIO).evaluate("a => a.currentSrc || a.src"))


def audio_requests(page: Page) -> list[str]:
    seen: list[str] = []
    page.on("request", lambda r: seen.append(r.url) if "/captcha/audio/" in r.url else None)
    return seen


def test_sesli_dinle_plays_the_audio_in_the_page(live_server: Any, page: Page) -> None:
    refused = csp_violations(page)
    requests = audio_requests(page)
    page.goto(f"{live_server.url}/giris/")
    expect_captcha_image_loaded(page)
    player = page.get_by_label(PLAYER_NAME)
    listen = page.get_by_role("button", name="Sesli dinle")
    expect(listen).to_be_visible()
    expect(player).to_be_hidden()
    assert requests == [], "the audio is loaded only when asked for"

    # With the keyboard: the button takes the focus and Enter opens the player.
    listen.focus()
    page.keyboard.press("Enter")
    expect(player).to_be_visible()
    key = captcha_key(page)
    assert re.search(rf"/captcha/audio/{key}\.wav$", audio_src(page))
    page.wait_for_function(LOADED)
    assert page.locator(AUDIO).evaluate("a => a.duration") > 5
    assert page.evaluate("document.activeElement.textContent") == "Sesli dinle"  # not moved
    assert len(requests) >= 1
    assert_accessible(page, "login with the audio player open")

    replay = page.get_by_role("button", name="Tekrar dinle")
    expect(replay).to_be_visible()
    page.locator(AUDIO).evaluate("a => { a.pause(); a.currentTime = a.duration / 2; }")
    replay.click()
    page.wait_for_function(
        "() => { const a = document.querySelector('audio[data-captcha-audio]');"
        " return !a.paused && a.currentTime < a.duration / 2; }"
    )
    assert audio_src(page).endswith(f"/captcha/audio/{key}.wav")

    # "Yenile": a new key, and the open player holds the new key's audio.
    page.get_by_role("button", name="Yenile").click()
    expect(page.locator("input[name='captcha_0']")).not_to_have_value(key)
    new_key = captcha_key(page)
    page.wait_for_function(
        "k => (document.querySelector('audio[data-captcha-audio]').currentSrc || '')"
        ".endsWith('/captcha/audio/' + k + '.wav')",
        arg=new_key,
    )
    page.wait_for_function(LOADED)
    link = page.locator("a[data-captcha-audio-link]")
    assert (link.get_attribute("href") or "").endswith(f"/captcha/audio/{new_key}.wav")
    assert refused == []


def test_in_english_the_button_is_listen(live_server: Any, page: Page) -> None:
    page.goto(f"{live_server.url}/giris/")
    page.get_by_role("button", name="English").click()
    expect(page.locator("html")).to_have_attribute("lang", "en")

    page.get_by_role("button", name="Listen", exact=True).click()

    page.wait_for_function(LOADED)
    # "Listen again" once the lead has compiled the catalogue with /tmp/i18n/h14b.po.
    with translation.override("en"):
        again = translation.gettext("Tekrar dinle")
    expect(page.get_by_role("button", name=again, exact=True)).to_be_visible()
    assert page.get_by_text("Sesli dinle").count() == 0


def test_without_javascript_the_link_opens_the_audio_inline(
    live_server: Any, browser: Browser
) -> None:
    context = browser.new_context(java_script_enabled=False, locale="tr-TR")
    try:
        page = context.new_page()
        page.goto(f"{live_server.url}/giris/")
        link = page.get_by_role("link", name="Sesli dinle")
        expect(page.get_by_label(PLAYER_NAME)).to_be_hidden()
        href = link.get_attribute("href") or ""
        assert href.endswith(".wav")

        with page.expect_response(re.compile(r"/captcha/audio/")) as answer:
            link.click()  # an attachment would start a download and fail the navigation

        response = answer.value
        assert response.status == 200
        assert response.headers["content-type"] == "audio/wav"
        assert response.headers["content-disposition"].startswith("inline")
        expect(page).to_have_url(re.compile(r"/captcha/audio/\w+\.wav$"))
    finally:
        context.close()
