"""``nes-kart-servisi [serve|demo-token|unlock]`` (``serve`` when no subcommand is given)."""

from __future__ import annotations

import argparse
import getpass
import json
import os
import re
import sys
from collections.abc import Sequence
from pathlib import Path

from nes_kart_servisi import __version__
from nes_kart_servisi.pinguard import PinGuard, default_state_dir
from nes_kart_servisi.server import (
    DEFAULT_ORIGINS,
    DEFAULT_PORT,
    Config,
    ConfigError,
    check_bind_host,
    make_server,
)

SUBCOMMANDS = ("serve", "demo-token", "unlock")
_PIN = re.compile(r"[0-9]{4,16}", re.ASCII)


def _env_origins() -> list[str] | None:
    value = os.environ.get("NES_KART_ORIGINS", "").strip()
    if not value:
        return None
    return [item.strip() for item in value.split(",") if item.strip()]


def _default_module() -> str:
    from nes_kart_servisi.token import default_module

    return os.environ.get("NES_KART_PKCS11_MODULE") or default_module()


def _default_state_dir() -> Path:
    value = os.environ.get("NES_KART_STATE_DIR")
    return Path(value) if value else default_state_dir()


def _port(value: str) -> int:
    port = int(value)
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError("port must be 1-65535")
    return port


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="nes-kart-servisi",
        description=(
            "NES Portal Akıllı Kart Servisi / Smart Card Service: the local bridge between the "
            "portal page and your smart card (PKCS#11)."
        ),
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command")

    serve = sub.add_parser("serve", help="run the service (default)")
    serve.add_argument(
        "--module",
        default=None,
        help="PKCS#11 module (the AKİS middleware's library; env NES_KART_PKCS11_MODULE)",
    )
    serve.add_argument(
        "--origin",
        action="append",
        default=None,
        help="an allowed portal origin, repeatable (env NES_KART_ORIGINS, comma separated; "
        f"default {', '.join(DEFAULT_ORIGINS)})",
    )
    serve.add_argument(
        "--port",
        type=_port,
        default=None,
        help=f"port on the loopback interface (env NES_KART_PORT; default {DEFAULT_PORT})",
    )
    serve.add_argument(
        "--host", default="127.0.0.1", help="127.0.0.1 (default), ::1 or localhost only"
    )
    serve.add_argument(
        "--state-dir",
        type=Path,
        default=None,
        help="where the wrong-PIN counters live (env NES_KART_STATE_DIR; "
        "default ~/.local/state/nes-kart-servisi)",
    )

    demo = sub.add_parser("demo-token", help="make a SoftHSM2 token holding a key + certificate")
    demo.add_argument("--dir", type=Path, default=Path("nes-demo-token"), help="token directory")
    demo.add_argument("--label", default="AKIS-DEMO", help="token label (default AKIS-DEMO)")
    demo.add_argument("--pin", default="123456", help="user PIN (default 123456)")
    demo.add_argument("--so-pin", default="12345678", help="SO PIN = PUK (default 12345678)")
    demo.add_argument(
        "--key", type=Path, action="append", default=[], help="private key PEM (repeatable)"
    )
    demo.add_argument(
        "--cert",
        type=Path,
        action="append",
        default=[],
        help="its certificate, PEM or DER (repeatable, one per --key)",
    )
    demo.add_argument("--module", default=None, help="the SoftHSM2 module")
    demo.add_argument("--force", action="store_true", help="replace a token already in --dir")
    demo.add_argument("--json", action="store_true", help="print the result as JSON")

    unlock = sub.add_parser(
        "unlock", help="set a new PIN with the PUK (SO PIN) and clear the wrong-PIN counter"
    )
    unlock.add_argument("--module", default=None, help="PKCS#11 module")
    unlock.add_argument("--serial", default=None, help="the card's serial (if several cards)")
    unlock.add_argument("--label", default=None, help="the card's label")
    unlock.add_argument(
        "--puk", "--so-pin", dest="puk", default=None, help="PUK / SO PIN (asked if absent)"
    )
    unlock.add_argument("--new-pin", default=None, help="the new PIN (asked if absent)")
    unlock.add_argument("--state-dir", type=Path, default=None, help="as for serve")
    return parser


