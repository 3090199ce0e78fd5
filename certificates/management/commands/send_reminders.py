"""``manage.py send_reminders``: what the hourly beat task does, run by an operator."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand
from django.utils import timezone

from certificates import reminders


class Command(BaseCommand):
    help = (
        "Send the expiry (90/60/30/15/7/1 days) and new-certificate reminders due now, as the "
        "hourly periodic task does: each one once, and nothing outside 09:00-20:00 Istanbul."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        result = reminders.send_due_reminders(now=timezone.now())
        if result.quiet_hours:
            self.stdout.write("Outside sending hours (09:00-20:00 Istanbul): nothing sent.")
            return
        by_threshold = ", ".join(
            f"{days} days: {count}" for days, count in result.expiry_sent.items()
        )
        self.stdout.write(
            self.style.SUCCESS(
                f"{sum(result.expiry_sent.values())} expiry reminder(s) sent"
                + (f" ({by_threshold})" if by_threshold else "")
                + f", {result.skipped} passed threshold(s) skipped, "
                f"{result.ready_sent} new-certificate reminder(s) sent"
            )
        )
