"""A local stand-in for Twilio's Messages API, for the twilio package's real HTTP client.

Point ``TWILIO_API_BASE_URL`` at ``FakeTwilio.url`` and the ``twilio`` package talks to this
server instead of api.twilio.com; nothing else of the client is replaced. The server runs in a
thread of the test process on 127.0.0.1 (an ephemeral port), so a separate ``celery worker``
process can use it too: it is just a URL.

It speaks the subset of the API that ``accounts.sms.TwilioBackend`` uses::

    POST /2010-04-01/Accounts/<AccountSid>/Messages.json   (basic auth, form: To, From, Body)

and answers like Twilio: ``201`` with a Message resource (``sid`` "SM…", ``status`` "queued"),
``401`` for wrong credentials, ``400`` with Twilio's error JSON for a missing parameter.

Responses are scriptable, first in first out; when the script runs out, requests succeed::

    fake.script(503, 503, 201)                        # fails twice, then delivers
    fake.script(Reply(400, code=21211, message="Invalid 'To' Phone Number"))
    fake.script(Reply(201, delay=2.0))                # answers after the client's read timeout
    fake.script(Reply(drop=True))                     # reads the request, hangs up unanswered

Every request is recorded (thread-safe) with what was answered; ``deliveries`` are the
requests answered with 201, i.e. the SMS Twilio would actually send.
"""

from __future__ import annotations

import base64
import json
import secrets
import threading
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
AUTH_TOKEN = "fake-twilio-auth-token"
FROM_NUMBER = "+15005550006"  # Twilio's magic "valid From" test number

MESSAGES_PATH = f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"

_REASONS = {
    400: "Bad Request",
    401: "Unauthorized",
    404: "Not Found",
    429: "Too Many Requests",
    500: "Internal Server Error",
    503: "Service Unavailable",
}
_ERROR_CODES = {400: 21211, 401: 20003, 404: 20404, 429: 20429, 500: 20500, 503: 20503}


@dataclass(frozen=True)
class Reply:
    """One scripted answer: an HTTP status, optionally after ``delay`` seconds.

    For an error status the body is Twilio's error JSON with ``code`` and ``message``. With
    ``drop`` the connection is closed after the request was read, without any answer.
    """

    status: int = 201
    code: int | None = None
    message: str | None = None
    delay: float = 0.0
    drop: bool = False


@dataclass
class Received:
    """One request as the fake saw it, and the status it answered (None: no answer sent)."""

    method: str
    path: str
    headers: dict[str, str]
    form: dict[str, str]
    auth: tuple[str, str] | None
    status: int | None = None
    sid: str | None = None
    at: datetime = field(default_factory=lambda: datetime.now(UTC))


def _rfc2822(dt: datetime) -> str:
    return dt.strftime("%a, %d %b %Y %H:%M:%S +0000")


class FakeTwilio:
    """The server. Use as a context manager, or call ``start()`` and ``stop()``."""

    def __init__(self, account_sid: str = ACCOUNT_SID, auth_token: str = AUTH_TOKEN) -> None:
        self.account_sid = account_sid
        self.auth_token = auth_token
        self._lock = threading.Lock()
        self._script: deque[Reply] = deque()
        self._received: list[Received] = []
        self._stopping = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> FakeTwilio:
        handler = type("Handler", (_Handler,), {"fake": self})
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},  # how long stop() waits for the loop to notice
            name="fake-twilio",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()  # wakes handlers that are sleeping out a scripted delay
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> FakeTwilio:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """The base URL to put in ``TWILIO_API_BASE_URL``."""
        assert self._server is not None, "start() the fake first"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    # -- scripting and inspection ------------------------------------------------------------

    def script(self, *replies: Reply | int) -> None:
        """Queue answers for the next requests (an int is a bare status)."""
        with self._lock:
            self._script.extend(r if isinstance(r, Reply) else Reply(r) for r in replies)

    def reset(self) -> None:
        """Forget the script and the requests received."""
        with self._lock:
            self._script.clear()
            self._received.clear()

    @property
    def requests(self) -> list[Received]:
        with self._lock:
            return list(self._received)

    @property
    def deliveries(self) -> list[Received]:
        """The requests answered with 201: the SMS Twilio would have sent."""
        return [r for r in self.requests if r.status == 201]

    # -- used by the handler -----------------------------------------------------------------

    def _next_reply(self, received: Received) -> Reply:
        with self._lock:
            self._received.append(received)
            return self._script.popleft() if self._script else Reply(201)

    def _wait(self, seconds: float) -> None:
        self._stopping.wait(seconds)

    def _message_resource(self, form: dict[str, str], sid: str) -> dict[str, Any]:
        now = _rfc2822(datetime.now(UTC))
        uri = f"/2010-04-01/Accounts/{self.account_sid}/Messages/{sid}.json"
        return {
            "account_sid": self.account_sid,
            "api_version": "2010-04-01",
            "body": form["Body"],
            "date_created": now,
            "date_sent": None,
            "date_updated": now,
            "direction": "outbound-api",
            "error_code": None,
            "error_message": None,
            "from": form["From"],
            "messaging_service_sid": None,
            "num_media": "0",
            "num_segments": "1",
            "price": None,
            "price_unit": "USD",
            "sid": sid,
            "status": "queued",
            "subresource_uris": {"media": uri.replace(".json", "/Media.json")},
            "to": form["To"],
            "uri": uri,
        }


class _Handler(BaseHTTPRequestHandler):
    fake: FakeTwilio
    server_version = "FakeTwilio/1.0"

    def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
        pass

    def do_GET(self) -> None:
        self._error(404, 20404, "The requested resource was not found")

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length).decode("utf-8")
        form = {k: v[0] for k, v in parse_qs(raw, keep_blank_values=True).items()}
        received = Received(
            method="POST",
            path=self.path,
            headers=dict(self.headers.items()),
            form=form,
            auth=self._basic_auth(),
        )
        reply = self.fake._next_reply(received)
        if reply.delay:
            self.fake._wait(reply.delay)

        if reply.drop:
            self.close_connection = True
            return
        if self.path != MESSAGES_PATH:
            received.status = 404
            self._error(404, 20404, "The requested resource was not found")
        elif received.auth != (self.fake.account_sid, self.fake.auth_token):
            received.status = 401
            self._error(401, 20003, "Authenticate")
        elif reply.status == 201 and not all(form.get(k) for k in ("To", "From", "Body")):
            received.status = 400
            self._error(400, 21602, "A 'To', 'From' and 'Body' parameter are required")
        elif reply.status == 201:
            sid = "SM" + secrets.token_hex(16)
            received.sid = sid
            received.status = 201
            self._json(201, self.fake._message_resource(form, sid))
        else:
            received.status = reply.status
            self._error(
                reply.status,
                reply.code or _ERROR_CODES.get(reply.status, reply.status),
                reply.message or _REASONS.get(reply.status, "Error"),
            )

    def _basic_auth(self) -> tuple[str, str] | None:
        header = self.headers.get("Authorization", "")
        if not header.startswith("Basic "):
            return None
        user, _, password = base64.b64decode(header[6:]).decode("utf-8").partition(":")
        return user, password

    def _error(self, status: int, code: int, message: str) -> None:
        self._json(
            status,
            {
                "code": code,
                "message": message,
                "more_info": f"https://www.twilio.com/docs/errors/{code}",
                "status": status,
            },
        )

    def _json(self, status: int, payload: dict[str, Any]) -> None:
        body = json.dumps(payload).encode()
        try:
            self.send_response(status, _REASONS.get(status))
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (a read timeout): exactly what some tests want
