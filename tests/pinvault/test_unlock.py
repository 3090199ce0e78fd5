"""Kilit Çözme by the seed's 2011 rule.

* Cards produced on or after 01.01.2011, PIN locked: after a fresh SMS code the portal makes a
  new acceptable PIN, stores it in the vault as the PIN and as the unlock PIN for the card tool,
  records one pending ``CardUnlock``, marks the card active and shows the PIN once (the PDF
  button works with the same step-up).
* Cards produced before 01.01.2011: the PUK unlocks them in the AKİS Kart İzleme Aracı; after a
  step-up the page shows the PUK if it is still in the vault, and the wrong-PUK count.
"""

from __future__ import annotations

import datetime as dt
import io
import threading
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.urls import reverse
from pypdf import PdfReader

from accounts.models import Citizen, SmsChallenge, SmsMessage
from audit.actor import Actor
from audit.models import AuditEvent
from nesportal.testing.factories import BEFORE_2011, AkisCardFactory
from pinvault import cardtool, pins, services, vault
from pinvault.models import AkisCard, CardUnlock, VaultEntry

from .pages import (
    PIN,
    PUK,
    html,
    post,
    secret_spans,
    session_text,
    step_up,
    url,
)

pytestmark = pytest.mark.django_db

LIST = reverse("pinvault:unlock_list")
State = AkisCard.State
TOOL_WARNING = "“PIN kilitlendi. PUK ile kilit çözebilirsiniz.” uyarısını dikkate almayınız"


@pytest.fixture
def locked(citizen: Citizen) -> AkisCard:
    return AkisCardFactory(citizen=citizen, state=State.PIN_LOCKED)


def test_the_list_shows_each_cards_way_to_unlock(
    citizen_client: Client, citizen: Citizen, locked: AkisCard, citizen_factory: Any
) -> None:
    old = AkisCardFactory(citizen=citizen, produced_on=BEFORE_2011, state=State.PIN_LOCKED)
    stranger = AkisCardFactory(citizen=citizen_factory(), state=State.PIN_LOCKED)

    response = citizen_client.get(LIST)

    page = html(response)
    assert response.status_code == 200
    assert locked.serial_number in page and old.serial_number in page
    assert stranger.serial_number not in page
    assert "Bu sitede, PUK'suz" in page
    assert "PUK ile, AKİS Kart İzleme Aracı'nda" in page
    assert f'href="{url("unlock_card", locked)}">Kilidi Çöz' in page


def test_it_unlocks_a_post_2011_card_with_a_new_pin_shown_once(
    citizen_client: Client,
    citizen: Citizen,
    locked: AkisCard,
    sms_outbox: list[dict[str, Any]],
    django_capture_on_commit_callbacks: Any,
) -> None:
    start = citizen_client.get(url("unlock_card", locked))
    assert "PUK gerekmez" in html(start)
    assert TOOL_WARNING in html(start)

    response = step_up(
        django_capture_on_commit_callbacks, citizen_client, locked, sms_outbox, flow="unlock"
    )

    assert response.status_code == 200
    challenge = SmsChallenge.objects.get(citizen=citizen)
    assert (challenge.purpose, challenge.subject) == (
        SmsChallenge.Purpose.UNLOCK,
        locked.serial_number,
    )
    assert "KİLİT ÇÖZME" in sms_outbox[0]["body"]
    new_pin = secret_spans(response)["new-pin"]
    assert pins.is_acceptable_pin(new_pin)
    assert new_pin != PIN
    page = html(response)
    assert "Bu PIN bu sayfada yalnızca bir kez gösterilir." in page
    assert "AKİS Kart İzleme Aracı'na bir sonraki takışınızda karta yazılır" in page
    assert "Parolalarımı Kaydet" in page
    assert "no-store" in response["Cache-Control"]
    # Stored as the card's PIN and as the unlock PIN; the PUK is untouched.
    assert vault.reveal(locked, "pin") == new_pin
    assert vault.reveal(locked, "unlock_pin") == new_pin
    assert vault.reveal(locked, "puk") == PUK
    unlock = CardUnlock.objects.get(card=locked)
    assert unlock.applied_at is None
    locked.refresh_from_db()
    assert locked.state == State.ACTIVE
    event = AuditEvent.objects.get(citizen=citizen, action="nes.card.unlocked")
    assert event.data == {
        "card": locked.serial_number,
        "unlock_id": unlock.pk,
        "superseded_unlock_id": None,
    }
    assert SmsMessage.objects.filter(citizen=citizen).order_by("created_at").last().kind == (
        SmsMessage.Kind.CARD_UNLOCKED
    )
    assert "yeni PIN oluşturuldu" in sms_outbox[-1]["body"]
    # The PIN is in this response only.
    assert new_pin not in session_text(citizen_client)
    for sms in sms_outbox:
        assert new_pin not in sms["body"]
    for audit in AuditEvent.objects.all():
        assert new_pin not in str(audit.data)
    again = citizen_client.get(url("unlock_card", locked))
    assert new_pin not in html(again)
    assert "Yeni PIN'i PIN/PUK Bilgisi sayfasında görebilirsiniz." in html(again)

    # The step-up covers the PDF button of the result page.
    pdf = post(
        django_capture_on_commit_callbacks,
        citizen_client,
        url("pinpuk_pdf", locked),
        {"password": "", "password2": ""},
    )
    assert pdf.status_code == 200
    text = PdfReader(io.BytesIO(pdf.content)).pages[0].extract_text()
    assert new_pin in text and PUK in text


