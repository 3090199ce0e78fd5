"""How long anything may wait for the broker (Redis), and when a lost task comes back.

Kombu's defaults suit a worker, not a web request: no socket timeouts at all (a Redis that
accepts connections and never answers — a hung server, a half-open connection after a
failover — holds a publish forever) and retries on every publish. A web request that hands an
SMS to the worker must learn within seconds that it cannot, so that the citizen sees "SMS
gönderilemedi, lütfen tekrar deneyiniz" (``accounts.sms_queue.SmsUnavailable``) instead of a
hanging page or a 500. tests/faults/test_redis_down.py measures the figures in README "Faults".

Redelivery: tasks are acknowledged late (``CELERY_TASK_ACKS_LATE``), so a worker killed in the
middle of a task leaves its message unacknowledged in Redis; after ``visibility_timeout``
seconds any worker puts it back on the queue. It must exceed the longest task plus the
longest retry countdown (SMS: ``SMS_RETRY_BASE_SECONDS * 2**SMS_MAX_RETRIES``, 32 s by
default; a CRL signing of a national-scale CA, minutes), or a task still running (or still
waiting for its countdown) is delivered a second time — harmless for ``send_sms``, whose row
claim lets only one delivery send, but wasted work.
"""

from __future__ import annotations

from typing import Any

# Seconds to open a TCP connection to Redis, and to wait for any reply on it.
CONNECT_TIMEOUT = 1.0
SOCKET_TIMEOUT = 2.0

# A publish tries once more after a connection error (a Redis restart drops pooled
# connections: the retry reconnects), then gives up.
PUBLISH_RETRY_POLICY: dict[str, Any] = {
    "max_retries": 1,
    "interval_start": 0,
    "interval_step": 0.2,
    "interval_max": 0.2,
}


def transport_options(*, visibility_timeout: int) -> dict[str, Any]:
    """``CELERY_BROKER_TRANSPORT_OPTIONS`` for the Redis transport."""
    return {
        "visibility_timeout": visibility_timeout,
        "socket_connect_timeout": CONNECT_TIMEOUT,
        "socket_timeout": SOCKET_TIMEOUT,
        # A command that timed out is not sent again: it may have been executed.
        "retry_on_timeout": False,
        # Look for messages of dead workers a little more often than the visibility timeout.
        "unacked_restore_interval": max(1, min(10, visibility_timeout // 10)),
        "unacked_restore_throttle": 1,
    }


# Seconds a client is asked to wait after "SMS gönderilemedi" (Retry-After).
RETRY_AFTER_SECONDS = 30


class SmsUnavailableMiddleware:
    """ "SMS gönderilemedi, lütfen tekrar deneyiniz" (HTTP 503) for any view whose SMS could not
    be queued (``accounts.sms_queue.SmsUnavailable``) and that does not show it itself, instead of a
    500 with a traceback. The failure is already logged as one line by ``queue_sms``.
    """

    def __init__(self, get_response: Any) -> None:
        self.get_response = get_response

    def __call__(self, request: Any) -> Any:
        return self.get_response(request)

    def process_exception(self, request: Any, exception: Exception) -> Any:
        from accounts.sms_queue import SmsUnavailable

        if not isinstance(exception, SmsUnavailable):
            return None
        return sms_unavailable_response(request)


def sms_unavailable_response(request: Any) -> Any:
    from django.shortcuts import render

    try:
        from nesportal.logs import request_id_of
    except ImportError:  # pragma: no cover - the request id middleware is optional here
        request_id = ""
    else:
        request_id = request_id_of(request)
    response = render(
        request, "accounts/sms_unavailable.html", {"request_id": request_id}, status=503
    )
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response
