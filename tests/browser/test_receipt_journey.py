"""Sertifikamı İptal Et in a real browser, then Makbuzu İndir: the PDF a citizen keeps.

Login and the SMS codes work as in test_login_journey.py (captcha test mode, file SMS outbox);
its fixtures and helpers are reused. ``NES_SHOTS_DIR=/some/dir`` saves screenshots.
"""

from __future__ import annotations

import datetime as dt
import io
import re
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect
from pypdf import PdfReader

from accounts.models import Citizen, SmsMessage
from audit.models import AuditEvent
from certificates.models import Certificate
from nesportal.testing import sms_code
from receipts.models import Receipt
from receipts.pdf import local_time
from tests.browser.test_login_journey import (  # noqa: F401 (fixtures)
    browser_context_args,
    citizen,
    log_in,
    outbox,
    read_outbox,
    shot,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_it_revokes_and_downloads_the_receipt(
    live_server: Any,
    page: Page,
    citizen: Citizen,  # noqa: F811
    outbox: Path,  # noqa: F811
    certificate_factory: Any,
) -> None:
    active = certificate_factory(citizen, "active", now=timezone.now() - dt.timedelta(days=20))[0]
    log_in(page, live_server.url, citizen, outbox)

    page.goto(f"{live_server.url}{active.get_absolute_url()}")
    page.get_by_role("link", name="İptal Et").click()
    page.get_by_role("radio", name="Anahtarım ele geçirildi / kartım kayboldu").check()
    page.get_by_role("button", name="Devam").click()
    page.get_by_role("button", name="SMS Onay Kodu Gönder").click()
    expect(page).to_have_url(re.compile(r"/iptal/onay-kodu/$"))
    code = sms_code(read_outbox(outbox), to=citizen.mobile_phone)
    page.get_by_label("SMS Onay Kodu").fill(code)
    page.get_by_role("button", name="Onayla ve İptal Et").click()

    expect(page.get_by_role("heading", name="Sertifikanız iptal edildi")).to_be_visible()
    receipt = Receipt.objects.get(citizen=citizen, kind=Receipt.Kind.REVOCATION)
    expect(page.locator("#receipt")).to_contain_text(f"Makbuz No: {receipt.reference}")
    shot(page, "receipt-01-revoked")

    with page.expect_download() as info:
        page.get_by_role("link", name="Makbuzu İndir (PDF)").click()
    download = info.value
    assert download.suggested_filename == f"nes-makbuz-{receipt.reference}.pdf"
    data = Path(download.path()).read_bytes()
    text = " ".join("\n".join(p.extract_text() for p in PdfReader(io.BytesIO(data)).pages).split())

    active.refresh_from_db()
    receipt.refresh_from_db()
    assert active.status == Certificate.Status.REVOKED
    for expected in [
        f"Makbuz No {receipt.reference}",
        f"Sertifika seri numarası {active.serial_number}",
        "İptal nedeni Anahtarım ele geçirildi / kartım kayboldu",
        f"İptal zamanı {local_time(active.revoked_at)}",
        f"SİL numarası {receipt.facts['crl_number']} (yayın zamanı: ",
        local_time(receipt.facts["ocsp_revoked_at"]),
    ]:
        assert expected in text, expected
    assert code not in text

    # The same reference in the notice SMS context and the audit log.
    notice = SmsMessage.objects.get(citizen=citizen, kind=SmsMessage.Kind.CERT_REVOKED)
    assert notice.context["receipt"] == receipt.reference
    revoked = AuditEvent.objects.get(citizen=citizen, action="nes.certificate.revoked")
    assert revoked.data["receipt"] == receipt.reference
    assert AuditEvent.objects.filter(
        citizen=citizen, action="nes.receipt.downloaded", data__receipt=receipt.reference
    ).exists()
