"""The call-centre agent's journey in a real browser: a locked citizen's page → read the lock
reason → "Kilidi aç" → type a reason → confirm → the citizen is shown unlocked.

The browser is logged into admin with the session of ``staff_login(Client(), agent)`` (its
cookie copied into the browser context), so this keeps working when admin asks for a second
factor. ``NES_SHOTS_DIR=/some/dir`` saves screenshots.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.conf import settings
from django.test import Client
from playwright.sync_api import BrowserContext, Page, expect

from accounts.callcentre import ensure_call_centre_group
from accounts.models import Citizen
from audit.actor import Actor
from audit.log import record
from audit.models import AuditEvent
from nesportal.testing import staff_login
from nesportal.testing.factories import (
    AkisCardFactory,
    ApplicationFactory,
    CallCentreAgentFactory,
    CitizenFactory,
    SmsMessageFactory,
)
from tests.browser.test_login_journey import (  # noqa: F401 (fixture)
    browser_context_args,
    csp_violations,
    shot,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

REASON = "Vatandaş aradı, kimliği doğrulandı"


@pytest.fixture
def agent(transactional_db: None) -> Any:
    ensure_call_centre_group()  # a transactional test's flush removed the migration's group
    return CallCentreAgentFactory()


@pytest.fixture
def locked(transactional_db: None) -> Citizen:
    """A locked citizen with a full page: login attempts, SMS (with a long provider id and
    failure reason, which must wrap), a card and an application."""
    citizen = CitizenFactory(first_name="Gülşen", last_name="Işık", locked=True)
    for _ in range(3):
        record(
            "nes.login.word_failed", actor=Actor(ip="2001:db8:85a3::8a2e:370:7334"), citizen=citizen
        )
    record("nes.account.locked", citizen=citizen, reason="wrong_word")
    SmsMessageFactory(
        citizen=citizen,
        kind="account_locked",
        failed=True,
        provider_message_id="SM" + "0123456789abcdef" * 2,
        failure_reason="HTTP 503 from provider: " + "temporarily unavailable, " * 6,
    )
    AkisCardFactory(citizen=citizen, before_2011=True, unusable=True)
    ApplicationFactory(citizen=citizen)
    return citizen


def log_agent_in(context: BrowserContext, base_url: str, agent: Any) -> None:
    client = staff_login(Client(), agent)
    context.add_cookies(
        [
            {
                "name": settings.SESSION_COOKIE_NAME,
                "value": client.cookies[settings.SESSION_COOKIE_NAME].value,
                "url": base_url,
            }
        ]
    )


def test_the_agent_unlocks_a_locked_citizen_from_their_page(
    live_server: Any, page: Page, agent: Any, locked: Citizen
) -> None:
    refused = csp_violations(page)
    page.set_viewport_size({"width": 1280, "height": 900})
    log_agent_in(page.context, live_server.url, agent)

    page.goto(f"{live_server.url}/{settings.ADMIN_URL}accounts/citizen/{locked.pk}/change/")
    box = page.locator("section.nes-lock-box")
    expect(box).to_contain_text("Kilitli")
    expect(box).to_contain_text("3 kez hatalı Güvenlik Sözcüğü")
    expect(box).to_contain_text("Kilitlenme zamanı")
    # Nothing is cut off at 1280 px: the page does not scroll sideways.
    assert page.evaluate("document.documentElement.scrollWidth") <= 1280
    shot(page, "callcentre-01-locked")

    page.get_by_role("button", name="Kilidi aç").click()
    expect(page).to_have_url(re.compile(r"/kilidi-ac/$"))
    expect(page.locator("#content li", has_text=locked.identifier)).to_contain_text(
        "3 kez hatalı Güvenlik Sözcüğü"
    )
    page.get_by_label("Kilit açma gerekçesi").fill(REASON)
    shot(page, "callcentre-02-reason")
    page.get_by_role("button", name="Kilidi aç").click()

    expect(page).to_have_url(re.compile(rf"/accounts/citizen/{locked.pk}/change/$"))
    expect(page.get_by_text("1 vatandaşın kilidi açıldı.")).to_be_visible()
    expect(page.locator("section.nes-lock-box")).to_contain_text("Açık")
    expect(page.locator("section.nes-lock-box")).not_to_contain_text("Kilitlenme zamanı")
    expect(page.get_by_role("button", name="Kilidi aç")).to_be_disabled()
    shot(page, "callcentre-03-unlocked")
    locked.refresh_from_db()
    assert not locked.is_locked
    event = AuditEvent.objects.get(action="nes.account.unlocked")
    assert (event.actor, event.data["reason"]) == (agent, REASON)
    assert refused == []
