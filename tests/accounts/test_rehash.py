"""A security word hashed with older Argon2 parameters: it verifies, and the next successful
check stores a hash with the current ones (``accounts.services._rehash``).

"Old" is a hash of Django's own ``Argon2PasswordHasher`` defaults (m=100 MiB, t=2, p=8: what
the portal stored before December 2026); "current" is ``nesportal.hashers``' hasher. Both are
made for real (~0.2 s and ~0.03 s), no timing is asserted.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.hashers import Argon2PasswordHasher
from django.test import Client

from accounts import lockout, services
from accounts.models import Citizen
from audit.actor import Actor
from audit.models import AuditEvent
from nesportal.hashers import NesArgon2PasswordHasher, is_current, parameters
from nesportal.testing import login_as, sms_code
from nesportal.testing.factories import DEFAULT_SECURITY_WORD

from .helpers import CODE_URL, LOGIN_URL, MENU_URL, login_data

CURRENT = "m=19456,t=3,p=1"
OLD = "m=102400,t=2,p=8"
ACTOR = Actor(ip="203.0.113.5")


@pytest.fixture
def production_hashers(settings: Any) -> None:
    settings.PASSWORD_HASHERS = [
        "nesportal.hashers.NesArgon2PasswordHasher",
        "django.contrib.auth.hashers.Argon2PasswordHasher",
        "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    ]


@pytest.fixture
def old_citizen(citizen_factory: Any, production_hashers: None) -> Citizen:
    """A citizen whose word was hashed with Django's default Argon2 parameters."""
    old_hash = Argon2PasswordHasher().encode(DEFAULT_SECURITY_WORD, Argon2PasswordHasher().salt())
    assert OLD in old_hash
    return citizen_factory(security_word_hash=old_hash)


def rehash_events(citizen: Citizen) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(citizen=citizen, action="nes.login.word_rehashed"))


def test_it_verifies_an_old_hash_and_stores_a_current_one(old_citizen: Citizen) -> None:
    old_hash = old_citizen.security_word_hash

    citizen = services.check_security_word(old_citizen.tckn, DEFAULT_SECURITY_WORD, actor=ACTOR)

    assert citizen is not None
    stored = Citizen.objects.get(pk=old_citizen.pk).security_word_hash
    assert stored != old_hash
    assert CURRENT in stored
    assert citizen.security_word_hash == stored  # the login goes on with the row as stored
    assert NesArgon2PasswordHasher().verify(DEFAULT_SECURITY_WORD, stored)
    (event,) = rehash_events(citizen)
    assert event.data == {"old": f"argon2id {OLD}", "new": f"argon2id {CURRENT}"}
    # No secret in the entry: neither the word nor any salt or digest.
    for secret in (DEFAULT_SECURITY_WORD, *old_hash.split("$")[-2:], *stored.split("$")[-2:]):
        assert secret not in str(event.data)


def test_it_does_not_rehash_a_current_hash(citizen_factory: Any, production_hashers: None) -> None:
    citizen = citizen_factory()
    assert is_current(citizen.security_word_hash)
    before = citizen.security_word_hash

    assert services.check_security_word(citizen.tckn, DEFAULT_SECURITY_WORD, actor=ACTOR)

    assert Citizen.objects.get(pk=citizen.pk).security_word_hash == before
    assert rehash_events(citizen) == []


def test_a_wrong_word_never_rehashes(old_citizen: Citizen) -> None:
    old_hash = old_citizen.security_word_hash

    assert services.check_security_word(old_citizen.tckn, "yanlış-sözcük", actor=ACTOR) is None

    old_citizen.refresh_from_db()
    assert old_citizen.security_word_hash == old_hash
    assert old_citizen.failure_count == 1
    assert rehash_events(old_citizen) == []


def test_a_locked_account_never_rehashes(old_citizen: Citizen) -> None:
    Citizen.objects.filter(pk=old_citizen.pk).update(
        failure_count=3, locked_at="2026-03-02T09:00Z", lock_reason=Citizen.LockReason.WRONG_WORD
    )
    old_hash = old_citizen.security_word_hash

    assert (
        services.check_security_word(old_citizen.tckn, DEFAULT_SECURITY_WORD, actor=ACTOR) is None
    )

    assert Citizen.objects.get(pk=old_citizen.pk).security_word_hash == old_hash


def test_a_rehash_never_overwrites_a_word_changed_meanwhile(
    old_citizen: Citizen, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Between the check and the UPDATE a recovery stores a new word: the conditional UPDATE on
    the old hash leaves the new word in place, and this login still completes."""
    changed = NesArgon2PasswordHasher().encode("yeni-sözcük-2026", NesArgon2PasswordHasher().salt())
    real_make_password = services.make_password

    def make_password_while_the_word_changes(word: str) -> str:
        Citizen.objects.filter(pk=old_citizen.pk).update(security_word_hash=changed)
        return real_make_password(word)

    monkeypatch.setattr(services, "make_password", make_password_while_the_word_changes)

    citizen = services.check_security_word(old_citizen.tckn, DEFAULT_SECURITY_WORD, actor=ACTOR)

    assert citizen is not None
    assert Citizen.objects.get(pk=old_citizen.pk).security_word_hash == changed
    assert rehash_events(old_citizen) == []


def test_the_login_in_progress_completes_and_other_sessions_end(
    client: Client,
    old_citizen: Citizen,
    sms_outbox: list[dict[str, Any]],
    django_capture_on_commit_callbacks: Any,
) -> None:
    """Through the pages: the rehash happens at the word step; the SMS step and the menu work
    with the new hash, and a session the citizen had elsewhere (bound to the old hash) ends."""
    elsewhere = login_as(Client(), old_citizen)
    assert elsewhere.get(MENU_URL).status_code == 200

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(LOGIN_URL, login_data(client, old_citizen.tckn))
    assert response.status_code == 302
    assert response["Location"] == CODE_URL
    assert CURRENT in Citizen.objects.get(pk=old_citizen.pk).security_word_hash

    response = client.post(CODE_URL, {"code": sms_code(sms_outbox)})
    assert response.status_code == 302
    assert response["Location"] == MENU_URL
    assert client.get(MENU_URL).status_code == 200
    # The other session was bound to the old hash: it is a visitor's again.
    assert elsewhere.get(MENU_URL).status_code == 302


def test_the_dummy_hash_uses_the_current_parameters(settings: Any) -> None:
    settings.PASSWORD_HASHERS = ["nesportal.testing.hashers.FastArgon2PasswordHasher"]
    assert "m=1024,t=1,p=1" in lockout.dummy_hash()

    settings.PASSWORD_HASHERS = ["nesportal.hashers.NesArgon2PasswordHasher"]
    dummy = lockout.dummy_hash()

    assert parameters(dummy) == f"argon2id {CURRENT}"
    assert is_current(dummy)
    assert lockout.dummy_hash() == dummy  # made once per parameter set, not per check
