"""The WSGI fast path (certificates.fastpath): pre-signed OCSP answers before Django.

It may only ever give an answer the view would give: the certificate's current status, from the
shared cache; everything else passes through to Django untouched (a POST with its body)."""

from __future__ import annotations

import base64
import io
import os
import urllib.parse
from typing import Any
from wsgiref.util import setup_testing_defaults

import pytest
from cryptography.x509 import ocsp
from django.core.cache import cache
from django.test import Client

from certificates import services
from certificates.fastpath import OcspFastPath

from .ocsp_requests import request_der

pytestmark = pytest.mark.django_db


class Downstream:
    """Django, as the fast path sees it: records what it was handed."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    def __call__(self, environ: dict[str, Any], start_response: Any) -> list[bytes]:
        body = environ["wsgi.input"].read()
        self.calls.append({"path": environ["PATH_INFO"], "body": body})
        start_response("599 Downstream", [])
        return [b"django"]


def call(
    app: Any, method: str, path: str, body: bytes = b"", **extra: str
) -> tuple[str, dict, bytes]:
    environ: dict[str, Any] = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "HTTP_HOST": "testserver",
        "wsgi.input": io.BytesIO(body),
    }
    if body:
        environ["CONTENT_TYPE"] = "application/ocsp-request"
        environ["CONTENT_LENGTH"] = str(len(body))
    environ.update(extra)
    setup_testing_defaults(environ)
    seen: dict[str, Any] = {}

    def start_response(status: str, headers: list[tuple[str, str]]) -> None:
        seen["status"], seen["headers"] = status, dict(headers)

    payload = b"".join(app(environ, start_response))
    return seen["status"], seen["headers"], payload


def get_path(body: bytes) -> str:
    return "/ocsp/" + urllib.parse.quote(base64.b64encode(body).decode(), safe="")


@pytest.fixture
def presigned(settings: Any) -> None:
    settings.NES_OCSP_RESPONSE_CACHE = True
    cache.clear()


@pytest.fixture
def active(certificate_factory: Any, citizen: Any) -> Any:
    return certificate_factory(citizen, "active")[0]


def test_a_miss_goes_to_django_and_the_next_request_is_answered_before_it(
    client: Client, presigned: None, active: Any, django_capture_on_commit_callbacks: Any
) -> None:
    body = request_der([active.serial_int])
    downstream = Downstream()
    app = OcspFastPath(downstream)

    first = call(app, "GET", get_path(body))
    assert first[0].startswith("599") and len(downstream.calls) == 1  # nothing cached yet
    django_answer = client.get(get_path(body))  # the view signs and keeps it
    status, headers, payload = call(app, "GET", get_path(body))
    posted = call(app, "POST", "/ocsp", body)

    assert status == "200 OK" and len(downstream.calls) == 1
    assert payload == django_answer.content == posted[2]
    assert headers["ETag"] == django_answer["ETag"]
    assert headers["Cache-Control"] == django_answer["Cache-Control"]
    assert ocsp.load_der_ocsp_response(payload).certificate_status == ocsp.OCSPCertStatus.GOOD
    assert call(app, "GET", get_path(body), HTTP_IF_NONE_MATCH=headers["ETag"])[0].startswith("304")

    # A change of status: the kept answer is worthless at once, Django answers afresh.
    with django_capture_on_commit_callbacks(execute=True):
        services.suspend_certificate(active, citizen=active.citizen)
    assert call(app, "GET", get_path(body))[0].startswith("599")


@pytest.mark.parametrize(
    "what",
    ["nonce", "two-certificates", "wrong-host", "query-string", "garbage", "other-path"],
)
def test_anything_but_a_kept_answer_passes_through_unchanged(
    client: Client, presigned: None, active: Any, what: str, settings: Any
) -> None:
    plain = request_der([active.serial_int])
    client.get(get_path(plain))  # kept
    downstream = Downstream()
    app = OcspFastPath(downstream)
    body, path, post_path, extra = plain, get_path(plain), "/ocsp", {}
    if what == "nonce":
        body = request_der([active.serial_int], nonce=os.urandom(16))
        path = get_path(body)
    elif what == "two-certificates":
        body = request_der([active.serial_int, active.serial_int + 1])
        path = get_path(body)
    elif what == "wrong-host":
        settings.ALLOWED_HOSTS = ["testserver"]
        extra = {"HTTP_HOST": "evil.example"}
    elif what == "query-string":
        extra = {"QUERY_STRING": "x=1"}
    elif what == "garbage":
        body, path = b"\x00junk", "/ocsp/AAAA"
    else:
        path, post_path = "/ocspx/" + path[len("/ocsp/") :], "/ocspx"

    via_get = call(app, "GET", path, **extra)
    via_post = call(app, "POST", post_path, body, **extra)

    assert via_get[0].startswith("599") and via_post[0].startswith("599")
    assert downstream.calls[-1]["body"] == body  # the POST body reaches Django intact


def test_without_a_shared_cache_everything_goes_to_django(client: Client, active: Any) -> None:
    body = request_der([active.serial_int])
    client.get(get_path(body))
    downstream = Downstream()

    assert call(OcspFastPath(downstream), "GET", get_path(body))[0].startswith("599")
