"""esign.purge_challenges (Celery beat): expired challenges go, open ones stay, idempotently."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

import pytest
from django.utils import timezone

from esign.models import LoginChallenge
from esign.tasks import purge_challenges

pytestmark = pytest.mark.django_db


def test_it_purges_expired_esign_login_challenges(caplog: Any) -> None:
    def challenge(expires_at: dt.datetime, **fields: Any) -> LoginChallenge:
        return LoginChallenge.objects.create(
            nonce=b"n" * 32, binding_hash="0" * 64, expires_at=expires_at, **fields
        )

    challenge(timezone.now() - dt.timedelta(seconds=1))
    challenge(timezone.now() - dt.timedelta(hours=1), used_at=timezone.now())
    live = challenge(timezone.now() + LoginChallenge.LIFETIME)

    with caplog.at_level(logging.INFO, logger="esign.tasks"):
        assert purge_challenges.delay().get() == 2
        assert purge_challenges.delay().get() == 0

    assert list(LoginChallenge.objects.values_list("pk", flat=True)) == [live.pk]
    assert "housekeeping: deleted esign_challenges=2" in caplog.text
