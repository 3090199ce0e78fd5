"""Fixtures of the call-centre console tests: a supervisor, a staff member with no call-centre
permission, and a locked citizen.

A supervisor is a plain staff user put into the "Çağrı Merkezi Süpervizörü" group (recreated
first: a transactional test's flush removes the groups the migrations made), so no factory of
``nesportal.testing`` is needed for them.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.test import Client

from accounts.callcentre import ensure_supervisor_group
from accounts.models import Citizen
from nesportal.testing import staff_login
from nesportal.testing.factories import CitizenFactory, StaffUserFactory


def make_supervisor(username: str = "supervizor") -> Any:
    """A staff user whose only permissions come from the supervisors' group."""
    user = get_user_model().objects.create_user(
        username, password="Supervizor-Parola-2026", is_staff=True
    )
    user.groups.add(ensure_supervisor_group())
    return user


@pytest.fixture
def supervisor(db: None) -> Any:
    return make_supervisor()


@pytest.fixture
def supervisor_client(supervisor: Any) -> Client:
    return staff_login(Client(), supervisor)


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
