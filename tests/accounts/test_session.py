"""The logged-in session: İşlemler Menüsü, idle timeout, logout, and sessions ended by a lock
or a new security word; plus the development SMS outbox page."""

from __future__ import annotations

import datetime as dt
from html.parser import HTMLParser
from typing import Any

import pytest
from django.conf import settings
from django.contrib.sessions.models import Session
from django.test import Client
from django.urls import reverse

from accounts.models import SmsChallenge
from accounts.otp import issue_challenge
from audit.models import AuditEvent
from nesportal.testing import login_as, sms_code
from nesportal.testing.factories import CitizenFactory

from .helpers import lock_by_wrong_words

pytestmark = pytest.mark.django_db

MENU = reverse("accounts:menu")
LOGIN = reverse("accounts:login")
LOGOUT = reverse("accounts:logout")
DEV_SMS = reverse("accounts:dev_sms")

# Operations not built yet (the certificate ones are links: tests/certificates/test_views.py;
# PIN/PUK Bilgisi and Kilit Çözme: tests/pinvault/test_pinpuk_pages.py).
OPERATIONS: list[str] = []
NOT_OPEN_YET = "Henüz hizmete açılmadı"


class Buttons(HTMLParser):
    """Collects every <button>: its attributes, its text, and the form it submits."""

    def __init__(self) -> None:
        super().__init__()
        self.buttons: list[dict] = []
        self._form: dict | None = None
        self._open: dict | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "form":
            self._form = dict(attrs)
        elif tag == "button":
            self._open = {"attrs": dict(attrs), "text": "", "form": self._form}

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._form = None
        elif tag == "button" and self._open is not None:
            self._open["text"] = " ".join(self._open["text"].split())
            self.buttons.append(self._open)
            self._open = None

    def handle_data(self, data: str) -> None:
        if self._open is not None:
            self._open["text"] += data


def buttons(html: str) -> list[dict]:
    parser = Buttons()
    parser.feed(html)
    return parser.buttons


def session_key(client: Client) -> str:
    return client.cookies[settings.SESSION_COOKIE_NAME].value


def test_it_lists_the_operations_not_built_yet_as_disabled_buttons(citizen_client):
    response = citizen_client.get(MENU)

    assert response.status_code == 200
    assert "İşlemler Menüsü" in response.content.decode()
    disabled = [b for b in buttons(response.content.decode()) if "disabled" in b["attrs"]]
    assert [b["text"] for b in disabled] == [f"{op} {NOT_OPEN_YET}" for op in OPERATIONS]
    for button in disabled:
        assert button["attrs"]["type"] == "button"
        assert button["attrs"]["aria-disabled"] == "true"
        assert button["form"] is None  # nothing to submit


def test_it_offers_a_working_logout_button(citizen_client):
    response = citizen_client.get(MENU)

    exits = [b for b in buttons(response.content.decode()) if b["text"] == "Çıkış"]
    assert exits
    for button in exits:
        assert "disabled" not in button["attrs"]
        assert button["attrs"]["type"] == "submit"
        assert button["form"]["method"] == "post"
        assert button["form"]["action"] == LOGOUT


def test_it_greets_the_citizen_with_turkish_capitals(client):
    citizen = CitizenFactory(first_name="İsmail", last_name="Çelik")
    login_as(client, citizen)

    response = client.get(MENU)

    assert response.status_code == 200
    content = response.content.decode()
    assert "Sayın İSMAİL ÇELİK;" in content
    assert "ISMAIL" not in content


def test_it_capitalises_dotless_i_as_i(client):
    login_as(client, CitizenFactory(first_name="Işıl", last_name="Yıldırım"))

    response = client.get(MENU)

    assert "Sayın IŞIL YILDIRIM;" in response.content.decode()


def test_it_capitalises_a_foreigners_name_without_turkish_rules(client):
    login_as(client, CitizenFactory(passport=True, first_name="Anna", last_name="Schmidt"))

    response = client.get(MENU)

    assert "Sayın ANNA SCHMIDT;" in response.content.decode()


def test_it_sends_anonymous_visitors_to_the_login_page(client):
    response = client.get(MENU)

    assert response.status_code == 302
    assert response.url == LOGIN
    followed = client.get(LOGIN)
    assert "Bu sayfa için giriş yapmanız gerekir." in followed.content.decode()


def test_it_ends_the_session_after_ten_idle_minutes(client, citizen, clock):
    login_as(client, citizen)
    assert client.get(MENU).status_code == 200

    clock.shift(dt.timedelta(minutes=11))
    response = client.get(MENU)

    assert response.status_code == 302
    assert response.url == LOGIN


def test_it_keeps_an_active_session_alive(client, citizen, clock):
    login_as(client, citizen)
    clock.shift(dt.timedelta(minutes=9))
    middle = client.get(MENU)
    clock.shift(dt.timedelta(minutes=9))
    end = client.get(MENU)

    assert middle.status_code == 200
    assert end.status_code == 200
    assert citizen.greeting_name in end.content.decode()


def test_it_refuses_logout_by_get(citizen_client, citizen):
    key = session_key(citizen_client)

    response = citizen_client.get(LOGOUT)

    assert response.status_code == 405
    assert Session.objects.filter(session_key=key).exists()
    assert citizen_client.get(MENU).status_code == 200
    assert not AuditEvent.objects.filter(action="nes.logout").exists()


def test_it_logs_out_on_the_server(citizen_client, citizen):
    key = session_key(citizen_client)
    assert Session.objects.filter(session_key=key).exists()

    response = citizen_client.post(LOGOUT)

    assert response.status_code == 302
    assert response.url == LOGIN
    assert not Session.objects.filter(session_key=key).exists()
    event = AuditEvent.objects.get(action="nes.logout")
    assert event.citizen == citizen
    followed = citizen_client.get(LOGIN)
    assert "Sistemden güvenli bir şekilde çıkış yaptınız." in followed.content.decode()
    assert citizen_client.get(MENU).status_code == 302


