from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from certificates import pki
from certificates.root import sign_arl


class Command(BaseCommand):
    help = (
        "Sign a new root CRL (ARL) with the root key in NES_ROOT_KEY_PATH into NES_ARL_PATH. "
        "Demo only: a real root key is offline, and its ARL is a file the operator provides."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--days", type=int, default=365, help="Validity (default 365).")

    def handle(self, *args: Any, days: int = 365, **options: Any) -> None:
        if days < 1:
            raise CommandError("--days must be at least 1")
        try:
            signed = sign_arl(validity=timedelta(days=days))
        except (OSError, pki.CaConfigurationError) as exc:
            raise CommandError(
                f"cannot sign the ARL with {settings.NES_ROOT_KEY_PATH}: {exc}"
            ) from exc
        self.stdout.write(
            self.style.SUCCESS(
                f"ARL #{signed.number} written to {signed.path} (valid until "
                f"{signed.next_update:%Y-%m-%d %H:%M} UTC)"
            )
        )
