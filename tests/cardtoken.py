"""Test tools: a SoftHSM2 token holding a key + certificate, and the REAL card service process.

::

    token = make_token(tmp_path / "token", key=private_key, certificate=certificate)
    with run_service(token, origins=[live_server.url], state_dir=tmp_path / "state") as service:
        settings.NES_CARD_SERVICE_URL = service.url
        ...

Both skip the test (``pytest.skip``) when SoftHSM2 or the card service package is missing,
unless NES_REQUIRE_SERVICES=1 (``.ci/run``), which makes that a failure instead. The token is
made by the service's own ``demo-token`` command in a child process (python-pkcs11 loads one
PKCS#11 module per process, and SoftHSM2 reads SOFTHSM2_CONF when it is loaded), and the
service runs as ``python -m nes_kart_servisi serve`` exactly as a citizen starts it.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes

SOFTHSM_MODULES = (
    "/usr/lib/softhsm/libsofthsm2.so",
    "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
    "/usr/local/lib/softhsm/libsofthsm2.so",
)
DEFAULT_PIN = "123456"
DEFAULT_SO_PIN = "12345678"


def softhsm_module() -> str | None:
    for path in SOFTHSM_MODULES:
        if os.path.exists(path):
            return path
    return None


def _missing() -> str | None:
    if shutil.which("softhsm2-util") is None or softhsm_module() is None:
        return "needs SoftHSM2: apt-get install softhsm2 (CI does)"
    try:
        import nes_kart_servisi  # noqa: F401
    except ImportError:
        return "needs the card service: pip install -e ./cardservice (make install does)"
    return None


def require_softhsm() -> str:
    """The SoftHSM2 module's path; skips (or, with NES_REQUIRE_SERVICES=1, fails) without it."""
    reason = _missing()
    if reason is not None:
        if os.environ.get("NES_REQUIRE_SERVICES") == "1":
            pytest.fail(f"NES_REQUIRE_SERVICES=1 but this test {reason}", pytrace=False)
        pytest.skip(reason)
    module = softhsm_module()
    assert module is not None
    return module


@dataclass(frozen=True)
class Token:
    """A SoftHSM2 token made by :func:`make_token`."""

    conf: Path
    serial: str
    label: str
    pin: str
    so_pin: str
    ids: tuple[str, ...]
    module: str = field(default="/usr/lib/softhsm/libsofthsm2.so")

    @property
    def directory(self) -> Path:
        return self.conf.parent


def _write_pair(
    directory: Path, index: int, key: PrivateKeyTypes, certificate: x509.Certificate
) -> tuple[Path, Path]:
    key_path = directory / f"key{index}.pem"
    cert_path = directory / f"cert{index}.pem"
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    key_path.chmod(0o600)
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    return key_path, cert_path


def make_token(
    directory: Path,
    *,
    key: PrivateKeyTypes,
    certificate: x509.Certificate,
    label: str = "AKIS-TEST",
    pin: str = DEFAULT_PIN,
    so_pin: str = DEFAULT_SO_PIN,
    extra: Iterable[tuple[PrivateKeyTypes, x509.Certificate]] = (),
) -> Token:
    """A fresh SoftHSM2 token in ``directory`` (its own softhsm2.conf), holding ``key`` and
    ``certificate`` under one CKA_ID (then each ``extra`` pair under its own)."""
    module = require_softhsm()
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    source = directory / "source"
    source.mkdir(exist_ok=True)
    arguments = [
        sys.executable,
        "-m",
        "nes_kart_servisi",
        "demo-token",
        "--dir",
        str(directory),
        "--label",
        label,
        "--pin",
        pin,
        "--so-pin",
        so_pin,
        "--module",
        module,
        "--json",
    ]
    for index, (k, c) in enumerate([(key, certificate), *extra]):
        key_path, cert_path = _write_pair(source, index, k, c)
        arguments += ["--key", str(key_path), "--cert", str(cert_path)]
    done = subprocess.run(arguments, capture_output=True, text=True, timeout=60, check=False)
    for path in source.glob("key*.pem"):
        path.unlink()  # the key now lives on the token only
    if done.returncode != 0:
        raise RuntimeError(f"demo-token failed ({done.returncode}): {done.stderr}{done.stdout}")
    data = json.loads(done.stdout.strip().splitlines()[-1])
    return Token(
        conf=Path(data["conf"]),
        serial=data["serial"],
        label=data["label"],
        pin=pin,
        so_pin=so_pin,
        ids=tuple(data["ids"]),
        module=data["module"],
    )


