"""One clock on a page: every time admin shows is Istanbul time (TIME_ZONE), whether Django
formats it or our code does — the lock box, "Son giriş denemeleri", "Son SMS'ler"."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.test import Client
from django.urls import reverse

from audit.actor import Actor
from audit.log import record
from nesportal.testing.factories import CitizenFactory, SmsMessageFactory

pytestmark = pytest.mark.django_db

INSTANT = dt.datetime(2026, 3, 2, 9, 30, 15, tzinfo=dt.UTC)  # 12:30:15 in Istanbul (UTC+3)


def test_the_same_instant_shows_the_same_clock_time_everywhere(agent_client: Client) -> None:
    with time_machine.travel(INSTANT, tick=False):
        citizen = CitizenFactory(locked=True)
        record("nes.login.word_failed", actor=Actor(ip="203.0.113.9"), citizen=citizen)
        SmsMessageFactory(citizen=citizen, kind="account_locked")

    html = agent_client.get(
        reverse("admin:accounts_citizen_change", args=[citizen.pk])
    ).content.decode()

    box = html[html.index('class="nes-lock-box') : html.index("</section>")]
    assert "02.03.2026 12:30:15" in box
    attempts = html[html.index("Son giriş denemeleri") :]
    attempts = attempts[: attempts.index("</table>")]
    sms = html[html.index("Son SMS&#x27;ler") :]
    sms = sms[: sms.index("</table>")]
    assert "02.03.2026 12:30:15" in attempts
    assert "02.03.2026 12:30:15" in sms
    assert "09:30:15" not in html  # nowhere the stored UTC
