"""Error pages (nesportal/errors.py) and request ids (nesportal/logs.py): every error page shows
the request id that is also in the X-Request-ID header and in the log lines; a database that is
down is a 503 with Retry-After; refused requests are one log line, real faults keep their
traceback."""

from __future__ import annotations

import logging
from typing import Any
from unittest import mock

import pytest
from django.core.exceptions import PermissionDenied
from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse
from django.test import Client, RequestFactory
from django.urls import path

from nesportal import errors, logs
from nesportal.urls import urlpatterns as portal_urlpatterns

pytestmark = pytest.mark.django_db


def _boom(request: HttpRequest) -> HttpResponse:
    raise RuntimeError("a bug of ours")


def _forbidden(request: HttpRequest) -> HttpResponse:
    raise PermissionDenied


def _db_gone(request: HttpRequest) -> HttpResponse:
    try:
        raise InterfaceError("connection already closed")
    except InterfaceError as exc:
        raise ValueError("wrapped") from exc


# This module is also the URLconf of the tests marked urls=__name__ (handlers included).
urlpatterns = [
    path("test-errors/boom/", _boom),
    path("test-errors/forbidden/", _forbidden),
    path("test-errors/db-gone/", _db_gone),
    *portal_urlpatterns,
]
handler400 = "nesportal.errors.bad_request"
handler403 = "nesportal.errors.permission_denied"
handler404 = "nesportal.errors.page_not_found"
handler500 = "nesportal.errors.server_error"


@pytest.fixture
def anon() -> Client:
    return Client(raise_request_exception=False)


def assert_shows_request_id(response: Any) -> str:
    request_id = response["X-Request-ID"]
    assert logs.REQUEST_ID_RE.fullmatch(request_id)
    body = response.content.decode()
    assert request_id in body
    assert "Traceback" not in body
    return request_id


def test_it_answers_404_with_the_page_and_the_request_id(anon, caplog):
    response = anon.get("/no-such-page/")
    assert response.status_code == 404
    body = response.content.decode()
    assert "Sayfa bulunamadı" in body
    assert "Çağrı merkezine bu kodu söyleyebilirsiniz" in body
    request_id = assert_shows_request_id(response)
    # The log line of the refusal carries the same id, on one line.
    (record,) = [r for r in caplog.records if r.name == "django.request"]
    assert record.request_id == request_id
    assert record.exc_info is None


def test_each_request_gets_its_own_id(anon):
    first, second = anon.get("/no-such-page/"), anon.get("/no-such-page/")
    assert first["X-Request-ID"] != second["X-Request-ID"]
    assert anon.get("/giris/")["X-Request-ID"]  # not only on errors


def test_it_speaks_english_after_the_switch(anon, settings):
    anon.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    response = anon.get("/no-such-page/")
    assert "Page not found" in response.content.decode()


def test_it_ignores_the_clients_request_id_unless_the_proxy_is_trusted(anon, settings):
    incoming = "abcdef01-2345-6789"
    assert anon.get("/giris/", HTTP_X_REQUEST_ID=incoming)["X-Request-ID"] != incoming
    settings.NES_TRUST_REQUEST_ID_HEADER = True
    assert anon.get("/giris/", HTTP_X_REQUEST_ID=incoming)["X-Request-ID"] == incoming
    for bad in ["short", "x" * 65, "abc def ghi", "abcdefgh;rm", "ünicode-12345"]:
        assert anon.get("/giris/", HTTP_X_REQUEST_ID=bad)["X-Request-ID"] != bad


def test_the_400_page_never_reads_the_body(anon, caplog):
    response = anon.generic(
        "POST", "/giris/", b"a=b", content_type="application/x-www-form-urlencoded; charset=latin-1"
    )
    assert response.status_code == 400
    assert "Geçersiz istek" in response.content.decode()
    assert_shows_request_id(response)
    assert all(r.exc_info is None and r.levelno <= logging.WARNING for r in caplog.records)


@pytest.mark.urls(__name__)
def test_it_answers_403_with_the_page(anon):
    response = anon.get("/test-errors/forbidden/")
    assert response.status_code == 403
    assert "Erişim engellendi" in response.content.decode()
    assert_shows_request_id(response)


