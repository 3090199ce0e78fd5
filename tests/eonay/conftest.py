"""Fixtures shared by the E-Onay tests (``clock``, ``staff_factory`` and the other factories come
from the nesportal.testing plugin)."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from accounts.models import Citizen
from eonay.models import Application
from nesportal.testing.factories import ApplicationFactory


@pytest.fixture
def staff(db: None) -> Any:
    """The demo's superuser, who enters applications."""
    return get_user_model().objects.create_superuser("yonetici", password="Yonetici-Demo-2026!")


@pytest.fixture
def waiting(citizen: Citizen, staff: Any) -> Application:
    return ApplicationFactory(citizen=citizen, entered_by=staff)


@pytest.fixture
def other_citizen(citizen_factory: Any) -> Citizen:
    return citizen_factory()


@pytest.fixture
def send(django_capture_on_commit_callbacks: Any, sms_outbox: list[dict[str, Any]]) -> Any:
    """POST with on-commit callbacks run (the SMS tasks), returning the response."""

    def post(client: Client, path: str, data: dict[str, str] | None = None) -> Any:
        with django_capture_on_commit_callbacks(execute=True):
            return client.post(path, data or {})

    return post
