"""Response headers and cookies: Content-Security-Policy, Permissions-Policy, ``__Host-`` cookies,
the CSRF token rotated at login, and the public repository left lean.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.test import Client

from accounts.services import login_citizen
from nesportal.testing import sms_code
from tests.accounts.helpers import CODE_URL, CSRF_FIELD_RE, LOGIN_URL, MENU_URL, login_data

from .test_settings import show

STRICT_CSP = {
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "media-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "frame-ancestors 'none'",
    "form-action 'self'",
    # The test settings let the pages reach the card service on any loopback port (the browser
    # tests start it on a free one); production allows exactly NES_CARD_SERVICE_URL (below).
    "connect-src 'self' http://127.0.0.1:* http://localhost:*",
}


def directives(header: str) -> set[str]:
    return {part.strip() for part in header.split(";") if part.strip()}


# -- Content-Security-Policy and Permissions-Policy ---------------------------------------------


@pytest.mark.parametrize("path", ["/", LOGIN_URL, "/e-imzali-giris/", "/ca/pds/", "/yok-boyle/"])
@pytest.mark.django_db
def test_it_sends_a_strict_csp_on_every_page(client: Client, path: str) -> None:
    response = client.get(path)

    assert response.status_code in (200, 404)
    assert directives(response["Content-Security-Policy"]) == STRICT_CSP
    assert "Content-Security-Policy-Report-Only" not in response


@pytest.mark.parametrize("path", ["login/", "", "accounts/citizen/"])
def test_it_sends_the_same_csp_in_admin(admin_client: Client, path: str) -> None:
    """Django's admin templates (5.2) have no inline script: nothing is relaxed for admin."""
    response = admin_client.get(f"/{settings.ADMIN_URL}{path}")

    assert response.status_code in (200, 302)
    assert directives(response["Content-Security-Policy"]) == STRICT_CSP


@pytest.mark.django_db
def test_it_sends_the_policy_as_report_only_when_asked(client: Client, settings: Any) -> None:
    policy = settings.CONTENT_SECURITY_POLICY
    settings.CONTENT_SECURITY_POLICY = None
    settings.CONTENT_SECURITY_POLICY_REPORT_ONLY = policy

    response = client.get("/")

    assert "Content-Security-Policy" not in response
    assert directives(response["Content-Security-Policy-Report-Only"]) == STRICT_CSP


def test_it_switches_to_report_only_and_a_report_uri_from_the_environment(tmp_path: Path) -> None:
    env = {
        "DEBUG": "true",
        "NES_CSP_REPORT_ONLY": "true",
        "NES_CSP_REPORT_URI": "https://csp.example.gov.tr/report",
    }

    result = show(tmp_path, env, "CONTENT_SECURITY_POLICY_REPORT_ONLY")
    enforced = show(tmp_path, env, "CONTENT_SECURITY_POLICY")

    assert result.returncode == 0, result.stderr
    assert "'report-uri': ['https://csp.example.gov.tr/report']" in result.stdout
    assert "'script-src': [\"'self'\"]" in result.stdout
    assert "has no attribute 'CONTENT_SECURITY_POLICY'" in enforced.stderr


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, """["'self'", 'http://127.0.0.1:48620']"""),
        ("http://localhost:49000/", """["'self'", 'http://localhost:49000']"""),
    ],
)
def test_the_pages_may_connect_only_to_themselves_and_the_card_service(
    tmp_path: Path, value: str | None, expected: str
) -> None:
    env = {"DEBUG": "true"}
    if value is not None:
        env["NES_CARD_SERVICE_URL"] = value

    result = show(tmp_path, env, "CONTENT_SECURITY_POLICY")

    assert result.returncode == 0, result.stderr
    assert f"'connect-src': {expected}" in result.stdout


@pytest.mark.django_db
def test_it_denies_powerful_browser_features(client: Client) -> None:
    response = client.get("/")

    features = {part.strip() for part in response["Permissions-Policy"].split(",")}
    for feature in ("camera", "microphone", "geolocation", "payment", "usb", "serial", "hid"):
        assert f"{feature}=()" in features


