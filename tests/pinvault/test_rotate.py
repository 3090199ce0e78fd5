"""Master key rotation: ``manage.py rotate_vault_keys`` re-wraps every record to the newest key,
leaves ciphertexts alone, and (on PostgreSQL) is safe while requests store and update records."""

from __future__ import annotations

import base64
import threading
import time
from collections.abc import Callable
from io import StringIO
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.db import connection, transaction

from pinvault import vault
from pinvault.models import AkisCard, VaultEntry

PIN, PUK, UNLOCK_PIN = VaultEntry.Field.PIN, VaultEntry.Field.PUK, VaultEntry.Field.UNLOCK_PIN
KEYS = {
    name: f"{name}:" + base64.b64encode(name.encode() * 16).decode() for name in ["k1", "k2", "k3"]
}


def ring(*ids: str) -> str:
    return ",".join(KEYS[key_id] for key_id in ids)


def snapshot() -> dict[int, tuple[str, bytes, bytes, bytes]]:
    return {
        e.pk: (e.key_id, bytes(e.wrapped_key), bytes(e.nonce), bytes(e.ciphertext))
        for e in VaultEntry.objects.all()
    }


def rotate(*args: str) -> str:
    out = StringIO()
    call_command("rotate_vault_keys", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


def fill(card_factory: Callable[..., AkisCard], count: int) -> dict[tuple[int, str], str]:
    """``count`` cards with a PIN and a PUK each; returns the values by (card pk, field)."""
    values = {}
    for n in range(count):
        card = card_factory(no_secrets=True)
        for field, value in [(PIN, f"{n:06d}"), (PUK, f"Ğ{n:08d}")]:
            vault.store(card, field, value)
            values[(card.pk, field)] = value
    return values


def revealed() -> dict[tuple[int, str], str | None]:
    return {
        (e.card_id, e.field): vault.reveal(e.card, e.field)
        for e in VaultEntry.objects.select_related("card")
    }


@pytest.mark.django_db
class TestRotation:
    def test_it_rewraps_everything_to_the_newest_key(
        self, card_factory: Any, settings: Any
    ) -> None:
        settings.VAULT_KEYS = ring("k1")
        values = fill(card_factory, 3)
        settings.VAULT_KEYS = ring("k1", "k2")
        values.update(fill(card_factory, 2))  # already under k2
        before = snapshot()

        out = rotate()

        after = snapshot()
        assert "k1: 6 re-wrapped to k2" in out
        assert "Total: 6 re-wrapped to k2 in 1 batch(es)." in out
        assert "older keys can be removed" in out
        assert {key_id for key_id, *_ in after.values()} == {"k2"}
        for pk, (_, wrapped, nonce, ciphertext) in after.items():
            old_key_id, old_wrapped, old_nonce, old_ciphertext = before[pk]
            assert (nonce, ciphertext) == (old_nonce, old_ciphertext)  # never re-encrypted
            if old_key_id == "k1":
                assert wrapped != old_wrapped
            else:
                assert wrapped == old_wrapped  # rows under the newest key are not touched
        assert revealed() == values

    def test_the_old_key_can_be_removed_afterwards(self, card_factory: Any, settings: Any) -> None:
        settings.VAULT_KEYS = ring("k1")
        values = fill(card_factory, 2)
        settings.VAULT_KEYS = ring("k1", "k2")
        rotate()

        settings.VAULT_KEYS = ring("k2")

        assert revealed() == values

    def test_without_rotation_removing_the_old_key_loses_the_records(
        self, card_factory: Any, settings: Any
    ) -> None:
        settings.VAULT_KEYS = ring("k1")
        card = card_factory(no_secrets=True)
        vault.store(card, PIN, "123456")
        settings.VAULT_KEYS = ring("k2")

        with pytest.raises(vault.crypto.VaultError):
            vault.reveal(card, PIN)

    def test_it_counts_per_key_id_and_works_in_batches(
        self, card_factory: Any, settings: Any
    ) -> None:
        settings.VAULT_KEYS = ring("k1")
        values = fill(card_factory, 2)  # 4 under k1
        settings.VAULT_KEYS = ring("k1", "k2")
        values.update(fill(card_factory, 1))  # 2 under k2
        settings.VAULT_KEYS = ring("k1", "k2", "k3")

        out = rotate("--batch-size", "4")

        assert "k1: 4 re-wrapped to k3" in out
        assert "k2: 2 re-wrapped to k3" in out
        assert "Total: 6 re-wrapped to k3 in 2 batch(es)." in out
        assert set(VaultEntry.objects.values_list("key_id", flat=True)) == {"k3"}
        settings.VAULT_KEYS = ring("k3")
        assert revealed() == values

    def test_a_batch_of_one_works(self, card_factory: Any, settings: Any) -> None:
        settings.VAULT_KEYS = ring("k1")
        values = fill(card_factory, 2)
        settings.VAULT_KEYS = ring("k1", "k2")

        result = vault.rotate(batch_size=1)

        assert (result.batches, result.total, result.failed) == (4, 4, {})
        assert revealed() == values

    def test_dry_run_changes_nothing(self, card_factory: Any, settings: Any) -> None:
        settings.VAULT_KEYS = ring("k1")
        fill(card_factory, 2)
        settings.VAULT_KEYS = ring("k1", "k2")
        before = snapshot()

        out = rotate("--dry-run")

        assert "k1: 4 would re-wrap to k2" in out
        assert "Total: 4 would re-wrap to k2." in out
        assert snapshot() == before

    def test_nothing_to_do(self, card_factory: Any, settings: Any) -> None:
        settings.VAULT_KEYS = ring("k1")
        fill(card_factory, 1)
        before = snapshot()

        out = rotate()

        assert "Total: 0 re-wrapped to k1 in 0 batch(es)." in out
        assert snapshot() == before

    def test_a_record_that_does_not_open_is_reported_and_the_rest_rotated(
        self, card_factory: Any, settings: Any
    ) -> None:
        settings.VAULT_KEYS = ring("k1")
        values = fill(card_factory, 2)
        broken = VaultEntry.objects.order_by("pk").first()
        assert broken is not None
        wrapped = bytearray(broken.wrapped_key)
        wrapped[5] ^= 1
        VaultEntry.objects.filter(pk=broken.pk).update(wrapped_key=bytes(wrapped))
        orphan_card = card_factory(no_secrets=True)
        settings.VAULT_KEYS = ring("k3")
        vault.store(orphan_card, PIN, "999999")  # under k3, a key about to be dropped
        settings.VAULT_KEYS = ring("k1", "k2")
        err = StringIO()

        with pytest.raises(CommandError, match="2 record"):
            call_command("rotate_vault_keys", "--batch-size", "2", stdout=StringIO(), stderr=err)

        assert (
            f"VaultEntry {broken.pk}: The vault record's data key does not open" in err.getvalue()
        )
        assert "No master key with id 'k3'" in err.getvalue()
        key_ids = dict(VaultEntry.objects.values_list("pk", "key_id"))
        assert key_ids.pop(broken.pk) == "k1"
        assert sorted(key_ids.values()) == ["k2"] * 3 + ["k3"]
        settings.VAULT_KEYS = ring("k2")
        del values[(broken.card_id, broken.field)]
        for (card_pk, field), value in values.items():
            assert vault.reveal(AkisCard.objects.get(pk=card_pk), field) == value

    def test_it_refuses_a_bad_batch_size_or_keyring(self, settings: Any) -> None:
        with pytest.raises(CommandError, match="--batch-size"):
            rotate("--batch-size", "0")
        settings.VAULT_KEYS = "k1:short"
        with pytest.raises(CommandError, match="VAULT_KEYS entry 1"):
            rotate()


# --- on PostgreSQL, with the site running ----------------------------------------------------


def in_thread(target: Callable[[], Any]) -> tuple[threading.Thread, dict[str, Any]]:
    """Start ``target`` on a thread with its own database connection; returns (thread, outcome)."""
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["value"] = target()
        except BaseException as exc:  # noqa: BLE001  (re-raised by the test)
            outcome["error"] = exc
        finally:
            connection.close()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, outcome


def finish(thread: threading.Thread, outcome: dict[str, Any], timeout: float = 120) -> Any:
    thread.join(timeout=timeout)
    assert not thread.is_alive(), "the thread did not finish"
    if "error" in outcome:
        raise outcome["error"]
    return outcome.get("value")


def wait_until_a_backend_waits_for_a_lock() -> None:
    """Block until another PostgreSQL session of this database is waiting for a row lock."""
    deadline = time.monotonic() + 60
    with connection.cursor() as cursor:
        while time.monotonic() < deadline:
            # Inside a transaction pg_stat_activity is a snapshot taken at first use: refresh it.
            cursor.execute("SELECT pg_stat_clear_snapshot()")
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND pid <> pg_backend_pid() AND wait_event_type = 'Lock'"
            )
            if cursor.fetchone()[0]:
                return
            time.sleep(0.005)  # polling for a state, not waiting for a race to happen
    pytest.fail("the rotation never waited for the locked row")


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
class TestRotationWhileTheSiteServes:
    def test_concurrent_stores_and_updates_end_under_the_newest_key(
        self, card_factory: Any, settings: Any
    ) -> None:
        settings.VAULT_KEYS = ring("k1")
        expected = fill(card_factory, 40)  # 80 entries under k1
        cards = list(AkisCard.objects.order_by("pk"))
        settings.VAULT_KEYS = ring("k1", "k2")
        fresh = [card_factory(no_secrets=True) for _ in range(10)]
        start = threading.Barrier(2)
        rotation_done = threading.Event()
        written: dict[tuple[int, str], str] = {}

        def rotation() -> vault.RotationResult:
            start.wait(timeout=30)
            try:
                return vault.rotate(batch_size=3)
            finally:
                rotation_done.set()

        def requests() -> int:
            # Update old records (newest first, against the rotation's order) and add new ones,
            # as long as the rotation runs (and at least one round).
            start.wait(timeout=30)
            rounds = 0
            while rounds == 0 or not rotation_done.is_set():
                rounds += 1
                for n, card in enumerate(reversed(cards[-20:])):
                    field = (PIN, PUK)[n % 2]
                    value = f"{rounds:03d}{n:03d}"
                    vault.store(card, field, value)
                    written[(card.pk, field)] = value
                for n, card in enumerate(fresh):
                    value = f"Ş{rounds}-{n}"
                    vault.store(card, UNLOCK_PIN, value)
                    written[(card.pk, UNLOCK_PIN)] = value
                if rounds > 200:
                    break
            return rounds

        rotating = in_thread(rotation)
        writing = in_thread(requests)
        result = finish(*rotating)
        rounds = finish(*writing)

        expected.update(written)
        assert rounds >= 1
        assert result.failed == {}
        assert set(VaultEntry.objects.values_list("key_id", flat=True)) == {"k2"}
        assert VaultEntry.objects.count() == len(expected) == 80 + 10
        settings.VAULT_KEYS = ring("k2")
        assert revealed() == expected

    @pytest.mark.parametrize("request_changes_the_row", [True, False])
    def test_a_row_locked_by_a_request_is_rotated_after_the_request(
        self, card_factory: Any, settings: Any, request_changes_the_row: bool
    ) -> None:
        settings.VAULT_KEYS = ring("k1")
        expected = fill(card_factory, 5)
        settings.VAULT_KEYS = ring("k1", "k2")
        target = VaultEntry.objects.select_related("card").get(
            card=AkisCard.objects.order_by("pk")[2], field=PIN
        )

        with transaction.atomic():
            # A request in the middle of writing this row: it holds the row lock.
            VaultEntry.objects.select_for_update().get(pk=target.pk)
            rotating = in_thread(lambda: vault.rotate(batch_size=2))
            wait_until_a_backend_waits_for_a_lock()
            # Everything else was rotated around the locked row (SKIP LOCKED) ...
            others = VaultEntry.objects.exclude(pk=target.pk).values_list("key_id", flat=True)
            assert set(others) == {"k2"}
            assert VaultEntry.objects.get(pk=target.pk).key_id == "k1"
            if request_changes_the_row:
                vault.store(target.card, PIN, "424242")
                expected[(target.card_id, PIN)] = "424242"
        # ... and the rotation waited for the request to finish, then took the row if needed.
        result = finish(*rotating)

        assert result.failed == {}
        assert result.total == 10 - (1 if request_changes_the_row else 0)
        assert set(VaultEntry.objects.values_list("key_id", flat=True)) == {"k2"}
        settings.VAULT_KEYS = ring("k2")
        assert revealed() == expected

    def test_a_locked_card_row_does_not_hold_up_the_rotation(
        self, card_factory: Any, settings: Any
    ) -> None:
        settings.VAULT_KEYS = ring("k1")
        expected = fill(card_factory, 3)
        settings.VAULT_KEYS = ring("k1", "k2")
        card = AkisCard.objects.order_by("pk").first()

        with transaction.atomic():
            AkisCard.objects.select_for_update().get(pk=card.pk)  # e.g. destroy() in progress
            # Were the card rows locked too, this would time out (the lock is held until here).
            result = finish(*in_thread(lambda: vault.rotate(batch_size=2)), timeout=30)

        assert result.total == 6
        settings.VAULT_KEYS = ring("k2")
        assert revealed() == expected
