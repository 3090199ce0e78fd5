"""Reusable pieces for benchmarks that need real servers (bench/revocation.py and later ones).

* **Databases**: ``create_database(name)`` makes a fresh ``nes_bench_<name>`` on the benchmark
  PostgreSQL server (``NES_BENCH_PG``, default ``postgres://postgres@127.0.0.1:5432``) and
  runs ``manage.py migrate`` against it; ``database_note``/``set_database_note`` keep a JSON
  description of what was loaded in the database's COMMENT, so a loaded database can be
  reused between runs.
* **Stacks**: :class:`Stack` is one portal as production runs it: ``gunicorn -c
  gunicorn.conf.py nesportal.wsgi`` and a ``celery worker``, both with ``DEBUG=false`` and the
  same environment (:func:`stack_env`: Redis db 14 by default (``NES_BENCH_REDIS``), a Celery
  queue of its own, SMS to a file under ``/tmp/nes_bench/<name>/``, the demo CA under
  ``var/pki``). Every process started here is stopped at exit, on Ctrl-C and on SIGTERM
  (:func:`stop_all`); a run that was killed outright leaves PID files that the next run uses to
  stop what it left behind (only processes whose command line is still ours).
* **A logged-in citizen** without captcha and SMS: :func:`login` writes a session row the way
  ``nesportal.testing.login_as`` does (in a subprocess with the stack's environment, so the
  session hash uses the stack's SECRET_KEY) and fetches a CSRF token from a page.
* **Load**: :func:`load` runs ``wrk`` (a Lua script rotates through request bodies and reports
  percentiles) when it is installed, else a threaded keep-alive Python client; both return a
  :class:`LoadResult` with requests/s and latency percentiles.
* **Comparison**: :func:`alternate` runs measurements A B A B … and :class:`Compared` gives
  medians and ratios; :func:`table` formats rows.

Nothing here is imported by the application; it runs with the project's virtualenv Python.
"""

from __future__ import annotations

import atexit
import contextlib
import http.client
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg

REPO = Path(__file__).resolve().parent.parent
# The checkout's virtualenv, else the one running this script (a git worktree without its own
# .venv, run with another checkout's .venv/bin/python: gunicorn and celery are found beside it).
VENV_BIN = REPO / ".venv" / "bin"
if not (VENV_BIN / "python").exists():
    VENV_BIN = Path(sys.executable).parent
PYTHON = str(VENV_BIN / "python") if (VENV_BIN / "python").exists() else sys.executable
WORK = Path(os.environ.get("NES_BENCH_WORK", "/tmp/nes_bench"))  # noqa: S108 (benchmark scratch)
PG_SERVER = os.environ.get("NES_BENCH_PG", "postgres://postgres@127.0.0.1:5432")
REDIS_URL = os.environ.get("NES_BENCH_REDIS", "redis://127.0.0.1:6379/14")
PKI_DIR = REPO / "var" / "pki"
DB_PREFIX = "nes_bench_"
# A fixed benchmark-only key (never a real one): web and worker must share it.
SECRET_KEY = "nes-bench-only-" + "k" * 60
VAULT_KEYS = "bench-1:YmVuY2gtb25seS12YXVsdC1rZXktMzItYnl0ZXMhISE="


# --- processes ------------------------------------------------------------------------------

_running: list[_Process] = []
_lock = threading.Lock()


@dataclass
class _Process:
    name: str
    popen: subprocess.Popen[bytes]
    log_path: Path
    pid_file: Path


def _start(name: str, command: Sequence[str], env: dict[str, str], log_path: Path) -> _Process:
    log_path.parent.mkdir(parents=True, exist_ok=True)
    log = log_path.open("wb")  # one run's log
    popen = subprocess.Popen(  # noqa: S603 (our own commands)
        list(command),
        cwd=REPO,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,  # its own process group: Ctrl-C reaches us, we stop it
    )
    log.close()
    pid_file = WORK / "pids" / f"{name}.pid"
    pid_file.parent.mkdir(parents=True, exist_ok=True)
    # The third line is the run that owns the process: a later run stops it only once that run
    # is gone (two benchmarks may run at the same time with the same NES_BENCH_WORK).
    pid_file.write_text(f"{popen.pid}\n{' '.join(command)}\n{os.getpid()}\n")
    process = _Process(name, popen, log_path, pid_file)
    with _lock:
        _running.append(process)
    return process