def _serve(args: argparse.Namespace) -> int:
    from nes_kart_servisi.token import Cards

    try:
        host = check_bind_host(args.host)
        port = args.port or _port(os.environ.get("NES_KART_PORT") or str(DEFAULT_PORT))
        origins = tuple(args.origin or _env_origins() or DEFAULT_ORIGINS)
        module = args.module or _default_module()
        state_dir = args.state_dir or _default_state_dir()
        guard = PinGuard(state_dir)
        cards = Cards(module, guard)
        config = Config(cards=cards, port=port, origins=origins)
    except (ConfigError, ValueError, argparse.ArgumentTypeError) as exc:
        print(f"nes-kart-servisi: {exc}", file=sys.stderr)
        return 2
    loaded = cards.load()
    try:
        server = make_server(config, host)
    except OSError as exc:
        print(f"nes-kart-servisi: cannot listen on {host}:{port}: {exc}", file=sys.stderr)
        return 1
    shown = f"[{host}]" if ":" in host else host
    print(f"NES Portal Akıllı Kart Servisi {__version__}", flush=True)
    print(f"  listening on http://{shown}:{port}/", flush=True)
    print(f"  portal origins: {', '.join(config.origins)}", flush=True)
    print(f"  PKCS#11 module: {module} ({'loaded' if loaded else 'NOT loaded'})", flush=True)
    if not loaded:
        print(f"  module error: {cards.module_error}", flush=True)
    print(f"  state: {state_dir}", flush=True)
    print("  Durdurmak için Ctrl+C / press Ctrl+C to stop", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


def _demo_token(args: argparse.Namespace) -> int:
    from nes_kart_servisi.softhsm import DemoTokenError, make_demo_token

    if len(args.key) != len(args.cert):
        print("nes-kart-servisi: give --key and --cert in pairs", file=sys.stderr)
        return 2
    if not _PIN.fullmatch(args.pin) or not _PIN.fullmatch(args.so_pin):
        print("nes-kart-servisi: the PIN and SO PIN must be 4-16 digits", file=sys.stderr)
        return 2
    try:
        token = make_demo_token(
            args.dir,
            list(zip(args.key, args.cert, strict=True)),
            label=args.label,
            pin=args.pin,
            so_pin=args.so_pin,
            module=args.module,
            force=args.force,
        )
    except DemoTokenError as exc:
        print(f"nes-kart-servisi: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(token.as_json()))
        return 0
    print(f"SOFTHSM2_CONF={token.conf}")
    print(f"token serial: {token.serial}")
    print(f"token label:  {token.label}")
    print(f"PIN:          {token.pin}  (demo only)")
    print(f"SO PIN / PUK: {token.so_pin}  (demo only)")
    for cka_id, label in zip(token.ids, token.labels, strict=True):
        print(f"certificate:  id {cka_id}  {label}")
    print("start the service with:")
    print(f"  {token.serve_command()}")
    return 0


def _ask(value: str | None, prompt: str) -> str:
    if value is not None:
        return value
    return getpass.getpass(prompt)


def _unlock(args: argparse.Namespace) -> int:
    from nes_kart_servisi.softhsm import DemoTokenError, unlock_token

    module = args.module or _default_module()
    puk = _ask(args.puk, "PUK (SO PIN): ")
    new_pin = _ask(args.new_pin, "Yeni PIN / new PIN: ")
    if args.new_pin is None and getpass.getpass("Yeni PIN (tekrar) / again: ") != new_pin:
        print("nes-kart-servisi: the two PINs differ", file=sys.stderr)
        return 2
    if not _PIN.fullmatch(new_pin) or not _PIN.fullmatch(puk):
        print("nes-kart-servisi: the PUK and the PIN must be 4-16 digits", file=sys.stderr)
        return 2
    try:
        serial = unlock_token(module, args.serial, args.label, puk, new_pin)
    except DemoTokenError as exc:
        print(f"nes-kart-servisi: {exc}", file=sys.stderr)
        return 1
    PinGuard(args.state_dir or _default_state_dir()).clear(serial)
    print(f"Kart {serial}: yeni PIN ayarlandı, kilit açıldı / new PIN set, card unlocked.")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    if not arguments or (
        arguments[0] not in SUBCOMMANDS and arguments[0] not in ("-h", "--help", "--version")
    ):
        arguments.insert(0, "serve")
    args = build_parser().parse_args(arguments)
    if args.command == "demo-token":
        return _demo_token(args)
    if args.command == "unlock":
        return _unlock(args)
    return _serve(args)
