"""The OCSP fast path: pre-signed answers served before Django's request machinery.

RFC 5019 made OCSP cacheable so that nonce-less answers can be served by a cache in front of
the responder. This is that cache, in the web process: a WSGI wrapper (``nesportal.wsgi``) that
answers ``GET /ocsp/<base64>`` and ``POST /ocsp`` for one certificate without a nonce straight
from the shared cache when it holds an answer for the certificate's *current* status
(``certificates.responder.presigned``: the version check is the same as the view's). Anything
else — a miss, a nonce, several certificates, a bad request, a wrong Host — goes to Django
unchanged (a POST's body is handed over as read). So the fast path can only ever give an answer
the view would give; it only skips the middleware chain, which costs more than the answer.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable, Iterable
from typing import Any

from django.conf import settings
from django.http.request import split_domain_port, validate_host

from . import pki, responder

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]

_GET_PATH = re.compile(r"^/ocsp/([A-Za-z0-9+/=%_-]{4,8192})$")
_POST_PATHS = ("/ocsp", "/ocsp/")


class OcspFastPath:
    def __init__(self, app: WSGIApp) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        body = self._request_der(environ)
        if body is None or not self._host_allowed(environ):
            return self.app(environ, start_response)
        answer = responder.presigned(body)
        if answer is None:
            return self.app(environ, start_response)
        headers = responder.http_headers(answer)
        if environ["REQUEST_METHOD"] == "GET" and _etag_matches(environ, answer.etag):
            start_response("304 Not Modified", list(headers.items()))
            return [b""]
        start_response(
            "200 OK",
            [
                ("Content-Type", "application/ocsp-response"),
                ("Content-Length", str(len(answer.der))),
                *headers.items(),
            ],
        )
        return [answer.der]

    def _request_der(self, environ: dict[str, Any]) -> bytes | None:
        method = environ.get("REQUEST_METHOD")
        path = environ.get("PATH_INFO", "")
        if environ.get("QUERY_STRING"):
            return None
        if method == "GET":
            match = _GET_PATH.match(path)
            if match is None:
                return None
            try:
                return pki.ocsp_request_from_get_path(match.group(1))
            except ValueError:
                return None
        if method == "POST" and path in _POST_PATHS:
            if environ.get("CONTENT_TYPE", "").split(";")[0].strip() != "application/ocsp-request":
                return None
            try:
                length = int(environ.get("CONTENT_LENGTH") or 0)
            except ValueError:
                return None
            if not 0 < length <= responder.MAX_OCSP_REQUEST:
                return None
            body = environ["wsgi.input"].read(length)
            # Django reads the same bytes if the fast path does not answer.
            environ["wsgi.input"] = io.BytesIO(body)
            return body
        return None

    def _host_allowed(self, environ: dict[str, Any]) -> bool:
        host = environ.get("HTTP_HOST") or environ.get("SERVER_NAME", "")
        domain, _port = split_domain_port(host)
        allowed = settings.ALLOWED_HOSTS or (
            ["localhost", "127.0.0.1", "[::1]"] if settings.DEBUG else []
        )
        return bool(domain) and validate_host(domain, allowed)


def _etag_matches(environ: dict[str, Any], etag: str) -> bool:
    offered = environ.get("HTTP_IF_NONE_MATCH", "")
    return bool(offered) and (
        offered.strip() == "*" or etag in [e.strip() for e in offered.split(",")]
    )