def test_it_does_not_revive_a_logged_out_session_key(client, citizen):
    login_as(client, citizen)
    old_key = session_key(client)
    client.post(LOGOUT)

    # Replaying the old cookie (e.g. copied before logout) gets nothing.
    replay = Client()
    replay.cookies[settings.SESSION_COOKIE_NAME] = old_key
    response = replay.get(MENU)

    assert response.status_code == 302
    assert response.url == LOGIN


def test_it_ends_the_session_when_the_citizen_gets_locked(citizen_client, citizen):
    key = session_key(citizen_client)
    assert citizen_client.get(MENU).status_code == 200

    lock_by_wrong_words(citizen)
    response = citizen_client.get(MENU)

    assert response.status_code == 302
    assert response.url == LOGIN
    assert not Session.objects.filter(session_key=key).exists()


def test_it_ends_the_session_when_the_security_word_changes(citizen_client, citizen):
    key = session_key(citizen_client)
    assert citizen_client.get(MENU).status_code == 200

    citizen.set_security_word("yepyeni-sözcük-2026")
    citizen.save()
    response = citizen_client.get(MENU)

    assert response.status_code == 302
    assert response.url == LOGIN
    assert not Session.objects.filter(session_key=key).exists()


def test_it_keeps_the_session_when_other_details_change(citizen_client, citizen):
    citizen.email = "yeni.adres@example.com.tr"
    citizen.address = "Yeni Mah. No: 2, Keçiören / Ankara"
    citizen.save()

    response = citizen_client.get(MENU)

    assert response.status_code == 200
    assert citizen.greeting_name in response.content.decode()


def _send_code(citizen, capture) -> str:
    with capture(execute=True):
        challenge, _ = issue_challenge(citizen, SmsChallenge.Purpose.LOGIN)
    return str(challenge.pk)


def test_it_hides_the_sms_outbox_without_debug(
    client, settings, sms_outbox, citizen, django_capture_on_commit_callbacks
):
    settings.DEBUG = False
    _send_code(citizen, django_capture_on_commit_callbacks)
    assert len(sms_outbox) == 1

    response = client.get(DEV_SMS)

    assert response.status_code == 404
    assert sms_code(sms_outbox) not in response.content.decode()


def test_it_lists_the_outbox_with_debug_and_a_development_backend(
    client, settings, sms_outbox, citizen, django_capture_on_commit_callbacks
):
    settings.DEBUG = True
    _send_code(citizen, django_capture_on_commit_callbacks)

    response = client.get(DEV_SMS)

    assert response.status_code == 200
    content = response.content.decode()
    assert "SMS giden kutusu" in content
    assert citizen.mobile_phone in content
    assert sms_code(sms_outbox) in content
    assert "Henüz SMS gönderilmedi." not in content


def test_it_lists_the_file_outbox_with_debug(
    client, settings, tmp_path, citizen, django_capture_on_commit_callbacks
):
    settings.DEBUG = True
    settings.SMS_BACKEND = "file"
    settings.SMS_OUTBOX_PATH = tmp_path / "sms-outbox.jsonl"
    _send_code(citizen, django_capture_on_commit_callbacks)
    lines = settings.SMS_OUTBOX_PATH.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 1

    response = client.get(DEV_SMS)

    assert response.status_code == 200
    assert citizen.mobile_phone in response.content.decode()
    assert "NES Portal giriş kodunuz" in response.content.decode()


def test_it_shows_an_empty_outbox_with_debug(client, settings, sms_outbox):
    settings.DEBUG = True

    response = client.get(DEV_SMS)

    assert response.status_code == 200
    assert "Henüz SMS gönderilmedi." in response.content.decode()


def test_it_hides_the_sms_outbox_with_twilio_even_with_debug(client, settings, sms_outbox):
    settings.DEBUG = True
    settings.SMS_BACKEND = "twilio"
    sms_outbox.append({"id": "x", "to": "+905320000012", "body": "Kod: 123456", "at": "2026"})

    response = client.get(DEV_SMS)

    assert response.status_code == 404
    assert "123456" not in response.content.decode()


# --- the session is written at most once a minute ---------------------------------------------


def _session_writes(queries: Any) -> int:
    return sum(
        1
        for q in queries
        if "django_session" in q["sql"]
        and q["sql"].lstrip().upper().startswith(("UPDATE", "INSERT"))
    )


def test_pages_within_a_minute_of_the_last_write_do_not_write_the_session(client, citizen, clock):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    login_as(client, citizen)
    client.get(MENU)  # the first page writes it (when it was last written is unknown)

    clock.shift(dt.timedelta(seconds=30))
    with CaptureQueriesContext(connection) as within:
        assert client.get(MENU).status_code == 200
    clock.shift(dt.timedelta(seconds=31))
    with CaptureQueriesContext(connection) as after:
        assert client.get(MENU).status_code == 200

    assert _session_writes(within.captured_queries) == 0
    assert _session_writes(after.captured_queries) == 1


def test_a_session_used_every_half_minute_stays_alive_and_ends_within_ten_idle_minutes(
    client, citizen, clock
):
    login_as(client, citizen)
    for _ in range(30):  # 15 minutes of activity
        clock.shift(dt.timedelta(seconds=30))
        assert client.get(MENU).status_code == 200

    clock.shift(dt.timedelta(minutes=10))
    assert client.get(MENU).status_code == 302, "10 idle minutes end it, whatever the last write"
