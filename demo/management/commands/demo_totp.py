"""``manage.py demo_totp cagri``: the current admin login code of a demo staff member.

For trying the demo without installing an authenticator app. DEBUG only: outside a demo it
would turn the database and the server key into a second factor, which they must never be.
"""

from __future__ import annotations

import time
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django_otp.oath import TOTP

from nesportal.demo import DEMO_STAFF
from staff.models import SealedTOTPDevice


class Command(BaseCommand):
    help = "Prints the current TOTP code of a demo staff member (DEBUG only)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username", choices=[s.username for s in DEMO_STAFF])

    def handle(self, *args: Any, username: str, **options: Any) -> None:
        if not settings.DEBUG:
            raise CommandError("demo_totp prints a second factor: DEBUG only.")
        user = get_user_model()._default_manager.filter(username=username).first()
        device = SealedTOTPDevice.objects.filter(user=user, confirmed=True).first()
        if device is None:
            raise CommandError(f"{username} has no authenticator: run manage.py seed_demo first.")
        totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
        totp.time = time.time()
        left = device.step - int(totp.time - device.t0) % device.step
        self.stdout.write(f"{totp.token():0{device.digits}d}  ({left} s geçerli)")
