"""Fixtures shared by the accounts tests (plain helpers live in helpers.py)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import time_machine

from accounts import services

from .fake_twilio import ACCOUNT_SID, AUTH_TOKEN, FROM_NUMBER, FakeTwilio
from .helpers import T0


@pytest.fixture
def clock() -> Iterator[Any]:
    """Time frozen at T0; move it with ``clock.shift(...)`` or ``clock.move_to(...)``."""
    with time_machine.travel(T0, tick=False) as traveller:
        yield traveller


@pytest.fixture
def hash_checks(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Spy on the Argon2 verifications the login service makes: the encoded hashes checked."""
    real = services.check_password
    checked: list[str] = []

    def spy(password: str, encoded: str, *args: Any, **kwargs: Any) -> bool:
        checked.append(encoded)
        return real(password, encoded, *args, **kwargs)

    monkeypatch.setattr(services, "check_password", spy)
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
