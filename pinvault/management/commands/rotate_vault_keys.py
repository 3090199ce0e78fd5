"""Re-wrap every PIN/PUK vault record to the newest master key in VAULT_KEYS.

Key rotation, with the site running:

1. Append a new entry to ``VAULT_KEYS`` (``…,new-id:base64-key``; the newest is the LAST) on
   every web server and worker, and restart them: new records are now sealed with the new key,
   and old ones still open with the old key.
2. Run ``manage.py rotate_vault_keys`` (``--dry-run`` first to see the counts). It re-wraps
   the data keys of the old records in batches, each batch its own short transaction, and skips
   rows a request is writing until a later pass. Ciphertexts are not touched or decrypted.
3. When it reports nothing left under an old key id, remove the old key from ``VAULT_KEYS``.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from pinvault import vault
from pinvault.crypto import VaultError


class Command(BaseCommand):
    help = "Re-wrap every vault record not under the newest VAULT_KEYS key to the newest key."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--batch-size",
            type=int,
            default=vault.DEFAULT_BATCH_SIZE,
            help=f"Records per transaction (default {vault.DEFAULT_BATCH_SIZE}).",
        )
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Only count the records under each old key id; change nothing.",
        )

    def handle(self, *args: Any, batch_size: int, dry_run: bool, **options: Any) -> None:
        self.verbosity: int = options.get("verbosity", 1)
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1.")
        try:
            result = vault.rotate(batch_size=batch_size, dry_run=dry_run, on_batch=self._progress)
        except VaultError as exc:  # VAULT_KEYS unusable
            raise CommandError(str(exc)) from None

        verb = "would re-wrap" if dry_run else "re-wrapped"
        for key_id, count in sorted(result.by_key_id.items()):
            self.stdout.write(f"{key_id}: {count} {verb} to {result.newest_id}")
        self.stdout.write(
            f"Total: {result.total} {verb} to {result.newest_id}"
            + ("" if dry_run else f" in {result.batches} batch(es)")
            + "."
        )
        if result.failed:
            for pk, reason in sorted(result.failed.items()):
                self.stderr.write(f"VaultEntry {pk}: {reason}")
            raise CommandError(
                f"{len(result.failed)} record(s) could not be re-wrapped and are still under "
                "an old key; do not remove that key from VAULT_KEYS yet."
            )
        if not dry_run:
            self.stdout.write(
                self.style.SUCCESS(
                    f"Every vault record is under {result.newest_id}; older keys can be "
                    "removed from VAULT_KEYS."
                )
            )

    def _progress(self, number: int, counts: Counter[str]) -> None:
        if self.verbosity >= 2:
            self.stdout.write(f"batch {number}: {sum(counts.values())} re-wrapped")