def _stop(process: _Process, timeout: float = 15.0) -> None:
    if process.popen.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.popen.pid, signal.SIGTERM)
        try:
            process.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.popen.pid, signal.SIGKILL)
            process.popen.wait(5)
    process.pid_file.unlink(missing_ok=True)
    with _lock, contextlib.suppress(ValueError):
        _running.remove(process)


def stop_all() -> None:
    """Stop every process this run started (newest first)."""
    with _lock:
        processes = list(reversed(_running))
    for process in processes:
        _stop(process)


def _reap_leftovers() -> None:
    """Stop processes a killed earlier run left (listed in our PID files, command line ours)."""
    for pid_file in (WORK / "pids").glob("*.pid"):
        try:
            pid_text, command, *owner = pid_file.read_text().split("\n")
            pid = int(pid_text)
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except (OSError, ValueError):
            pid_file.unlink(missing_ok=True)
            continue
        if owner and owner[0].strip().isdigit() and Path(f"/proc/{owner[0].strip()}").exists():
            continue  # another run that is still going: its processes are not leftovers
        program, _sep, arguments = command.strip().partition(" ")
        # A script's /proc cmdline starts with its interpreter: match the script and arguments.
        if cmdline.strip() and program in cmdline and arguments in cmdline:
            print(f"stopping process {pid} left by an earlier run ({pid_file.stem})")
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGTERM)
            for _i in range(100):
                if not Path(f"/proc/{pid}").exists():
                    break
                time.sleep(0.1)
        pid_file.unlink(missing_ok=True)


def _on_signal(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)


def install_cleanup() -> None:
    """Stop our servers at exit, on Ctrl-C (KeyboardInterrupt) and on SIGTERM/SIGHUP."""
    atexit.register(stop_all)
    # Also when started in the background, where SIGINT arrives ignored.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGHUP, _on_signal)
    _reap_leftovers()


# --- databases ------------------------------------------------------------------------------


def database_name(name: str) -> str:
    full = name if name.startswith(DB_PREFIX) else DB_PREFIX + name
    if not re.fullmatch(r"nes_bench_[a-z0-9_]{1,40}", full):
        raise ValueError(f"benchmark database names are nes_bench_<a-z0-9_>: {full!r}")
    return full


def database_url(name: str) -> str:
    return f"{PG_SERVER.rstrip('/')}/{database_name(name)}"


def _admin() -> psycopg.Connection:
    return psycopg.connect(f"{PG_SERVER.rstrip('/')}/postgres", autocommit=True)


def database_exists(name: str) -> bool:
    with _admin() as conn:
        return bool(
            conn.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", [database_name(name)]
            ).fetchone()
        )


def drop_database(name: str) -> None:
    with _admin() as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{database_name(name)}" WITH (FORCE)')


def create_database(name: str, env: dict[str, str] | None = None) -> None:
    """A fresh ``nes_bench_<name>`` (dropped first if it exists), migrated."""
    drop_database(name)
    with _admin() as conn:
        conn.execute(f'CREATE DATABASE "{database_name(name)}"')
    manage(env or stack_env(name, 0), "migrate", "--noinput", "-v", "0")


def database_note(name: str) -> dict[str, Any] | None:
    """What ``set_database_note`` recorded about the database (None if absent or unset)."""
    with _admin() as conn:
        row = conn.execute(
            "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = %s",
            [database_name(name)],
        ).fetchone()
    if not row or not row[0]:
        return None
    try:
        return json.loads(row[0])
    except ValueError:
        return None


def set_database_note(name: str, note: dict[str, Any]) -> None:
    text = json.dumps(note, sort_keys=True).replace("'", "''")
    with _admin() as conn:
        conn.execute(f"COMMENT ON DATABASE \"{database_name(name)}\" IS '{text}'")


def query(name: str, sql: str, params: Sequence[Any] = ()) -> list[tuple]:
    """Run one statement on a benchmark database (autocommit) and return its rows, if any."""
    with psycopg.connect(database_url(name), autocommit=True) as conn:
        cursor = conn.execute(sql, params)
        return cursor.fetchall() if cursor.description else []


# --- environment and manage.py ----------------------------------------------------------------