def test_the_card_tool_applies_the_pending_unlock(
    citizen_client: Client,
    locked: AkisCard,
    sms_outbox: list[dict[str, Any]],
    django_capture_on_commit_callbacks: Any,
) -> None:
    response = step_up(
        django_capture_on_commit_callbacks, citizen_client, locked, sms_outbox, flow="unlock"
    )
    new_pin = secret_spans(response)["new-pin"]
    unlock = cardtool.pending_unlock(locked)
    assert unlock is not None

    assert cardtool.reveal_unlock_pin(locked, unlock, actor=Actor.system("test")) == new_pin
    cardtool.mark_applied(locked, unlock.pk, actor=Actor.system("test"))

    assert cardtool.pending_unlock(locked) is None
    assert vault.reveal(locked, "pin") == new_pin
    assert not VaultEntry.objects.filter(card=locked, field="unlock_pin").exists()


@pytest.mark.parametrize(
    ("state", "message"),
    [
        (State.ACTIVE, "Bu kartın PIN'i kilitli değil."),
        (
            State.UNUSABLE,
            "Bu kart kullanım dışıdır; kilidi çözülemez. Kart ücret karşılığında yenilenir.",
        ),
    ],
)
def test_a_post_2011_card_that_is_not_pin_locked_is_explained_not_unlocked(
    citizen_client: Client,
    citizen: Citizen,
    sms_outbox: list[dict[str, Any]],
    django_capture_on_commit_callbacks: Any,
    state: str,
    message: str,
) -> None:
    card = AkisCardFactory(
        citizen=citizen, state=state, wrong_puk_count=3 if state == State.UNUSABLE else 0
    )

    page = html(citizen_client.get(url("unlock_card", card)))
    assert message in page
    assert "SMS Onay Kodu Gönder" not in page
    refused = post(django_capture_on_commit_callbacks, citizen_client, url("unlock_card", card))

    assert refused.status_code == 409
    assert message in html(refused)
    assert not sms_outbox
    assert not CardUnlock.objects.exists()


def test_a_second_confirmation_is_refused_and_makes_no_second_unlock(
    citizen_client: Client,
    locked: AkisCard,
    sms_outbox: list[dict[str, Any]],
    django_capture_on_commit_callbacks: Any,
) -> None:
    """After one unlock the card is active: a second attempt is refused, at the page and below."""
    ok = step_up(
        django_capture_on_commit_callbacks, citizen_client, locked, sms_outbox, flow="unlock"
    )
    assert ok.status_code == 200

    # The card is active now: asking again is refused before any SMS is sent.
    refused = post(django_capture_on_commit_callbacks, citizen_client, url("unlock_card", locked))
    assert refused.status_code == 409
    # And the service itself refuses under the row lock.
    with pytest.raises(services.PinVaultError):
        services.unlock_card(locked, actor=None)
    assert CardUnlock.objects.filter(card=locked).count() == 1


