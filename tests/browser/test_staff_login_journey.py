"""Admin's two-factor login in a real browser: a new agent enrols an authenticator (QR code and
secret), confirms it with a code, keeps the backup codes; logs in again with a TOTP code and
once with a backup code; the password alone never opens admin."""

from __future__ import annotations

import re
import time
from typing import Any

import pyotp
import pytest
from playwright.sync_api import Page, expect

from nesportal.testing.factories import CallCentreAgentFactory
from staff.models import SealedTOTPDevice

from .test_login_journey import csp_violations, shot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "Personel-Parola-2026"


@pytest.fixture
def browser_context_args(browser_context_args: dict[str, Any]) -> dict[str, Any]:
    return {**browser_context_args, "locale": "tr-TR"}


def log_in_with_password(page: Page, base: str, username: str) -> None:
    page.goto(f"{base}/admin/")
    expect(page).to_have_url(re.compile(r"/admin/login/"))
    page.get_by_label("Kullanıcı adı").fill(username)
    page.get_by_label("Parola").fill(PASSWORD)
    page.get_by_role("button", name="Devam").click()


def fresh_code(secret: str) -> str:
    """A code of the next 30-second step if this one is about to end (no flaky boundary)."""
    totp = pyotp.TOTP(secret)
    now = time.time()
    if 30 - now % 30 < 3:
        time.sleep(30 - now % 30 + 0.2)
    return totp.now()


def test_an_agent_enrols_logs_in_with_totp_and_with_a_backup_code(
    live_server: Any, page: Page
) -> None:
    agent = CallCentreAgentFactory()
    violations = csp_violations(page)

    log_in_with_password(page, live_server.url, agent.username)
    expect(page).to_have_url(re.compile(r"/admin/dogrulama/kur/$"))
    expect(page.get_by_role("heading", name="Kimlik doğrulayıcı ekleyin")).to_be_visible()
    expect(page.locator(".staff-qr svg")).to_be_visible()
    secret = page.locator("#totp-secret").inner_text().replace(" ", "")
    shot(page, "60-staff-enrol")

    # The password alone opens nothing.
    page.goto(f"{live_server.url}/admin/accounts/citizen/")
    expect(page).to_have_url(re.compile(r"/admin/login/"))
    page.goto(f"{live_server.url}/admin/dogrulama/kur/")
    assert page.locator("#totp-secret").inner_text().replace(" ", "") == secret

    page.get_by_label("Uygulamadaki 6 haneli kod").fill(fresh_code(secret))
    page.get_by_role("button", name="Doğrula ve ekle").click()
    expect(page.get_by_role("heading", name="Yedek kodlarınız")).to_be_visible()
    codes = page.locator("#backup-codes code").all_inner_texts()
    assert len(codes) == 10
    shot(page, "61-staff-backup-codes")
    page.get_by_role("link", name="Kaydettim, devam et").click()
    expect(page.get_by_text("Çağrı Merkezi ve yönetim")).to_be_visible()
    assert SealedTOTPDevice.objects.filter(user=agent, confirmed=True).count() == 1

    # Log out; log in with the next TOTP code.
    page.get_by_role("button", name=re.compile("Oturumu kapat|Log out")).click()
    time.sleep(30 - time.time() % 30 + 0.2)  # the enrolment's code is used: wait for a new one
    log_in_with_password(page, live_server.url, agent.username)
    expect(page).to_have_url(re.compile(r"/admin/dogrulama/$"))
    page.get_by_label("Doğrulama kodu").fill(fresh_code(secret))
    shot(page, "62-staff-totp")
    page.get_by_role("button", name="Giriş yap").click()
    expect(page.get_by_text("Çağrı Merkezi ve yönetim")).to_be_visible()

    # And once with a backup code, typed as printed.
    page.get_by_role("button", name=re.compile("Oturumu kapat|Log out")).click()
    log_in_with_password(page, live_server.url, agent.username)
    page.get_by_label("Doğrulama kodu").fill(codes[0])
    page.get_by_role("button", name="Giriş yap").click()
    expect(page.get_by_text("9 yedek kodunuz kaldı")).to_be_visible()
    assert violations == []
