"""``@throttled(name)``: the per-client request throttles of ``nesportal.limits.THROTTLES``.

Security contract
-----------------
* Counted per *client* (``nesportal.clientip.client_key``: the address, an IPv6 /64), never
  per target: a limit on a T.C. Kimlik No or a phone number would be a lockout that anybody
  could trigger. The per-account protection is the 3-strike lock, in the database.
* The counter is taken *before* the view runs, with django-ratelimit's ``add``/``incr`` on the
  default cache (Redis ``SET NX``/``INCR`` in production: atomic, so parallel requests from one
  client get exactly the allowed number through). A refused request never reaches the view:
  no form is validated, no captcha is consumed, no strike is reserved, no SMS is sent.
* Every rate of the throttle is checked in order (the shortest window first); the first one
  exceeded answers 429 with ``Retry-After`` (seconds until its window ends) and the longer
  windows are not counted for that request, so a burst refused by the minute limit does not
  use up the hour.
* The first refusal per client, throttle and window writes one audit event
  ``nes.throttle.exceeded`` (throttle name, rate, client address; no identifier, no secret):
  a client hammering a throttled form cannot flood the audit log.
* Fail open: if the cache cannot be reached, the request goes through and one warning line is
  logged. The database-backed lock and budgets still hold, and a Redis outage must not shut
  every citizen out of the portal.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import wraps
from typing import Any

from django.conf import settings
from django.core.cache import caches
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils.cache import add_never_cache_headers
from django.utils.translation import ngettext
from django_ratelimit import ALL
from django_ratelimit.core import get_usage
from redis.exceptions import RedisError

from audit.actor import Actor
from audit.log import record

from .clientip import client_key
from .limits import THROTTLES, Throttle, throttle

logger = logging.getLogger(__name__)

View = Callable[..., HttpResponse]

# What a cache that cannot be reached raises (redis-py's errors; socket errors of other
# backends). Anything else is a bug and propagates.
CACHE_ERRORS: tuple[type[BaseException], ...] = (RedisError, OSError)


@dataclass(frozen=True)
class Exceeded:
    """A refused request: which throttle, which of its rates, and when the window ends."""

    throttle: Throttle
    rate: str
    retry_after: int  # seconds, at least 1

    @property
    def minutes(self) -> int:
        return max(1, math.ceil(self.retry_after / 60))


def _cache() -> Any:
    return caches[getattr(settings, "RATELIMIT_USE_CACHE", "default")]


def _audit_once(request: HttpRequest, exceeded: Exceeded, key: str) -> None:
    """One ``nes.throttle.exceeded`` per client, throttle and window (a marker in the cache that
    lives until the window ends)."""
    marker = f"throttle-audited:{exceeded.throttle.name}:{exceeded.rate}:{key}"
    try:
        first = _cache().add(marker, 1, exceeded.retry_after + 1)
    except CACHE_ERRORS:
        first = False  # the counter just worked; a flaky cache must not flood the log either
    if first:
        record(
            "nes.throttle.exceeded",
            actor=Actor.from_request(request),
            throttle=exceeded.throttle.name,
            rate=exceeded.rate,
            client=key,
            retry_after=exceeded.retry_after,
        )


def check_throttle(
    request: HttpRequest, name: str, *, methods: Sequence[str] | None = None
) -> Exceeded | None:
    """Count this request against throttle ``name``; ``Exceeded`` if it must be refused.

    ``methods`` narrows the throttle's own methods for one view (the counter stays the same).
    """
    rule = throttle(name, getattr(settings, "NES_THROTTLES", ""))
    if request.method not in (methods or rule.methods):
        return None
    key = client_key(request)
    for rate in rule.rates:
        try:
            usage = get_usage(
                request,
                group=f"nes.{name}",
                key=lambda group, request: key,
                rate=rate,
                method=ALL,
                increment=True,
            )
        except CACHE_ERRORS as exc:
            # Fail open (module docstring). One line, no traceback: an outage would repeat it.
            logger.warning("throttle %s: cache unavailable (%s), request let through", name, exc)
            return None
        if usage is not None and usage["should_limit"]:
            # The window includes its last second (django-ratelimit: now == end is still in it).
            exceeded = Exceeded(rule, rate, max(1, int(usage["time_left"]) + 1))
            _audit_once(request, exceeded, key)
            return exceeded
    return None


def throttled_message(exceeded: Exceeded) -> str:
    return ngettext(
        "Çok fazla deneme yaptınız. Lütfen %(minutes)d dakika sonra tekrar deneyiniz.",
        "Çok fazla deneme yaptınız. Lütfen %(minutes)d dakika sonra tekrar deneyiniz.",
        exceeded.minutes,
    ) % {"minutes": exceeded.minutes}


def too_many_requests(request: HttpRequest, exceeded: Exceeded) -> HttpResponse:
    """The 429 page (templates/429.html) with ``Retry-After``; JSON for a client that asks for
    it (the E-İmzalı Giriş signing tools)."""
    message = throttled_message(exceeded)
    request_id = getattr(request, "request_id", "")
    if "application/json" in request.headers.get("Accept", ""):
        body = {"ok": False, "error": message, "retry_after": exceeded.retry_after}
        response: HttpResponse = JsonResponse({**body, "request_id": request_id}, status=429)
    else:
        context = {"message": message, "request_id": request_id}
        response = render(request, "429.html", context, status=429)
    response["Retry-After"] = str(exceeded.retry_after)
    # Some wrapped views (the captcha's) send no cache headers: a 429 is for this client only.
    add_never_cache_headers(response)
    return response


def throttled(name: str, *, methods: Sequence[str] | None = None) -> Callable[[View], View]:
    """Apply ``THROTTLES[name]`` to a view: over the limit, 429 and the view never runs."""
    if name not in THROTTLES:
        raise KeyError(f"unknown throttle {name!r}")

    def decorator(view: View) -> View:
        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            exceeded = check_throttle(request, name, methods=methods)
            if exceeded is not None:
                return too_many_requests(request, exceeded)
            return view(request, *args, **kwargs)

        return wrapper

    return decorator
