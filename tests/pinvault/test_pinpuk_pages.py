"""PIN/PUK Bilgisi: the card list, the SMS step-up, the 5-minute grant, Parolalarımı Sil, and
scoping to the logged-in citizen (another citizen's card is a 404 on every URL and method)."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.models import Citizen, SmsChallenge, SmsMessage
from audit.models import AuditEvent
from nesportal.testing import login_as, sms_code
from nesportal.testing.factories import AkisCardFactory
from pinvault import services, vault
from pinvault.models import AkisCard, CardUnlock, VaultEntry
from pinvault.views import GRANT_SECONDS, SESSION_GRANTS
from receipts.models import Receipt

from .pages import PIN, PUK, html, post, secret_spans, session_text, step_up, url

pytestmark = pytest.mark.django_db

LIST = reverse("pinvault:pinpuk")
WARNING_PHRASES = (
    "PIN bilgisinin güvenli olarak muhafaza edilmesi kart sahibinin sorumluluğundadır",
    "yazıcıdan çıktısı alınarak basılı kopyasının da saklanması önerilir",
    "bir daha görüntülenemeyecek şekilde tamamen silinir",
)


@pytest.fixture
def card(citizen: Citizen) -> AkisCard:
    return AkisCardFactory(citizen=citizen)


@pytest.fixture
def other_card(citizen_factory: Any) -> AkisCard:
    return AkisCardFactory(citizen=citizen_factory(), pin="593017", puk="26048193")


def kinds(citizen: Citizen) -> list[str]:
    return list(
        SmsMessage.objects.filter(citizen=citizen)
        .order_by("created_at")
        .values_list("kind", flat=True)
    )


def test_it_lists_only_the_citizens_cards_with_their_vault_state(
    citizen_client: Client, citizen: Citizen, card: AkisCard, other_card: AkisCard
) -> None:
    deleted = AkisCardFactory(citizen=citizen, produced_on=card.produced_on.replace(year=2008))
    vault.destroy(deleted)

    response = citizen_client.get(LIST)

    page = html(response)
    assert response.status_code == 200
    assert card.serial_number in page
    assert deleted.serial_number in page
    assert other_card.serial_number not in page
    assert "PIN ve PUK sistemde şifreli olarak saklanıyor." in page
    assert "tarihinde silindi; bir daha gösterilemez." in page
    assert PIN not in page and PUK not in page
    assert "no-store" in response["Cache-Control"]


def test_the_menu_links_to_both_pages(citizen_client: Client) -> None:
    page = html(citizen_client.get(reverse("accounts:menu")))

    assert f'href="{LIST}"' in page
    assert f'href="{reverse("pinvault:unlock_list")}"' in page


def test_it_asks_for_an_sms_code_before_showing_anything(
    citizen_client: Client, card: AkisCard
) -> None:
    response = citizen_client.get(url("pinpuk_card", card))

    page = html(response)
    assert response.status_code == 200
    assert "SMS Onay Kodu Gönder" in page
    assert PIN not in page and PUK not in page
    for phrase in WARNING_PHRASES:
        assert phrase in page


def test_it_shows_pin_and_puk_after_the_sms_code(
    citizen_client: Client,
    citizen: Citizen,
    card: AkisCard,
    sms_outbox: list[dict[str, Any]],
    django_capture_on_commit_callbacks: Any,
) -> None:
    response = step_up(django_capture_on_commit_callbacks, citizen_client, card, sms_outbox)
    assert response.status_code == 302
    assert response["Location"] == url("pinpuk_card", card)
    challenge = SmsChallenge.objects.get(citizen=citizen)
    assert (challenge.purpose, challenge.subject) == (
        SmsChallenge.Purpose.PINPUK,
        card.serial_number,
    )
    assert "…" + card.serial_number[-6:] in sms_outbox[0]["body"]  # the code SMS names the tail

    with django_capture_on_commit_callbacks(execute=True):
        shown = citizen_client.get(url("pinpuk_card", card))

    page = html(shown)
    assert shown.status_code == 200
    assert secret_spans(shown) == {"pin": PIN, "puk": PUK}
    for phrase in WARNING_PHRASES:
        assert phrase in page
    assert "Parolalarımı Kaydet" in page and "Parolalarımı Sil" in page
    assert "no-store" in shown["Cache-Control"]
    # Audit and one notice for this step-up; a reload within the grant is audited, not texted.
    with django_capture_on_commit_callbacks(execute=True):
        assert secret_spans(citizen_client.get(url("pinpuk_card", card)))["pin"] == PIN
    viewed = AuditEvent.objects.filter(citizen=citizen, action="nes.pinpuk.viewed")
    assert viewed.count() == 2
    assert viewed.first().data["card"] == card.serial_number
    assert kinds(citizen) == [SmsMessage.Kind.PINPUK_CODE, SmsMessage.Kind.PINPUK_VIEWED]
    assert "görüntülendi" in sms_outbox[-1]["body"]
    # The secrets are in the HTML only: not in the session, messages, SMS or the audit log.
    assert PIN not in session_text(citizen_client) and PUK not in session_text(citizen_client)
    assert not list(get_messages(shown.wsgi_request))
    for sms in sms_outbox:
        assert PIN not in sms["body"] and PUK not in sms["body"]
    for event in AuditEvent.objects.all():
        assert PIN not in str(event.data) and PUK not in str(event.data)


def test_the_grant_lasts_the_visit(
    clock: Any,
    citizen_client: Client,
    card: AkisCard,
    sms_outbox: list[dict[str, Any]],
    django_capture_on_commit_callbacks: Any,
) -> None:
    step_up(django_capture_on_commit_callbacks, citizen_client, card, sms_outbox)
    expires = citizen_client.session[SESSION_GRANTS][card.serial_number]
    assert isinstance(expires, float | int)

    # A visit: a page every five minutes keeps the session (10 idle minutes) and the grant.
    step = 5 * 60
    for _ in range(GRANT_SECONDS // step - 1):
        clock.shift(step)
        assert citizen_client.get(url("pinpuk_card", card)).status_code == 200
    clock.shift(step - 1)
    assert secret_spans(citizen_client.get(url("pinpuk_card", card))) == {"pin": PIN, "puk": PUK}

    clock.shift(2)
    expired = citizen_client.get(url("pinpuk_card", card))
    assert secret_spans(expired) == {}
    assert "SMS Onay Kodu Gönder" in html(expired)
    pdf = citizen_client.post(url("pinpuk_pdf", card), {})
    assert pdf.status_code == 302 and pdf["Location"] == url("pinpuk_card", card)
    delete = citizen_client.post(url("pinpuk_delete", card))
    assert delete.status_code == 302
    assert VaultEntry.objects.filter(card=card).count() == 2


def test_a_code_for_one_card_does_not_open_another(
    citizen_client: Client,
    citizen: Citizen,
    card: AkisCard,
    sms_outbox: list[dict[str, Any]],
    django_capture_on_commit_callbacks: Any,
) -> None:
    second = AkisCardFactory(citizen=citizen, pin="615203", puk="90817263")
    post(django_capture_on_commit_callbacks, citizen_client, url("pinpuk_card", card))
    code = sms_code(sms_outbox)

    response = post(
        django_capture_on_commit_callbacks,
        citizen_client,
        url("pinpuk_code", second),
        {"code": code},
    )

    assert response.status_code == 302
    assert response["Location"] == url("pinpuk_card", second)
    assert secret_spans(citizen_client.get(url("pinpuk_card", second))) == {}
    assert SESSION_GRANTS not in citizen_client.session


def test_an_unlock_code_is_not_a_pinpuk_code(
    citizen_client: Client,
    citizen: Citizen,
    sms_outbox: list[dict[str, Any]],
    django_capture_on_commit_callbacks: Any,
) -> None:
    locked = AkisCardFactory(citizen=citizen, state=AkisCard.State.PIN_LOCKED)
    post(django_capture_on_commit_callbacks, citizen_client, url("unlock_card", locked))
    code = sms_code(sms_outbox)

    response = citizen_client.post(url("pinpuk_code", locked), {"code": code})

    assert response.status_code == 302
    assert response["Location"] == url("pinpuk_card", locked)
    assert secret_spans(citizen_client.get(url("pinpuk_card", locked))) == {}


def test_a_wrong_code_shows_no_pin(
    citizen_client: Client,
    card: AkisCard,
    sms_outbox: list[dict[str, Any]],
    django_capture_on_commit_callbacks: Any,
) -> None:
    """A wrong code is a strike (tests/test_code_flows.py); the page it gives shows no PIN."""
    post(django_capture_on_commit_callbacks, citizen_client, url("pinpuk_card", card))
    code = sms_code(sms_outbox)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"

    response = citizen_client.post(url("pinpuk_code", card), {"code": wrong})

    assert response.status_code == 400
    assert PIN not in html(response)


def test_the_code_page_names_the_step_and_the_card(
    citizen_client: Client,
    card: AkisCard,
    sms_outbox: list[dict[str, Any]],
    django_capture_on_commit_callbacks: Any,
) -> None:
    post(django_capture_on_commit_callbacks, citizen_client, url("pinpuk_card", card))

    page = html(citizen_client.get(url("pinpuk_code", card)))
    assert "PIN/PUK Bilgisi için SMS Onay Kodu" in page
    assert card.serial_number in page


def test_it_needs_a_login(client: Client, card: AkisCard) -> None:
    for path in (LIST, url("pinpuk_card", card), url("pinpuk_delete", card)):
        response = client.get(path)
        assert response.status_code == 302
        assert response["Location"] == reverse("accounts:login")
    assert client.post(url("pinpuk_pdf", card))["Location"] == reverse("accounts:login")


@pytest.mark.parametrize(
    ("name", "methods"),
    [
        ("pinpuk_card", ("get", "post")),
        ("pinpuk_code", ("get", "post")),
        ("pinpuk_code_resend", ("post",)),
        ("pinpuk_pdf", ("post",)),
        ("pinpuk_delete", ("get", "post")),
        ("pinpuk_deleted", ("get",)),
    ],
)
def test_another_citizens_card_is_404(
    citizen_client: Client, other_card: AkisCard, name: str, methods: tuple[str, ...]
) -> None:
    path = url(name, other_card)

    for method in methods:
        response = getattr(citizen_client, method)(path, {"code": "123456", "then": "view"})
        assert response.status_code == 404, (method, response.status_code)
    assert VaultEntry.objects.filter(card=other_card).count() == 2
    assert not SmsMessage.objects.exists()


def test_another_citizens_card_is_404_even_with_a_stepped_up_session(
    citizen_client: Client,
    card: AkisCard,
    other_card: AkisCard,
    sms_outbox: list[dict[str, Any]],
    django_capture_on_commit_callbacks: Any,
) -> None:
    step_up(django_capture_on_commit_callbacks, citizen_client, card, sms_outbox)
    session = citizen_client.session
    # Even a grant for the other card's serial (which a session can never get) opens nothing.
    session[SESSION_GRANTS] = {**session[SESSION_GRANTS], other_card.serial_number: 9e12}
    session.save()

    assert citizen_client.get(url("pinpuk_card", other_card)).status_code == 404
    assert citizen_client.post(url("pinpuk_pdf", other_card)).status_code == 404
    assert citizen_client.post(url("pinpuk_delete", other_card)).status_code == 404
    assert VaultEntry.objects.filter(card=other_card).count() == 2


def test_delete_asks_for_confirmation_and_a_code_then_destroys_the_rows(
    citizen_client: Client,
    citizen: Citizen,
    card: AkisCard,
    sms_outbox: list[dict[str, Any]],
    django_capture_on_commit_callbacks: Any,
) -> None:
    confirm = citizen_client.get(url("pinpuk_delete", card))
    assert confirm.status_code == 200
    assert "Bu işlem GERİ ALINAMAZ." in html(confirm)
    assert "SMS Onay Kodu Gönder" in html(confirm)
    # Without a fresh code the POST deletes nothing.
    refused = citizen_client.post(url("pinpuk_delete", card))
    assert refused["Location"] == url("pinpuk_delete", card)
    assert VaultEntry.objects.filter(card=card).count() == 2

    response = step_up(
        django_capture_on_commit_callbacks, citizen_client, card, sms_outbox, then="delete"
    )
    assert response["Location"] == url("pinpuk_delete", card)
    assert "Evet, Parolalarımı Sil" in html(citizen_client.get(url("pinpuk_delete", card)))
    deleted = post(django_capture_on_commit_callbacks, citizen_client, url("pinpuk_delete", card))

    assert deleted.status_code == 302
    assert deleted["Location"] == url("pinpuk_deleted", card)
    assert not VaultEntry.objects.filter(card=card).exists()
    card.refresh_from_db()
    assert card.secrets_deleted_at is not None
    assert vault.reveal(card, "pin") is None and vault.reveal(card, "puk") is None
    done = html(citizen_client.get(url("pinpuk_deleted", card)))
    assert "bir daha hiçbir şekilde gösterilemez; sertifika hizmet sağlayıcı da gösteremez" in done
    event = AuditEvent.objects.get(citizen=citizen, action="nes.pinpuk.deleted")
    assert event.data == {
        "card": card.serial_number,
        "entries": 2,
        "receipt": Receipt.objects.get(citizen=card.citizen).reference,
    }
    assert kinds(citizen)[-1] == SmsMessage.Kind.PINPUK_DELETED
    assert "kalıcı olarak silindi" in sms_outbox[-1]["body"]

    # Afterwards: no step-up is offered, the page says when they were deleted, for good.
    after = citizen_client.get(url("pinpuk_card", card))
    when = timezone.localtime(card.secrets_deleted_at).strftime("%d.%m.%Y %H:%M")
    assert f"{when} tarihinde sizin isteğinizle sistemden silindi" in html(after)
    assert "sertifika hizmet sağlayıcı da bu bilgiyi hiçbir şekilde görüntüleyemez" in html(after)
    assert "SMS Onay Kodu Gönder" not in html(after)
    assert post(django_capture_on_commit_callbacks, citizen_client, url("pinpuk_card", card))[
        "Location"
    ] == url("pinpuk_card", card)
    assert citizen_client.get(url("pinpuk_delete", card))["Location"] == url("pinpuk_deleted", card)
    assert kinds(citizen)[-1] == SmsMessage.Kind.PINPUK_DELETED  # no further code was sent


def test_delete_waits_for_a_pending_unlock(
    citizen_client: Client,
    citizen: Citizen,
    sms_outbox: list[dict[str, Any]],
    django_capture_on_commit_callbacks: Any,
) -> None:
    card = AkisCardFactory(citizen=citizen, state=AkisCard.State.PIN_LOCKED)
    with django_capture_on_commit_callbacks(execute=True):
        services.unlock_card(card, actor=None)
    step_up(django_capture_on_commit_callbacks, citizen_client, card, sms_outbox, then="delete")

    response = citizen_client.post(url("pinpuk_delete", card))

    assert response.status_code == 409
    assert "bekleyen bir kilit çözme işlemi var" in html(response)
    assert VaultEntry.objects.filter(card=card).count() == 3
    assert CardUnlock.objects.filter(card=card, applied_at=None).count() == 1


def test_login_as_another_citizen_sees_no_grant(
    client: Client,
    citizen_factory: Any,
    card: AkisCard,
    sms_outbox: list[dict[str, Any]],
    django_capture_on_commit_callbacks: Any,
) -> None:
    """A grant is per session: a new login (a new session) must step up again."""
    login_as(client, card.citizen)
    step_up(django_capture_on_commit_callbacks, client, card, sms_outbox)
    fresh = login_as(Client(), card.citizen)

    assert secret_spans(fresh.get(url("pinpuk_card", card))) == {}


def test_a_second_session_takes_over_the_code_and_the_first_starts_again(
    client: Client,
    card: AkisCard,
    sms_outbox: list[dict[str, Any]],
    django_capture_on_commit_callbacks: Any,
) -> None:
    """The step is ``accounts.stepup``: a code sent <60 s ago from another session is moved to
    the new one (no second SMS); the first session's state is then INVALID and starts again."""
    first = login_as(client, card.citizen)
    post(django_capture_on_commit_callbacks, first, url("pinpuk_card", card))
    code = sms_code(sms_outbox, to=card.citizen.mobile_phone)
    second = login_as(Client(), card.citizen)
    moved = post(django_capture_on_commit_callbacks, second, url("pinpuk_card", card))
    assert moved["Location"] == url("pinpuk_code", card)
    assert len(sms_outbox) == 1

    stale = first.post(url("pinpuk_code", card), {"code": code})

    assert stale.status_code == 302
    assert stale["Location"] == url("pinpuk_card", card)
    assert "geçerli değil" in " ".join(str(m) for m in get_messages(stale.wsgi_request))
    assert SESSION_GRANTS not in first.session
    assert first.get(url("pinpuk_code", card))["Location"] == url("pinpuk_card", card)
    ok = second.post(url("pinpuk_code", card), {"code": code})
    assert ok["Location"] == url("pinpuk_card", card)
    assert secret_spans(second.get(url("pinpuk_card", card)))
