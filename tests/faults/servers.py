"""Servers the fault tests start, break and restart themselves (never the machine's shared ones).

* ``RedisServer``: a private ``redis-server`` on a free port, stopped and started again on the
  same port;
* ``HungListener``: a TCP port that accepts connections and never answers (a hung Redis, a
  half-open connection after a failover);
* ``PostgresServer``: a private PostgreSQL cluster (``initdb``/``pg_ctl`` as the ``postgres``
  user in a temporary directory), restarted under load;
* ``Gunicorn``: the project's ``gunicorn.conf.py`` with DEBUG off, logs captured to a file;
* ``Browser``: a ``requests`` session that fills in forms the way a person does (CSRF field,
  captcha answered from ``CaptchaStore``, as a person reading the image would).

Waiting is bounded polling, never a bare sleep.
"""

from __future__ import annotations

import glob
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

POLL = 0.05
ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def poll(what: str, check: Callable[[], Any], timeout: float, log: Callable[[], str] = str) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}\n{log()}")
        time.sleep(POLL)  # bounded polling of another process


def _stop(proc: subprocess.Popen[bytes] | None) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=5)


# -- Redis ---------------------------------------------------------------------------------


class RedisServer:
    """A private redis-server (no persistence) on ``port``; ``stop()`` and ``start()`` again."""

    def __init__(self, directory: Path, port: int | None = None) -> None:
        self.directory = directory
        self.port = port or free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def ping(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as s:
                s.sendall(b"PING\r\n")
                return s.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def start(self) -> RedisServer:
        exe = shutil.which("redis-server")
        if exe is None:
            pytest.skip("needs redis-server (Debian's redis-server package)")
        log = open(self.directory / "redis.log", "ab")  # noqa: SIM115 (the process owns it)
        self.proc = subprocess.Popen(
            [exe, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.directory)],
            stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        log.close()
        poll("the private redis-server", self.ping, 15)
        return self

    def stop(self) -> None:
        _stop(self.proc)
        self.proc = None


class HungListener:
    """Accepts TCP connections on a free port and never sends a byte."""

    def __init__(self) -> None:
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(64)
        self.port = self._sock.getsockname()[1]
        self._held: list[socket.socket] = []
        self._thread = threading.Thread(target=self._accept, daemon=True, name="hung-listener")
        self._thread.start()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            self._held.append(conn)

    def close(self) -> None:
        self._sock.close()
        for conn in self._held:
            conn.close()


# -- PostgreSQL ----------------------------------------------------------------------------


def _pg_bin(name: str) -> str | None:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return found[-1] if found else shutil.which(name)


class PostgresServer:
    """A private PostgreSQL cluster (trust auth, 127.0.0.1:``port``) in a directory of its own
    under /tmp (pytest's tmp_path is root's alone; the server runs as ``postgres``)."""

    def __init__(self) -> None:
        self.directory = Path(tempfile.mkdtemp(prefix="nes-faults-pg-"))
        self.data = self.directory / "pgdata"
        self.port = free_port()
        self.pg_ctl = _pg_bin("pg_ctl")
        self.initdb = _pg_bin("initdb")
        if not (self.pg_ctl and self.initdb):
            pytest.skip("needs PostgreSQL's server binaries (/usr/lib/postgresql/*/bin)")

    def _as_postgres(self, *args: str) -> subprocess.CompletedProcess[str]:
        command = list(args)
        if os.geteuid() == 0:  # initdb and postgres refuse to run as root
            command = ["runuser", "-u", "postgres", "--", *command]
        return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)

    def url(self, name: str = "postgres") -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{name}"

    def init(self) -> PostgresServer:
        self.directory.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(self.directory, "postgres", "postgres")
        done = self._as_postgres(
            self.initdb, "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8"
        )
        assert done.returncode == 0, done.stdout + done.stderr
        return self

    def _options(self) -> str:
        return f"-p {self.port} -k {self.data} -c listen_addresses=127.0.0.1 -c fsync=off"

    def start(self) -> None:
        done = self._as_postgres(
            self.pg_ctl, "-D", str(self.data), "-l", str(self.data / "server.log"), "-w",
            "-o", self._options(), "start",
        )  # fmt: skip
        assert done.returncode == 0, done.stdout + done.stderr + self.log()

    def restart(self) -> None:
        done = self._as_postgres(
            self.pg_ctl, "-D", str(self.data), "-l", str(self.data / "server.log"), "-w",
            "-m", "fast", "-o", self._options(), "restart",
        )  # fmt: skip
        assert done.returncode == 0, done.stdout + done.stderr + self.log()

    def stop(self) -> None:
        self._as_postgres(self.pg_ctl, "-D", str(self.data), "-w", "-m", "immediate", "stop")
        shutil.rmtree(self.directory, ignore_errors=True)

    def log(self) -> str:
        path = self.data / "server.log"
        return path.read_text(errors="replace") if path.exists() else ""


