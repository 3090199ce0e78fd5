"""Model-level helpers over ``pinvault.crypto``: store, reveal and destroy a card's secrets, and
rotate every record to the newest master key.

Every record is bound to the citizen, card serial and field it was stored for (see
``pinvault/crypto.py``); the binding is always taken from the database row of the card, never
from values a caller passes in. Writers (``store``, ``destroy``) take the card's row lock, and
``store`` and ``rotate`` both lock the entry row they rewrite, so a re-wrap can never be
written over a newer value (which would pair a data key with the wrong ciphertext).
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TypedDict

from django.db import connection, transaction
from django.db.models import Count, QuerySet
from django.views.decorators.debug import sensitive_variables

from . import crypto
from .models import AkisCard, VaultEntry

DEFAULT_BATCH_SIZE = 500


def _check_field(field: str) -> str:
    if field not in VaultEntry.Field.values:
        raise ValueError(
            f"Unknown vault field {field!r}; expected one of {VaultEntry.Field.values}."
        )
    return field


def _sealed(entry: VaultEntry) -> crypto.Sealed:
    # PostgreSQL returns BinaryField values as memoryview, SQLite as bytes.
    return crypto.Sealed(
        key_id=entry.key_id,
        wrapped_key=bytes(entry.wrapped_key),
        nonce=bytes(entry.nonce),
        ciphertext=bytes(entry.ciphertext),
    )


class _Binding(TypedDict):
    citizen_id: int
    card_serial: str
    field: str


def _binding(card: AkisCard, field: str) -> _Binding:
    return {"citizen_id": card.citizen_id, "card_serial": card.serial_number, "field": field}


@sensitive_variables()
def store(card: AkisCard, field: str, value: str) -> VaultEntry:
    """Encrypt ``value`` as the card's ``field`` (replacing any earlier value).

    Runs under the card's row lock, so parallel stores for one card are serialised, and the
    binding comes from the locked row.
    """
    _check_field(field)
    with transaction.atomic():
        locked = AkisCard.objects.select_for_update().get(pk=card.pk)
        sealed = crypto.seal(value, **_binding(locked, field))
        entry, _ = VaultEntry.objects.update_or_create(
            card=locked,
            field=field,
            defaults={
                "key_id": sealed.key_id,
                "wrapped_key": sealed.wrapped_key,
                "nonce": sealed.nonce,
                "ciphertext": sealed.ciphertext,
            },
        )
    return entry


@sensitive_variables()
def reveal(card: AkisCard, field: str) -> str | None:
    """The card's ``field`` in plaintext, or ``None`` if there is no such entry.

    Raises ``crypto.VaultError`` if the entry exists but does not open.
    """
    _check_field(field)
    entry = VaultEntry.objects.select_related("card").filter(card_id=card.pk, field=field).first()
    if entry is None:
        return None
    return crypto.open_sealed(_sealed(entry), **_binding(entry.card, field))


def has_secrets(card: AkisCard, *, fields: Iterable[str] | None = None) -> bool:
    """Whether the vault holds any entry of the card (of ``fields`` only, if given)."""
    entries = VaultEntry.objects.filter(card_id=card.pk)
    if fields is not None:
        entries = entries.filter(field__in=[_check_field(f) for f in fields])
    return entries.exists()


def destroy(card: AkisCard, *, now: dt.datetime | None = None) -> int:
    """Delete all of the card's vault rows (PIN, PUK, unlock PIN) and record when.

    ``AkisCard.destroy_secrets``: under the card's row lock, refused (``PinVaultError``) while
    an unlock waits for the card tool. The rows are deleted (SQL ``DELETE``), not flagged, in
    the same transaction that sets ``secrets_deleted_at`` (also on ``card``). An earlier
    deletion time is kept if there was nothing left to delete. Returns the number of rows
    deleted.

    Note: the database may keep deleted tuples until VACUUM, and backups keep them; they stay
    encrypted, and become unreadable for good once their master key has been rotated out of
    ``VAULT_KEYS`` (``manage.py rotate_vault_keys``, then remove the old key).
    """
    return card.destroy_secrets(now=now)


@dataclass
class RotationResult:
    """What ``rotate`` did (or, with ``dry_run``, would do)."""

    newest_id: str
    dry_run: bool = False
    # Entries re-wrapped (dry run: to re-wrap), by the key id they were under.
    by_key_id: Counter[str] = field(default_factory=Counter)
    # Entries that did not open (tampered, or under a key missing from VAULT_KEYS): left as is.
    failed: dict[int, str] = field(default_factory=dict)
    batches: int = 0

    @property
    def total(self) -> int:
        return sum(self.by_key_id.values())


def _stale(newest_id: str, failed: Iterable[int]) -> QuerySet[VaultEntry]:
    return VaultEntry.objects.exclude(key_id=newest_id).exclude(pk__in=list(failed))


def _lock_batch(
    newest_id: str, failed: Iterable[int], size: int, *, wait: bool
) -> list[VaultEntry]:
    rows = _stale(newest_id, failed).select_related("card").order_by("pk")
    features = connection.features
    if features.has_select_for_update:
        # Lock the entry rows only (not the joined card rows, which store() locks first).
        of = ("self",) if features.has_select_for_update_of else ()
        skip_locked = not wait and features.has_select_for_update_skip_locked
        rows = rows.select_for_update(skip_locked=skip_locked, of=of)
    return list(rows[:size])


def rotate(
    *,
    batch_size: int = DEFAULT_BATCH_SIZE,
    dry_run: bool = False,
    on_batch: Callable[[int, Counter[str]], None] | None = None,
) -> RotationResult:
    """Re-wrap every entry not under the newest master key to the newest key.

    Safe while the site serves. Each batch is its own transaction that locks the rows it
    rewrites; on PostgreSQL with ``SKIP LOCKED``, so rows a request is writing are left for a
    later pass instead of waiting. When only locked rows are left, one row is locked *waiting*
    (the rotation then holds no other lock, so it cannot deadlock) and the loop goes on until no
    entry under an old key id is left. Only ``key_id`` and ``wrapped_key`` change; ciphertexts
    are never decrypted. ``on_batch(number, counts)`` is called after each committed batch.
    """
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1.")
    newest_id = crypto.keyring().newest_id
    result = RotationResult(newest_id=newest_id, dry_run=dry_run)
    if dry_run:
        stale = _stale(newest_id, ()).values("key_id").annotate(n=Count("pk")).order_by()
        result.by_key_id.update({row["key_id"]: row["n"] for row in stale})
        return result

    while _stale(newest_id, result.failed).exists():
        with transaction.atomic():
            rows = _lock_batch(newest_id, result.failed, batch_size, wait=False)
            if not rows:
                # Everything left is locked by running requests: wait for one of them.
                rows = _lock_batch(newest_id, result.failed, 1, wait=True)
            counts = _rewrap_rows(rows, result)
        if counts:
            result.batches += 1
            result.by_key_id.update(counts)
            if on_batch is not None:
                on_batch(result.batches, counts)
    return result


def _rewrap_rows(rows: list[VaultEntry], result: RotationResult) -> Counter[str]:
    counts: Counter[str] = Counter()
    changed: list[VaultEntry] = []
    for row in rows:
        old_key_id = row.key_id
        try:
            sealed = crypto.rewrap(_sealed(row), **_binding(row.card, row.field))
        except crypto.VaultError as exc:
            result.failed[row.pk] = str(exc)
            continue
        row.key_id = sealed.key_id
        row.wrapped_key = sealed.wrapped_key
        changed.append(row)
        counts[old_key_id] += 1
    if changed:
        # updated_at is left alone on purpose: the secret itself did not change.
        VaultEntry.objects.bulk_update(changed, ["key_id", "wrapped_key"])
    return counts
