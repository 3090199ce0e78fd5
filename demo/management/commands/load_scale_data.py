from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from nesportal import scale


def _fraction(value: str) -> float:
    number = float(value)
    if not 0 <= number <= 1:
        raise ValueError(value)
    return number


class Command(BaseCommand):
    help = (
        "BENCHMARKS ONLY: load a national-size data set (citizens and certificates) into the "
        "configured PostgreSQL database with COPY. Every citizen shares one security word "
        f"({scale.SECURITY_WORD!r}) and every certificate row the same placeholder DER: never "
        "run it on a database that serves real citizens. Refused without DEBUG unless --force. "
        "See nesportal/scale.py and bench/README.md."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--citizens", type=int, default=1_000_000, help="citizens to add (1,000,000)"
        )
        parser.add_argument(
            "--certificates-per-citizen",
            type=int,
            default=3,
            help="certificates per citizen (3)",
        )
        parser.add_argument(
            "--bad-fraction",
            type=_fraction,
            default=0.05,
            help="fraction of the certificates that are revoked or suspended, half each (0.05)",
        )
        parser.add_argument(
            "--pending-fraction",
            type=_fraction,
            default=scale.DEFAULT_PENDING_FRACTION,
            help=f"fraction still pending, not opened for use ({scale.DEFAULT_PENDING_FRACTION})",
        )
        parser.add_argument("--seed", type=int, default=None, help="random seed (reproducible)")
        parser.add_argument(
            "--publish",
            action="store_true",
            help="sign every CRL afterwards (publication.refresh_due) and print the times",
        )
        parser.add_argument(
            "--force",
            action="store_true",
            help="run with DEBUG off (a benchmark database only, never a production one)",
        )

    def handle(self, *args: Any, force: bool = False, **options: Any) -> None:
        if not settings.DEBUG and not force:
            raise CommandError(
                "load_scale_data fills the database with benchmark data sharing one published "
                "security word: DEBUG only (or --force, on a benchmark database)."
            )
        try:
            report = scale.load(
                citizens=options["citizens"],
                certificates_per_citizen=options["certificates_per_citizen"],
                bad_fraction=options["bad_fraction"],
                pending_fraction=options["pending_fraction"],
                seed=options["seed"],
                publish=options["publish"],
                log=self.stdout.write,
            )
        except scale.ScaleError as exc:
            raise CommandError(str(exc)) from exc
        out = self.stdout
        out.write(self.style.MIGRATE_HEADING("Yüklendi (benchmarks only):"))
        out.write(f"  citizens:     {report.citizens:,}")
        out.write(f"  certificates: {report.certificates:,}")
        for status, count in sorted(report.statuses.items()):
            out.write(f"    {status:<10} {count:,}")
        out.write(
            f"  CRLs:         {report.shards} (full CRL will list {report.full_crl_entries:,})"
        )
        out.write(f"  security word of every scale citizen: {scale.SECURITY_WORD}")
        for shard, entries, size, seconds in report.published:
            name = shard or "full"
            out.write(f"  CRL {name:<6} {entries:>9,} entries {size:>12,} bytes {seconds:7.2f} s")
        out.write(f"  total: {report.total_seconds:.1f} s")