@dataclass
class Service:
    """A running card service (:func:`run_service`)."""

    url: str
    port: int
    process: subprocess.Popen[bytes]
    log: IO[bytes]
    conf: Path
    state_dir: Path
    origins: tuple[str, ...]

    def output(self) -> str:
        """Everything the process wrote to stdout and stderr so far."""
        self.log.flush()
        self.log.seek(0)
        return self.log.read().decode("utf-8", "replace")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url + "/", timeout=1) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def service_command(
    *, module: str, port: int, origins: Sequence[str], state_dir: Path, extra: Sequence[str] = ()
) -> list[str]:
    command = [sys.executable, "-m", "nes_kart_servisi", "serve", "--module", module]
    command += ["--port", str(port), "--state-dir", str(state_dir)]
    for origin in origins:
        command += ["--origin", origin]
    return [*command, *extra]


@contextmanager
def run_service(
    token_or_conf: Token | Path | str,
    *,
    origins: Iterable[str],
    state_dir: Path,
    module: str | None = None,
    extra_args: Sequence[str] = (),
    env: dict[str, str] | None = None,
    timeout: float = 15.0,
    port: int | None = None,
) -> Iterator[Service]:
    """Start ``python -m nes_kart_servisi serve`` on a free port (or on ``port``, which a page
    may already know) with SOFTHSM2_CONF of the token; yield once ``GET /`` answers; stop the
    process at exit."""
    softhsm = require_softhsm()
    if isinstance(token_or_conf, Token):
        conf = token_or_conf.conf
        module = module or token_or_conf.module
    else:
        conf = Path(token_or_conf)
    module = module or softhsm
    origins = tuple(origins)
    state_dir = Path(state_dir)
    state_dir.mkdir(parents=True, exist_ok=True)
    child_env = {**os.environ, **(env or {}), "SOFTHSM2_CONF": str(conf), "PYTHONUNBUFFERED": "1"}
    fixed = port
    for _attempt in range(1 if fixed else 3):
        port = fixed or free_port()
        url = f"http://127.0.0.1:{port}"
        log = tempfile.TemporaryFile()  # noqa: SIM115 (closed below, after the process)
        process = subprocess.Popen(
            service_command(
                module=module, port=port, origins=origins, state_dir=state_dir, extra=extra_args
            ),
            stdout=log,
            stderr=subprocess.STDOUT,
            env=child_env,
        )
        service = Service(url, port, process, log, conf, state_dir, origins)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and process.poll() is None and not _answers(url):
            time.sleep(0.05)
        if process.poll() is None and _answers(url):
            break
        _stop(process)
        output = service.output()
        log.close()
        if fixed or "cannot listen" not in output:
            raise RuntimeError(f"the card service did not start: {output}")
    else:
        raise RuntimeError("the card service found no free port")
    try:
        yield service
    finally:
        _stop(process)
        log.close()


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


def request(
    service: Service,
    method: str,
    path: str,
    *,
    body: Any = None,
    raw: bytes | None = None,
    origin: str | None = "",
    headers: dict[str, str] | None = None,
    host: str | None = None,
) -> tuple[int, dict[str, str], Any]:
    """A raw HTTP request to the service (http.client: Host and Origin exactly as given).

    ``origin=""`` (the default) sends the service's first allowed origin, ``None`` none.
    Returns (status, headers with lower-case names, decoded JSON or the text)."""
    import http.client

    connection = http.client.HTTPConnection("127.0.0.1", service.port, timeout=10)
    send_headers = {"Host": host or f"127.0.0.1:{service.port}"}
    if origin == "":
        origin = service.origins[0]
    if origin is not None:
        send_headers["Origin"] = origin
    data: bytes | None = raw
    if body is not None:
        data = json.dumps(body).encode("utf-8")
        send_headers["Content-Type"] = "application/json"
    if data is not None:
        send_headers["Content-Length"] = str(len(data))
    send_headers.update(headers or {})
    try:
        connection.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
        for name, value in send_headers.items():
            connection.putheader(name, value)
        connection.endheaders(data)
        response = connection.getresponse()
        payload = response.read()
        answer_headers = {name.lower(): value for name, value in response.getheaders()}
    finally:
        connection.close()
    content_type = answer_headers.get("content-type", "")
    decoded: Any = payload.decode("utf-8", "replace")
    if content_type.startswith("application/json") and payload:
        decoded = json.loads(payload)
    return response.status, answer_headers, decoded