# -- gunicorn ------------------------------------------------------------------------------


def production_env(**extra: str) -> dict[str, str]:
    """The environment of a production web process (DEBUG off), plus ``extra``."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DJANGO_", "DATABASE_", "REDIS_", "CELERY_", "SMS_", "CACHE_"))
    }
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "nesportal.settings",
            "DEBUG": "false",
            "SECRET_KEY": "fault-test-secret-key-" + "k" * 40,
            "VAULT_KEYS": "fault-1:ZmF1bHQtdGVzdC12YXVsdC1rZXktMzItYnl0ZXMhISE=",
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            # Plain HTTP on 127.0.0.1: the TLS proxy is not part of these tests.
            "SECURE_SSL_REDIRECT": "false",
            "SESSION_COOKIE_SECURE": "false",
            "CSRF_COOKIE_SECURE": "false",
            "EMAIL_URL": "smtp://127.0.0.1:1",
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.update(extra)
    return env


class Gunicorn:
    """``gunicorn -c gunicorn.conf.py`` on a free port; access and error log in ``log_path``."""

    def __init__(self, env: dict[str, str], directory: Path, *, workers: int = 2) -> None:
        self.port = free_port()
        self.log_path = directory / f"gunicorn-{self.port}.log"
        self.env = {
            **env,
            "GUNICORN_BIND": f"127.0.0.1:{self.port}",
            "WEB_CONCURRENCY": str(workers),
            "GUNICORN_TIMEOUT": "30",
        }
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def __enter__(self) -> Gunicorn:
        import requests

        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "gunicorn", "-c", str(ROOT / "gunicorn.conf.py")],
                cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT,
            )  # fmt: skip

        def up() -> bool:
            if self.proc is not None and self.proc.poll() is not None:
                pytest.fail(f"gunicorn exited ({self.proc.returncode}):\n{self.log()}")
            try:
                return requests.get(self.url + "/", timeout=2).status_code < 500
            except requests.RequestException:
                return False

        poll("gunicorn to answer", up, 60, self.log)
        return self

    def __exit__(self, *exc_info: object) -> None:
        _stop(self.proc)


# -- a person with a browser -----------------------------------------------------------------

CSRF_RE = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
CAPTCHA_RE = re.compile(r'name="captcha_0" value="([0-9a-f]{40})"')


class Browser:
    """A cookie-keeping HTTP client against ``base``, filling forms as a person would."""

    def __init__(self, base: str, timeout: float = 30.0) -> None:
        import requests

        self.base = base
        self.timeout = timeout
        self.session = requests.Session()

    def get(self, path: str, **kwargs: Any) -> Any:
        kwargs.setdefault("allow_redirects", True)
        return self.session.get(self.base + path, timeout=self.timeout, **kwargs)

    def post_form(self, path: str, data: dict[str, str], page: str | None = None) -> Any:
        """GET the form at ``page`` (default ``path``), then POST it with its CSRF token and,
        if it has one, the captcha answered."""
        from captcha.models import CaptchaStore

        html = self.get(page or path).text
        fields = dict(data)
        csrf = CSRF_RE.search(html)
        if csrf:
            fields["csrfmiddlewaretoken"] = csrf.group(1)
        captcha = CAPTCHA_RE.search(html)
        if captcha:
            key = captcha.group(1)
            fields["captcha_0"] = key
            fields["captcha_1"] = CaptchaStore.objects.get(hashkey=key).response
        return self.session.post(
            self.base + path,
            data=fields,
            timeout=self.timeout,
            headers={"Referer": self.base + (page or path)},
        )
