"""E-İmzalı Giriş challenges: the page, the JSON challenge, the browser binding and the purge."""

from __future__ import annotations

import base64
import datetime as dt
from typing import Any

import pytest
from django.contrib.sessions.models import Session
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.models import Citizen
from certificates.models import Certificate
from esign.models import LoginChallenge
from esign.protocol import MESSAGE_PREFIX
from esign.services import BINDING_COOKIE, purge_expired_challenges
from tests.esign.helpers import (
    CHALLENGE,
    MENU,
    PAGE,
    assert_refused,
    get_challenge,
    signed_post,
    strikes,
)

pytestmark = pytest.mark.django_db


def test_it_shows_a_fresh_challenge_bound_to_the_browser(client: Client, demo_pki: Any) -> None:
    response = client.get(PAGE)

    assert response.status_code == 200
    html = response.content.decode()
    challenge = LoginChallenge.objects.get()
    nonce_b64 = base64.b64encode(bytes(challenge.nonce)).decode()
    assert f'data-challenge-id="{challenge.pk}"' in html
    assert nonce_b64 in html
    assert 'name="signature"' in html and 'name="certificate"' in html
    assert len(bytes(challenge.nonce)) == 32
    assert challenge.expires_at - challenge.created_at == dt.timedelta(minutes=2)
    assert challenge.used_at is None
    assert len(challenge.binding_hash) == 64
    # Only the hash is stored; the token lives in the browser's own cookie, not in a session.
    cookie = response.cookies[BINDING_COOKIE]
    assert cookie["httponly"] and cookie["samesite"] == "Strict"
    assert cookie["path"] == PAGE and 0 < int(cookie["max-age"]) <= 300
    assert challenge.binding_hash not in cookie.value
    assert Session.objects.count() == 0


def test_cookie_less_challenges_store_no_session(client: Client, demo_pki: Any) -> None:
    """Issue 9, item 7: 200 anonymous GETs stored 200 session rows."""
    for i in range(20):
        fresh = Client(REMOTE_ADDR=f"192.0.2.{i + 1}")  # many clients: no per-client throttle
        assert fresh.get(CHALLENGE).status_code == 200
        assert fresh.get(PAGE).status_code == 200
        assert BINDING_COOKIE in fresh.cookies

    assert Session.objects.count() == 0
    assert LoginChallenge.objects.count() == 40


def test_one_browser_keeps_its_binding_across_challenges(client: Client, demo_pki: Any) -> None:
    get_challenge(client)
    get_challenge(client)

    assert LoginChallenge.objects.values("binding_hash").distinct().count() == 1


def test_a_forged_binding_cookie_binds_nothing(
    client: Client, citizen: Citizen, active: tuple[Certificate, Any]
) -> None:
    row, key = active
    challenge = get_challenge(client)
    client.cookies[BINDING_COOKIE] = "not-a-signed-token"

    assert_refused(signed_post(client, challenge, key, row), "challenge_other_session")
    assert strikes(citizen) == 0


def test_expired_challenges_are_purged(client: Client, demo_pki: Any) -> None:
    get_challenge(client)
    get_challenge(Client())
    later = timezone.now() + dt.timedelta(minutes=13)

    assert purge_expired_challenges(now=later) == 2
    assert LoginChallenge.objects.count() == 0


def test_it_serves_the_challenge_as_json_with_a_csrf_token(client: Client, demo_pki: Any) -> None:
    data = get_challenge(client)

    challenge = LoginChallenge.objects.get()
    assert data["challenge_id"] == str(challenge.pk)
    assert base64.b64decode(data["nonce_b64"]) == bytes(challenge.nonce)
    assert dt.datetime.fromisoformat(data["expires_at"]) == challenge.expires_at
    assert data["csrf_token"]
    assert data["post_url"] == PAGE
    assert base64.b64decode(data["message_prefix_b64"]) == MESSAGE_PREFIX


def test_it_links_the_home_page_to_the_esign_login(client: Client, db: None) -> None:
    html = client.get(reverse("accounts:home")).content.decode()
    assert f'href="{PAGE}"' in html
    assert "disabled" not in html


def test_it_sends_a_logged_in_citizen_to_the_menu(citizen_client: Client) -> None:
    response = citizen_client.get(PAGE)
    assert response.status_code == 302 and response["Location"] == MENU
