"""Settings for the test suite: the production module with test-friendly environment defaults.

``DATABASE_URL`` and ``REDIS_URL`` are honoured when set (CI points them at the real servers);
without them the suite runs on SQLite with Celery tasks executed in-process.
"""

import os

os.environ.setdefault("SECRET_KEY", "test-only-" + "x" * 60)
os.environ.setdefault("ALLOWED_HOSTS", "*")
os.environ.setdefault("SMS_BACKEND", "locmem")
os.environ.setdefault("EMAIL_URL", "memorymail://")
os.environ.setdefault("SECURE_SSL_REDIRECT", "false")
os.environ.setdefault("SESSION_COOKIE_SECURE", "false")
os.environ.setdefault("CSRF_COOKIE_SECURE", "false")
os.environ.setdefault("SECURE_HSTS_SECONDS", "0")
# A fixed test-only vault master key (32 bytes, base64); never used outside tests.
# Each test process keeps its cache in memory (tests that need the shared Redis cache say so).
os.environ.setdefault("CACHE_URL", "locmemcache://")
os.environ.setdefault("VAULT_KEYS", "test-1:dGVzdC1vbmx5LXZhdWx0LWtleS0zMi1ieXRlcyEhISE=")

from .settings import *  # noqa: E402,F403
from .settings import REDIS_URL, env  # noqa: E402

# Still Argon2 (the algorithm is part of the contract) but with cheap parameters, so 50 parallel
# logins do not need 5 GiB of memory.
PASSWORD_HASHERS = ["nesportal.testing.hashers.FastArgon2PasswordHasher"]

# pytest-django runs every test with DEBUG off, and the browser journeys read their codes from the
# file outbox: the suite's console/file backends show codes (the masking tests turn this off).
DEV_BACKENDS_SHOW_SECRETS = True

# Tests decide per test whether tasks go to a real worker (tests/accounts/test_worker.py). That
# worker runs these settings with CELERY_TASK_ALWAYS_EAGER=false: if it stayed eager, a task's
# retry would run inline in the worker at once instead of going back through Redis.
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=True)
REDIS_URL_FOR_TESTS = REDIS_URL

# The browser tests start the real Akıllı Kart Servisi on a free port and point
# NES_CARD_SERVICE_URL at it, so the pages may talk to any loopback port here (production allows
# exactly the configured one).
for _policy in ("CONTENT_SECURITY_POLICY", "CONTENT_SECURITY_POLICY_REPORT_ONLY"):
    if _policy in globals():
        globals()[_policy]["DIRECTIVES"]["connect-src"] = [
            "'self'",
            "http://127.0.0.1:*",
            "http://localhost:*",
        ]
