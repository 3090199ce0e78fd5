"""Fixtures of the receipt tests (the factories and ``sms_outbox`` come from nesportal.testing)."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.test import Client


@pytest.fixture
def send(django_capture_on_commit_callbacks: Any, sms_outbox: list[dict[str, Any]]) -> Any:
    """POST with on-commit callbacks run (SMS tasks, OCSP cache, CRL publication, receipts)."""

    def post(client: Client, path: str, data: dict[str, str] | None = None) -> Any:
        with django_capture_on_commit_callbacks(execute=True):
            return client.post(path, data or {})

    return post


@pytest.fixture
def staff(db: None) -> Any:
    return get_user_model().objects.create_superuser("yonetici", password="Yonetici-Demo-2026!")
