"""``manage.py create_demo_token``: a SoftHSM2 token ("AKİS kart") for a demo holder.

The card holds the holder's ACTIVE certificate and its key, and also the SUSPENDED one (to see
how the E-İmzalı Giriş page shows a certificate that cannot be used). The keys come from the
demo output (``NES_PKI_DIR/demo-keys``, written by ``manage.py seed_demo``). The token is made
by the card service's own command, ``python -m nes_kart_servisi demo-token``, in a child
process: the portal never imports the card service. The command prints the demo PIN, the
holder's T.C. Kimlik No and the exact command that starts the service with this token.

DEBUG only (``--force`` otherwise): the demo keys are not secrets of anybody real, but a token
made from a production database would be.
"""

from __future__ import annotations

import importlib.util
import json
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from accounts.models import Citizen
from certificates.models import Certificate
from nesportal.demo import DEMO_CITIZENS

SOFTHSM_MODULE = "/usr/lib/softhsm/libsofthsm2.so"
DEFAULT_PIN = "123456"
DEFAULT_SO_PIN = "12345678"
DEFAULT_ORIGIN = "http://127.0.0.1:8000"


def token_directory() -> Path:
    var = getattr(settings, "VAR_DIR", None) or Path(settings.BASE_DIR) / "var"
    return Path(var) / "softhsm"


def key_directory() -> Path:
    return Path(settings.NES_PKI_DIR) / "demo-keys"


def _citizen(identifier: str) -> Citizen | None:
    lookup = {"tckn": identifier} if identifier.isdigit() else {"passport_no": identifier}
    return Citizen.objects.filter(**lookup).first()


def _with_key(citizen: Citizen, status: str) -> Certificate | None:
    """The citizen's newest certificate in ``status`` whose key is in the demo output."""
    rows = Certificate.objects.filter(citizen=citizen, status=status).order_by("-not_before")
    if status == Certificate.Status.ACTIVE:
        rows = rows.filter(not_after__gt=timezone.now(), not_before__lte=timezone.now())
    for row in rows:
        if (key_directory() / f"{row.serial_number}.key").exists():
            return row
    return None


def pick_holder(identifier: str | None) -> tuple[Citizen, Certificate]:
    """The given citizen, or the first demo citizen with an active certificate and its key."""
    candidates = [identifier] if identifier else [demo.identifier for demo in DEMO_CITIZENS]
    for candidate in candidates:
        citizen = _citizen(candidate)
        if citizen is None:
            continue
        active = _with_key(citizen, Certificate.Status.ACTIVE)
        if active is not None:
            return citizen, active
    if identifier:
        raise CommandError(
            f"{identifier}: no such citizen, or no active certificate with its key in "
            f"{key_directory()} (run manage.py seed_demo first)"
        )
    raise CommandError(
        f"No demo citizen has an active certificate with its key in {key_directory()}: "
        "run manage.py seed_demo first."
    )


class Command(BaseCommand):
    help = (
        "Makes a SoftHSM2 token for a demo holder (active + suspended certificate) with the card "
        "service's demo-token command, and prints the PIN and how to start the service."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--citizen", help="T.C. Kimlik No or passport number (default: demo)")
        parser.add_argument("--dir", type=Path, default=None, help="token directory")
        parser.add_argument("--pin", default=DEFAULT_PIN, help="the card's PIN")
        parser.add_argument("--so-pin", default=DEFAULT_SO_PIN, help="the card's PUK (SO PIN)")
        parser.add_argument("--label", default="AKIS-DEMO", help="the token's label")
        parser.add_argument("--module", default=SOFTHSM_MODULE, help="the SoftHSM2 module")
        parser.add_argument("--origin", default=DEFAULT_ORIGIN, help="the portal's origin")
        parser.add_argument("--force", action="store_true", help="also without DEBUG")

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.DEBUG and not options["force"]:
            raise CommandError("create_demo_token is for the demo: DEBUG only (or --force).")
        if importlib.util.find_spec("nes_kart_servisi") is None:
            raise CommandError(
                "The card service is not installed in this Python: "
                "pip install -e ./cardservice (make install does)."
            )
        citizen, active = pick_holder(options["citizen"])
        pairs = [active]
        suspended = _with_key(citizen, Certificate.Status.SUSPENDED)
        if suspended is not None:
            pairs.append(suspended)
        directory = Path(options["dir"] or token_directory()).resolve()
        command = [
            sys.executable,
            "-m",
            "nes_kart_servisi",
            "demo-token",
            "--dir",
            str(directory),
            "--label",
            options["label"],
            "--pin",
            options["pin"],
            "--so-pin",
            options["so_pin"],
            "--module",
            options["module"],
            "--force",
            "--json",
        ]
        for row in pairs:
            command += ["--key", str(key_directory() / f"{row.serial_number}.key")]
            command += ["--cert", str(key_directory() / f"{row.serial_number}.crt")]
        # Our own interpreter and arguments (no shell), the paths from the settings.
        done = subprocess.run(  # noqa: S603
            command, capture_output=True, text=True, timeout=120, check=False
        )
        if done.returncode != 0:
            raise CommandError(f"demo-token failed ({done.returncode}): {done.stderr.strip()}")
        try:
            made = json.loads(done.stdout.strip().splitlines()[-1])
        except (ValueError, IndexError):
            raise CommandError(f"demo-token said: {done.stdout.strip()}") from None
        conf = str(made.get("conf", directory / "softhsm2.conf"))
        start = (
            f"SOFTHSM2_CONF={shlex.quote(conf)} nes-kart-servisi serve "
            f"--module {shlex.quote(options['module'])} --origin {shlex.quote(options['origin'])}"
        )
        out = self.stdout
        out.write(f"Demo kartı / demo card: {directory} (token {made.get('serial', '?')})")
        out.write(f"  Kart sahibi / holder: {citizen.full_name} — {citizen.identifier}")
        out.write(f"  T.C. Kimlik No / ID: {citizen.identifier}")
        out.write(f"  PIN: {options['pin']}   PUK (SO PIN): {options['so_pin']}")
        out.write(f"  Geçerli sertifika / active: {active.serial_number}")
        if suspended is not None:
            out.write(f"  Askıdaki sertifika / suspended: {suspended.serial_number}")
        out.write("Servisi başlatın / start the card service:")
        out.write(f"  {start}")
        out.write(f"Sonra / then: {options['origin']}/e-imzali-giris/")