def stack_env(
    name: str,
    port: int,
    *,
    workers: int = 2,
    extra: dict[str, str] | None = None,
) -> dict[str, str]:
    """The environment of one benchmark stack (web, worker and its manage.py commands)."""
    directory = WORK / name
    directory.mkdir(parents=True, exist_ok=True)
    keep = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "LC_ALL", "TZ")}
    return {
        **keep,
        "DJANGO_SETTINGS_MODULE": "nesportal.settings",
        # This checkout's modules first (an editable install may point at another checkout),
        # and bench/ importable as ``bench.*`` (bench/bare_settings.py).
        "PYTHONPATH": str(REPO),
        "DEBUG": "false",
        "SECRET_KEY": SECRET_KEY,
        "VAULT_KEYS": VAULT_KEYS,
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "SECURE_SSL_REDIRECT": "false",
        "SESSION_COOKIE_SECURE": "false",
        "CSRF_COOKIE_SECURE": "false",
        "SECURE_HSTS_SECONDS": "0",
        "DATABASE_URL": database_url(name),
        "REDIS_URL": REDIS_URL,
        # Both stacks share the Redis db: each consumes only its own queue, and keeps its cache
        # entries (pre-signed OCSP, CRL announcements, throttles) under its own prefix.
        "CELERY_TASK_DEFAULT_QUEUE": f"nes-bench-{name}",
        "CACHE_KEY_PREFIX": f"nes-bench-{name}",
        # Explicit: DEBUG is off, so both are required; the file backends mask codes and tokens.
        "SMS_BACKEND": "file",
        "SMS_OUTBOX_PATH": str(directory / "sms-outbox.jsonl"),
        "EMAIL_URL": f"filemail://{directory / 'mail'}",
        "VAR_DIR": str(directory / "var"),
        "STATIC_ROOT": str(_static_root()),
        # The demo CA in the checkout; demo holders' keys (seed_demo) go to the bench dir.
        "NES_PKI_DIR": str(directory / "pki"),
        "NES_CA_CERT_PATH": str(PKI_DIR / "issuing.crt"),
        "NES_CA_KEY_PATH": str(PKI_DIR / "issuing.key"),
        "NES_CA_CHAIN_PATH": str(PKI_DIR / "root.crt"),
        "NES_OCSP_CERT_PATH": str(PKI_DIR / "ocsp.crt"),
        "NES_OCSP_KEY_PATH": str(PKI_DIR / "ocsp.key"),
        "NES_ARL_PATH": str(PKI_DIR / "root.crl"),
        "NES_ROOT_KEY_PATH": str(PKI_DIR / "root.key"),
        "GUNICORN_BIND": f"127.0.0.1:{port}",
        "WEB_CONCURRENCY": str(workers),
        "LOG_LEVEL": "INFO",  # gunicorn then logs worker restarts (max_requests)
        **(extra or {}),
    }


def _static_root() -> Path:
    """An empty STATIC_ROOT (no collectstatic: benchmarks fetch no static files; WhiteNoise
    warns about a missing directory otherwise)."""
    path = WORK / "static"
    path.mkdir(parents=True, exist_ok=True)
    return path


def require_demo_ca() -> None:
    missing = [n for n in ("issuing.crt", "issuing.key", "root.crt", "ocsp.crt", "ocsp.key")
               if not (PKI_DIR / n).exists()]  # fmt: skip
    if missing:
        raise SystemExit(
            f"the demo CA is missing in {PKI_DIR} ({', '.join(missing)}): run "
            "`DEBUG=true .venv/bin/python manage.py create_demo_ca` (or `make run` once)"
        )


