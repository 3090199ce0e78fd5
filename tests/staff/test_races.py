"""The staff lock and the second factor under parallel requests, on PostgreSQL."""

from __future__ import annotations

import time
from typing import Any

import pytest
from django.test import Client

from audit.actor import Actor
from nesportal.limits import STAFF_MAX_FAILURES
from nesportal.testing.factories import CallCentreAgentFactory
from staff import services
from staff.models import StaffGuard
from tests.parallel import in_parallel

from .helpers import PASSWORD, authenticator, totp

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_parallel_wrong_passwords_take_exactly_the_allowed_strikes() -> None:
    agent = CallCentreAgentFactory()
    actor = Actor(ip="203.0.113.7")

    results = in_parallel(
        [
            lambda i=i: services.check_password_step(agent.username, f"Yanlis-{i}", actor=actor)
            for i in range(20)
        ]
    )

    assert all(r.ok and r.value is None for r in results)
    guard = StaffGuard.objects.get(user=agent)
    assert guard.failure_count == STAFF_MAX_FAILURES
    assert guard.is_locked
    assert guard.lock_reason == StaffGuard.LockReason.WRONG_PASSWORD
    # Locked now: the right password gets nowhere either.
    assert services.check_password_step(agent.username, PASSWORD, actor=actor) is None


def test_one_totp_code_submitted_twice_at_once_logs_in_once() -> None:
    agent = CallCentreAgentFactory()
    secret = authenticator(agent)
    code = totp(secret, time.time())
    actor = Actor()

    results = in_parallel(
        [lambda: services.verify_second_factor(agent, code, actor=actor) for _ in range(8)]
    )

    kinds = sorted(r.value.kind for r in results)
    assert kinds.count("ok") == 1
    # The others: the code is used (wrong) or django-otp asks them to wait; none locks.
    assert set(kinds) <= {"ok", "wrong", "throttled"}
    assert not StaffGuard.objects.get(user=agent).is_locked


def test_one_backup_code_used_twice_at_once_works_once() -> None:
    from staff.models import HashedStaticDevice

    agent = CallCentreAgentFactory()
    authenticator(agent)
    code = HashedStaticDevice.objects.create(user=agent, name="x").replace_codes()[0]

    results = in_parallel(
        [lambda: services.verify_second_factor(agent, code, actor=Actor()) for _ in range(6)]
    )

    assert [r.value.kind for r in results].count("ok") == 1
    assert HashedStaticDevice.objects.get(user=agent).codes_left == 9


def test_the_login_pages_survive_parallel_clients(live_server: Any) -> None:
    # Smoke: two browsers' worth of the real pages at once, no 500.
    agent = CallCentreAgentFactory()
    authenticator(agent)

    def attempt() -> int:
        client = Client()
        response = client.post(
            "/admin/login/", {"username": agent.username, "password": "Yanlis-1"}
        )
        return response.status_code

    results = in_parallel([attempt for _ in range(4)])
    assert [r.value for r in results] == [400] * 4
