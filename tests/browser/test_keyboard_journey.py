"""Keyboard only, in a real browser: log in, then revoke a certificate, never touching the
mouse — every element that takes the focus on the way shows it (a visible outline or ring).

Login and the SMS codes work as in test_login_journey.py (captcha test mode, file SMS outbox).
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
from nesportal.testing import sms_code
from nesportal.testing.factories import DEFAULT_SECURITY_WORD
from tests.browser.test_login_journey import (  # noqa: F401 (fixtures)
    browser_context_args,
    citizen,
    outbox,
    read_outbox,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# The focused element's indicator as the browser draws it: an outline or a box-shadow ring
# (a focus style that is "none" on both is invisible).
FOCUS_SHOWN = """() => {
  const el = document.activeElement;
  if (!el || el === document.body) return null;
  const style = getComputedStyle(el);
  const outline = style.outlineStyle !== "none" && parseFloat(style.outlineWidth) > 0;
  const ring = style.boxShadow && style.boxShadow !== "none";
  return {shown: outline || ring, tag: el.tagName, name: el.getAttribute("name"),
          text: (el.innerText || el.value || "").trim().slice(0, 40), type: el.type || ""};
}"""


def tab_to(page: Page, matches: str, *, limit: int = 80) -> None:
    """Press Tab until the focused element matches the CSS selector ``matches`` (at once if it
    has the focus already), asserting on every stop that the focus is visible."""
    if page.evaluate("s => document.activeElement.matches(s)", matches):
        focused = page.evaluate(FOCUS_SHOWN)
        assert focused is not None and focused["shown"], f"no visible focus on {focused}"
        return  # already there (a field with autofocus)
    for _ in range(limit):
        page.keyboard.press("Tab")
        focused = page.evaluate(FOCUS_SHOWN)
        assert focused is not None, "the focus fell back to the page"
        assert focused["shown"], f"no visible focus on {focused}"
        if page.evaluate("s => document.activeElement.matches(s)", matches):
            return
    raise AssertionError(f"Tab never reached {matches}")


def test_login_and_revoke_with_the_keyboard_only(
    live_server: Any,
    page: Page,
    citizen: Citizen,  # noqa: F811
    outbox: Path,  # noqa: F811
    certificate_factory: Any,
) -> None:
    cert = certificate_factory(citizen, "active", now=timezone.now() - dt.timedelta(days=10))[0]
    page.goto(f"{live_server.url}/giris/")

    tab_to(page, "input[name=identifier]")
    page.keyboard.type(citizen.identifier)
    tab_to(page, "input[name=captcha_1]")
    page.keyboard.type("passed")
    tab_to(page, "input[name=security_word]")
    page.keyboard.type(DEFAULT_SECURITY_WORD)
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/giris/sms/$"))

    tab_to(page, "input[name=code]")
    page.keyboard.type(sms_code(read_outbox(outbox), to=citizen.mobile_phone))
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/islemler/$"))

    tab_to(page, "a[href$='/sertifikalar/iptal/']")
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/sertifikalar/iptal/$"))
    tab_to(page, f"input[type=radio][value='{cert.serial_number}']")
    page.keyboard.press("Space")
    tab_to(page, "input[type=radio][name=reason]")
    page.keyboard.press("Space")
    tab_to(page, "main form button[type=submit]")
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(rf"/sertifikalar/{cert.serial_number}/iptal/$"))

    tab_to(page, "main form button[type=submit]")
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/iptal/onay-kodu/$"))
    tab_to(page, "input[name=code]")
    page.keyboard.type(sms_code(read_outbox(outbox), to=citizen.mobile_phone))
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/iptal/sonuc/$"))
    cert.refresh_from_db()
    assert cert.status == Certificate.Status.REVOKED
