"""Cards and unlocks in admin: found by serial or T.C. Kimlik No, read-only, never a secret."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib import admin
from django.urls import NoReverseMatch, reverse

from nesportal.testing.factories import AkisCardFactory
from pinvault import services, vault
from pinvault.models import AkisCard, CardUnlock, VaultEntry

pytestmark = pytest.mark.django_db

PIN, PUK, UNLOCK_PIN = "836150", "40719283", "570394"
CHANGELIST = "admin:pinvault_akiscard_changelist"


@pytest.fixture
def card() -> AkisCard:
    card = AkisCardFactory(
        serial_number="AKIS-1000000001", pin_locked=True, pin=PIN, puk=PUK, unlock_pin=UNLOCK_PIN
    )
    CardUnlock.objects.create(card=card)
    return card


def change_url(card: AkisCard) -> str:
    return reverse("admin:pinvault_akiscard_change", args=[card.pk])


def assert_no_secret(html: str, card: AkisCard) -> None:
    for secret in (PIN, PUK, UNLOCK_PIN):
        assert secret not in html
    for entry in VaultEntry.objects.filter(card=card):
        for blob in (entry.wrapped_key, entry.nonce, entry.ciphertext):
            blob = bytes(blob)
            assert blob.hex() not in html
            assert repr(blob) not in html


def test_it_lists_cards_with_their_state_and_whether_the_vault_holds_pin_puk(admin_client, card):
    deleted = AkisCardFactory(
        serial_number="AKIS-1000000002", produced_on=dt.date(2010, 6, 15), no_secrets=True
    )
    vault.store(deleted, "pin", "294615")
    services.delete_secrets(deleted, actor=None)

    response = admin_client.get(reverse(CHANGELIST))

    html = response.content.decode()
    assert response.status_code == 200
    assert "AKIS-1000000001" in html and "AKIS-1000000002" in html
    assert card.citizen.full_name in html and card.citizen.tckn in html
    assert "PIN/PUK kasada" in html
    assert html.count('alt="True"') == 1  # the first card's vault column
    assert "PIN kilitli" in html
    assert_no_secret(html, card)
    assert "294615" not in html


def test_it_finds_cards_by_serial_and_by_holder_tckn(admin_client, card):
    other = AkisCardFactory(serial_number="AKIS-1000000009", no_secrets=True)

    by_serial = admin_client.get(reverse(CHANGELIST), {"q": "AKIS-1000000009"})
    by_tckn = admin_client.get(reverse(CHANGELIST), {"q": card.citizen.tckn})

    assert other.serial_number in by_serial.content.decode()
    assert card.serial_number not in by_serial.content.decode()
    assert card.serial_number in by_tckn.content.decode()
    assert other.serial_number not in by_tckn.content.decode()


def test_it_lists_without_a_query_per_card(admin_client, card, django_assert_max_num_queries):
    for n in range(10):
        AkisCardFactory(serial_number=f"AKIS-20000000{n:02d}", no_secrets=True)

    with django_assert_max_num_queries(12):
        response = admin_client.get(reverse(CHANGELIST))

    assert response.status_code == 200


def test_it_shows_the_card_read_only_with_vault_facts_and_no_values(admin_client, card):
    response = admin_client.get(change_url(card))

    html = response.content.decode()
    assert response.status_code == 200
    assert "AKIS-1000000001" in html
    assert "test-1" in html  # the master key id, not the key
    assert "Kilit çözme PIN" in html
    assert "Portalda Kilit Çözme ile" in html
    # View-only: no save button, no editable field.
    assert 'name="_save"' not in html
    assert 'name="state"' not in html and 'name="wrong_puk_count"' not in html
    assert_no_secret(html, card)


def test_it_says_when_the_holder_deleted_the_secrets(admin_client):
    card = AkisCardFactory(serial_number="AKIS-1000000003", no_secrets=True)
    vault.store(card, "pin", PIN)
    services.delete_secrets(card, actor=None)

    html = admin_client.get(change_url(card)).content.decode()

    assert "sahibi sildi; bir daha gösterilemez" in html
    assert PIN not in html


def test_nobody_adds_changes_or_deletes_cards_in_admin(admin_client, card):
    before = AkisCard.objects.values().get(pk=card.pk)

    add = admin_client.get(reverse("admin:pinvault_akiscard_add"))
    change = admin_client.post(change_url(card), {"state": "active", "wrong_puk_count": "0"})
    delete = admin_client.post(
        reverse("admin:pinvault_akiscard_delete", args=[card.pk]), {"post": "yes"}
    )

    assert add.status_code == 403
    assert change.status_code == 403
    assert delete.status_code == 403
    assert AkisCard.objects.values().get(pk=card.pk) == before
    assert VaultEntry.objects.filter(card=card).count() == 3


def test_vault_entries_have_no_admin():
    assert not admin.site.is_registered(VaultEntry)
    with pytest.raises(NoReverseMatch):
        reverse("admin:pinvault_vaultentry_changelist")


def test_it_lists_unlocks_read_only(admin_client, card):
    unlock = CardUnlock.objects.get()

    listing = admin_client.get(reverse("admin:pinvault_cardunlock_changelist"))
    detail = admin_client.get(reverse("admin:pinvault_cardunlock_change", args=[unlock.pk]))
    change = admin_client.post(
        reverse("admin:pinvault_cardunlock_change", args=[unlock.pk]), {"applied_at": "x"}
    )

    assert listing.status_code == 200
    assert card.serial_number in listing.content.decode()
    assert detail.status_code == 200
    assert change.status_code == 403
    unlock.refresh_from_db()
    assert unlock.applied_at is None
    assert_no_secret(listing.content.decode() + detail.content.decode(), card)


def test_call_centre_agents_see_cards_read_only_and_never_a_secret(agent_client, card):
    # The "Çağrı Merkezi" group views cards (a card made unusable by wrong PUKs is a call),
    # never changes them, and never sees a PIN or PUK.
    listing = agent_client.get(reverse(CHANGELIST))
    detail = agent_client.get(change_url(card))

    assert listing.status_code == 200
    assert detail.status_code == 200
    assert agent_client.post(change_url(card), {"state": "active"}).status_code == 403
    assert_no_secret(listing.content.decode() + detail.content.decode(), card)
