"""A staff member without an authenticator enrols one after the password: QR code and secret,
one code to confirm, ten backup codes shown once."""

from __future__ import annotations

import pytest
from django.test import Client

from audit.models import AuditEvent
from nesportal.testing import frozen_clock
from nesportal.testing.factories import CallCentreAgentFactory
from staff.models import HashedStaticDevice, SealedTOTPDevice

from .helpers import (
    CODES_RE,
    ENROL,
    INDEX,
    LOGIN,
    SECRET_RE,
    VERIFY,
    code_step,
    other_code,
    password_step,
    totp,
)

pytestmark = pytest.mark.django_db


def enrol_page(client: Client) -> tuple[str, str]:
    page = client.get(ENROL)
    assert page.status_code == 200
    html = page.content.decode()
    match = SECRET_RE.search(html)
    assert match
    return html, match.group(1).replace(" ", "")


def test_the_password_leads_a_staff_member_without_a_device_to_enrolment(client: Client) -> None:
    agent = CallCentreAgentFactory()

    assert password_step(client, agent.username)["Location"] == ENROL
    assert client.get(VERIFY)["Location"] == ENROL
    html, secret = enrol_page(client)

    # The QR code is drawn here (SVG), never fetched from anywhere: no image URL holds the key.
    assert "<svg" in html
    assert "otpauth" not in html
    assert len(secret) == 32
    assert client.get(INDEX)["Location"].startswith(LOGIN)


def test_one_right_code_confirms_the_device_and_shows_ten_backup_codes_once(
    client: Client,
) -> None:
    agent = CallCentreAgentFactory()
    password_step(client, agent.username)
    _html, secret = enrol_page(client)
    assert enrol_page(client)[1] == secret, "reloading the page shows the same new secret"

    wrong = client.post(ENROL, {"token": other_code(totp(secret))})
    assert wrong.status_code == 400
    assert not SealedTOTPDevice.objects.filter(user=agent, confirmed=True).exists()

    with frozen_clock() as clock:
        clock.shift(2)  # past django-otp's wait after the wrong code
        done = client.post(ENROL, {"token": totp(secret)})

    assert done.status_code == 200
    assert done["Cache-Control"].startswith("max-age=0")
    codes = CODES_RE.findall(done.content.decode())
    assert len(codes) == 10 and len(set(codes)) == 10
    assert SealedTOTPDevice.objects.filter(user=agent, confirmed=True).count() == 1
    assert HashedStaticDevice.objects.get(user=agent).codes_left == 10
    assert client.get(INDEX).status_code == 200, "enrolment is the second factor of this login"
    assert client.get(ENROL)["Location"].startswith(LOGIN)  # no pending state: nothing to show
    added = AuditEvent.objects.get(action="nes.staff.device_added")
    assert added.actor == agent
    assert added.data == {"backup_codes": 10}

    # The next login asks for a code, and a backup code works.
    other = Client()
    assert password_step(other, agent.username)["Location"] == VERIFY
    assert code_step(other, codes[0])["Location"] == INDEX


def test_the_secret_is_never_shown_again_after_enrolment(client: Client) -> None:
    agent = CallCentreAgentFactory()
    password_step(client, agent.username)
    _html, secret = enrol_page(client)
    client.post(ENROL, {"token": totp(secret)})
    client.logout()

    again = Client()
    password_step(again, agent.username)
    response = again.get(ENROL)

    assert response["Location"] == VERIFY
    assert secret not in again.get(VERIFY).content.decode()
