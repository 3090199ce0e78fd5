"""Makbuzu İndir: only the citizen's own receipts, only when logged in, never cached, audited."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import transaction
from django.test import Client
from django.urls import reverse

from accounts.models import Citizen
from audit.models import AuditEvent
from nesportal.testing import login_as
from receipts.models import Receipt
from receipts.services import issue_receipt

from .helpers import download, download_url, pdf_text

pytestmark = pytest.mark.django_db


@pytest.fixture
def receipt(citizen: Citizen, application_factory: Any) -> Receipt:
    with transaction.atomic():
        return issue_receipt(
            citizen,
            Receipt.Kind.EONAY_DECISION,
            subject="EO-2026-000001",
            facts={
                "application": "EO-2026-000001",
                "application_kind": "ilk_basvuru",
                "institution": "Örnek Belediyesi",
                "decision": "reject",
                "decided_at": "2026-12-03T10:15:00+00:00",
            },
        )


def test_it_sends_the_pdf_as_an_uncached_attachment_and_audits_it(
    citizen: Citizen, receipt: Receipt
) -> None:
    client = login_as(Client(), citizen)
    response = download(client, receipt)

    assert response["Content-Disposition"] == (
        f'attachment; filename="nes-makbuz-{receipt.reference}.pdf"'
    )
    assert "no-store" in response["Cache-Control"]
    assert "private" in response["Cache-Control"]
    assert response.content.startswith(b"%PDF-")
    assert receipt.reference in pdf_text(response.content)
    event = AuditEvent.objects.get(action="nes.receipt.downloaded")
    assert event.citizen == citizen
    assert event.data == {"receipt": receipt.reference, "kind": "eonay_decision"}


def test_a_reference_typed_in_lower_case_finds_the_receipt(
    citizen: Citizen, receipt: Receipt
) -> None:
    client = login_as(Client(), citizen)
    assert client.get(download_url(receipt.reference.lower())).status_code == 200


def test_another_citizens_reference_is_404(citizen_factory: Any, receipt: Receipt) -> None:
    stranger = login_as(Client(), citizen_factory())
    assert stranger.get(download_url(receipt.reference)).status_code == 404
    assert not AuditEvent.objects.filter(action="nes.receipt.downloaded").exists()


def test_an_unknown_or_malformed_reference_is_404(citizen: Citizen, receipt: Receipt) -> None:
    client = login_as(Client(), citizen)
    wrong_check = receipt.reference[:-1] + ("0" if receipt.reference[-1] != "0" else "1")
    for reference in [wrong_check, "NES-2026-AAAA", "x" * 30]:
        assert client.get(download_url(reference)).status_code == 404, reference


def test_it_needs_a_login(client: Client, receipt: Receipt) -> None:
    response = client.get(download_url(receipt.reference))
    assert response.status_code == 302
    assert response["Location"] == reverse("accounts:login")
    assert not AuditEvent.objects.filter(action="nes.receipt.downloaded").exists()


def test_it_is_get_only(citizen: Citizen, receipt: Receipt) -> None:
    client = login_as(Client(), citizen)
    assert client.post(download_url(receipt.reference)).status_code == 405
