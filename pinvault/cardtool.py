"""What the AKİS card tool (AKİS Kart İzleme Aracı) does to portal data, for the API and CLI.

``pinvault/api.py`` (HTTP, for the tool) and ``manage.py card_tool`` (for operators) are thin
wrappers around these functions. Each writes one ``nes.cardtool.*`` audit entry naming the tool
(the API key's name, or the operator command), never a PIN or PUK.

The card's state changes only through its model methods (``AkisCard.apply_unlock``,
``.count_wrong_puk``); this module adds the audit entry, the SMS and the tool's error codes.
Races are settled by the database, never by a read followed by a write: marking an unlock
applied is ``UPDATE … WHERE applied_at IS NULL``, and counting a wrong PUK is
``UPDATE … WHERE wrong_puk_count < 3 AND state <> 'unusable'`` whose third increment sets the
state to unusable in the same statement (the ``card_three_wrong_puk_unusable`` constraint
demands both together).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.views.decorators.debug import sensitive_variables

from accounts.models import SmsMessage
from accounts.sms_queue import queue_sms
from audit.actor import Actor
from audit.log import record
from nesportal.exceptions import PortalError

from .models import MAX_WRONG_PUK, AkisCard, CardUnlock, PinVaultError, VaultEntry

State = AkisCard.State


class CardToolError(PortalError):
    """The request cannot be done in the card's current state. ``code`` is stable for clients."""

    def __init__(self, code: str, message: str, *, status: int = 409, **data: object) -> None:
        super().__init__(message, code=code)
        self.status = status
        self.data = data


@dataclass(frozen=True)
class AppliedUnlock:
    unlock: CardUnlock
    already_applied: bool

    @property
    def applied_at(self) -> datetime:
        """When the unlock was applied: always set here, by this call or an earlier one
        (``AkisCard.apply_unlock`` re-reads the row after its UPDATE)."""
        assert self.unlock.applied_at is not None
        return self.unlock.applied_at


@dataclass(frozen=True)
class WrongPukResult:
    wrong_puk_count: int
    state: str

    @property
    def attempts_left(self) -> int:
        return max(MAX_WRONG_PUK - self.wrong_puk_count, 0)


def find_card(serial: str) -> AkisCard | None:
    """The card with this serial number, or None (also for text no serial can be: too long,
    or with a NUL, which PostgreSQL refuses in a query)."""
    max_length = AkisCard._meta.get_field("serial_number").max_length
    too_long = max_length is not None and len(serial) > max_length
    if not serial or too_long or "\x00" in serial:
        return None
    return AkisCard.objects.select_related("citizen").filter(serial_number=serial).first()


def pending_unlock(card: AkisCard) -> CardUnlock | None:
    """The card's one unapplied unlock (a database constraint allows at most one)."""
    return CardUnlock.objects.filter(card=card, applied_at__isnull=True).first()


def has_unlock_pin(card: AkisCard) -> bool:
    return VaultEntry.objects.filter(card=card, field=VaultEntry.Field.UNLOCK_PIN).exists()


@sensitive_variables("new_pin")
def reveal_unlock_pin(card: AkisCard, unlock: CardUnlock, *, actor: Actor) -> str | None:
    """The new PIN of ``unlock`` for the tool to write to the card (None if no longer stored).

    The caller returns it to the tool and nowhere else: not to logs, messages or exceptions.
    """
    from . import vault

    new_pin = vault.reveal(card, VaultEntry.Field.UNLOCK_PIN)
    record(
        "nes.cardtool.unlock_fetched",
        citizen=card.citizen,
        actor=actor,
        tool=actor.tool,
        card=card.serial_number,
        unlock_id=unlock.pk,
        new_pin_available=new_pin is not None,
    )
    return new_pin


def mark_applied(
    card: AkisCard,
    unlock_id: int,
    *,
    actor: Actor,
    now: datetime | None = None,
) -> AppliedUnlock:
    """The tool wrote the unlock's new PIN to the card: record that, forget the unlock PIN.

    The new PIN stays in the card's ``pin`` entry (the holder's PIN/PUK page shows it until
    they delete it). Idempotent: a second call reports ``already_applied`` and changes nothing.
    Either way ``card`` shows the card's state afterwards.
    Raises ``CardToolError("unknown_unlock", status=404)`` for an unlock of another card.
    """
    with transaction.atomic():
        try:
            unlock, applied = card.apply_unlock(unlock_id, now=now)
        except PinVaultError as exc:
            raise CardToolError(
                "unknown_unlock", "no such unlock for this card", status=404
            ) from exc
        if not applied:
            return AppliedUnlock(unlock, already_applied=True)
        record(
            "nes.cardtool.unlock_applied",
            citizen=card.citizen,
            actor=actor,
            tool=actor.tool,
            card=card.serial_number,
            unlock_id=unlock.pk,
        )
    return AppliedUnlock(unlock, already_applied=False)


def report_wrong_puk(
    card: AkisCard,
    *,
    actor: Actor,
    now: datetime | None = None,
) -> WrongPukResult:
    """Count one wrong PUK entered for a pre-2011 card; the third makes it unusable.

    Raises ``CardToolError`` with code ``no_puk`` for cards from 2011 on (they are unlocked on
    the portal without a PUK) and ``unusable`` once the card is unusable (nothing is counted).
    """
    refused: PinVaultError | None = None
    with transaction.atomic():
        # A conditional UPDATE (AkisCard.count_wrong_puk) re-reads the card either way; the row
        # lock of a counted entry holds until this transaction has its audit entry and SMS.
        try:
            card.count_wrong_puk(now=now)
        except PinVaultError as exc:
            refused = exc
        result = WrongPukResult(card.wrong_puk_count, card.state)
        if refused is not None and refused.code == "no_puk":
            record(
                "nes.cardtool.wrong_puk_refused",
                citizen=card.citizen,
                actor=actor,
                tool=actor.tool,
                card=card.serial_number,
                reason="no_puk",
            )
        else:
            if refused is None and result.state == State.UNUSABLE:
                # The holder learns at once that the card must be renewed (no secret in the SMS).
                queue_sms(
                    card.citizen,
                    SmsMessage.Kind.CARD_UNUSABLE,
                    actor=actor,
                    context={"card": card.serial_number},
                )
            record(
                "nes.cardtool.wrong_puk" if refused is None else "nes.cardtool.wrong_puk_refused",
                citizen=card.citizen,
                actor=actor,
                tool=actor.tool,
                card=card.serial_number,
                wrong_puk_count=result.wrong_puk_count,
                state=result.state,
                **({} if refused is None else {"reason": "unusable"}),
            )
    if refused is not None and refused.code == "no_puk":
        raise CardToolError(
            "no_puk", "cards produced from 01.01.2011 on are unlocked on the portal without PUK"
        )
    if refused is not None:
        raise CardToolError(
            "unusable",
            "the card is unusable; it must be renewed",
            wrong_puk_count=result.wrong_puk_count,
            state=result.state,
            attempts_left=result.attempts_left,
        )
    return result