def test_an_unlock_still_waiting_for_the_card_tool_is_replaced_with_a_new_id(
    citizen: Citizen, locked: AkisCard, django_capture_on_commit_callbacks: Any
) -> None:
    first = services.unlock_card(locked, actor=None)
    AkisCard.objects.filter(pk=locked.pk).update(state=State.PIN_LOCKED)

    second = services.unlock_card(locked, actor=None)

    # A tool still holding the first id (and PIN) can no longer apply it.
    assert list(CardUnlock.objects.filter(card=locked)) == [second.unlock]
    assert second.unlock.pk != first.unlock.pk
    assert vault.reveal(locked, "unlock_pin") == str(second.pin)
    assert repr(second.pin) == "Secret(***)"
    events = AuditEvent.objects.filter(action="nes.card.unlocked").order_by("pk")
    assert [e.data["superseded_unlock_id"] for e in events] == [None, first.unlock.pk]


@pytest.mark.parametrize(
    ("produced_on", "with_puk"),
    [(dt.date(2010, 12, 31), True), (dt.date(2011, 1, 1), False), (dt.date(2011, 1, 2), False)],
)
def test_the_2011_rule_on_both_sides_of_the_date(
    citizen_client: Client, citizen: Citizen, produced_on: dt.date, with_puk: bool
) -> None:
    card = AkisCardFactory(citizen=citizen, produced_on=produced_on, state=State.PIN_LOCKED)

    page = html(citizen_client.get(url("unlock_card", card)))

    assert ("Bu kartın kilidi PUK ile çözülür" in page) is with_puk
    assert ("Bu kartın kilidi bu sitede, PUK'suz çözülür" in page) is not with_puk
    if with_puk:
        with pytest.raises(services.PinVaultError, match="PUK kodu ile"):
            services.unlock_card(card, actor=None)
        assert not CardUnlock.objects.exists()
    else:
        assert services.unlock_refusal(card) is None


def test_a_pre_2011_card_shows_its_puk_after_the_code(
    citizen_client: Client,
    citizen: Citizen,
    sms_outbox: list[dict[str, Any]],
    django_capture_on_commit_callbacks: Any,
) -> None:
    old = AkisCardFactory(
        citizen=citizen, produced_on=BEFORE_2011, state=State.PIN_LOCKED, wrong_puk_count=1
    )
    start = html(citizen_client.get(url("unlock_card", old)))
    assert "AKİS Kart İzleme Aracı'ndan çözebilirsiniz" in start
    assert "Bu kart için bildirilen hatalı PUK girişi: 1 / 3." in start
    assert "3 hatalı PUK girişi kartı kullanım dışı bırakır." in start
    assert PUK not in start

    response = step_up(
        django_capture_on_commit_callbacks, citizen_client, old, sms_outbox, flow="unlock"
    )
    assert response["Location"] == url("unlock_card", old)
    with django_capture_on_commit_callbacks(execute=True):
        shown = citizen_client.get(url("unlock_card", old))

    assert secret_spans(shown) == {"puk": PUK}
    assert "kalan deneme hakkınız 2" in html(shown)
    assert PIN not in html(shown)
    old.refresh_from_db()
    assert old.state == State.PIN_LOCKED  # only the card tool unlocks it, with the PUK
    assert not CardUnlock.objects.exists()
    event = AuditEvent.objects.get(citizen=citizen, action="nes.pinpuk.viewed")
    assert event.data == {"card": old.serial_number, "fields": ["puk"], "via": "unlock"}
    kinds = list(SmsMessage.objects.order_by("created_at").values_list("kind", flat=True))
    assert kinds == [SmsMessage.Kind.UNLOCK_CODE, SmsMessage.Kind.PINPUK_VIEWED]


def test_a_pre_2011_card_whose_puk_was_deleted_says_so(
    citizen_client: Client, citizen: Citizen, django_capture_on_commit_callbacks: Any
) -> None:
    old = AkisCardFactory(citizen=citizen, produced_on=BEFORE_2011, state=State.PIN_LOCKED)
    vault.destroy(old)

    page = html(citizen_client.get(url("unlock_card", old)))

    assert "PUK bilgisi" in page and "tarihinde sistemden silindi; gösterilemez." in page
    assert (
        "Sertifika hizmet sağlayıcı da silinen PUK bilgisini hiçbir şekilde görüntüleyemez" in page
    )
    assert "SMS Onay Kodu Gönder" not in page
    assert (
        post(
            django_capture_on_commit_callbacks, citizen_client, url("unlock_card", old)
        ).status_code
        == 409
    )


