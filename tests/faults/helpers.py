"""Helpers of the fault tests: a broker and a cache of the test's choosing for this process."""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Any

from ..celery_processes import publishing_to


def publishing_via(broker_url: str, queue: str) -> AbstractContextManager[None]:
    """This test process publishes tasks to ``broker_url`` (not eagerly), on ``queue``."""
    return publishing_to(queue, broker_url)


def shared_cache_at(settings: Any, redis_url: str) -> None:
    """Point the default cache (throttles, pre-signed OCSP) at ``redis_url``."""
    settings.CACHES = {
        "default": {
            "BACKEND": "nesportal.cache.RedisCache",
            "LOCATION": redis_url,
            "KEY_PREFIX": "nes-faults",
        }
    }
