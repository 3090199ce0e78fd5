"""Güvenlik Sözcüğümü Unuttum in a real browser: ID + captcha + birth date → SMS code from the
outbox → new word → Şifreli Giriş with the new word."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from accounts.models import Citizen
from nesportal.testing import sms_code
from nesportal.testing.factories import DEFAULT_SECURITY_WORD

from .test_login_journey import enter_code, read_outbox, shot, submit_login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

NEW_WORD = "Mavi-Deniz-Kıyısı-77"


@pytest.fixture
def browser_context_args(browser_context_args: dict[str, Any]) -> dict[str, Any]:
    return {**browser_context_args, "locale": "tr-TR"}


@pytest.fixture
def outbox(settings: Any, tmp_path: Path) -> Path:
    path = tmp_path / "sms-outbox.jsonl"
    settings.SMS_BACKEND = "file"
    settings.SMS_OUTBOX_PATH = path
    settings.CAPTCHA_TEST_MODE = True
    return path


def test_it_renews_a_forgotten_word_and_logs_in_with_it(
    live_server: Any, page: Page, citizen: Citizen, outbox: Path
) -> None:
    page.goto(f"{live_server.url}/giris/")
    page.get_by_role("link", name="Güvenlik Sözcüğümü Unuttum").click()
    expect(page).to_have_url(re.compile(r"/guvenlik-sozcugu/unuttum/$"))
    expect(page.get_by_role("heading", name="Güvenlik Sözcüğümü Unuttum")).to_be_visible()
    expect(page.get_by_text("444 5 576").first).to_be_visible()

    # A wrong birth date: the generic answer, no SMS.
    page.get_by_label("T.C. Kimlik No / Pasaport No").fill(citizen.identifier)
    page.get_by_label("Resimdeki Yazı").fill("passed")
    page.get_by_label("Doğum Tarihi").fill("24.04.1985")
    page.get_by_role("button", name="Devam").click()
    expect(page.get_by_role("alert")).to_contain_text("doğrulanamadı")
    expect(page.get_by_label("Doğum Tarihi")).to_have_value("")
    assert read_outbox(outbox) == []

    page.get_by_label("T.C. Kimlik No / Pasaport No").fill(citizen.identifier)
    page.get_by_label("Resimdeki Yazı").fill("passed")
    page.get_by_label("Doğum Tarihi").fill("23.04.1985")
    shot(page, "20-recovery-start")
    page.get_by_role("button", name="Devam").click()

    expect(page).to_have_url(re.compile(r"/guvenlik-sozcugu/unuttum/sms/$"))
    expect(page.get_by_text(citizen.masked_phone)).to_be_visible()
    shot(page, "21-recovery-sms")
    page.get_by_label("SMS Onay Kodu").fill(sms_code(read_outbox(outbox)))
    page.get_by_role("button", name="Onayla").click()

    expect(page).to_have_url(re.compile(r"/guvenlik-sozcugu/yeni/$"))
    # The T.C. number is refused, in Turkish.
    page.get_by_label("Yeni Güvenlik Sözcüğü", exact=True).fill(citizen.identifier)
    page.get_by_label("Yeni Güvenlik Sözcüğü (tekrar)").fill(citizen.identifier)
    page.get_by_role("button", name="Kaydet").click()
    expect(page.locator("#id_new_word1_error")).to_contain_text(
        "T.C. Kimlik No'nuzu ya da Pasaport No'nuzu içeremez"
    )

    page.get_by_label("Yeni Güvenlik Sözcüğü", exact=True).fill(NEW_WORD)
    page.get_by_label("Yeni Güvenlik Sözcüğü (tekrar)").fill(NEW_WORD)
    shot(page, "22-recovery-new-word")
    page.get_by_role("button", name="Kaydet").click()

    expect(page).to_have_url(re.compile(r"/giris/$"))
    expect(page.get_by_text("Güvenlik Sözcüğünüz değiştirildi")).to_be_visible()
    assert "değiştirildi" in read_outbox(outbox)[-1]["body"]

    # The old word no longer works (one strike), the new one does.
    submit_login(page, citizen.identifier, DEFAULT_SECURITY_WORD)
    expect(page.get_by_role("alert")).to_contain_text("doğrulanamadı")
    submit_login(page, citizen.identifier, NEW_WORD)
    enter_code(page, sms_code(read_outbox(outbox)))
    expect(page).to_have_url(re.compile(r"/islemler/$"))
    shot(page, "23-recovery-logged-in")
