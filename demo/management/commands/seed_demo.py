from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from nesportal.demo import seed_demo


class Command(BaseCommand):
    help = "Create (or refresh) the demo citizens and demo staff accounts. Idempotent."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "--force",
            action="store_true",
            help="Run even with DEBUG off (never on a production database).",
        )

    def handle(self, *args: Any, force: bool = False, **options: Any) -> None:
        if not settings.DEBUG and not force:
            raise CommandError(
                "seed_demo creates accounts with published secrets: DEBUG only (or --force)."
            )
        result = seed_demo()
        out = self.stdout
        out.write(self.style.MIGRATE_HEADING("Demo vatandaşlar (Şifreli Giriş):"))
        for c in result.citizens:
            out.write(
                f"  {c.identifier:<12} {c.full_name:<22} Güvenlik Sözcüğü: {c.word:<18} {c.phone}"
            )
        if result.certificates:
            out.write(self.style.MIGRATE_HEADING("Demo sertifikalar (yeni verilenler):"))
            for cert in result.certificates:
                out.write(
                    f"  {cert.serial_number:<40} {cert.subject_name:<22} {cert.display_status}"
                )
            out.write(f"  Özel anahtarlar yalnızca burada: {settings.NES_PKI_DIR}/demo-keys/")
        out.write(self.style.MIGRATE_HEADING("Yönetim paneli (/admin/):"))
        for s in result.staff:
            out.write(f"  {s.username:<12} parola: {s.password:<22} {s.role}")
            out.write(
                f"  {'':<12} kimlik doğrulayıcı anahtarı (TOTP): {result.totp_secrets[s.username]}"
            )
            codes = ", ".join(result.backup_codes[s.username])
            out.write(f"  {'':<12} yedek kodlar (her biri bir kez): {codes}")
        out.write(
            "  Şu anki 6 haneli kod, uygulama kurmadan: python manage.py demo_totp <kullanıcı adı>"
        )
