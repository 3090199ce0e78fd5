"""django-ratelimit as an installed app, with its cache check replaced by one that knows ours.

django-ratelimit's own check (``django_ratelimit.E003``/``W001``) goes by the backend's dotted
path: it names only ``django_redis`` and memcached as supported, so it warns about Django's own
``RedisCache`` and our subclass (``nesportal.cache.RedisCache``), which are fine: ``add`` is
Redis ``SET NX`` and ``incr`` is Redis ``INCR``, atomic across every process, and Django's Redis
serializer stores integers as plain Redis integers, so ``INCR`` works on them. Silencing the
warning would hide it for a backend that really is unsuitable, so this check says the same
things for the backends we know and keeps the library's errors for the others.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core import checks
from django_ratelimit.apps import DjangoRatelimitConfig

# Backends whose ``add``/``incr`` are atomic across processes (the library's list plus Django's
# own Redis cache and our subclass of it).
SHARED_ATOMIC = {
    "django.core.cache.backends.redis.RedisCache",
    "nesportal.cache.RedisCache",
    "django.core.cache.backends.memcached.PyMemcacheCache",
    "django.core.cache.backends.memcached.PyLibMCCache",
    "django_redis.cache.RedisCache",
}
# Backends that cannot count at all: ``add`` always succeeds, or ``incr`` is get-then-set.
UNSUITABLE = {
    "django.core.cache.backends.dummy.DummyCache": "is not a real cache",
    "django.core.cache.backends.filebased.FileBasedCache": "does not support atomic increment",
    "django.core.cache.backends.db.DatabaseCache": "does not support atomic increment",
}
LOCMEM = "django.core.cache.backends.locmem.LocMemCache"


def check_throttle_cache(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    if not getattr(settings, "RATELIMIT_ENABLE", True):
        return []
    name = getattr(settings, "RATELIMIT_USE_CACHE", "default")
    if name not in settings.CACHES:
        return [
            checks.Error(
                f"RATELIMIT_USE_CACHE={name!r} is not a cache in CACHES.",
                id="throttles.E001",
            )
        ]
    backend = settings.CACHES[name]["BACKEND"]
    if backend in UNSUITABLE:
        return [
            checks.Error(
                f"The throttle cache {backend} {UNSUITABLE[backend]}.",
                hint="Set REDIS_URL (or CACHE_URL=rediscache://…).",
                id="throttles.E002",
            )
        ]
    if backend == LOCMEM and not settings.DEBUG:
        # Atomic within one process (locmem locks), so the embedded default (one process) and
        # the tests count exactly; several gunicorn workers each count on their own.
        return [
            checks.Warning(
                "The throttle cache is this process's memory: each web process counts on its "
                "own, so a client gets the limits once per process.",
                hint="Set REDIS_URL (or CACHE_URL=rediscache://…) in production.",
                id="throttles.W001",
            )
        ]
    if backend not in SHARED_ATOMIC and backend != LOCMEM:
        return [
            checks.Warning(
                f"The throttle cache {backend} is not known to count atomically across processes.",
                id="throttles.W002",
            )
        ]
    return []


class RatelimitConfig(DjangoRatelimitConfig):
    def ready(self) -> None:
        # Not super().ready(): that imports django_ratelimit.checks, the check replaced here.
        # Deploy-only, like accounts.W002: the embedded default may run with DEBUG off.
        checks.register(check_throttle_cache, checks.Tags.caches, deploy=True)
