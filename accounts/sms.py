"""Pluggable SMS backends, chosen by ``SMS_BACKEND`` like Django's e-mail backends.

* ``console`` – prints each SMS to standard output (development).
* ``file`` – appends a JSON line per SMS to ``SMS_OUTBOX_PATH`` and echoes it to the console;
  the embedded default, read by ``/dev/sms/``.
* ``locmem`` – keeps SMS in ``accounts.sms.outbox`` (tests).
* ``twilio`` – the Twilio REST API through the ``twilio`` package.
* any dotted path to a ``BaseSmsBackend`` subclass.

The first three write the message text, which can hold a one-time code or a link token: they
exist for development and tests, and the system check ``accounts.W001`` flags them outside
DEBUG. ``console`` and ``file`` may still be chosen explicitly without DEBUG (a staging host, the
benchmark), but then they never print or store the secret parts: codes and link tokens are masked
(``nesportal.redaction``) unless ``DEV_BACKENDS_SHOW_SECRETS`` (DEBUG, and the test suite) is on.
``locmem`` keeps the text in this process's memory only, for the tests.

Backends raise ``SmsDeliveryError`` with ``retryable=True`` only when the provider certainly did
not accept the message (connection refused, HTTP 429/5xx before acceptance). An ambiguous
failure — the request may have reached the provider, e.g. a read timeout — is
``retryable=False``: sending again could deliver the same SMS twice.
"""

from __future__ import annotations

import fcntl
import json
import sys
import threading
from datetime import datetime
from typing import Any, TextIO

from django.conf import settings
from django.utils import timezone
from django.utils.module_loading import import_string

from nesportal.redaction import dev_backends_show_secrets, redact_secrets

BACKENDS = {
    "console": "accounts.sms.ConsoleBackend",
    "file": "accounts.sms.FileBackend",
    "locmem": "accounts.sms.LocmemBackend",
    "twilio": "accounts.sms.TwilioBackend",
}

# The locmem backend's outbox, like django.core.mail.outbox.
outbox: list[dict[str, Any]] = []
_outbox_lock = threading.Lock()


class SmsDeliveryError(Exception):
    def __init__(self, reason: str, *, retryable: bool) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retryable = retryable


class BaseSmsBackend:
    #: Whether the messages can be read back on /dev/sms/ (development backends).
    readable_outbox = False

    def send(self, *, to: str, body: str, idempotency_key: str) -> str:
        """Deliver one SMS; return the provider's message id."""
        raise NotImplementedError


def _entry(to: str, body: str, idempotency_key: str) -> dict[str, Any]:
    return {
        "id": idempotency_key,
        "to": to,
        "body": body,
        "at": timezone.now().isoformat(timespec="seconds"),
    }


def _shown(body: str) -> str:
    """What a printing or storing backend may keep of ``body``."""
    return body if dev_backends_show_secrets() else redact_secrets(body)


class ConsoleBackend(BaseSmsBackend):
    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream

    def send(self, *, to: str, body: str, idempotency_key: str) -> str:
        body = _shown(body)
        stream = self.stream or sys.stdout
        stream.write(f"[SMS {timezone.localtime():%H:%M:%S}] {to}: {body}\n")
        stream.flush()
        return f"console-{idempotency_key}"


class FileBackend(ConsoleBackend):
    readable_outbox = True

    def send(self, *, to: str, body: str, idempotency_key: str) -> str:
        body = _shown(body)
        path = settings.SMS_OUTBOX_PATH
        path.parent.mkdir(parents=True, exist_ok=True)
        line = json.dumps(_entry(to, body, idempotency_key), ensure_ascii=False) + "\n"
        with open(path, "a", encoding="utf-8") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)  # several worker processes may append at once
            fh.write(line)
        super().send(to=to, body=body, idempotency_key=idempotency_key)
        return f"file-{idempotency_key}"


