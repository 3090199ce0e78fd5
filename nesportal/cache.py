"""Django's Redis cache, with one redis client per connection pool instead of one per call.

``django.core.cache.backends.redis.RedisCacheClient.get_client`` builds a new ``redis.Redis``
object for every cache operation (about 0.15 ms here, half the cost of a pre-signed OCSP
answer). A client is thread-safe and holds nothing but its pool, so one per pool serves every
thread of the process.

Every connection also gets socket timeouts (``OPTIONS`` given in ``CACHES`` win): redis-py waits
forever by default, so a Redis that accepts connections but never answers would hold every
request that touches the cache (throttles, pre-signed OCSP) until gunicorn kills the worker.
With them, a cache call fails within seconds and its caller decides (throttles fail open,
OCSP signs afresh). Everything else is Django's.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.core.cache.backends.redis import RedisCache as DjangoRedisCache
from django.core.cache.backends.redis import RedisCacheClient


class _PooledClient(RedisCacheClient):
    if TYPE_CHECKING:
        # Private attributes of Django's RedisCacheClient that django-stubs does not declare.
        _client: type[Any]

        def _get_connection_pool(self, write: bool) -> Any: ...

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._clients: dict[int, Any] = {}

    def get_client(self, key: Any = None, *, write: bool = False) -> Any:
        pool = self._get_connection_pool(write)
        client = self._clients.get(id(pool))
        if client is None:
            client = self._clients[id(pool)] = self._client(connection_pool=pool)
        return client


# Seconds to connect to Redis and to wait for a reply (tests/faults/test_redis_down.py).
CONNECT_TIMEOUT = 0.5
SOCKET_TIMEOUT = 1.0


class RedisCache(DjangoRedisCache):
    def __init__(self, server: Any, params: dict[str, Any]) -> None:
        options = {
            "socket_connect_timeout": CONNECT_TIMEOUT,
            "socket_timeout": SOCKET_TIMEOUT,
            **params.get("OPTIONS", {}),
        }
        super().__init__(server, {**params, "OPTIONS": options})
        self._class = _PooledClient
