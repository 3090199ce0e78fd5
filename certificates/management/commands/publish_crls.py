from typing import Any

from django.core.management.base import BaseCommand

from certificates import ca as ca_module
from certificates import publication
from certificates.models import CrlShard


class Command(BaseCommand):
    help = (
        "Sign every CRL (full and shards) that changed or is due, single-flight like the "
        "periodic task; --all re-signs every one of them now."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--all", action="store_true", help="Re-sign every CRL now.")

    def handle(self, *args: Any, all: bool = False, **options: Any) -> None:
        ca_id = ca_module.issuing_ca().id
        publication.ensure_shards(ca_id, set())
        if all:
            rows = CrlShard.objects.filter(ca_id=ca_id).values_list("pk", flat=True)
            signed = sum(publication.publish(pk, force=True).signed for pk in rows)
        else:
            signed = publication.refresh_due()
        self.stdout.write(self.style.SUCCESS(f"{signed} CRL(s) signed"))
