"""The expiry reminder as a holder gets it: the SMS 90 days before notAfter, then logging in.

The clock is moved with time-machine only around the reminder runs (to a past noon in
Istanbul, in sending hours); the browser and the live server run on the real clock. Login and
its SMS code work as in test_login_journey.py (captcha test mode, file SMS outbox), whose
fixtures and helpers are reused.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any

import pytest
import time_machine
from django.utils import timezone
from playwright.sync_api import Page, expect

from accounts.models import Citizen
from certificates import tasks
from certificates.models import Certificate, ExpiryReminder
from certificates.reminders import ISTANBUL
from tests.browser.test_login_journey import (  # noqa: F401 (fixtures)
    GREETING,
    browser_context_args,
    citizen,
    log_in,
    outbox,
    read_outbox,
    shot,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

DAY = dt.timedelta(days=1)
VALIDITY = dt.timedelta(days=3 * 365 - 1)  # of an "active" certificate_factory certificate

# Yesterday at 12:00 in Istanbul: in sending hours, and in the past (what the reminder runs
# leave behind looks as it would today).
RUN_AT = dt.datetime.combine(
    timezone.localdate(timezone.now(), ISTANBUL) - DAY, dt.time(12), tzinfo=ISTANBUL
)


def run_reminders(at: dt.datetime) -> dict[str, Any]:
    with time_machine.travel(at, tick=False):
        return tasks.send_reminders()


def test_it_texts_the_holder_90_days_before_expiry_once_and_the_holder_logs_in(
    live_server: Any,
    page: Page,
    citizen: Citizen,  # noqa: F811
    outbox: Path,  # noqa: F811
    certificate_factory: Any,
) -> None:
    not_after = RUN_AT + 90 * DAY - dt.timedelta(hours=2)  # the 90-day mark was two hours ago
    cert: Certificate = certificate_factory(citizen, "active", now=not_after - VALIDITY)[0]
    assert read_outbox(outbox) == []

    assert run_reminders(RUN_AT)["expiry_sent"] == {"90": 1}

    [reminder] = read_outbox(outbox)
    assert reminder["to"] == citizen.mobile_phone
    date = timezone.localtime(cert.not_after, ISTANBUL).strftime("%d.%m.%Y")
    assert cert.serial_number[-6:] in reminder["body"]  # the serial, or its tail ("…3fa9c1")
    assert date in reminder["body"]
    assert re.search(r"\b90\b", reminder["body"])

    # An hour later, and the next day: nothing more.
    assert run_reminders(RUN_AT + dt.timedelta(hours=1))["expiry_sent"] == {}
    assert run_reminders(RUN_AT + DAY)["expiry_sent"] == {}
    assert len(read_outbox(outbox)) == 1

    # The holder logs in through the real pages; the reminder did not use up a code.
    log_in(page, live_server.url, citizen, outbox)
    expect(page.get_by_text(GREETING)).to_be_visible()
    expect(page.get_by_role("link", name="Sertifikamı İptal Et")).to_be_visible()
    shot(page, "reminder-01-menu")
    messages = read_outbox(outbox)
    assert [m["to"] for m in messages] == [citizen.mobile_phone] * 2
    assert messages[0] == reminder

    # Another run after the login sends nothing either.
    assert run_reminders(RUN_AT + 2 * DAY)["expiry_sent"] == {}
    assert len(read_outbox(outbox)) == 2
    assert list(ExpiryReminder.objects.values_list("threshold", "outcome")) == [("90", "sent")]