@pytest.mark.parametrize(
    "path", ["/crl/{slug}.crl", "/ca/{slug}.crt", "/ca/{slug}-chain.pem", "/ocsp/MAA="]
)
def test_it_keeps_the_public_repository_lean(
    client: Client, demo_pki: Path, citizen: Any, path: str
) -> None:
    from nesportal.testing import login_as

    login_as(client, citizen)  # a logged-in browser fetching a CRL sends its cookie

    response = client.get(path.format(slug=settings.NES_CA_SLUG))

    assert response.status_code == 200
    assert "Content-Security-Policy" not in response
    assert "Content-Security-Policy-Report-Only" not in response
    assert "Permissions-Policy" not in response
    assert not response.cookies


# -- cookies -----------------------------------------------------------------------------------


def test_it_sets_host_prefixed_cookies_when_secure(
    client: Client, settings: Any, citizen: Any
) -> None:
    """What the production settings choose (test_settings.py checks the names they derive)."""
    from nesportal.testing import login_as

    settings.SESSION_COOKIE_SECURE = settings.CSRF_COOKIE_SECURE = True
    settings.SESSION_COOKIE_NAME = "__Host-nes_session"
    settings.CSRF_COOKIE_NAME = "__Host-nes_csrftoken"
    login_as(client, citizen)

    response = client.get("/bilgi-guncelle/", secure=True)  # a page with a form, logged in

    assert set(response.cookies) == {"__Host-nes_session", "__Host-nes_csrftoken"}
    for cookie in response.cookies.values():
        # What browsers demand of a __Host- cookie: Secure, Path=/, no Domain.
        assert cookie["secure"] is True
        assert cookie["path"] == "/"
        assert cookie["domain"] == ""


# -- CSRF token rotated at login ---------------------------------------------------------------


def _form_token(response: Any) -> str:
    match = CSRF_FIELD_RE.search(response.content.decode())
    assert match, "no CSRF field on the page"
    return match.group(1)


def test_it_rotates_the_csrf_token_at_sifreli_giris(
    citizen: Any,
    captcha_test_mode: None,
    sms_outbox: list[dict[str, Any]],
    django_capture_on_commit_callbacks: Any,
) -> None:
    browser = Client(enforce_csrf_checks=True)
    page = browser.get(LOGIN_URL)
    token_before = _form_token(page)
    secret_before = browser.cookies[settings.CSRF_COOKIE_NAME].value
    data = {**login_data(browser, citizen.tckn), "csrfmiddlewaretoken": token_before}
    with django_capture_on_commit_callbacks(execute=True):
        assert browser.post(LOGIN_URL, data).status_code == 302
    code_page = browser.get(CODE_URL)

    response = browser.post(
        CODE_URL, {"code": sms_code(sms_outbox), "csrfmiddlewaretoken": _form_token(code_page)}
    )

    assert response.status_code == 302
    assert response["Location"] == MENU_URL
    assert browser.cookies[settings.CSRF_COOKIE_NAME].value != secret_before
    # A token read before the login (e.g. by a planted page) no longer works ...
    stale = browser.post("/cikis/", {"csrfmiddlewaretoken": token_before})
    assert stale.status_code == 403
    # ... the one on the pages after it does.
    fresh = browser.post("/cikis/", {"csrfmiddlewaretoken": _form_token(browser.get(MENU_URL))})
    assert fresh.status_code == 302


def test_it_rotates_the_csrf_token_in_login_citizen_whatever_the_path(
    rf: Any, citizen: Any
) -> None:
    """E-İmzalı Giriş (form and TLS) logs in through ``login_citizen`` too."""
    from django.contrib.sessions.backends.db import SessionStore
    from django.middleware.csrf import get_token

    request = rf.get("/")
    request.session = SessionStore()
    before = get_token(request)

    login_citizen(request, citizen)

    assert request.META["CSRF_COOKIE_NEEDS_UPDATE"] is True
    assert get_token(request) != before
