from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from certificates import ca as ca_module
from certificates import pki


class Command(BaseCommand):
    help = (
        "Create the demo root CA (its key in root.key: the offline root, demo only), issuing CA "
        "and OCSP signer as PEM files. Idempotent: existing files are left alone."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "--dir",
            dest="directory",
            type=Path,
            help="Where to write the files (default: settings.NES_PKI_DIR).",
        )

    def handle(self, *args: Any, directory: Path | None = None, **options: Any) -> None:
        if directory is None:
            directory = Path(getattr(settings, "NES_PKI_DIR", settings.VAR_DIR / "pki"))
        paths = pki.demo_ca_paths(directory)
        files = [
            *paths.chain,
            directory / "root.key",
            paths.certificate,
            paths.key,
            paths.ocsp_certificate,
            paths.ocsp_key,
        ]
        existed = all(path is not None and path.exists() for path in files)
        try:
            pki.create_demo_pki(
                directory,
                arl_url=ca_module.arl_url(settings.NES_CA_SLUG),
                root_certificate_url=ca_module.root_certificate_url(settings.NES_CA_SLUG),
            )
        except pki.CaConfigurationError as exc:
            raise CommandError(str(exc)) from exc

        ca = pki.load_ca(paths)
        verb = "Demo CA already present in" if existed else "Demo CA created in"
        self.stdout.write(self.style.SUCCESS(f"{verb} {directory}:"))
        for path in files:
            self.stdout.write(f"  {path}")
        self.stdout.write(f"Issuing CA: {ca.certificate.subject.rfc4514_string()}")
        self.stdout.write(f"  SHA-256 {pki.fingerprint_sha256(ca.certificate)}")