class LocmemBackend(BaseSmsBackend):
    readable_outbox = True

    def send(self, *, to: str, body: str, idempotency_key: str) -> str:
        with _outbox_lock:
            outbox.append(_entry(to, body, idempotency_key))
        return f"locmem-{idempotency_key}"


class TwilioBackend(BaseSmsBackend):
    """The real Twilio REST API. ``TWILIO_API_BASE_URL`` only redirects the API host (tests
    point it at a local stand-in); everything else is the twilio package's own HTTP client."""

    def __init__(self) -> None:
        from twilio.http.http_client import TwilioHttpClient
        from twilio.rest import Client

        if not (
            settings.TWILIO_ACCOUNT_SID and settings.TWILIO_AUTH_TOKEN and settings.TWILIO_FROM
        ):
            raise SmsDeliveryError(
                "TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN and TWILIO_FROM must be set", retryable=False
            )
        self.client = Client(
            settings.TWILIO_ACCOUNT_SID,
            settings.TWILIO_AUTH_TOKEN,
            http_client=TwilioHttpClient(timeout=settings.TWILIO_TIMEOUT_SECONDS),
        )
        if settings.TWILIO_API_BASE_URL:
            self.client.api.base_url = settings.TWILIO_API_BASE_URL.rstrip("/")

    def send(self, *, to: str, body: str, idempotency_key: str) -> str:
        import requests
        from twilio.base.exceptions import TwilioRestException

        try:
            message = self.client.messages.create(to=to, from_=settings.TWILIO_FROM, body=body)
        except TwilioRestException as exc:
            retryable = exc.status == 429 or exc.status >= 500
            raise SmsDeliveryError(
                f"Twilio HTTP {exc.status} (code {exc.code}): {exc.msg}", retryable=retryable
            ) from exc
        except requests.ConnectionError as exc:
            if _never_connected(exc):
                raise SmsDeliveryError(
                    f"Twilio unreachable: {type(exc).__name__}", retryable=True
                ) from exc
            # Connection dropped after the request went out: ambiguous.
            raise SmsDeliveryError(
                f"Twilio connection lost ({type(exc).__name__}); the SMS may have been sent",
                retryable=False,
            ) from exc
        except requests.ReadTimeout as exc:
            # Twilio may have accepted the message: sending again could deliver it twice.
            raise SmsDeliveryError(
                "Twilio did not answer in time; the SMS may or may not have been sent",
                retryable=False,
            ) from exc
        return str(message.sid)


def _never_connected(exc: Exception) -> bool:
    """True when no byte of the request can have reached the provider."""
    import requests
    from urllib3.exceptions import ConnectTimeoutError, NewConnectionError

    if isinstance(exc, requests.ConnectTimeout):
        return True
    cause = exc.args[0] if exc.args else None
    cause = getattr(cause, "reason", cause)  # urllib3's MaxRetryError wraps the real reason
    return isinstance(cause, NewConnectionError | ConnectTimeoutError)


def backend_class(name: str | None = None) -> type[BaseSmsBackend]:
    name = name or settings.SMS_BACKEND
    return import_string(BACKENDS.get(name, name))


def get_backend(name: str | None = None) -> BaseSmsBackend:
    return backend_class(name)()


def read_outbox(limit: int = 50) -> list[dict[str, Any]]:
    """Newest first: the development outbox shown on /dev/sms/."""
    backend = settings.SMS_BACKEND
    if backend == "locmem":
        with _outbox_lock:
            entries = [dict(entry) for entry in outbox]  # copies: "at" is parsed below
    elif backend == "file":
        try:
            with open(settings.SMS_OUTBOX_PATH, encoding="utf-8") as fh:
                entries = [json.loads(line) for line in fh if line.strip()]
        except FileNotFoundError:
            entries = []
    else:
        return []
    for entry in entries:
        entry["at"] = datetime.fromisoformat(entry["at"])
    return entries[::-1][:limit]
