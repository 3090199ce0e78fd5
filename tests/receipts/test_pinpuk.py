"""The receipt of Parolalarımı Sil: the card, what was deleted, when; never the PIN or PUK."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.conf import settings
from django.test import Client

from accounts.models import Citizen, SmsMessage
from audit.models import AuditEvent
from nesportal.testing import login_as, sms_code
from nesportal.testing.factories import AkisCardFactory, CardUnlockFactory
from pinvault import services
from pinvault.models import AkisCard, PinVaultError
from receipts.models import Receipt
from receipts.pdf import local_time
from tests.pinvault.pages import PIN, PUK, post, step_up, url

from .helpers import download_url, receipt_text

pytestmark = pytest.mark.django_db


@pytest.fixture
def card(citizen: Citizen) -> AkisCard:
    return AkisCardFactory(citizen=citizen)


def delete_through_the_pages(
    capture: Any, client: Client, card: AkisCard, outbox: list[dict[str, Any]]
) -> tuple[Any, str]:
    step_up(capture, client, card, outbox, then="delete")
    code = sms_code(outbox, to=card.citizen.mobile_phone)
    deleted = post(capture, client, url("pinpuk_delete", card))
    assert deleted["Location"] == url("pinpuk_deleted", card)
    return deleted, code


def test_deleting_issues_a_receipt_shown_on_the_done_page(
    citizen: Citizen,
    card: AkisCard,
    sms_outbox: list[dict[str, Any]],
    django_capture_on_commit_callbacks: Any,
) -> None:
    client = login_as(Client(), citizen)
    _deleted, code = delete_through_the_pages(
        django_capture_on_commit_callbacks, client, card, sms_outbox
    )
    receipt = Receipt.objects.get(citizen=citizen, kind=Receipt.Kind.PINPUK_DELETION)
    card.refresh_from_db()
    assert receipt.subject == card.serial_number
    assert receipt.created_at == card.secrets_deleted_at
    assert receipt.facts == {
        "card": card.serial_number,
        "fields": ["pin", "puk"],
        "entries": 2,
        "deleted_at": card.secrets_deleted_at.isoformat(),
    }

    page = client.get(url("pinpuk_deleted", card)).content.decode()
    assert f'Makbuz No: <strong class="serial">{receipt.reference}</strong>' in page
    assert f'href="{download_url(receipt.reference)}"' in page

    event = AuditEvent.objects.get(citizen=citizen, action="nes.pinpuk.deleted")
    assert event.data["receipt"] == receipt.reference
    notice = SmsMessage.objects.get(citizen=citizen, kind=SmsMessage.Kind.PINPUK_DELETED)
    assert notice.context["receipt"] == receipt.reference

    text = receipt_text(client, receipt)
    for expected in [
        f"Makbuz No {receipt.reference}",
        "İşlem PIN/PUK bilgisinin silinmesi",
        f"Kart seri numarası {card.serial_number}",
        "Silinen bilgiler PIN, PUK",
        f"Silinme zamanı {local_time(card.secrets_deleted_at)}",
        f"Kart sahibi {citizen.full_name}",
    ]:
        assert expected in text, expected
    # Neither the secrets nor the SMS code that allowed the deletion are anywhere in it.
    stored = json.dumps(receipt.facts)
    for secret in [PIN, PUK, code]:
        assert secret not in text
        assert secret not in stored

    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    english = receipt_text(client, receipt)
    assert f"Card serial number {card.serial_number}" in english
    assert "Card holder" in english


def test_no_receipt_when_the_deletion_is_refused_or_there_is_nothing_to_delete(
    citizen: Citizen, sms_outbox: list[dict[str, Any]]
) -> None:
    waiting = CardUnlockFactory(card__citizen=citizen).card  # the card tool has not run yet
    with pytest.raises(PinVaultError):
        services.delete_secrets(waiting, actor=None)
    assert not Receipt.objects.exists()

    empty = AkisCardFactory(citizen=citizen, no_secrets=True)
    assert services.delete_secrets(empty, actor=None) == 0
    assert not Receipt.objects.exists()
    assert not AuditEvent.objects.filter(action="nes.receipt.issued").exists()


def test_only_what_was_stored_is_named(citizen: Citizen, sms_outbox: list[dict[str, Any]]) -> None:
    only_pin = AkisCardFactory(citizen=citizen, puk=None)
    services.delete_secrets(only_pin, actor=None)
    receipt = Receipt.objects.get(subject=only_pin.serial_number)
    assert receipt.facts["fields"] == ["pin"]
    text = receipt_text(login_as(Client(), citizen), receipt)
    assert "Silinen bilgiler PIN Silinme zamanı" in text
