"""The HTTP side: a stdlib ThreadingHTTPServer on the loopback interface only.

Every request's Host must be exactly ``127.0.0.1:<port>``, ``localhost:<port>`` or
``[::1]:<port>`` (a DNS-rebinding page sends its own name), and every ``/v1/`` request's Origin
exactly one of the configured portal origins; refused requests get no CORS headers. Request
logging prints the method, the path and the status, never a body (the PIN travels in one).
"""

from __future__ import annotations

import html
import json
import sys
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from nes_kart_servisi import PROTOCOL, SERVICE_NAME, __version__
from nes_kart_servisi.formats import FormatRefused, PinMalformed, parse_sign_request
from nes_kart_servisi.pinguard import RateLimited
from nes_kart_servisi.token import CardError, Cards, ModuleUnavailable

MAX_BODY = 16 * 1024
ALLOWED_HOSTS = ("127.0.0.1", "localhost", "::1")
DEFAULT_PORT = 48620
DEFAULT_ORIGINS = ("http://127.0.0.1:8000", "http://localhost:8000")


class ConfigError(ValueError):
    """A refused start-up option (printed, exit status 2)."""


def normalise_origin(value: str) -> str:
    """``scheme://host[:port]`` exactly as a browser sends it in Origin (no path, no slash)."""
    value = value.strip()
    parts = urlsplit(value)
    if (
        parts.scheme not in ("http", "https")
        or not parts.hostname
        or parts.path not in ("", "/")
        or parts.query
        or parts.fragment
        or parts.username
        or parts.password
    ):
        raise ConfigError(f"not an origin (scheme://host[:port]): {value!r}")
    host = parts.hostname
    if ":" in host:
        host = f"[{host}]"
    default_port = 80 if parts.scheme == "http" else 443
    try:
        port = parts.port
    except ValueError as exc:
        raise ConfigError(f"bad port in origin {value!r}") from exc
    if port is not None and port != default_port:
        return f"{parts.scheme}://{host}:{port}"
    return f"{parts.scheme}://{host}"


def check_bind_host(host: str) -> str:
    if host not in ALLOWED_HOSTS:
        raise ConfigError(
            f"--host {host!r} refused: the card service listens on the loopback interface only "
            "(127.0.0.1, ::1 or localhost)"
        )
    return host


@dataclass
class Config:
    cards: Cards
    port: int = DEFAULT_PORT
    origins: tuple[str, ...] = DEFAULT_ORIGINS
    allowed_hosts: frozenset[str] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        self.origins = tuple(normalise_origin(origin) for origin in self.origins)
        self.allowed_hosts = frozenset(
            f"{name}:{self.port}" for name in ("127.0.0.1", "localhost", "[::1]")
        )


_PAGE = """<!DOCTYPE html>
<html lang="tr">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>NES Portal Akıllı Kart Servisi</title>
<style>
body {{ font-family: system-ui, sans-serif; max-width: 40rem; margin: 2rem auto; padding: 0 1rem;
       line-height: 1.5; color: #1a1a1a; }}
h1 {{ font-size: 1.4rem; }} h2 {{ font-size: 1.1rem; margin-top: 2rem; }}
code {{ background: #f2f2f2; padding: 0 .2rem; }}
.ok {{ color: #0a6b2d; font-weight: bold; }}
</style>
</head>
<body>
<main>
<h1>NES Portal Akıllı Kart Servisi</h1>
<p class="ok">Servis çalışıyor (sürüm {version}).</p>
<p>Bu program bilgisayarınızdaki kart okuyucu ile NES Portal sayfası arasında aracılık eder.
Yalnızca şu portal adreslerinden gelen isteklere yanıt verir:</p>
<ul>{origins_tr}</ul>
<p>PIN'iniz yalnızca kartınıza gider: portal sunucusuna gönderilmez, hiçbir yere kaydedilmez,
hiçbir günlüğe yazılmaz. Servis yalnızca E-İmzalı Giriş doğrulama metnini ve E-Onay metnini
imzalar; başka hiçbir veriyi imzalamaz. Üç kez yanlış PIN girilirse kart kilitlenir; kilidi
portaldaki Kilit Çözme adımlarıyla açabilirsiniz.</p>
<p>Bu pencereyi kapatabilirsiniz; servisi durdurmak için çalıştığı terminalde Ctrl+C'ye
basın.</p>
<section lang="en">
<h2>NES Portal Smart Card Service</h2>
<p class="ok">The service is running (version {version}).</p>
<p>This program connects the card reader on your computer with the NES Portal page. It answers
only requests from these portal addresses:</p>
<ul>{origins_en}</ul>
<p>Your PIN goes only to your card: it is never sent to the portal server, never stored and
never written to any log. The service signs only the E-İmzalı Giriş (e-signature login)
challenge and the E-Onay (consent) text, never any other data. Three wrong PINs lock the card;
unlock it with the Kilit Çözme (unlock) steps on the portal.</p>
<p>You may close this window; to stop the service press Ctrl+C in its terminal.</p>
</section>
</main>
</body>
</html>
"""


