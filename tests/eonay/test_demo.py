"""The demo gives every demo citizen a waiting application to approve, entered by "yonetici"."""

from __future__ import annotations

from typing import Any

import pytest

from accounts.models import Citizen, SmsMessage
from eonay.models import Application
from nesportal.demo import DEMO_CITIZENS, seed_demo

pytestmark = pytest.mark.django_db


def test_seed_demo_adds_one_waiting_application_per_citizen(demo_pki: Any) -> None:
    result = seed_demo()

    assert len(result.applications) == len(DEMO_CITIZENS)
    for demo in DEMO_CITIZENS:
        citizen = Citizen.objects.by_identifier(demo.identifier).get()
        application = citizen.eonay_applications.get()
        assert application.status == Application.Status.WAITING
        assert application.kind == Application.Kind.FIRST
        assert application.entered_by.username == "yonetici"
    assert not SmsMessage.objects.filter(kind=SmsMessage.Kind.EONAY_WAITING).exists()

    again = seed_demo()
    assert again.applications == []
    assert Application.objects.count() == len(DEMO_CITIZENS)
