"""E-Onay İşlemleri in a real browser: menu → the waiting application → Onayla → SMS code →
shown as approved. Login and SMS codes work as in test_login_journey.py (captcha test mode, file
SMS outbox), whose fixtures and helpers are reused. ``NES_SHOTS_DIR=/some/dir`` saves screenshots.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from playwright.sync_api import Page, expect

from accounts.models import Citizen
from eonay.models import Application
from nesportal.testing import sms_code
from nesportal.testing.factories import ApplicationFactory
from tests.browser.test_login_journey import (  # noqa: F401 (fixtures)
    browser_context_args,
    citizen,
    log_in,
    outbox,
    read_outbox,
    shot,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def waiting(citizen: Citizen) -> Application:  # noqa: F811
    staff = get_user_model().objects.create_superuser("yonetici", password="Yonetici-Demo-2026!")
    return ApplicationFactory(citizen=citizen, entered_by=staff)


def test_it_approves_a_waiting_application_with_an_sms_code(
    live_server: Any,
    page: Page,
    citizen: Citizen,  # noqa: F811
    outbox: Path,  # noqa: F811
    waiting: Application,
) -> None:
    log_in(page, live_server.url, citizen, outbox)

    page.get_by_role("link", name="E-Onay İşlemleri").click()
    expect(page).to_have_url(re.compile(r"/e-onay/$"))
    expect(page.get_by_role("heading", name="E-Onay İşlemleri")).to_be_visible()
    card = page.locator("section.card", has_text=waiting.reference)
    expect(card).to_contain_text("Örnek Belediyesi")
    expect(card).to_contain_text("Deniz Kaya")
    expect(card).to_contain_text("Onayınızı bekliyor")
    shot(page, "eonay-01-waiting")

    card.get_by_role("button", name="Onayla", exact=True).click()
    expect(page).to_have_url(re.compile(rf"/e-onay/basvuru/{waiting.pk}/onayla/onay-kodu/$"))
    expect(page.get_by_text(citizen.masked_phone)).to_be_visible()
    messages = read_outbox(outbox)
    assert messages[-1]["to"] == citizen.mobile_phone
    assert "E-Onay" in messages[-1]["body"]
    page.get_by_label("SMS Onay Kodu").fill(sms_code(messages, to=citizen.mobile_phone))
    shot(page, "eonay-02-code")
    page.get_by_role("button", name="Başvuruyu Onayla").click()

    expect(page).to_have_url(re.compile(r"/e-onay/$"))
    expect(page.get_by_text(f"{waiting.reference} numaralı başvuruyu onayladınız")).to_be_visible()
    expect(page.get_by_text("Onayınızı bekleyen bir başvuru bulunmuyor.")).to_be_visible()
    row = page.locator("#decided tbody tr", has_text=waiting.reference)
    expect(row).to_contain_text("Onaylandı")
    expect(row).to_contain_text("SMS Onay Kodu ile siz onayladınız")
    shot(page, "eonay-03-approved")
    waiting.refresh_from_db()
    assert waiting.status == Application.Status.APPROVED
    assert "kararınız: onaylandı" in read_outbox(outbox)[-1]["body"]
