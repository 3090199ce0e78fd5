"""The PIN: three wrong ones lock the card (the service's own counter, since SoftHSM2 never
locks), the lock survives a restart, ``unlock`` with the PUK clears it, attempts are rate
limited, and the PIN never appears in the service's output (the real process, SoftHSM2)."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from tests.cardservice.helpers import ORIGIN, consent_body, consent_text, login_body, sign
from tests.cardtoken import Service, Token, request, run_service

WRONG = "999999"


def _card(service: Service) -> dict[str, Any]:
    status, _headers, data = request(service, "GET", "/v1/status")
    assert status == 200
    return next(reader["card"] for reader in data["readers"] if reader["card_present"])


def _wrong_three_times(service: Service, token: Token) -> list[tuple[int, Any]]:
    return [sign(service, login_body(token, pin=WRONG))[::2] for _ in range(3)]


def test_three_wrong_pins_lock_the_card_without_reaching_it(
    fresh_token: Token, tmp_path: Path
) -> None:
    state = tmp_path / "state"
    with run_service(fresh_token, origins=[ORIGIN], state_dir=state) as service:
        answers = _wrong_three_times(service, fresh_token)

        assert answers[0] == (401, {"error": "pin_incorrect", "tries_left": 2})
        assert answers[1] == (401, {"error": "pin_incorrect", "tries_left": 1})
        assert answers[2] == (423, {"error": "pin_locked"})
        card = _card(service)
        assert (card["pin"], card["pin_tries_left"], card["locked"]) == ("locked", 0, True)

        # The right PIN is refused at once: no 429 (no attempt) and the token never sees it.
        started = time.monotonic()
        for body in (login_body(fresh_token), consent_body(fresh_token, consent_text())):
            status, _headers, data = request(service, "POST", "/v1/sign", body=body)
            assert (status, data) == (423, {"error": "pin_locked"})
        assert time.monotonic() - started < 1
        assert "POST '/v1/sign' 423" in service.output()

    # The counter survives a restart of the service.
    with run_service(fresh_token, origins=[ORIGIN], state_dir=state) as service:
        assert _card(service)["locked"] is True
        status, _headers, data = sign(service, login_body(fresh_token))
        assert (status, data) == (423, {"error": "pin_locked"})


def test_the_status_counts_down(fresh_token: Token, tmp_path: Path) -> None:
    with run_service(fresh_token, origins=[ORIGIN], state_dir=tmp_path / "state") as service:
        assert (_card(service)["pin"], _card(service)["pin_tries_left"]) == ("ok", 3)
        sign(service, login_body(fresh_token, pin=WRONG))
        assert (_card(service)["pin"], _card(service)["pin_tries_left"]) == ("count_low", 2)
        sign(service, login_body(fresh_token, pin=WRONG))
        assert (_card(service)["pin"], _card(service)["pin_tries_left"]) == ("final_try", 1)


def test_a_right_pin_resets_the_counter(fresh_token: Token, tmp_path: Path) -> None:
    with run_service(fresh_token, origins=[ORIGIN], state_dir=tmp_path / "state") as service:
        assert sign(service, login_body(fresh_token, pin=WRONG))[0] == 401
        assert sign(service, login_body(fresh_token, pin=WRONG))[0] == 401
        assert sign(service, login_body(fresh_token))[0] == 200
        assert _card(service)["pin_tries_left"] == 3
        status, _headers, data = sign(service, login_body(fresh_token, pin=WRONG))
        assert (status, data) == (401, {"error": "pin_incorrect", "tries_left": 2})


def _unlock(token: Token, state: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "nes_kart_servisi",
            "unlock",
            "--module",
            token.module,
            "--state-dir",
            str(state),
            *args,
        ],
        env={"SOFTHSM2_CONF": str(token.conf), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def test_unlock_with_the_puk_sets_a_new_pin_and_clears_the_counter(
    fresh_token: Token, tmp_path: Path
) -> None:
    state = tmp_path / "state"
    with run_service(fresh_token, origins=[ORIGIN], state_dir=state) as service:
        _wrong_three_times(service, fresh_token)
        assert _card(service)["locked"] is True

        wrong_puk = _unlock(fresh_token, state, "--puk", "87654321", "--new-pin", "246810")
        assert wrong_puk.returncode == 1
        assert "PUK" in wrong_puk.stderr
        assert _card(service)["locked"] is True

        done = _unlock(fresh_token, state, "--so-pin", fresh_token.so_pin, "--new-pin", "246810")
        assert done.returncode == 0, done.stderr
        assert fresh_token.serial in done.stdout

        # the running service sees it at once: unlocked, the new PIN signs, the old one not
        assert _card(service)["locked"] is False
        assert _card(service)["pin_tries_left"] == 3
        status, _headers, data = sign(service, login_body(fresh_token, pin="246810"))
        assert status == 200, data
        status, _headers, data = sign(service, login_body(fresh_token))
        assert (status, data) == (401, {"error": "pin_incorrect", "tries_left": 2})


def test_pin_attempts_are_rate_limited(fresh_token: Token, tmp_path: Path) -> None:
    with run_service(fresh_token, origins=[ORIGIN], state_dir=tmp_path / "state") as service:
        assert request(service, "POST", "/v1/sign", body=login_body(fresh_token))[0] == 200

        status, headers, data = request(
            service, "POST", "/v1/sign", body=login_body(fresh_token, pin=WRONG)
        )

        assert status == 429
        assert data == {"error": "rate_limited", "retry_after": 1}
        assert headers["retry-after"] == "1"
        assert headers["access-control-allow-origin"] == ORIGIN
        # a rate-limited attempt is not a wrong PIN
        assert _card(service)["pin_tries_left"] == 3
        time.sleep(1.05)
        assert request(service, "POST", "/v1/sign", body=login_body(fresh_token))[0] == 200


def test_the_pin_never_appears_in_the_services_output(fresh_token: Token, tmp_path: Path) -> None:
    secret_wrong = "73915824"
    with run_service(fresh_token, origins=[ORIGIN], state_dir=tmp_path / "state") as service:
        sign(service, login_body(fresh_token))
        sign(service, consent_body(fresh_token, consent_text()))
        sign(service, login_body(fresh_token, pin=secret_wrong))
        request(service, "POST", "/v1/sign", body=login_body(fresh_token, pin="12ab" + "5" * 20))
        request(service, "POST", "/v1/sign", body={**login_body(fresh_token), "kind": "x"})
        request(
            service,
            "POST",
            "/v1/sign",
            raw=b'{"pin": "' + secret_wrong.encode() + b'"',
            headers={"Content-Type": "application/json"},
        )
        output = service.output()
        state_files = "".join(
            path.read_text(encoding="utf-8", errors="replace")
            for path in (tmp_path / "state").rglob("*")
            if path.is_file()
        )

    assert "POST '/v1/sign' 200" in output
    assert "POST '/v1/sign' 401" in output
    for pin in (fresh_token.pin, secret_wrong):
        assert pin not in output
        assert pin not in state_files
