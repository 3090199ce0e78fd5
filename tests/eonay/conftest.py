"""Fixtures shared by the E-Onay tests."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from accounts.models import Citizen
from eonay.models import Application
from nesportal.testing.factories import StaffUserFactory

from .factories import make_application


@pytest.fixture
def staff(db: None) -> Any:
    """The demo's superuser, who enters applications."""
    return get_user_model().objects.create_superuser("yonetici", password="Yonetici-Demo-2026!")


@pytest.fixture
def waiting(citizen: Citizen, staff: Any) -> Application:
    return make_application(citizen, staff)


@pytest.fixture
def other_citizen(citizen_factory: Any) -> Citizen:
    return citizen_factory()


@pytest.fixture
def staff_factory(db: None) -> Any:
    return StaffUserFactory


@pytest.fixture
def send(django_capture_on_commit_callbacks: Any, sms_outbox: list[dict[str, Any]]) -> Any:
    """POST with on-commit callbacks run (the SMS tasks), returning the response."""

    def post(client: Client, path: str, data: dict[str, str] | None = None) -> Any:
        with django_capture_on_commit_callbacks(execute=True):
            return client.post(path, data or {})

    return post


@pytest.fixture
def clock() -> Any:
    """Time frozen now; move it with ``clock.shift(seconds)``."""
    import time_machine
    from django.utils import timezone

    with time_machine.travel(timezone.now(), tick=False) as traveller:
        yield traveller
