"""The vault's model-level helpers (pinvault/vault.py) against the database: store and reveal,
rows bound to their card, citizen and field, deletion that really deletes, and no plaintext
anywhere in the tables."""

from __future__ import annotations

import base64
import datetime as dt
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone

from pinvault import vault
from pinvault.crypto import VaultError
from pinvault.models import AkisCard, VaultEntry

pytestmark = pytest.mark.django_db

K1 = "k1:" + base64.b64encode(b"1" * 32).decode()
K2 = "k2:" + base64.b64encode(b"2" * 32).decode()

PIN, PUK, UNLOCK_PIN = VaultEntry.Field.PIN, VaultEntry.Field.PUK, VaultEntry.Field.UNLOCK_PIN


def entry_count(card: AkisCard | None = None) -> int:
    """Rows in the vault table, counted in SQL (not through the ORM's idea of them)."""
    table = connection.ops.quote_name(VaultEntry._meta.db_table)
    with connection.cursor() as cursor:
        if card is None:
            cursor.execute(f"SELECT COUNT(*) FROM {table}")  # noqa: S608
        else:
            cursor.execute(f"SELECT COUNT(*) FROM {table} WHERE card_id = %s", [card.pk])  # noqa: S608
        return cursor.fetchone()[0]


def copy_columns(source: VaultEntry, target: VaultEntry) -> None:
    VaultEntry.objects.filter(pk=target.pk).update(
        key_id=source.key_id,
        wrapped_key=bytes(source.wrapped_key),
        nonce=bytes(source.nonce),
        ciphertext=bytes(source.ciphertext),
    )


def test_it_stores_and_reveals_turkish_text(card_factory: Any) -> None:
    card = card_factory(no_secrets=True)

    entry = vault.store(card, PIN, "Şifre-ğüşıöç-İĞÜŞÖÇ-123456")

    assert entry.card_id == card.pk and entry.field == PIN
    assert entry.key_id == "test-1"  # nesportal/test_settings.py's key
    assert vault.reveal(card, PIN) == "Şifre-ğüşıöç-İĞÜŞÖÇ-123456"
    assert vault.reveal(card, PUK) is None


def test_storing_again_replaces_the_value_in_the_same_row(card_factory: Any) -> None:
    card = card_factory(no_secrets=True)
    first = vault.store(card, PIN, "111111")

    second = vault.store(card, PIN, "222222")

    assert second.pk == first.pk
    assert entry_count(card) == 1
    assert bytes(second.ciphertext) != bytes(first.ciphertext)
    assert vault.reveal(card, PIN) == "222222"


def test_it_refuses_unknown_fields(card_factory: Any) -> None:
    card = card_factory(no_secrets=True)
    with pytest.raises(ValueError, match="Unknown vault field"):
        vault.store(card, "password", "1")
    with pytest.raises(ValueError):
        vault.reveal(card, "password")
    assert entry_count() == 0


def test_reveal_uses_the_cards_row_not_the_callers_object(card_factory: Any) -> None:
    card = card_factory(no_secrets=True)
    vault.store(card, PIN, "123456")
    stale = AkisCard.objects.get(pk=card.pk)
    stale.serial_number = "SOMETHING-ELSE"  # not saved

    assert vault.reveal(stale, PIN) == "123456"


def test_rows_copied_to_another_field_card_or_citizen_do_not_open(card_factory: Any) -> None:
    mine = card_factory(no_secrets=True)
    my_other_card = card_factory(citizen=mine.citizen, no_secrets=True)
    theirs = card_factory(no_secrets=True)
    source = vault.store(mine, PIN, "123456")
    targets = [
        vault.store(mine, PUK, "87654321"),
        vault.store(my_other_card, PIN, "222222"),
        vault.store(theirs, PIN, "333333"),
    ]

    for target in targets:
        copy_columns(source, target)

    for card, field in [(mine, PUK), (my_other_card, PIN), (theirs, PIN)]:
        with pytest.raises(VaultError):
            vault.reveal(card, field)
    assert vault.reveal(mine, PIN) == "123456"


def test_swapping_pin_and_puk_rows_is_detected(card_factory: Any) -> None:
    card = card_factory(no_secrets=True)
    pin = vault.store(card, PIN, "123456")
    puk = vault.store(card, PUK, "87654321")

    VaultEntry.objects.filter(pk=pin.pk).update(field="unlock_pin")
    VaultEntry.objects.filter(pk=puk.pk).update(field=PIN)
    VaultEntry.objects.filter(pk=pin.pk).update(field=PUK)

    with pytest.raises(VaultError):
        vault.reveal(card, PIN)
    with pytest.raises(VaultError):
        vault.reveal(card, PUK)


def test_a_row_moved_to_another_card_does_not_open(card_factory: Any) -> None:
    mine, theirs = card_factory(no_secrets=True), card_factory(no_secrets=True)
    entry = vault.store(mine, PIN, "123456")

    VaultEntry.objects.filter(pk=entry.pk).update(card=theirs)

    assert vault.reveal(mine, PIN) is None
    with pytest.raises(VaultError):
        vault.reveal(theirs, PIN)