def manage(env: dict[str, str], *args: str, quiet: bool = True) -> str:
    """Run ``manage.py`` with ``env``; returns its output, raises with it on failure."""
    done = subprocess.run(  # noqa: S603
        [PYTHON, "manage.py", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise RuntimeError(
            f"manage.py {' '.join(args)} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}"
        )
    if not quiet:
        print(done.stdout, end="")
    return done.stdout


_DJANGO_PRELUDE = """
import json, sys
import django
django.setup()
"""


def run_django(env: dict[str, str], code: str) -> Any:
    """Run ``code`` with Django set up in a subprocess with ``env``; it must assign ``result``
    (anything JSON can encode), which is returned."""
    script = _DJANGO_PRELUDE + code + "\nprint('\\nNESBENCH-RESULT ' + json.dumps(result))\n"
    done = subprocess.run(  # noqa: S603
        [PYTHON, "-c", script], cwd=REPO, env=env, capture_output=True, text=True
    )
    marker = [line for line in done.stdout.splitlines() if line.startswith("NESBENCH-RESULT ")]
    if done.returncode != 0 or not marker:
        raise RuntimeError(f"django snippet failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return json.loads(marker[-1].split(" ", 1)[1])


# --- stacks ---------------------------------------------------------------------------------


def free_port(preferred: int) -> int:
    """``preferred`` if nothing listens there, else a free one the OS picks."""
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as gunicorn binds
        try:
            probe.bind(("127.0.0.1", preferred))
            return preferred
        except OSError:
            probe.bind(("127.0.0.1", 0))
            return probe.getsockname()[1]


@dataclass
class Stack:
    """One portal: gunicorn (the project's gunicorn.conf.py) and a celery worker."""

    name: str
    port: int
    workers: int = 2
    worker_concurrency: int = 2
    extra_env: dict[str, str] = field(default_factory=dict)
    processes: list[_Process] = field(default_factory=list)

    @property
    def env(self) -> dict[str, str]:
        return stack_env(self.name, self.port, workers=self.workers, extra=self.extra_env)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, path: str) -> str:
        return self.base_url + path

    @property
    def log_dir(self) -> Path:
        return WORK / self.name

    def start(self, *, ready_path: str = "/ca/nes-portal.crt", timeout: float = 60.0) -> None:
        env = self.env
        gunicorn = str(VENV_BIN / "gunicorn")
        celery = str(VENV_BIN / "celery")
        self.processes.append(
            _start(
                f"{self.name}-web",
                [gunicorn, "-c", "gunicorn.conf.py", "nesportal.wsgi"],
                env,
                self.log_dir / "gunicorn.log",
            )
        )
        self.processes.append(
            _start(
                f"{self.name}-worker",
                [
                    celery, "-A", "nesportal", "worker", "--loglevel=INFO",
                    f"--concurrency={self.worker_concurrency}", "-n", f"{self.name}@%h",
                    "--without-gossip", "--without-mingle",
                ],
                env,
                self.log_dir / "worker.log",
            )
        )  # fmt: skip
        deadline = time.monotonic() + timeout
        while True:
            for process in self.processes:
                if process.popen.poll() is not None:
                    raise RuntimeError(
                        f"{process.name} exited ({process.popen.returncode}); see "
                        f"{process.log_path}:\n{process.log_path.read_text()[-3000:]}"
                    )
            with contextlib.suppress(OSError):
                if http_get(self.url(ready_path), timeout=2).status == 200 and self._worker_up():
                    return
            if time.monotonic() > deadline:
                raise RuntimeError(f"stack {self.name} not ready after {timeout:.0f} s")
            time.sleep(0.2)

    def _worker_up(self) -> bool:
        log = self.log_dir / "worker.log"
        return log.exists() and " ready." in log.read_text(errors="replace")

    def stop(self) -> None:
        for process in reversed(self.processes):
            _stop(process)
        self.processes.clear()

    def manage(self, *args: str, quiet: bool = True) -> str:
        return manage(self.env, *args, quiet=quiet)

    def web_worker_pids(self) -> list[int]:
        """gunicorn's worker processes (children of its master, the process we started)."""
        masters = [p.popen.pid for p in self.processes if p.name == f"{self.name}-web"]
        return [pid for master in masters for pid in child_pids(master)]

    def database_backend_pids(self) -> list[int]:
        """PostgreSQL backends connected to this stack's database (web and worker; gunicorn's
        threads keep theirs, CONN_MAX_AGE), not this process's own."""
        rows = self.query(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid() AND backend_type = 'client backend'"
        )
        return [pid for (pid,) in rows]

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple]:
        return query(self.name, sql, params)


# --- CPU time from /proc (Linux) ------------------------------------------------------------

_CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def child_pids(parent: int) -> list[int]:
    """Direct children of ``parent`` (from every /proc/<pid>/stat)."""
    children = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[1]) == parent:
                children.append(int(stat.parent.name))
    return children


