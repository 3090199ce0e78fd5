"""Staff passwords with older Argon2 parameters: Django's ``User.check_password`` stores a
current hash through its setter at the next right password, and the dummy hash of unknown
usernames follows the current parameters."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.hashers import Argon2PasswordHasher

from audit.actor import Actor
from nesportal.hashers import is_current, parameters
from nesportal.testing.factories import CallCentreAgentFactory
from staff import services

from .helpers import PASSWORD

pytestmark = pytest.mark.django_db

CURRENT = "argon2id m=19456,t=3,p=1"


@pytest.fixture
def production_hashers(settings: Any) -> None:
    settings.PASSWORD_HASHERS = [
        "nesportal.hashers.NesArgon2PasswordHasher",
        "django.contrib.auth.hashers.Argon2PasswordHasher",
        "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    ]


@pytest.fixture
def old_agent(production_hashers: None) -> Any:
    agent = CallCentreAgentFactory()
    agent.password = Argon2PasswordHasher().encode(PASSWORD, Argon2PasswordHasher().salt())
    agent.save(update_fields=["password"])
    return agent


def test_the_password_step_rehashes_an_old_password(old_agent: Any) -> None:
    old_hash = old_agent.password

    user = services.check_password_step(old_agent.username, PASSWORD, actor=Actor())

    assert user is not None
    old_agent.refresh_from_db()
    assert old_agent.password != old_hash
    assert parameters(old_agent.password) == CURRENT
    assert old_agent.check_password(PASSWORD)


def test_a_wrong_password_never_rehashes(old_agent: Any) -> None:
    old_hash = old_agent.password

    assert services.check_password_step(old_agent.username, "Yanlis-1", actor=Actor()) is None

    old_agent.refresh_from_db()
    assert old_agent.password == old_hash


def test_the_staff_dummy_hash_uses_the_current_parameters(
    settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from accounts import lockout

    settings.PASSWORD_HASHERS = ["nesportal.testing.hashers.FastArgon2PasswordHasher"]
    assert "m=1024,t=1,p=1" in lockout.dummy_hash()

    settings.PASSWORD_HASHERS = ["nesportal.hashers.NesArgon2PasswordHasher"]
    checked: list[str] = []
    real = lockout.check_password
    monkeypatch.setattr(
        lockout,
        "check_password",
        lambda word, encoded: checked.append(encoded) or real(word, encoded),
    )

    assert services.check_password_step("kimse-yok", "Yanlis-1", actor=Actor()) is None
    assert checked == [lockout.dummy_hash()], "an unknown username checks the dummy hash"
    assert parameters(checked[0]) == CURRENT
    assert is_current(checked[0])