def test_a_csrf_failure_gets_its_own_page():
    client = Client(enforce_csrf_checks=True, raise_request_exception=False)
    response = client.post("/giris/", {"identifier": "12345678901"})
    assert response.status_code == 403
    assert "Sayfanın süresi doldu" in response.content.decode()
    assert_shows_request_id(response)


@pytest.mark.urls(__name__)
def test_a_bug_is_a_500_page_and_keeps_its_traceback_in_the_log(anon, caplog):
    response = anon.get("/test-errors/boom/")
    assert response.status_code == 500
    assert "Sistem hatası" in response.content.decode()
    request_id = assert_shows_request_id(response)
    (record,) = [r for r in caplog.records if r.name == "django.request"]
    assert record.levelno == logging.ERROR
    assert record.exc_info is not None  # a real fault: the traceback stays
    assert record.request_id == request_id


def test_a_database_that_is_down_is_a_503_with_retry_after(anon):
    # /giris/ stores a captcha: the first query fails as if PostgreSQL were down.
    with mock.patch(
        "django.db.backends.base.base.BaseDatabaseWrapper.ensure_connection",
        side_effect=OperationalError("connection refused"),
    ):
        response = anon.get("/giris/")
    assert response.status_code == 503
    assert response["Retry-After"] == "30"
    assert "Hizmet geçici olarak kullanılamıyor" in response.content.decode()
    assert_shows_request_id(response)


def test_a_logged_in_citizen_gets_the_503_too(citizen_client):
    citizen_client.raise_request_exception = False
    with mock.patch(
        "django.db.backends.base.base.BaseDatabaseWrapper.ensure_connection",
        side_effect=OperationalError("the database system is shutting down"),
    ):
        response = citizen_client.get("/islemler/")
    assert response.status_code == 503
    assert "Hizmet geçici olarak kullanılamıyor" in response.content.decode()


@pytest.mark.urls(__name__)
def test_a_database_error_behind_another_exception_is_a_503(anon):
    response = anon.get("/test-errors/db-gone/")
    assert response.status_code == 503


def test_a_page_that_fails_to_render_falls_back_to_plain_text(anon):
    with mock.patch("nesportal.errors.render_to_string", side_effect=RuntimeError("broken")):
        response = anon.get("/no-such-page/")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/plain")
    assert_shows_request_id(response)


def test_the_public_repository_gets_small_plain_errors(anon):
    response = anon.get("/crl/no-such-ca.crl")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/plain")
    assert len(response.content) < 200
    assert_shows_request_id(response)
    assert "Set-Cookie" not in response.headers


@pytest.mark.parametrize(
    ("view", "status"),
    [
        (errors.bad_request, 400),
        (errors.permission_denied, 403),
        (errors.page_not_found, 404),
    ],
)
def test_the_handlers_never_touch_the_body(view, status):
    request = RequestFactory().post(
        "/x/", b"\xff", content_type="application/x-www-form-urlencoded"
    )
    request.request_id = "test-request-id"
    with (
        mock.patch.object(type(request), "POST", new_callable=mock.PropertyMock) as post,
        mock.patch.object(type(request), "body", new_callable=mock.PropertyMock) as body,
    ):
        response = view(request, Exception())
    assert response.status_code == status
    assert "test-request-id" in response.content.decode()
    post.assert_not_called()
    body.assert_not_called()


def test_a_wrong_host_is_one_warning_line(anon, settings, caplog):
    settings.ALLOWED_HOSTS = ["portal.example"]
    response = anon.get("/giris/", HTTP_HOST="evil.example")
    assert response.status_code == 400
    (record,) = [r for r in caplog.records if r.name.startswith("django.security")]
    assert record.levelno == logging.WARNING
    assert record.exc_info is None
    assert "DisallowedHost" in record.getMessage()


def test_the_log_format_has_the_request_id():
    from django.conf import settings

    assert "request_id=%(request_id)s" in settings.LOGGING["formatters"]["plain"]["format"]
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "outside a request", None, None)
    assert logs.RequestIdFilter().filter(record)
    assert record.request_id == "-"


def test_one_line_refusals_escape_control_characters():
    record = logging.LogRecord(
        "django.request", logging.WARNING, __file__, 1, "Not Found: %s", ("/a\nforged",), None
    )
    record.status_code = 404
    assert logs.OneLineRefusals().filter(record)
    assert record.getMessage() == "Not Found: /a\\x0aforged"