def render_page(config: Config) -> bytes:
    items = "".join(f"<li><code>{html.escape(origin)}</code></li>" for origin in config.origins)
    return _PAGE.format(
        version=html.escape(__version__), origins_tr=items, origins_en=items
    ).encode("utf-8")


class Handler(BaseHTTPRequestHandler):
    server_version = "nes-kart-servisi/" + __version__
    sys_version = ""
    protocol_version = "HTTP/1.1"
    config: Config  # set on the subclass made by make_server

    # --- logging: method, path, status; nothing else --------------------------------------
    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        path = urlsplit(self.path).path if isinstance(self.path, str) else "-"
        method = self.command if isinstance(self.command, str) else "-"
        sys.stderr.write(f"{self.log_date_time_string()} {method} {path[:200]!r} {code}\n")

    def log_error(self, format: str, *args: Any) -> None:  # noqa: A002 (the base's name)
        # The base class would log the raw request line; our own line (log_request) suffices.
        return

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        return

    # --- answers ----------------------------------------------------------------------------
    def _send(
        self,
        status: int,
        body: bytes = b"",
        *,
        content_type: str = "application/json; charset=utf-8",
        origin: str | None = None,
        extra: dict[str, str] | None = None,
    ) -> None:
        self.send_response(status)
        if body or status not in (204, 304):
            self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Referrer-Policy", "no-referrer")
        if origin is not None:
            self.send_header("Access-Control-Allow-Origin", origin)
        self.send_header("Vary", "Origin")
        for name, value in (extra or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD" and body:
            self.wfile.write(body)

    def _json(
        self,
        status: int,
        data: dict[str, Any],
        *,
        origin: str | None = None,
        extra: dict[str, str] | None = None,
    ) -> None:
        body = json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        self._send(status, body, origin=origin, extra=extra)

    # --- checks -----------------------------------------------------------------------------
    def _host_ok(self) -> bool:
        hosts = self.headers.get_all("Host") or []
        if len(hosts) != 1 or hosts[0] not in self.config.allowed_hosts:
            self.close_connection = True
            self._json(403, {"error": "host_refused"})
            return False
        return True

    def _origin(self) -> str | None:
        """The request's allowed Origin, or None after answering 403 ``origin_refused``."""
        origins = self.headers.get_all("Origin") or []
        if len(origins) != 1 or origins[0] not in self.config.origins:
            self.close_connection = True
            self._json(403, {"error": "origin_refused"})
            return None
        return origins[0]

    def _route(self) -> str:
        return urlsplit(self.path).path

    # --- methods ----------------------------------------------------------------------------
    def do_GET(self) -> None:  # noqa: N802 (the base's name)
        if not self._host_ok():
            return
        path = self._route()
        if path == "/":
            self._send(
                200,
                render_page(self.config),
                content_type="text/html; charset=utf-8",
                extra={
                    "Content-Security-Policy": "default-src 'none'; "
                    "style-src 'unsafe-inline'; frame-ancestors 'none'",
                    "X-Frame-Options": "DENY",
                },
            )
            return
        if not path.startswith("/v1/"):
            self._json(404, {"error": "not_found"})
            return
        origin = self._origin()
        if origin is None:
            return
        if path == "/v1/status":
            self._json(200, self._status(), origin=origin)
        elif path == "/v1/certificates":
            self._cards_call(origin, lambda: {"certificates": self.config.cards.certificates()})
        elif path == "/v1/sign":
            self._json(
                405,
                {"error": "method_not_allowed"},
                origin=origin,
                extra={"Allow": "POST, OPTIONS"},
            )
        else:
            self._json(404, {"error": "not_found"}, origin=origin)

    def do_HEAD(self) -> None:  # noqa: N802
        if not self._host_ok():
            return
        self._json(405, {"error": "method_not_allowed"}, extra={"Allow": "GET, POST, OPTIONS"})

    def do_OPTIONS(self) -> None:  # noqa: N802
        if not self._host_ok():
            return
        path = self._route()
        origin = self._origin()
        if origin is None:
            return
        method = (self.headers.get("Access-Control-Request-Method") or "").strip()
        requested = self.headers.get("Access-Control-Request-Headers") or ""
        names = {name.strip().lower() for name in requested.split(",") if name.strip()}
        if (
            path not in ("/v1/status", "/v1/certificates", "/v1/sign")
            or method not in ("GET", "POST")
            or not names <= {"content-type"}
        ):
            self.close_connection = True
            self._json(403, {"error": "preflight_refused"})
            return
        extra = {
            "Access-Control-Allow-Methods": "GET, POST",
            "Access-Control-Allow-Headers": "Content-Type",
            "Access-Control-Max-Age": "600",
        }
        pna = self.headers.get("Access-Control-Request-Private-Network") or ""
        if pna.strip().lower() == "true":
            extra["Access-Control-Allow-Private-Network"] = "true"
        self._send(204, origin=origin, extra=extra)

    def do_POST(self) -> None:  # noqa: N802
        if not self._host_ok():
            return
        path = self._route()
        if not path.startswith("/v1/"):
            self._json(404, {"error": "not_found"})
            return
        origin = self._origin()
        if origin is None:
            return
        if path != "/v1/sign":
            self.close_connection = True
            if path in ("/v1/status", "/v1/certificates"):
                self._json(
                    405,
                    {"error": "method_not_allowed"},
                    origin=origin,
                    extra={"Allow": "GET, OPTIONS"},
                )
            else:
                self._json(404, {"error": "not_found"}, origin=origin)
            return
        body = self._read_body(origin)
        if body is _ANSWERED:
            return
        try:
            request = parse_sign_request(body)
        except PinMalformed:
            self._json(400, {"error": "pin_malformed"}, origin=origin)
            return
        except FormatRefused:
            self._json(400, {"error": "format_refused"}, origin=origin)
            return
        self._cards_call(origin, lambda: self.config.cards.sign(request))

    def _read_body(self, origin: str) -> Any:
        """The JSON body, or :data:`_ANSWERED` after answering (415, 411, 413 or 400)."""
        content_type = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if content_type != "application/json":
            self.close_connection = True
            self._json(415, {"error": "unsupported_media_type"}, origin=origin)
            return _ANSWERED
        if self.headers.get("Transfer-Encoding"):
            self.close_connection = True
            self._json(411, {"error": "length_required"}, origin=origin)
            return _ANSWERED
        try:
            length = int(self.headers.get("Content-Length") or "")
        except ValueError:
            self.close_connection = True
            self._json(411, {"error": "length_required"}, origin=origin)
            return _ANSWERED
        if length < 0 or length > MAX_BODY:
            self.close_connection = True
            self._json(413, {"error": "too_large"}, origin=origin)
            return _ANSWERED
        raw = self.rfile.read(length)
        try:
            return json.loads(raw.decode("utf-8"), object_pairs_hook=_no_duplicates)
        except (UnicodeDecodeError, ValueError, RecursionError):
            self._json(400, {"error": "bad_json"}, origin=origin)
            return _ANSWERED

    def _status(self) -> dict[str, Any]:
        cards = self.config.cards
        answer: dict[str, Any] = {
            "service": SERVICE_NAME,
            "version": __version__,
            "protocol": PROTOCOL,
            "module_loaded": False,
            "readers": [],
        }
        try:
            answer["readers"] = cards.status()["readers"]
            answer["module_loaded"] = True
        except ModuleUnavailable:
            answer["module_error"] = cards.module_error or "module_unavailable"
        except CardError as exc:
            answer["module_loaded"] = True
            answer["card_error"] = exc.code
        return answer

    def _cards_call(self, origin: str, call: Any) -> None:
        try:
            result = call()
        except RateLimited as exc:
            seconds = exc.retry_after_seconds
            self._json(
                429,
                {"error": "rate_limited", "retry_after": seconds},
                origin=origin,
                extra={"Retry-After": str(seconds)},
            )
            return
        except PinMalformed:
            self._json(400, {"error": "pin_malformed"}, origin=origin)
            return
        except CardError as exc:
            data: dict[str, Any] = {"error": exc.code}
            tries_left = getattr(exc, "tries_left", None)
            if tries_left is not None:
                data["tries_left"] = tries_left
            self._json(exc.status, data, origin=origin)
            return
        except Exception as exc:  # a module's own error: never its text (it is not ours)
            sys.stderr.write(f"card error: {type(exc).__name__}\n")
            self._json(500, {"error": "card_error"}, origin=origin)
            return
        self._json(200, result, origin=origin)


_ANSWERED: Any = object()  # _read_body has answered already (JSON null is a body too)


class _DuplicateKey(ValueError):
    pass


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise _DuplicateKey(key)
        result[key] = value
    return result


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


class _Server6(_Server):
    import socket as _socket

    address_family = _socket.AF_INET6


def make_server(config: Config, host: str = "127.0.0.1") -> ThreadingHTTPServer:
    check_bind_host(host)
    handler = type("BoundHandler", (Handler,), {"config": config})
    if host == "::1":
        return _Server6(("::1", config.port), handler)
    return _Server(("127.0.0.1", config.port), handler)
