"""The receipt of an E-Onay decision: the application, the decision and its time."""

from __future__ import annotations

from typing import Any

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse

from accounts.models import Citizen, SmsMessage
from audit.models import AuditEvent
from eonay.models import Application, ApplicationError
from eonay.services import decide_application
from nesportal.testing import login_as, sms_code
from nesportal.testing.factories import ApplicationFactory, ConsentFactory
from receipts.models import Receipt
from receipts.pdf import local_time

from .helpers import download_url, receipt_text

pytestmark = pytest.mark.django_db

INDEX = reverse("eonay:index")


@pytest.fixture
def waiting(citizen: Citizen, staff: Any) -> Application:
    return ApplicationFactory(citizen=citizen, entered_by=staff)


def decide(client: Client, application: Application, decision: str, send: Any, outbox: list) -> Any:
    asked = send(client, reverse("eonay:decide", args=[application.pk, decision]))
    code_url = reverse("eonay:decide_code", args=[application.pk, decision])
    assert asked["Location"] == code_url
    code = sms_code(outbox)
    done = send(client, code_url, {"code": code})
    assert done["Location"] == INDEX
    return code


@pytest.mark.parametrize(
    ("decision", "action", "label"),
    [
        ("approve", "nes.eonay.approved", "Onaylandı"),
        ("reject", "nes.eonay.rejected", "Reddedildi"),
    ],
)
def test_a_decision_issues_a_receipt_shown_once_on_the_e_onay_page(
    citizen: Citizen,
    waiting: Application,
    send: Any,
    sms_outbox: list[dict[str, Any]],
    decision: str,
    action: str,
    label: str,
) -> None:
    client = login_as(Client(), citizen)
    code = decide(client, waiting, decision, send, sms_outbox)
    waiting.refresh_from_db()
    receipt = Receipt.objects.get(citizen=citizen, kind=Receipt.Kind.EONAY_DECISION)
    assert receipt.subject == waiting.reference
    assert receipt.created_at == waiting.decided_at
    assert receipt.facts["decision"] == decision
    assert code not in str(receipt.facts)

    page = client.get(INDEX).content.decode()
    assert f'Makbuz No: <strong class="serial">{receipt.reference}</strong>' in page
    assert f'href="{download_url(receipt.reference)}"' in page
    assert receipt.reference not in client.get(INDEX).content.decode()  # once

    event = AuditEvent.objects.get(citizen=citizen, action=action)
    assert event.data["receipt"] == receipt.reference
    notice = SmsMessage.objects.get(citizen=citizen, kind=SmsMessage.Kind.EONAY_DECIDED)
    assert notice.context["receipt"] == receipt.reference
    assert notice.context["application"] == waiting.reference

    text = receipt_text(client, receipt)
    for expected in [
        f"Makbuz No {receipt.reference}",
        "İşlem E-Onay kararı",
        f"Başvuru numarası {waiting.reference}",
        "Başvuru türü Kurum ödemeli ilk başvuru",
        f"Kurum {waiting.institution_name}",
        f"Karar {label}",
        f"Karar zamanı {local_time(waiting.decided_at)}",
        f"Başvuru sahibi {citizen.full_name}",
    ]:
        assert expected in text, expected
    assert code not in text

    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    english = receipt_text(client, receipt)
    assert f"Application number {waiting.reference}" in english
    assert {"approve": "Approved", "reject": "Rejected"}[decision] in english
    assert "Institution-paid first application" in english


def test_a_refused_second_decision_makes_no_second_receipt(
    citizen: Citizen, waiting: Application, sms_outbox: list[dict[str, Any]]
) -> None:
    decide_application(waiting, citizen=citizen, approve=True)
    with pytest.raises(ApplicationError):
        decide_application(waiting, citizen=citizen, approve=False)
    assert Receipt.objects.filter(subject=waiting.reference).count() == 1


def test_an_approval_by_standing_consent_is_not_the_citizens_decision_and_has_no_receipt(
    citizen: Citizen, staff: Any, sms_outbox: list[dict[str, Any]]
) -> None:
    ConsentFactory(citizen=citizen)
    approved = ApplicationFactory(citizen=citizen, entered_by=staff)
    assert approved.status == Application.Status.APPROVED
    assert not Receipt.objects.exists()


def test_the_page_never_shows_another_citizens_receipt(
    citizen: Citizen, citizen_factory: Any, staff: Any, sms_outbox: list[dict[str, Any]]
) -> None:
    other = citizen_factory()
    theirs = ApplicationFactory(citizen=other, entered_by=staff)
    decide_application(theirs, citizen=other, approve=True)
    reference = Receipt.objects.get(citizen=other).reference
    client = login_as(Client(), citizen)
    session = client.session
    session["nes_eonay_receipt"] = reference  # even if a session named it
    session.save()
    assert reference not in client.get(INDEX).content.decode()
