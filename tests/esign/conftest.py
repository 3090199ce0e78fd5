"""Fixtures of the E-İmzalı Giriş tests."""

from __future__ import annotations

from typing import Any

import pytest

from accounts.models import Citizen
from certificates.models import Certificate


@pytest.fixture
def active(citizen: Citizen, certificate_factory: Any) -> tuple[Certificate, Any]:
    """The citizen's active certificate and its private key (the card's)."""
    return certificate_factory(citizen, "active")
