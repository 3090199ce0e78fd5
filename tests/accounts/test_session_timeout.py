"""The idle-logout warning's server side (accounts/views/session.py, templates/base.html):
"Oturumu uzat" really moves the session's expiry, only for a logged-in citizen, only by POST
with the CSRF token; the page is told how long its session has left; and the page's own end of
the session logs out and says why on the login page."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.conf import settings
from django.contrib.sessions.models import Session
from django.test import Client
from django.urls import reverse

from nesportal.testing import login_as

pytestmark = pytest.mark.django_db

MENU = reverse("accounts:menu")
HOME = reverse("accounts:home")
LOGIN = reverse("accounts:login")
EXTEND = reverse("accounts:session_extend")
ENDED = reverse("accounts:session_ended")
ENDED_TEXT = "Güvenliğiniz için, uzun süre işlem yapılmadığından oturumunuz sona erdi."


def expiry(client: Client) -> dt.datetime:
    key = client.cookies[settings.SESSION_COOKIE_NAME].value
    return Session.objects.get(session_key=key).expire_date


def csrf_token(html: str) -> str:
    """The token session.js sends: the one in the page's forms (the CSRF cookie is HttpOnly)."""
    found = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html)
    assert found, "no CSRF token on the page"
    return found.group(1)


def body_attrs(html: str) -> str:
    found = re.search(r"<body([^>]*)>", html)
    assert found
    return found.group(1)


@pytest.fixture
def strict_client(citizen) -> Client:
    """A logged-in citizen's client that checks CSRF as a browser's requests are checked."""
    return login_as(Client(enforce_csrf_checks=True), citizen)


def test_it_moves_the_session_expiry_which_a_page_view_within_the_minute_does_not(
    strict_client, clock
):
    token = csrf_token(strict_client.get(MENU).content.decode())  # written now: T0 + 10 min
    written = expiry(strict_client)
    clock.shift(dt.timedelta(seconds=40))
    strict_client.get(MENU)
    assert expiry(strict_client) == written, "a page view within the minute does not write it"

    response = strict_client.post(EXTEND, HTTP_X_CSRFTOKEN=token)

    assert response.status_code == 200
    assert response.json() == {"ended": False, "seconds_left": settings.SESSION_COOKIE_AGE}
    assert expiry(strict_client) == written + dt.timedelta(seconds=40)
    assert "no-store" in response["Cache-Control"]


def test_an_extended_session_outlives_the_first_deadline(strict_client, clock):
    token = csrf_token(strict_client.get(MENU).content.decode())
    clock.shift(dt.timedelta(minutes=9))
    assert strict_client.post(EXTEND, HTTP_X_CSRFTOKEN=token).status_code == 200
    clock.shift(dt.timedelta(minutes=9))  # 18 minutes after the last page view

    assert strict_client.get(MENU).status_code == 200


def test_it_refuses_a_post_without_the_csrf_token(strict_client, clock):
    strict_client.get(MENU)
    written = expiry(strict_client)
    clock.shift(dt.timedelta(seconds=40))

    response = strict_client.post(EXTEND)

    assert response.status_code == 403
    assert expiry(strict_client) == written


def test_it_refuses_get(citizen_client):
    assert citizen_client.get(EXTEND).status_code == 405
    assert citizen_client.get(ENDED).status_code == 405


def test_it_answers_401_without_a_flash_message_when_the_session_has_ended(client, citizen, clock):
    login_as(client, citizen)
    client.get(MENU)
    clock.shift(dt.timedelta(minutes=11))

    response = client.post(EXTEND)

    assert response.status_code == 401
    assert response.json() == {"ended": True, "seconds_left": 0}
    assert "giriş yapmanız gerekir" not in client.get(LOGIN).content.decode()


def test_it_answers_401_to_a_visitor(client):
    response = client.post(EXTEND)

    assert response.status_code == 401
    assert not Session.objects.exists(), "no session is created for a visitor"


def test_the_page_is_told_how_long_its_session_has_left(citizen_client, clock, settings):
    settings.NES_SESSION_WARNING_SECONDS = 45
    first = body_attrs(citizen_client.get(MENU).content.decode())
    clock.shift(dt.timedelta(seconds=30))
    later = body_attrs(citizen_client.get(MENU).content.decode())  # not written: 570 s left

    assert 'data-session-seconds="600"' in first
    assert 'data-session-seconds="570"' in later
    assert 'data-session-warning="45"' in later
    assert f'data-session-extend-url="{EXTEND}"' in later
    assert f'data-session-ended-url="{ENDED}"' in later


def test_a_written_session_tells_the_full_age_again(citizen_client, clock):
    citizen_client.get(MENU)
    clock.shift(dt.timedelta(seconds=settings.SESSION_REFRESH_SECONDS))  # stale: written now

    html = citizen_client.get(MENU).content.decode()

    assert f'data-session-seconds="{settings.SESSION_COOKIE_AGE}"' in body_attrs(html)


def test_a_visitor_gets_no_timer_and_no_warning(client):
    html = client.get(HOME).content.decode()

    assert "data-session-seconds" not in body_attrs(html)
    assert "data-session-warning-dialog" not in html


def test_the_warning_dialog_is_in_the_citizens_page(citizen_client):
    html = citizen_client.get(MENU).content.decode()

    assert 'role="alertdialog"' in html
    assert 'aria-labelledby="session-warning-title"' in html
    assert "Oturumu uzat" in html


def test_the_pages_own_timeout_logs_out_and_says_why(strict_client):
    token = csrf_token(strict_client.get(MENU).content.decode())

    response = strict_client.post(ENDED, {"csrfmiddlewaretoken": token})

    assert response.status_code == 302
    assert response.url == LOGIN
    assert ENDED_TEXT in strict_client.get(LOGIN).content.decode()
    assert strict_client.get(MENU).status_code == 302, "the session has ended"


def test_the_timeout_cannot_be_triggered_by_another_site(strict_client):
    strict_client.get(MENU)

    assert strict_client.post(ENDED).status_code == 403
    assert strict_client.get(MENU).status_code == 200
