"""The input boundary (nesportal/boundary.py): malformed input is a 400 with the error page and
one log line, never a 500 or a traceback; cookies with control characters are dropped."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from django.conf import settings
from django.contrib import admin
from django.test import Client
from django.urls import reverse
from django.utils.http import urlencode

from accounts.models import Citizen
from nesportal.testing import login_as

pytestmark = pytest.mark.django_db

FORM = "application/x-www-form-urlencoded"
REVOKE_URL = "/sertifikalar/iptal/"


@pytest.fixture
def anon() -> Client:
    # CSRF checked as in production: the error views must not read the refused body again.
    return Client(enforce_csrf_checks=True, raise_request_exception=False)


def assert_refused(response: Any, caplog: pytest.LogCaptureFixture) -> None:
    assert response.status_code == 400
    body = response.content.decode()
    assert "Geçersiz istek" in body
    assert "Traceback" not in body
    request_id = response["X-Request-ID"]
    assert request_id in body  # "Hata kodu: …", for the call centre
    assert_one_line_logs(caplog)


def assert_one_line_logs(caplog: pytest.LogCaptureFixture) -> None:
    for record in caplog.records:
        assert record.exc_info is None, record.getMessage()
        assert record.exc_text is None
        assert "\n" not in record.getMessage()
        assert record.levelno < logging.ERROR, record.getMessage()


# --- path, query string, headers -----------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    ["/giris/%00/", "/giris/%01", "/sertifikalar/%0a/", "/%7f", "/admin/%00/"],
)
def test_it_refuses_control_characters_in_the_path(anon, caplog, path):
    assert_refused(anon.get(path), caplog)


@pytest.mark.parametrize(
    "query",
    ["a=%00", "%00=1", "next=%0d%0aSet-Cookie:x", "q=%1b[31m", "x=%ff%fe", "a=" + "&a=" * 1001],
)
def test_it_refuses_bad_query_strings(anon, caplog, query):
    assert_refused(anon.get("/giris/?" + query), caplog)


def test_it_refuses_control_characters_in_headers(anon, caplog):
    assert_refused(anon.get("/giris/", HTTP_USER_AGENT="x\x00y"), caplog)
    assert_refused(anon.get("/giris/", HTTP_REFERER="http://a/\r\nx"), caplog)
    assert_refused(anon.post("/giris/", "a=b", content_type=FORM, CONTENT_LENGTH="3x"), caplog)


def test_it_accepts_a_tab_in_a_header_and_plain_unicode(anon):
    response = anon.get("/giris/?q=%C5%9Fahin", HTTP_USER_AGENT="Mozilla\t5.0")
    assert response.status_code == 200


# --- form bodies ----------------------------------------------------------------------------


def test_it_refuses_nul_in_a_form_value(citizen_client, caplog):
    # Was a PostgreSQL DataError (500): NUL in "certificate" on the revocation form.
    client = citizen_client
    client.raise_request_exception = False
    response = client.post(REVOKE_URL, {"certificate": "ab\x00cd", "reason": "keyCompromise"})
    assert_refused(response, caplog)


@pytest.mark.parametrize("field", ["a\x00b", "a\nb", "x\x7f"])
def test_it_refuses_control_characters_in_form_field_names(anon, caplog, field):
    assert_refused(anon.post("/giris/", urlencode({field: "1"}), content_type=FORM), caplog)


def test_it_accepts_newlines_and_tabs_in_form_values(citizen_client):
    response = citizen_client.post(
        reverse("accounts:profile_address"), {"address": "Atatürk Cd.\r\n\tNo 1"}
    )
    assert response.status_code < 500
    assert response.status_code != 400 or "Geçersiz istek" not in response.content.decode()


@pytest.mark.parametrize("charset", ["latin-1", "iso-8859-9", "utf-16", "no-such-codec"])
def test_it_refuses_form_bodies_in_another_charset(anon, caplog, charset):
    # generic(): the client would otherwise encode the body in that charset itself
    response = anon.generic(
        "POST", "/giris/", b"identifier=1", content_type=f"{FORM}; charset={charset}"
    )
    assert_refused(response, caplog)


@pytest.mark.parametrize("charset", ["utf-8", "UTF-8", "utf8", "U8", "utf_8"])
def test_it_accepts_any_spelling_of_utf8(anon, caplog, charset):
    # Django itself refuses anything but "utf-8" (and used to log 23 chained tracebacks).
    anon.get("/giris/")
    token = anon.cookies[settings.CSRF_COOKIE_NAME].value
    response = anon.generic(
        "POST",
        "/giris/",
        f"csrfmiddlewaretoken={token}&identifier=%C5%9F".encode(),
        content_type=f"{FORM}; charset={charset}",
    )
    assert response.status_code == 400  # the login form's own answer: fields are missing
    assert "Şifreli Giriş" in response.content.decode()
    assert "Geçersiz istek" not in response.content.decode()
    assert_one_line_logs(caplog)


def test_it_refuses_a_body_that_is_not_utf8(anon, caplog):
    assert_refused(anon.post("/giris/", b"identifier=\xff\xfe", content_type=FORM), caplog)
    assert_refused(anon.post("/giris/", b"identifier=%ff%fe", content_type=FORM), caplog)
    assert_refused(anon.post("/giris/", b'{"a": "\xff"}', content_type="application/json"), caplog)
    assert_refused(anon.post("/giris/", b"a\x00", content_type="text/plain"), caplog)


def test_it_refuses_too_many_fields_and_huge_bodies(anon, caplog, settings):
    many = "&".join(f"f{i}=1" for i in range(settings.DATA_UPLOAD_MAX_NUMBER_FIELDS + 1))
    assert_refused(anon.post("/giris/", many, content_type=FORM), caplog)
    huge = "a=" + "x" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1)
    assert_refused(anon.post("/giris/", huge, content_type=FORM), caplog)
    assert_refused(anon.post("/giris/", {"a": "x" * 3_000_000}), caplog)  # multipart


def test_it_checks_multipart_fields_and_file_names(anon, caplog):
    from django.core.files.uploadedfile import SimpleUploadedFile

    assert_refused(anon.post("/giris/", {"identifier": "a\x00"}), caplog)
    assert_refused(anon.post("/giris/", {"a\x01": "1"}), caplog)
    # Django drops unprintable characters from file names itself.
    upload = SimpleUploadedFile("x\x00.txt", b"\x00\xff binary is fine")
    assert anon.post("/giris/", {"file": upload}).status_code < 500
    broken = (
        b'--B\r\nContent-Disposition: form-data; name="identifier"\r\n\r\n\xff\xfe\r\n--B--\r\n'
    )
    assert_refused(
        anon.post("/giris/", broken, content_type="multipart/form-data; boundary=B"), caplog
    )
    assert_refused(
        anon.post("/giris/", b"junk", content_type="multipart/form-data; boundary="), caplog
    )


def test_it_lets_binary_files_in_multipart_through(anon):
    from django.core.files.uploadedfile import SimpleUploadedFile

    upload = SimpleUploadedFile("card.bin", b"\x00\x01\xff binary")
    response = anon.post("/giris/", {"identifier": "12345678901", "file": upload})
    assert "Geçersiz istek" not in response.content.decode()


# --- cookies --------------------------------------------------------------------------------


def test_it_drops_cookies_with_control_characters(citizen_client, settings):
    name = settings.SESSION_COOKIE_NAME
    citizen_client.cookies[name] = "\x00abc"  # a forged session key: never reaches the database
    citizen_client.raise_request_exception = False
    response = citizen_client.get(reverse("accounts:menu"))
    assert response.status_code == 302  # no session: to the login page, not a 400 or 500
    assert response["Location"].startswith(reverse("accounts:login"))


def test_it_keeps_the_other_cookies(citizen: Citizen, settings):
    client = login_as(Client(raise_request_exception=False), citizen)
    client.cookies["junk"] = "a\x01b"
    assert client.get(reverse("accounts:menu")).status_code == 200


# --- every admin changelist ----------------------------------------------------------------


def _changelists() -> list[tuple[str, list[str]]]:
    found = []
    for model, model_admin in admin.site._registry.items():
        url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
        params = ["q", "o", "p", "e"]
        for entry in model_admin.list_filter:
            if isinstance(entry, str):
                params.append(entry)
            elif isinstance(entry, tuple):
                params.append(f"{entry[0]}__isempty")
            else:
                params.append(entry.parameter_name)
        found.append((url, params))
    return found


def test_every_admin_changelist_refuses_nul_in_its_filters(admin_client, caplog):
    admin_client.raise_request_exception = False
    changelists = _changelists()
    apps = {url.split("/")[2] for url, _params in changelists}
    assert {"accounts", "certificates", "pinvault", "eonay", "audit"} <= apps
    for url, params in changelists:
        for param in params:
            for value in ["%00", "a%00b", "%0d%0a"]:
                response = admin_client.get(f"{url}?{param}={value}")
                assert response.status_code == 400, (url, param, value)
    assert_one_line_logs(caplog)


def test_every_admin_changelist_survives_junk_in_its_filters(admin_client, caplog):
    admin_client.raise_request_exception = False
    for url, params in _changelists():
        for param in params:
            for value in ["zzz", "-1", "9" * 30, "%C5%9F", "", "1.5"]:
                response = admin_client.get(f"{url}?{param}={value}")
                assert response.status_code < 500, (url, param, value)


@pytest.mark.parametrize("charset", ["ascii", "latin-1", "utf-16"])
def test_a_charset_on_another_body_does_not_change_how_the_query_is_read(
    admin_client, anon, charset
):
    # Found by the fuzz test: Django reads the query string in the body's declared charset,
    # and admin's changelist then failed to re-encode a non-ASCII field name (a 500).
    admin_client.raise_request_exception = False
    content_type = f"application/ocsp-request; charset={charset}"
    response = admin_client.generic(
        "POST", "/admin/audit/auditevent/?%C2%A0=1", b"\x00", content_type=content_type
    )
    assert response.status_code < 500
    response = anon.generic("GET", "/giris/?ad=%C5%9Fe", b"x", content_type=content_type)
    assert response.status_code == 200
    assert response.wsgi_request.GET["ad"] == "şe"


# --- the public repository ------------------------------------------------------------------


def test_an_ocsp_post_with_a_binary_body_still_works(anon, certificate_factory, citizen):
    from cryptography.x509 import ocsp

    from tests.certificates.ocsp_requests import request_der

    row, _key = certificate_factory(citizen, "active")
    body = request_der([row.serial_int], nonce=b"\x00\x01\xff" * 5)
    response = anon.post("/ocsp", data=body, content_type="application/ocsp-request")
    assert response.status_code == 200
    answer = ocsp.load_der_ocsp_response(response.content)
    assert answer.response_status == ocsp.OCSPResponseStatus.SUCCESSFUL
    assert "Set-Cookie" not in response.headers


def test_the_public_repository_gets_a_plain_400(anon, caplog):
    response = anon.get("/crl/nes-portal.crl?x=%00")
    assert response.status_code == 400
    assert response["Content-Type"].startswith("text/plain")
    assert response["X-Request-ID"] in response.content.decode()
    assert "Vary" not in response.headers
    assert_one_line_logs(caplog)
