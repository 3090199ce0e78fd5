"""Issuing receipts, and adding the facts that become known after the action committed.

Contract
--------
* ``issue_receipt`` is called by the action's own service *inside* the action's transaction
  (it refuses to run outside one): the receipt and its ``nes.receipt.issued`` audit entry
  commit with the action or not at all, so a receipt exists if and only if the action
  happened. The caller puts the reference into its own audit entry and its SMS notice.
* Facts are identifiers and outcomes only. Keys that name a secret (PIN, PUK, a code, a
  password, a token) are refused, whatever their value.
* ``add_facts`` stores facts learnt later (a revocation's CRL number and OCSP time) *once*:
  under the row lock, a key already present is never overwritten, so the first measurement
  stands however many downloads or callbacks race.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from audit.actor import Actor
from audit.log import record

from .models import Receipt, make_reference

if TYPE_CHECKING:
    from accounts.models import Citizen

# Fact keys that could only ever hold a secret: refused outright.
FORBIDDEN_KEYS = frozenset({"pin", "puk", "unlock_pin", "code", "otp", "password", "token"})
_ATTEMPTS = 5


def _check(facts: dict[str, Any]) -> None:
    bad = sorted(key for key in facts if key.lower() in FORBIDDEN_KEYS)
    if bad:
        raise ValueError(f"a receipt holds no secrets: {', '.join(bad)}")


def issue_receipt(
    citizen: Citizen,
    kind: str,
    *,
    subject: str,
    facts: dict[str, Any],
    actor: Actor | None = None,
    now: datetime | None = None,
) -> Receipt:
    """Write the receipt of an action in the action's transaction; audited."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("issue_receipt runs inside the transaction of the action it records")
    _check(facts)
    now = now or timezone.now()
    for attempt in range(_ATTEMPTS):
        try:
            with transaction.atomic():  # a savepoint: a collision leaves the action intact
                receipt = Receipt.objects.create(
                    reference=make_reference(now),
                    citizen=citizen,
                    kind=kind,
                    subject=subject,
                    created_at=now,
                    facts=facts,
                )
            break
        except IntegrityError:
            # 35 random bits: a collision is rare but possible; draw again.
            if attempt == _ATTEMPTS - 1:
                raise
    record(
        "nes.receipt.issued",
        citizen=citizen,
        actor=actor,
        subject=subject,
        receipt=receipt.reference,
        kind=kind,
    )
    return receipt


def add_facts(receipt: Receipt, **facts: Any) -> dict[str, Any]:
    """Add facts that are not recorded yet (never overwrites one); returns all the facts.

    Also updates ``receipt.facts``.
    """
    _check(facts)
    with transaction.atomic():
        current = Receipt.objects.select_for_update().only("facts").get(pk=receipt.pk)
        new = {key: value for key, value in facts.items() if key not in current.facts}
        if new:
            current.facts = {**current.facts, **new}
            Receipt.objects.filter(pk=receipt.pk).update(facts=current.facts)
    receipt.facts = current.facts
    return current.facts


def receipt_for(citizen: Citizen, kind: str, subject: str) -> Receipt | None:
    """The citizen's newest receipt of this kind about ``subject`` (for the done pages)."""
    return (
        Receipt.objects.filter(citizen=citizen, kind=kind, subject=subject)
        .order_by("-created_at", "-id")
        .first()
    )


def receipts_for(citizen: Citizen, kind: str, subjects: list[str]) -> dict[str, Receipt]:
    """Subject → the citizen's newest receipt of this kind about it (one query)."""
    found: dict[str, Receipt] = {}
    rows = Receipt.objects.filter(citizen=citizen, kind=kind, subject__in=subjects)
    for receipt in rows.order_by("created_at", "id"):
        found[receipt.subject] = receipt
    return found
