"""What the card tool API does, for operators at a shell (pinvault/api.py documents the API).

    manage.py card_tool pending AKIS-0123456789 [--show-pin]
    manage.py card_tool applied AKIS-0123456789 17
    manage.py card_tool wrong-puk AKIS-0000000001

``pending`` prints the pending unlock; the new PIN only with ``--show-pin`` (the vault is then
read and the audit log records it). Every call is audited under the tool name
``manage.py card_tool``.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from audit.actor import Actor
from pinvault import cardtool
from pinvault.models import AkisCard

TOOL = "manage.py card_tool"
ACTOR = Actor.system(TOOL)


class Command(BaseCommand):
    help = "Pending unlocks and wrong-PUK reports of AKİS cards, as the card tool API does them."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        pending = sub.add_parser("pending", help="Show the card's pending unlock.")
        pending.add_argument("serial", help="card serial number, e.g. AKIS-0123456789")
        pending.add_argument(
            "--show-pin", action="store_true", help="Also print the new PIN (audited)."
        )
        applied = sub.add_parser("applied", help="Record that the unlock is on the card.")
        applied.add_argument("serial")
        applied.add_argument("unlock_id", type=int)
        wrong = sub.add_parser("wrong-puk", help="Count one wrong PUK entry (pre-2011 cards).")
        wrong.add_argument("serial")

    def handle(self, *args: Any, action: str, serial: str, **options: Any) -> None:
        card = cardtool.find_card(serial)
        if card is None:
            raise CommandError(f"Unknown card: {serial}")
        try:
            if action == "pending":
                self.pending(card, show_pin=options["show_pin"])
            elif action == "applied":
                self.applied(card, options["unlock_id"])
            else:
                self.wrong_puk(card)
        except cardtool.CardToolError as exc:
            raise CommandError(f"{exc.message} ({exc.code})") from None

    def pending(self, card: AkisCard, *, show_pin: bool) -> None:
        unlock = cardtool.pending_unlock(card)
        if unlock is None:
            raise CommandError(f"No pending unlock for {card.serial_number}.")
        self.stdout.write(f"card:       {card.serial_number}")
        self.stdout.write(f"unlock_id:  {unlock.pk}")
        self.stdout.write(f"created_at: {unlock.created_at.isoformat()}")
        if show_pin:
            new_pin = cardtool.reveal_unlock_pin(card, unlock, actor=ACTOR)
            if new_pin is None:
                raise CommandError("The new PIN is no longer stored; do not change the card.")
            self.stdout.write(f"new_pin:    {new_pin}")
        elif cardtool.has_unlock_pin(card):
            self.stdout.write("new_pin:    ****** (--show-pin to print it)")
        else:
            self.stdout.write("new_pin:    (no longer stored; do not change the card)")

    def applied(self, card: AkisCard, unlock_id: int) -> None:
        result = cardtool.mark_applied(card, unlock_id, actor=ACTOR)
        if result.already_applied:
            self.stdout.write(
                f"Unlock {unlock_id} of {card.serial_number} was already applied "
                f"at {result.applied_at.isoformat()}."
            )
        else:
            self.stdout.write(
                self.style.SUCCESS(
                    f"Unlock {unlock_id} of {card.serial_number} applied; card state: {card.state}."
                )
            )

    def wrong_puk(self, card: AkisCard) -> None:
        result = cardtool.report_wrong_puk(card, actor=ACTOR)
        self.stdout.write(
            f"{card.serial_number}: wrong PUK entries {result.wrong_puk_count}, "
            f"state {result.state}, attempts left {result.attempts_left}."
        )