def cpu_seconds(pids: Iterable[int]) -> dict[int, float]:
    """User + system CPU seconds so far of each process that still exists."""
    times = {}
    for pid in pids:
        with contextlib.suppress(OSError, ValueError, IndexError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            times[pid] = (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS  # utime, stime
    return times


def cpu_used(before: dict[int, float], after: dict[int, float]) -> float:
    """CPU seconds between two :func:`cpu_seconds` samples (a process that started in between
    counts from zero; one that exited in between is lost)."""
    return sum(t - before.get(pid, 0.0) for pid, t in after.items())


# --- HTTP -----------------------------------------------------------------------------------


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes
    seconds: float
    cookies: dict[str, str] = field(default_factory=dict)


def http_request(
    url: str,
    *,
    method: str = "GET",
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
    timeout: float = 30.0,
) -> Response:
    """One request on a new connection (no redirects followed)."""
    parts = urllib.parse.urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    started = time.perf_counter()
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        data = response.read()
        seconds = time.perf_counter() - started
        cookies = {}
        for name, value in response.getheaders():
            if name.lower() == "set-cookie":
                key, _sep, rest = value.partition("=")
                cookies[key.strip()] = rest.split(";", 1)[0]
        return Response(
            response.status,
            {k.lower(): v for k, v in response.getheaders()},
            data,
            seconds,
            cookies,
        )
    finally:
        connection.close()


def http_get(url: str, **kwargs: Any) -> Response:
    return http_request(url, **kwargs)


# --- a logged-in citizen --------------------------------------------------------------------

_SESSION_CODE = """
from importlib import import_module
from django.conf import settings
from accounts.models import Citizen
from accounts.services import SESSION_CITIZEN, SESSION_CITIZEN_HASH, session_hash

citizen = Citizen.objects.by_identifier(IDENTIFIER).get()
session = import_module(settings.SESSION_ENGINE).SessionStore()
session[SESSION_CITIZEN] = citizen.pk
session[SESSION_CITIZEN_HASH] = session_hash(citizen)
session.save()
result = {"session_key": session.session_key, "cookie": settings.SESSION_COOKIE_NAME,
          "csrf_cookie": settings.CSRF_COOKIE_NAME, "citizen_id": citizen.pk}
"""

_CSRF_RE = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


@dataclass
class LoggedIn:
    """A citizen's session on a stack: send ``headers`` with every request, and ``csrf`` as
    ``csrfmiddlewaretoken`` in POST forms."""

    session_key: str
    cookie_header: str
    csrf: str
    citizen_id: int

    @property
    def headers(self) -> dict[str, str]:
        return {"Cookie": self.cookie_header}

    def form(self, **fields: str) -> bytes:
        return urllib.parse.urlencode({"csrfmiddlewaretoken": self.csrf, **fields}).encode()


def login(stack: Stack, identifier: str, *, csrf_page: str) -> LoggedIn:
    """A session for the citizen with this T.C. Kimlik No / passport number, made server-side
    (as ``nesportal.testing.login_as``), and a CSRF token from ``csrf_page`` (a page with a
    POST form, fetched with that session)."""
    made = run_django(stack.env, f"IDENTIFIER = {identifier!r}\n" + _SESSION_CODE)
    session_cookie = f"{made['cookie']}={made['session_key']}"
    page = http_get(stack.url(csrf_page), headers={"Cookie": session_cookie})
    match = _CSRF_RE.search(page.body.decode("utf-8", "replace"))
    csrf_cookie = page.cookies.get(made["csrf_cookie"])
    if page.status != 200 or match is None or csrf_cookie is None:
        raise RuntimeError(
            f"no CSRF token on {csrf_page} (HTTP {page.status}): is the session accepted?"
        )
    return LoggedIn(
        made["session_key"],
        f"{session_cookie}; {made['csrf_cookie']}={csrf_cookie}",
        match.group(1),
        made["citizen_id"],
    )


# --- load -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class LoadResult:
    requests: int
    seconds: float
    errors: int  # connection errors, timeouts and HTTP statuses >= 400
    p50_ms: float
    p90_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float
    tool: str

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


_WRK_LUA = r"""
local bodies = {}
local n = 0
local method = "%(method)s"
local headers = %(headers)s
local bodies_file = %(bodies_file)s

local function unhex(s)
  return (s:gsub("..", function(cc) return string.char(tonumber(cc, 16)) end))
end

init = function(args)
  if bodies_file then
    for line in io.lines(bodies_file) do
      if #line > 0 then bodies[#bodies + 1] = unhex(line) end
    end
  end
end

request = function()
  local body = nil
  if #bodies > 0 then
    n = n %% #bodies + 1
    body = bodies[n]
  end
  return wrk.format(method, nil, headers, body)
end

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("NESBENCH %%d %%d %%d %%d %%d %%d %%d %%d %%d %%d %%d %%d\n",
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(95),
    latency:percentile(99), latency.max))
end
"""


def _lua_string(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _wrk(
    url: str,
    *,
    method: str,
    headers: dict[str, str],
    bodies: Sequence[bytes] | None,
    duration: float,
    connections: int,
    threads: int,
) -> LoadResult:
    with tempfile.TemporaryDirectory(prefix="nes-wrk-") as directory:
        bodies_file = "nil"
        if bodies:
            path = Path(directory) / "bodies.hex"
            path.write_text("\n".join(body.hex() for body in bodies) + "\n")
            bodies_file = _lua_string(str(path))
        lua_headers = (
            "{"
            + ", ".join(f"[{_lua_string(k)}] = {_lua_string(v)}" for k, v in headers.items())
            + "}"
        )
        script = Path(directory) / "bench.lua"
        script.write_text(
            _WRK_LUA % {"method": method, "headers": lua_headers, "bodies_file": bodies_file}
        )
        done = subprocess.run(  # noqa: S603
            [
                shutil.which("wrk") or "wrk",
                f"-t{threads}",
                f"-c{connections}",
                f"-d{max(1, round(duration))}s",
                "--timeout",
                "30s",
                "-s",
                str(script),
                url,
            ],
            capture_output=True,
            text=True,
        )
    line = next((x for x in done.stdout.splitlines() if x.startswith("NESBENCH ")), None)
    if line is None:
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stdout}\n{done.stderr}")
    values = [int(v) for v in line.split()[1:]]
    requests, micros, connect, read, write, status, timeout = values[:7]
    p50, p90, p95, p99, worst = (v / 1000 for v in values[7:])
    return LoadResult(
        requests,
        micros / 1e6,
        connect + read + write + status + timeout,
        p50,
        p90,
        p95,
        p99,
        worst,
        "wrk",
    )


def _python_load(
    url: str,
    *,
    method: str,
    headers: dict[str, str],
    bodies: Sequence[bytes] | None,
    duration: float,
    connections: int,
) -> LoadResult:
    """``connections`` threads, each with one keep-alive connection, for ``duration`` s."""
    parts = urllib.parse.urlsplit(url)
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    latencies: list[list[float]] = [[] for _ in range(connections)]
    errors = [0] * connections
    deadline = time.perf_counter() + duration

    def run(index: int) -> None:
        connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
        n = index
        while time.perf_counter() < deadline:
            body = bodies[n % len(bodies)] if bodies else None
            n += connections
            started = time.perf_counter()
            try:
                connection.request(method, path, body=body, headers=headers)
                response = connection.getresponse()
                response.read()
                if response.status >= 400:
                    errors[index] += 1
            except (OSError, http.client.HTTPException):
                errors[index] += 1
                connection.close()
                connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
                continue
            latencies[index].append((time.perf_counter() - started) * 1000)
        connection.close()

    started = time.perf_counter()
    workers = [threading.Thread(target=run, args=(i,)) for i in range(connections)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    seconds = time.perf_counter() - started
    merged = sorted(x for per in latencies for x in per)
    return LoadResult(
        len(merged),
        seconds,
        sum(errors),
        percentile(merged, 50),
        percentile(merged, 90),
        percentile(merged, 95),
        percentile(merged, 99),
        merged[-1] if merged else 0.0,
        "python",
    )


def load(
    url: str,
    *,
    method: str = "GET",
    headers: dict[str, str] | None = None,
    bodies: Sequence[bytes] | None = None,
    duration: float = 3.0,
    connections: int = 8,
    threads: int = 2,
    tool: str | None = None,
) -> LoadResult:
    """Drive ``url`` for ``duration`` seconds; ``bodies`` are sent in turn (POST bodies)."""
    tool = tool or ("wrk" if shutil.which("wrk") else "python")
    if tool == "wrk":
        return _wrk(
            url,
            method=method,
            headers=headers or {},
            bodies=bodies,
            duration=duration,
            connections=connections,
            threads=threads,
        )
    return _python_load(
        url,
        method=method,
        headers=headers or {},
        bodies=bodies,
        duration=duration,
        connections=connections,
    )


# --- statistics and comparison --------------------------------------------------------------


def percentile(values: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile of already sorted values (0 for none)."""
    if not values:
        return 0.0
    rank = max(1, min(len(values), round(pct / 100 * len(values) + 0.5)))
    return values[rank - 1]


def median(values: Iterable[float]) -> float:
    values = list(values)
    return statistics.median(values) if values else float("nan")


def ratio(a: float, b: float) -> float:
    return a / b if b else float("inf")


@dataclass
class Compared:
    """Samples per variant (e.g. ``{"SMALL": [...], "LARGE": [...]}``) from :func:`alternate`."""

    samples: dict[str, list[Any]]

    def median(self, variant: str, key: Callable[[Any], float] = float) -> float:
        return median(key(x) for x in self.samples[variant])

    def ratio(self, a: str, b: str, key: Callable[[Any], float] = float) -> float:
        """Ratio of the medians."""
        return ratio(self.median(a, key), self.median(b, key))

    def paired_ratio(self, a: str, b: str, key: Callable[[Any], float] = float) -> float:
        """Median of the per-round ratios a_i / b_i: each pair ran back to back, so slow drift
        of a noisy machine cancels out within a pair."""
        pairs = zip(self.samples[a], self.samples[b], strict=True)
        return median(ratio(key(x), key(y)) for x, y in pairs)


def alternate(variants: dict[str, Callable[[], Any]], rounds: int) -> Compared:
    """Run each variant once per round, in the given order every round: A B A B …"""
    samples: dict[str, list[Any]] = {name: [] for name in variants}
    for _round in range(rounds):
        for name, measure in variants.items():
            samples[name].append(measure())
    return Compared(samples)


def table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """A plain-text table (numbers right-aligned, text left-aligned)."""
    raw_rows = [list(row) for row in rows]
    text_rows = [[_cell(value) for value in row] for row in raw_rows]
    widths = [
        max([len(headers[i])] + [len(row[i]) for row in text_rows]) for i in range(len(headers))
    ]

    def line(cells: Sequence[str], raw: Sequence[Any] | None = None) -> str:
        out = []
        for i, cell in enumerate(cells):
            numeric = raw is not None and isinstance(raw[i], int | float)
            out.append(cell.rjust(widths[i]) if numeric else cell.ljust(widths[i]))
        return "  ".join(out).rstrip()

    lines = [line(headers), line(["-" * w for w in widths])]
    lines += [line(cells, raw) for raw, cells in zip(raw_rows, text_rows, strict=True)]
    return "\n".join(lines)


def _cell(value: Any) -> str:
    if isinstance(value, float):
        if value != value:  # NaN
            return "-"
        if abs(value) >= 100:
            return f"{value:,.0f}"
        if abs(value) >= 10:
            return f"{value:.1f}"
        return f"{value:.2f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


# --- command line: serve existing benchmark databases by hand ----------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    """``harness.py serve NAME[:PORT] …``: start stacks on existing nes_bench_* databases until
    Ctrl-C (to look at them by hand); ``harness.py drop NAME …``: drop benchmark databases."""
    import argparse

    parser = argparse.ArgumentParser(prog="bench/harness.py", description=main.__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="start gunicorn + worker on existing databases")
    serve.add_argument("stacks", nargs="+", help="NAME or NAME:PORT (database nes_bench_NAME)")
    serve.add_argument("--workers", type=int, default=2)
    drop = sub.add_parser("drop", help="drop benchmark databases")
    drop.add_argument("names", nargs="+")
    args = parser.parse_args(argv)
    if args.command == "drop":
        for name in args.names:
            drop_database(name)
            print(f"dropped {database_name(name)}")
        return 0
    install_cleanup()
    require_demo_ca()
    stacks = []
    for i, spec in enumerate(args.stacks):
        name, _sep, port = spec.partition(":")
        if not database_exists(name):
            raise SystemExit(f"{database_name(name)} does not exist")
        stack = Stack(name, free_port(int(port or 18101 + i)), workers=args.workers)
        stack.start()
        stacks.append(stack)
        print(f"{name}: {stack.base_url}  (logs: {stack.log_dir})", flush=True)
    print("Ctrl-C stops them.", flush=True)
    try:
        while all(p.popen.poll() is None for s in stacks for p in s.processes):
            time.sleep(1)
        print("a process exited; stopping")
    except KeyboardInterrupt:
        pass
    finally:
        stop_all()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
