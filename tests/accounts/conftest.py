"""Fixtures shared by the accounts tests (plain helpers live in helpers.py)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest

from accounts import lockout, services

from .fake_twilio import ACCOUNT_SID, AUTH_TOKEN, FROM_NUMBER, FakeTwilio
from .helpers import T0


@pytest.fixture
def clock_start() -> dt.datetime:
    """The plugin's ``clock`` (nesportal.testing) starts at T0 in the accounts tests; move it
    with ``clock.shift(...)`` or ``clock.move_to(...)``."""
    return T0


@pytest.fixture
def hash_checks(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Spy on the Argon2 verifications the login service makes: the encoded hashes checked
    (the real word in ``accounts.services``, the dummy hash in ``accounts.lockout``)."""
    real = services.check_password
    checked: list[str] = []

    def spy(password: str, encoded: str, *args: Any, **kwargs: Any) -> bool:
        checked.append(encoded)
        return real(password, encoded, *args, **kwargs)

    monkeypatch.setattr(services, "check_password", spy)
    monkeypatch.setattr(lockout, "check_password", spy)
    return checked


@pytest.fixture
def fake_twilio() -> Iterator[FakeTwilio]:
    with FakeTwilio() as fake:
        yield fake


@pytest.fixture
def twilio_settings(settings: Any, fake_twilio: FakeTwilio) -> Any:
    """The Twilio backend, with the real twilio client pointed at ``fake_twilio``."""
    settings.SMS_BACKEND = "twilio"
    settings.TWILIO_ACCOUNT_SID = ACCOUNT_SID
    settings.TWILIO_AUTH_TOKEN = AUTH_TOKEN
    settings.TWILIO_FROM = FROM_NUMBER
    settings.TWILIO_API_BASE_URL = fake_twilio.url
    settings.TWILIO_TIMEOUT_SECONDS = 5.0
    return settings