@pytest.mark.parametrize("column", ["key_id", "wrapped_key", "nonce", "ciphertext"])
def test_a_tampered_column_fails_loudly(card_factory: Any, column: str, settings: Any) -> None:
    settings.VAULT_KEYS = f"{K1},{K2}"
    card = card_factory(no_secrets=True)
    entry = vault.store(card, PIN, "123456")
    if column == "key_id":
        value: Any = "k1"
    else:
        data = bytearray(getattr(entry, column))
        data[-1] ^= 0x80
        value = bytes(data)

    VaultEntry.objects.filter(pk=entry.pk).update(**{column: value})

    with pytest.raises(VaultError) as caught:
        vault.reveal(card, PIN)
    assert "123456" not in str(caught.value)


def test_an_unknown_key_id_fails_loudly(card_factory: Any, settings: Any) -> None:
    settings.VAULT_KEYS = K1
    card = card_factory(no_secrets=True)
    vault.store(card, PIN, "123456")
    settings.VAULT_KEYS = K2

    with pytest.raises(VaultError, match="No master key with id 'k1'"):
        vault.reveal(card, PIN)


def test_old_keys_still_decrypt_after_a_new_key_is_appended(
    card_factory: Any, settings: Any
) -> None:
    settings.VAULT_KEYS = K1
    old_card, new_card = card_factory(no_secrets=True), card_factory(no_secrets=True)
    vault.store(old_card, PIN, "111111")
    settings.VAULT_KEYS = f"{K1},{K2}"

    new = vault.store(new_card, PIN, "222222")

    assert VaultEntry.objects.get(card=old_card).key_id == "k1"
    assert new.key_id == "k2"
    assert vault.reveal(old_card, PIN) == "111111"
    assert vault.reveal(new_card, PIN) == "222222"


def test_has_secrets(card_factory: Any) -> None:
    card = card_factory(no_secrets=True)
    assert not vault.has_secrets(card)

    vault.store(card, UNLOCK_PIN, "135790")

    assert vault.has_secrets(card)
    assert vault.has_secrets(card, fields=[UNLOCK_PIN])
    assert not vault.has_secrets(card, fields=[PIN, PUK])


def test_destroy_deletes_the_rows_and_records_when(card_factory: Any) -> None:
    card, other = card_factory(no_secrets=True), card_factory(no_secrets=True)
    for field, value in [(PIN, "123456"), (PUK, "87654321"), (UNLOCK_PIN, "135790")]:
        vault.store(card, field, value)
    vault.store(other, PIN, "222222")
    when = timezone.make_aware(dt.datetime(2026, 3, 4, 5, 6, 7))

    deleted = vault.destroy(card, now=when)

    assert deleted == 3
    assert entry_count(card) == 0  # gone from the table, not flagged
    assert entry_count(other) == 1
    assert card.secrets_deleted_at == when
    assert AkisCard.objects.get(pk=card.pk).secrets_deleted_at == when
    assert not vault.has_secrets(card)
    assert vault.reveal(card, PIN) is None
    assert vault.reveal(card, PUK) is None
    assert vault.reveal(other, PIN) == "222222"


def test_destroy_again_keeps_the_first_deletion_time(card_factory: Any) -> None:
    card = card_factory(no_secrets=True)
    vault.store(card, PIN, "123456")
    first = timezone.make_aware(dt.datetime(2026, 3, 4, 5, 6, 7))
    vault.destroy(card, now=first)

    assert vault.destroy(card, now=first + dt.timedelta(days=1)) == 0
    assert AkisCard.objects.get(pk=card.pk).secrets_deleted_at == first


def test_destroy_without_secrets_still_records_the_deletion(card_factory: Any) -> None:
    card = card_factory(no_secrets=True)

    assert vault.destroy(card) == 0
    assert AkisCard.objects.get(pk=card.pk).secrets_deleted_at is not None


def dump_tables(*models: Any) -> bytes:
    """Every column of every row of the models' tables, as raw bytes."""
    chunks: list[bytes] = []
    with connection.cursor() as cursor:
        for model in models:
            table = connection.ops.quote_name(model._meta.db_table)
            cursor.execute(f"SELECT * FROM {table}")  # noqa: S608
            for row in cursor.fetchall():
                for value in row:
                    if isinstance(value, memoryview | bytes | bytearray):
                        chunks.append(bytes(value))
                    else:
                        chunks.append(str(value).encode("utf-8"))
    return b"\x00".join(chunks)


def test_no_plaintext_in_the_vault_table(card_factory: Any, settings: Any) -> None:
    values = {
        PIN: "739154",
        PUK: "83920417",
        UNLOCK_PIN: "Çiğdem-Şükrü-481526",
    }
    cards = [card_factory(no_secrets=True), card_factory(no_secrets=True)]
    for card in cards:
        for field, value in values.items():
            vault.store(card, field, value)
    settings.VAULT_KEYS = f"{settings.VAULT_KEYS},{K2}"
    vault.store(cards[1], PIN, values[PIN])  # also under a second key

    dump = dump_tables(VaultEntry, AkisCard)

    assert len(dump) > 6 * (61 + 12 + 16)  # the ciphertexts really are in it
    for value in values.values():
        for encoded in {
            value.encode("utf-8"),
            value.encode("utf-16-le"),
            value.encode("utf-8").hex().encode(),
            base64.b64encode(value.encode("utf-8")),
        }:
            assert encoded not in dump
    for card in cards:
        for field, value in values.items():
            assert vault.reveal(card, field) == value
