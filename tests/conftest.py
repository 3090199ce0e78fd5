"""Suite-wide test setup.

Markers decide what needs a real server: ``postgres`` (PostgreSQL via DATABASE_URL), ``redis``
(Redis via REDIS_URL, plus a real celery worker) and ``browser`` (Debian's chromium). Without
them those tests are skipped with the reason in pytest's summary (``-ra``); with
NES_REQUIRE_SERVICES=1 (set by .ci/run) a missing server fails the test instead.
The fixtures of ``nesportal.testing`` (the plugin integrators use) are available everywhere.
"""

from __future__ import annotations

import os
import shutil
from typing import Any

import pytest
from django.test import Client

from nesportal.testing import staff_login

# Playwright's sync API runs an event loop in the test thread; Django's ORM is sync-only.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = "/usr/bin/chromium"


def _missing(item: pytest.Item) -> str | None:
    from django.conf import settings

    on_postgres = settings.DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"
    if item.get_closest_marker("postgres") and not on_postgres:
        return "needs PostgreSQL: set DATABASE_URL=postgres://… (CI does)"
    if item.get_closest_marker("redis") and not settings.REDIS_URL_FOR_TESTS:
        return "needs Redis and a celery worker: set REDIS_URL=redis://… (CI does)"
    has_chromium = os.path.exists(CHROMIUM) or shutil.which("chromium")
    if item.get_closest_marker("browser") and not has_chromium:
        return "needs Debian's chromium: apt-get install chromium (CI does)"
    return None


def pytest_runtest_setup(item: pytest.Item) -> None:
    reason = _missing(item)
    if reason is None:
        return
    if os.environ.get("NES_REQUIRE_SERVICES") == "1":
        pytest.fail(f"NES_REQUIRE_SERVICES=1 but this test {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(autouse=True)
def _fresh_throttles() -> None:
    """Every test starts with empty throttle counters (nesportal/decorators.py): the suite logs in
    from 127.0.0.1 far more often than one client may, but never more within one test."""
    from django.core.cache import cache

    cache.clear()


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict) -> dict:
    """pytest-playwright: Debian's chromium, never a downloaded browser."""
    return {
        **browser_type_launch_args,
        "executable_path": CHROMIUM if os.path.exists(CHROMIUM) else shutil.which("chromium"),
        "args": [
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-quic",
            "--no-first-run",
        ],
    }


@pytest.fixture
def admin_client(db: None, admin_user: Any) -> Client:
    """pytest-django's ``admin_client``, logged in past admin's second factor as well."""
    return staff_login(Client(), admin_user)
