"""Fixtures of the call-centre console tests: a staff member with no call-centre permission,
and a locked citizen."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from django.test import Client

from accounts.models import Citizen
from nesportal.testing import staff_login
from nesportal.testing.factories import CitizenFactory, StaffUserFactory


@pytest.fixture
def viewer_client(db: None) -> Client:
    """Staff who may view citizens and nothing else (no unlock, no reset link)."""
    user = StaffUserFactory()
    user.user_permissions.add(
        Permission.objects.get(content_type__app_label="accounts", codename="view_citizen")
    )
    return staff_login(Client(), user)


@pytest.fixture
def locked_citizen(db: None) -> Citizen:
    return CitizenFactory(locked=True)