def test_three_wrong_puks_make_a_pre_2011_card_unusable(
    citizen_client: Client, citizen: Citizen, django_capture_on_commit_callbacks: Any
) -> None:
    old = AkisCardFactory(citizen=citizen, produced_on=BEFORE_2011, state=State.PIN_LOCKED)
    for _ in range(3):
        cardtool.report_wrong_puk(old, actor=Actor.system("test"))
    old.refresh_from_db()
    assert (old.state, old.wrong_puk_count) == (State.UNUSABLE, 3)

    page = html(citizen_client.get(url("unlock_card", old)))

    assert "Bu kart kullanım dışıdır ve bir daha kullanılamaz." in page
    assert "ücret karşılığında yenilenmesi gerekir" in page
    assert "Bu kart için bildirilen hatalı PUK girişi: 3 / 3." in page
    assert "SMS Onay Kodu Gönder" not in page
    assert (
        post(
            django_capture_on_commit_callbacks, citizen_client, url("unlock_card", old)
        ).status_code
        == 409
    )


@pytest.mark.parametrize(
    ("name", "methods"),
    [
        ("unlock_card", ("get", "post")),
        ("unlock_code", ("get", "post")),
        ("unlock_code_resend", ("post",)),
    ],
)
def test_another_citizens_card_is_404(
    citizen_client: Client, citizen_factory: Any, name: str, methods: tuple[str, ...]
) -> None:
    stranger = AkisCardFactory(citizen=citizen_factory(), state=State.PIN_LOCKED)

    for method in methods:
        response = getattr(citizen_client, method)(url(name, stranger), {"code": "123456"})
        assert response.status_code == 404
    stranger.refresh_from_db()
    assert stranger.state == State.PIN_LOCKED
    assert not SmsMessage.objects.exists()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_parallel_confirmations_make_one_unlock(citizen_factory: Any) -> None:
    """Both requests passed the step-up; the row lock lets exactly one of them unlock."""
    card = AkisCardFactory(citizen=citizen_factory(), state=State.PIN_LOCKED)
    barrier = threading.Barrier(2)
    results: list[object] = []

    def confirm() -> None:
        try:
            barrier.wait()
            results.append(services.unlock_card(card, actor=None))
        except services.PinVaultError as exc:
            results.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=confirm) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    unlocked = [r for r in results if isinstance(r, services.UnlockResult)]
    refused = [r for r in results if isinstance(r, services.PinVaultError)]
    assert len(unlocked) == 1 and len(refused) == 1, results
    assert "kilitli değil" in refused[0].message
    assert CardUnlock.objects.filter(card=card).count() == 1
    assert AuditEvent.objects.filter(action="nes.card.unlocked").count() == 1
    assert vault.reveal(card, "pin") == str(unlocked[0].pin)
    assert vault.reveal(card, "unlock_pin") == str(unlocked[0].pin)
    card.refresh_from_db()
    assert card.state == State.ACTIVE


@pytest.mark.parametrize(
    ("kind", "phrase"),
    [
        (SmsMessage.Kind.CARD_UNLOCKED, "yeni PIN oluşturuldu"),
        (SmsMessage.Kind.CARD_UNUSABLE, "3 hatalı PUK nedeniyle kullanım dışı kaldı"),
        (SmsMessage.Kind.PINPUK_VIEWED, "PIN/PUK bilgisi görüntülendi"),
        (SmsMessage.Kind.PINPUK_SAVED, "PDF olarak kaydedildi"),
        (SmsMessage.Kind.PINPUK_DELETED, "kalıcı olarak silindi"),
    ],
)
def test_card_notices_name_the_card_only(kind: str, phrase: str) -> None:
    from accounts.sms_texts import render_body

    body = render_body(SmsMessage(kind=kind, context={"card": "AKIS-5550001112"}))

    assert body is not None
    assert body.startswith("NES Portal: AKIS-5550001112 kartınız")
    # No link without a link row: the call centre's number instead.
    assert phrase in body and "444 5 576" in body
