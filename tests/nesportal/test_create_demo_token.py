"""``manage.py create_demo_token``: a SoftHSM2 token for a demo holder, made by the card
service's own ``demo-token`` command (a child process), holding the active and the suspended
certificate; it prints the PIN, the T.C. Kimlik No and the command that starts the service."""

from __future__ import annotations

import base64
import io
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from accounts.models import Citizen
from certificates.models import Certificate
from nesportal.demo import DEMO_CITIZENS, _save_demo_key
from tests.cardtoken import request, require_softhsm, run_service

pytestmark = pytest.mark.django_db


@pytest.fixture
def holder(
    citizen_factory: Any, certificate_factory: Any
) -> tuple[Citizen, Certificate, Certificate]:
    """The first demo citizen with an active and a suspended certificate, keys in demo-keys."""
    citizen = citizen_factory(tckn=DEMO_CITIZENS[0].identifier)
    active, active_key = certificate_factory(citizen, "active")
    suspended, suspended_key = certificate_factory(
        citizen, "suspended", kind=Certificate.Kind.MOBILE
    )
    _save_demo_key(active, active_key)
    _save_demo_key(suspended, suspended_key)
    return citizen, active, suspended


def run(*args: str) -> str:
    out = io.StringIO()
    call_command("create_demo_token", *args, stdout=out)
    return out.getvalue()


def test_it_makes_the_token_and_says_how_to_start_the_service(
    holder: tuple[Citizen, Certificate, Certificate], settings: Any, tmp_path: Path
) -> None:
    require_softhsm()
    citizen, active, suspended = holder
    settings.DEBUG = True
    settings.VAR_DIR = tmp_path / "var"

    output = run()

    directory = (tmp_path / "var" / "softhsm").resolve()
    conf = directory / "softhsm2.conf"
    assert conf.exists()
    assert "PIN: 123456" in output
    assert f"T.C. Kimlik No / ID: {citizen.tckn}" in output
    assert (
        f"SOFTHSM2_CONF={conf} nes-kart-servisi serve --module /usr/lib/softhsm/libsofthsm2.so "
        "--origin http://127.0.0.1:8000"
    ) in output
    assert active.serial_number in output and suspended.serial_number in output

    # The real service reads the token: both certificates are on it, with their keys.
    with run_service(conf, origins=["http://127.0.0.1:8000"], state_dir=tmp_path / "state") as svc:
        status, _, body = request(svc, "GET", "/v1/certificates")
    assert status == 200
    ders = {base64.b64decode(c["der_b64"]) for c in body["certificates"]}
    assert ders == {bytes(active.der), bytes(suspended.der)}
    assert all(c["has_key"] for c in body["certificates"])


def test_it_is_debug_only_unless_forced(
    holder: tuple[Citizen, Certificate, Certificate], settings: Any, tmp_path: Path
) -> None:
    settings.DEBUG = False
    with pytest.raises(CommandError, match="DEBUG only"):
        run("--dir", str(tmp_path / "t"))
    require_softhsm()
    assert "PIN: 4321" in run("--force", "--dir", str(tmp_path / "t"), "--pin", "4321")


def test_without_demo_keys_it_says_run_seed_demo(
    citizen_factory: Any, certificate_factory: Any, settings: Any
) -> None:
    settings.DEBUG = True
    citizen = citizen_factory(tckn=DEMO_CITIZENS[0].identifier)
    certificate_factory(citizen, "active")  # its key is not in demo-keys
    with pytest.raises(CommandError, match="seed_demo"):
        run()
    with pytest.raises(CommandError, match="no such citizen"):
        run("--citizen", "99999999990")
