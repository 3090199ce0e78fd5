"""Fixtures of the fault tests."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from .servers import RedisServer


@pytest.fixture
def private_redis(tmp_path: Any) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path).start()
    try:
        yield server
    finally:
        server.stop()
