"""Sertifika işlemleri in a real browser: list → detail → Askıya Al → Askıdan İndir → İptal Et.

Login and the SMS codes work as in test_login_journey.py (captcha test mode, file SMS outbox);
its fixtures and helpers are reused. ``NES_SHOTS_DIR=/some/dir`` saves screenshots.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone
from playwright.sync_api import Browser, Page, expect

from accounts.models import Citizen
from audit.models import AuditEvent
from certificates.models import Certificate
from nesportal.testing import sms_code
from tests.browser.test_login_journey import (  # noqa: F401 (fixtures)
    browser_context_args,
    citizen,
    log_in,
    outbox,
    read_outbox,
    shot,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def certificates(citizen: Citizen, certificate_factory: Any) -> dict[str, Certificate]:  # noqa: F811
    now = timezone.now()
    return {
        "expired": certificate_factory(citizen, "expired", now=now - dt.timedelta(days=60))[0],
        "active": certificate_factory(citizen, "active", now=now - dt.timedelta(days=20))[0],
        "pending": certificate_factory(citizen, "pending")[0],
    }


def status_of(cert: Certificate) -> str:
    cert.refresh_from_db()
    return cert.status


def test_it_suspends_reinstates_and_revokes_through_the_pages(
    live_server: Any,
    page: Page,
    citizen: Citizen,  # noqa: F811
    outbox: Path,  # noqa: F811
    certificates: dict[str, Certificate],
) -> None:
    active = certificates["active"]
    log_in(page, live_server.url, citizen, outbox)

    # Sertifikamı Kullanıma Aç: refused while the older certificate is valid, with the date.
    page.get_by_role("link", name="Sertifikamı Kullanıma Aç").click()
    expect(page).to_have_url(re.compile(r"/sertifikalar/kullanima-ac/$"))
    page.get_by_role("button", name="Kullanıma Aç").click()
    expect(page.get_by_role("alert")).to_contain_text("tarihinden itibaren kullanıma açabilirsiniz")
    expect(page.get_by_role("alert")).to_contain_text(active.serial_number)
    shot(page, "certs-00-open-refused")
    assert status_of(certificates["pending"]) == Certificate.Status.PENDING

    # Sertifika Listele: newest first, every serial a link.
    page.get_by_role("link", name="Sertifika Listele").click()
    expect(page).to_have_url(re.compile(r"/sertifikalar/$"))
    expect(page.get_by_role("heading", name="Sertifika Listele")).to_be_visible()
    rows = page.locator("tbody tr")
    expect(rows).to_have_count(3)
    expect(rows.nth(0)).to_contain_text(certificates["pending"].serial_number)
    expect(rows.nth(0)).to_contain_text("Kullanıma açılmadı")
    expect(rows.nth(1)).to_contain_text("Geçerli")
    expect(rows.nth(2)).to_contain_text("Süresi doldu")
    shot(page, "certs-01-list")

    # Details.
    page.get_by_role("link", name=active.serial_number).click()
    expect(page).to_have_url(re.compile(rf"/sertifikalar/{active.serial_number}/$"))
    expect(page.get_by_role("heading", name="Sertifikam ne zaman sona eriyor?")).to_be_visible()
    expect(page.locator(".expiry")).to_contain_text("gün kaldı")
    expect(page.get_by_text(active.fingerprint_sha256)).to_be_visible()
    expect(page.get_by_text("QcCompliance")).to_be_visible()
    shot(page, "certs-02-detail")

    # Askıya Al: a confirmation page, then the POST.
    page.get_by_role("link", name="Askıya Al").click()
    expect(page).to_have_url(re.compile(r"/askiya-al/$"))
    expect(page.get_by_text("Askıya alma iptal değildir")).to_be_visible()
    shot(page, "certs-03-suspend-confirm")
    page.get_by_role("button", name="Askıya Al").click()
    expect(page).to_have_url(re.compile(rf"/sertifikalar/{active.serial_number}/$"))
    expect(page.get_by_role("status").filter(has_text="askıya alındı")).to_be_visible()
    expect(page.locator(".facts .status").first).to_have_text("Askıda")
    assert status_of(active) == Certificate.Status.SUSPENDED

    # Askıdan İndir, from the menu's list.
    page.get_by_role("link", name="Menü", exact=True).click()
    page.get_by_role("link", name="Askıdan İndir").click()
    expect(page).to_have_url(re.compile(r"/sertifikalar/askidan-indir/$"))
    expect(page.locator(".cert-list li")).to_have_count(1)
    shot(page, "certs-03b-reinstate-list")
    page.get_by_role("button", name="Askıdan İndir").click()
    expect(page).to_have_url(re.compile(rf"/sertifikalar/{active.serial_number}/$"))
    expect(page.get_by_role("status").filter(has_text="askıdan indirildi")).to_be_visible()
    expect(page.locator(".facts .status").first).to_have_text("Geçerli")
    assert status_of(active) == Certificate.Status.ACTIVE

    # İptal Et: certificate (preselected) + reason → confirmation → SMS code → done.
    page.get_by_role("link", name="İptal Et").click()
    expect(page).to_have_url(re.compile(r"/sertifikalar/iptal/\?seri="))
    expect(page.get_by_role("radio", name=re.compile(active.serial_number))).to_be_checked()
    page.get_by_role("radio", name="Yeni sertifika aldım").check()
    shot(page, "certs-04-revoke-start")
    page.get_by_role("button", name="Devam").click()

    expect(page).to_have_url(re.compile(rf"/sertifikalar/{active.serial_number}/iptal/$"))
    expect(page.get_by_text("Bu işlem GERİ ALINAMAZ.")).to_be_visible()
    expect(page.get_by_text("ücret karşılığında")).to_be_visible()
    shot(page, "certs-05-revoke-confirm")
    page.get_by_role("button", name="SMS Onay Kodu Gönder").click()

    expect(page).to_have_url(re.compile(r"/iptal/onay-kodu/$"))
    expect(page.get_by_text(citizen.masked_phone)).to_be_visible()
    expect(page.get_by_role("button", name="Yeni kod gönder")).to_be_disabled()
    shot(page, "certs-06-revoke-code")
    messages = read_outbox(outbox)
    assert "…" + active.serial_number[-6:] in messages[-1]["body"]  # the code SMS: the tail
    page.get_by_label("SMS Onay Kodu").fill(sms_code(messages, to=citizen.mobile_phone))
    page.get_by_role("button", name="Onayla ve İptal Et").click()

    expect(page).to_have_url(re.compile(r"/iptal/sonuc/$"))
    expect(page.get_by_role("heading", name="Sertifikanız iptal edildi")).to_be_visible()
    shot(page, "certs-07-revoked")
    assert status_of(active) == Certificate.Status.REVOKED
    assert active.revocation_reason == Certificate.RevocationReason.SUPERSEDED

    page.get_by_role("link", name="Sertifika Listele").click()
    row = page.locator("tbody tr").filter(has_text=active.serial_number)
    expect(row).to_contain_text("İptal edildi")
    shot(page, "certs-08-list-after")

    changes = AuditEvent.objects.filter(
        citizen=citizen,
        data__serial=active.serial_number,
        action__in=[
            "nes.certificate.suspended",
            "nes.certificate.reinstated",
            "nes.certificate.revoked",
        ],
    ).order_by("pk")
    assert [e.action.rsplit(".", 1)[1] for e in changes] == ["suspended", "reinstated", "revoked"]
    bodies = [m["body"] for m in read_outbox(outbox)]
    for words in ["askıya alındı", "askıdan indirildi", "iptal edildi"]:
        assert any(active.serial_number in b and words in b for b in bodies), words


def test_the_certificate_pages_fit_a_phone(
    browser: Browser,
    live_server: Any,
    citizen: Citizen,  # noqa: F811
    outbox: Path,  # noqa: F811
    certificates: dict[str, Certificate],
) -> None:
    context = browser.new_context(
        viewport={"width": 390, "height": 844}, is_mobile=True, locale="tr-TR"
    )
    try:
        page = context.new_page()
        log_in(page, live_server.url, citizen, outbox)
        active = certificates["active"]
        for path, name in [
            ("/sertifikalar/", "certs-09-list-mobile"),
            (active.get_absolute_url(), "certs-10-detail-mobile"),
            (f"/sertifikalar/iptal/?seri={active.serial_number}", "certs-11-revoke-mobile"),
        ]:
            page.goto(f"{live_server.url}{path}")
            shot(page, name)
            overflow = page.evaluate(
                "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
            )
            assert overflow <= 0, f"{path} is {overflow}px wider than a 390px phone"
    finally:
        context.close()
