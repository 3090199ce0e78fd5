"""Login capacity: full Şifreli Giriş logins with the OLD Argon2 parameters against the NEW ones.

Needs PostgreSQL and Redis (bench/harness.py: NES_BENCH_PG, NES_BENCH_REDIS, default the local
servers, Redis db 14, which it empties) and the demo CA in ``var/pki``. Run:

    .venv/bin/python bench/logins.py                       # ~7 min: 3 rounds
    .venv/bin/python bench/logins.py --rounds 5 --duration 20

Three stacks side by side (gunicorn with ``gunicorn.conf.py`` and a celery worker, DEBUG off,
started and stopped here), each with its own database of ``--citizens`` scale citizens
(``load_scale_data``, no certificates; every citizen of a stack shares one hash, made with
that stack's hasher):

* OLD: ``nes_bench_login_old``, Django's ``Argon2PasswordHasher`` first (m=100 MiB, t=2, p=8,
  the portal's hasher before December 2026);
* NEW: ``nes_bench_login_new``, the project's ``PASSWORD_HASHERS`` unchanged
  (``nesportal.hashers``);
* MIGRATING: ``nes_bench_login_mig``, NEW's hashers but every citizen's hash copied from OLD:
  the day the new parameters are deployed. Each right word is then checked with the old
  parameters and rehashed (``nes.login.word_rehashed``), and a wrong word on a known ID still
  costs the old check while an unknown ID costs the new dummy: the enumeration ratio shows
  what that window leaks.

The only differences are in a settings module this script writes under /tmp/nes_bench/ (on
``PYTHONPATH``, imported instead of ``nesportal.settings``, of which it is a copy): the
hashers, and ``DEV_BACKENDS_SHOW_SECRETS`` so that the file outbox shows the SMS codes with
DEBUG off. Benchmark only; nothing in the project reads it. The captcha is solved with its
real answer, read from the stack's ``captcha_captchastore`` row (as the tests do): no test mode,
which the settings refuse with DEBUG off. The per-client throttles (everything comes from
127.0.0.1) are raised through ``NES_THROTTLES``; each citizen logs in at most once per run, so
the SMS budgets never refuse.

A login is what a person does: GET /giris/ (a captcha), POST the ID, captcha and word (→ 302
/giris/sms/), wait for the SMS in the stack's outbox file (sent by the celery worker), POST the
code (→ 302 /islemler/). Measured, alternating OLD NEW MIGRATING OLD NEW MIGRATING …
(medians over rounds, ratios to OLD):

1. ``--clients`` (8) parallel clients logging in for ``--duration`` s: logins/s, per core of
   the machine and per CPU-second the web and worker processes used (/proc), p50/p99 of the
   whole login and of the word step (POST /giris/) alone, failures;
2. gunicorn worker RSS peak during the burst (VmRSS of every worker sampled every 50 ms; and
   VmHWM at the end of the run), target NEW ≤ 150 MiB, and the largest worker's RSS 1 s after
   the burst (what it keeps: gunicorn.conf.py's fixed mmap threshold gives Argon2's blocks
   back);
3. enumeration timing: one client, the word step with an unknown ID against a known ID with a
   wrong word (each known citizen gets one wrong word, so none locks), ``--enum`` pairs
   alternating; ratio of the medians unknown / known, target NEW within 0.9–1.1.

Prints tables and a summary block, saves them under /tmp/nes_bench/; exits 1 if a target is
missed.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import statistics
import sys
import threading
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))
# A scratch directory of its own: the harness stops processes listed in its PID files that an
# earlier run left, and must never take a parallel benchmark's (bench/pages.py …) for those.
os.environ.setdefault("NES_BENCH_WORK", "/tmp/nes_bench_login")  # noqa: S108

import harness  # noqa: E402
import psycopg  # noqa: E402

from accounts.identity import tckn_check_digits  # noqa: E402 (pure; no Django setup needed)

LABELS = ("OLD", "NEW", "MIGRATING")
NAMES = {"OLD": "login_old", "NEW": "login_new", "MIGRATING": "login_mig"}
SCALE_WORD = "ölçek-sözcüğü-2026"  # nesportal.scale.SECURITY_WORD
RSS_TARGET_MIB = 150.0
ENUM_RATIO = (0.9, 1.1)
THROTTLES = ";".join(["100000/m", "1000000/h"])
NES_THROTTLES = ",".join(
    f"{name}={THROTTLES}" for name in ("login", "login_code", "captcha")
)  # fmt: skip

SETTINGS_MODULE = "nes_bench_login_settings_{label}"
SETTINGS_TEXT = '''"""Benchmark only (bench/logins.py writes it): nesportal.settings with {what}."""
from nesportal.settings import *  # noqa: F403

{hashers}
# The file outbox shows SMS codes with DEBUG off, so that the benchmark can type them.
DEV_BACKENDS_SHOW_SECRETS = True
'''
HASHERS = {
    "OLD": 'PASSWORD_HASHERS = ["django.contrib.auth.hashers.Argon2PasswordHasher"]',
    "NEW": "# PASSWORD_HASHERS: the project's own.",
    "MIGRATING": "# PASSWORD_HASHERS: the project's own (the citizens' hashes are OLD ones).",
}

CSRF_RE = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
CAPTCHA_RE = re.compile(r'name="captcha_0" value="([0-9a-f]{40})"')
CODE_RE = re.compile(r"\b(\d{6})\b")


# --- setup ----------------------------------------------------------------------------------


def settings_dir() -> Path:
    directory = harness.WORK / "login_settings"
    directory.mkdir(parents=True, exist_ok=True)
    for label in LABELS:
        what = "Django's Argon2 defaults first" if label == "OLD" else "the project's hashers"
        text = SETTINGS_TEXT.format(what=what, hashers=HASHERS[label])
        (directory / f"{SETTINGS_MODULE.format(label=label.lower())}.py").write_text(text)
    return directory


def extra_env(label: str) -> dict[str, str]:
    return {
        "DJANGO_SETTINGS_MODULE": SETTINGS_MODULE.format(label=label.lower()),
        # The checkout first (its modules win over any installed copy), then the settings.
        "PYTHONPATH": f"{harness.REPO}:{settings_dir()}",
        "NES_THROTTLES": NES_THROTTLES,
    }


def build(label: str, citizens: int, port: int) -> harness.Stack:
    stack = harness.Stack(NAMES[label], port, extra_env=extra_env(label))
    env = stack.env
    harness.create_database(NAMES[label], env)
    harness.manage(
        env, "load_scale_data", "--force", "--citizens", str(citizens),
        "--certificates-per-citizen", "0", "--seed", "20261202",
    )  # fmt: skip
    return stack


def hash_parameters(stack: harness.Stack) -> str:
    encoded = stack.query("SELECT security_word_hash FROM accounts_citizen LIMIT 1")[0][0]
    parts = encoded.split("$")
    return f"{parts[1]} {parts[3]}"


# --- the SMS outbox -------------------------------------------------------------------------


class Outbox:
    """Tails a stack's SMS outbox file: the newest code per phone number."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.codes: dict[str, tuple[str, float]] = {}
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self.path.exists() and not self._stop.is_set():
            time.sleep(0.02)
        with self.path.open(encoding="utf-8") as fh:
            buffer = ""
            while not self._stop.is_set():
                chunk = fh.read()
                if not chunk:
                    time.sleep(0.01)
                    continue
                buffer += chunk
                *lines, buffer = buffer.split("\n")
                with self._cond:
                    for line in lines:
                        entry = json.loads(line)
                        match = CODE_RE.search(entry["body"])
                        if match:
                            self.codes[entry["to"]] = (match.group(1), time.monotonic())
                    self._cond.notify_all()

    def wait_code(self, phone: str, since: float, timeout: float = 30.0) -> str | None:
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                got = self.codes.get(phone)
                if got is not None and got[1] >= since:
                    return got[0]
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self._cond.wait(left)

    def stop(self) -> None:
        self._stop.set()


# --- one browser ----------------------------------------------------------------------------


class Browser:
    """A keep-alive connection with a cookie jar and a connection to the stack's database."""

    def __init__(self, stack: harness.Stack) -> None:
        self.stack = stack
        self.cookies: dict[str, str] = {}
        self.http = http.client.HTTPConnection("127.0.0.1", stack.port, timeout=60)
        self.db = psycopg.connect(harness.database_url(stack.name), autocommit=True)

    def request(self, method: str, path: str, fields: dict[str, str] | None = None) -> Any:
        headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())}
        body = None
        if fields is not None:
            body = urllib.parse.urlencode(fields).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        for attempt in range(2):
            try:
                self.http.request(method, path, body=body, headers=headers)
                response = self.http.getresponse()
                data = response.read()
                break
            except (OSError, http.client.HTTPException):
                self.http.close()
                self.http = http.client.HTTPConnection("127.0.0.1", self.stack.port, timeout=60)
                if attempt:
                    raise
        for name, value in response.getheaders():
            if name.lower() == "set-cookie":
                key, _sep, rest = value.partition("=")
                self.cookies[key.strip()] = rest.split(";", 1)[0]
        return response.status, response.getheader("Location", ""), data.decode("utf-8", "replace")

    def word_step(self, identifier: str, word: str) -> tuple[int, str, float]:
        """GET the form, solve its captcha, POST: status, Location, seconds of the POST."""
        self.cookies.clear()
        status, _location, page = self.request("GET", "/giris/")
        csrf, key = CSRF_RE.search(page), CAPTCHA_RE.search(page)
        if status != 200 or csrf is None or key is None:
            raise RuntimeError(f"login page: HTTP {status}")
        answer = self.db.execute(
            "SELECT response FROM captcha_captchastore WHERE hashkey = %s", [key.group(1)]
        ).fetchone()[0]
        fields = {
            "csrfmiddlewaretoken": csrf.group(1),
            "identifier": identifier,
            "security_word": word,
            "captcha_0": key.group(1),
            "captcha_1": answer,
        }
        started = time.perf_counter()
        status, location, _body = self.request("POST", "/giris/", fields)
        return status, location, time.perf_counter() - started

    def code_step(self, code: str) -> tuple[int, str]:
        status, _location, page = self.request("GET", "/giris/sms/")
        csrf = CSRF_RE.search(page)
        if status != 200 or csrf is None:
            return status, ""
        status, location, _body = self.request(
            "POST", "/giris/sms/", {"csrfmiddlewaretoken": csrf.group(1), "code": code}
        )
        return status, location

    def close(self) -> None:
        self.http.close()
        self.db.close()


# --- measurements ---------------------------------------------------------------------------


def worker_pids(stack: harness.Stack) -> list[int]:
    master = stack.processes[0].popen.pid
    children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    return [int(pid) for pid in children]


def _status_kib(pid: int, field_name: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field_name + ":"):
            return int(line.split()[1])
    return 0


def _tree_cpu_seconds(stack: harness.Stack) -> float:
    """utime + stime of the stack's web master, its workers, the celery worker and its pool."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    pids = [p.popen.pid for p in stack.processes]
    seen: set[int] = set()
    while pids:
        pid = pids.pop()
        if pid in seen:
            continue
        seen.add(pid)
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
            pids += [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
        except (OSError, ValueError):
            continue
    return total / tick


@dataclass
class Burst:
    logins: int
    failures: int
    seconds: float
    cpu_seconds: float
    login_ms: list[float] = field(default_factory=list)
    word_ms: list[float] = field(default_factory=list)
    rss_peak_mib: float = 0.0

    @property
    def rate(self) -> float:
        return self.logins / self.seconds

    def pct(self, which: str, p: float) -> float:
        return harness.percentile(sorted(getattr(self, which)), p)


class Citizens:
    """Each citizen logs in (or gets a wrong word) at most once per run."""

    def __init__(self, rows: list[tuple[str, str]]) -> None:
        self._rows = rows
        self._next = 0
        self._lock = threading.Lock()

    def take(self) -> tuple[str, str]:
        with self._lock:
            if self._next >= len(self._rows):
                raise RuntimeError("out of citizens: raise --citizens")
            row = self._rows[self._next]
            self._next += 1
            return row


def burst(
    stack: harness.Stack, outbox: Outbox, citizens: Citizens, clients: int, duration: float
) -> Burst:
    result = Burst(0, 0, 0.0, 0.0)
    lock = threading.Lock()
    deadline = time.monotonic() + duration
    pids = worker_pids(stack)
    sampling = threading.Event()

    def sample() -> None:
        while not sampling.is_set():
            for pid in pids:
                try:
                    rss = _status_kib(pid, "VmRSS") / 1024
                except OSError:
                    continue
                result.rss_peak_mib = max(result.rss_peak_mib, rss)
            time.sleep(0.05)

    def client() -> None:
        browser = Browser(stack)
        try:
            while time.monotonic() < deadline:
                identifier, phone = citizens.take()
                started = time.perf_counter()
                since = time.monotonic()
                ok = False
                try:
                    status, location, word_s = browser.word_step(identifier, SCALE_WORD)
                    if status == 302 and location.endswith("/giris/sms/"):
                        code = outbox.wait_code(phone, since)
                        if code is not None:
                            status, location = browser.code_step(code)
                            ok = status == 302 and location.endswith("/islemler/")
                except (OSError, http.client.HTTPException, RuntimeError):
                    word_s = float("nan")
                with lock:
                    if ok:
                        result.logins += 1
                        result.login_ms.append((time.perf_counter() - started) * 1000)
                        result.word_ms.append(word_s * 1000)
                    else:
                        result.failures += 1
        finally:
            browser.close()

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    cpu_before = _tree_cpu_seconds(stack)
    started = time.perf_counter()
    threads = [threading.Thread(target=client) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    result.seconds = time.perf_counter() - started
    result.cpu_seconds = _tree_cpu_seconds(stack) - cpu_before
    sampling.set()
    sampler.join()
    return result


def enumeration(
    stack: harness.Stack, citizens: Citizens, pairs: int, round_seed: int
) -> tuple[float, float]:
    """Median seconds of the word step POST: unknown ID, known ID with a wrong word."""
    browser = Browser(stack)
    unknown: list[float] = []
    known: list[float] = []
    try:
        for i in range(pairs):
            # A valid T.C. Kimlik No in no database: scale numbers are 300,000,000 + n (check
            # digits appended), the demo's start with 1/2, the factories' with 9.
            first_nine = str(400_000_000 + round_seed * pairs + i)
            unknown_id = first_nine + tckn_check_digits(first_nine)
            status, _loc, seconds = browser.word_step(unknown_id, "yanlış-sözcük")
            if status != 400:
                raise RuntimeError(f"unknown ID: HTTP {status}")
            unknown.append(seconds)
            identifier, _phone = citizens.take()
            status, _loc, seconds = browser.word_step(identifier, "yanlış-sözcük")
            if status != 400:
                raise RuntimeError(f"wrong word: HTTP {status}")
            known.append(seconds)
    finally:
        browser.close()
    return statistics.median(unknown), statistics.median(known)


# --- main -----------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3, help="OLD/NEW rounds (3)")
    parser.add_argument("--duration", type=float, default=15.0, help="seconds per burst (15)")
    parser.add_argument("--clients", type=int, default=8, help="parallel clients (8)")
    parser.add_argument("--enum", type=int, default=30, help="enumeration pairs per round (30)")
    parser.add_argument("--citizens", type=int, default=3000, help="citizens per stack (3000)")
    parser.add_argument("--ports", type=int, nargs=3, default=(18111, 18112, 18113))
    args = parser.parse_args()

    harness.install_cleanup()
    harness.require_demo_ca()
    # No FLUSHDB: other benchmarks may share the Redis db; each stack has its own queue and
    # cache prefix (harness.stack_env).
    stacks: dict[str, harness.Stack] = {}
    for label, port in zip(LABELS, args.ports, strict=True):  # OLD first: MIGRATING copies it
        built = time.perf_counter()
        stacks[label] = build(label, args.citizens, harness.free_port(port))
        if label == "MIGRATING":  # the day the new hasher is deployed: every hash still OLD
            old_hash = stacks["OLD"].query("SELECT security_word_hash FROM accounts_citizen")[0]
            stacks[label].query("UPDATE accounts_citizen SET security_word_hash = %s", old_hash)
        print(f"{label}: {harness.database_name(NAMES[label])} with {args.citizens} citizens "
              f"in {time.perf_counter() - built:.0f} s")  # fmt: skip
    citizens: dict[str, Citizens] = {}
    outboxes: dict[str, Outbox] = {}
    params: dict[str, str] = {}
    for label, stack in stacks.items():
        outbox_path = harness.WORK / stack.name / "sms-outbox.jsonl"
        outbox_path.unlink(missing_ok=True)
        stack.start()
        outboxes[label] = Outbox(outbox_path)
        rows = stack.query(
            "SELECT tckn, mobile_phone FROM accounts_citizen WHERE tckn IS NOT NULL ORDER BY id"
        )
        citizens[label] = Citizens([(t, p) for t, p in rows])
        params[label] = hash_parameters(stack)
        print(f"{label}: {stack.base_url}, hashes {params[label]} (logs in {stack.log_dir})")

    # A warm-up login per stack (imports, connections, the first captcha).
    for label in LABELS:
        warm = burst(stacks[label], outboxes[label], citizens[label], 1, 0.1)
        if warm.logins != 1:
            raise SystemExit(f"{label}: the warm-up login failed; see {stacks[label].log_dir}")

    done: dict[str, list[int]] = {label: [] for label in LABELS}

    def measure(label: str) -> Callable[[], dict[str, Any]]:
        def run() -> dict[str, Any]:
            stack = stacks[label]
            b = burst(stack, outboxes[label], citizens[label], args.clients, args.duration)
            time.sleep(1.0)  # let the worker drain the last SMS before the next stack runs
            idle = max(_status_kib(pid, "VmRSS") for pid in worker_pids(stack)) / 1024
            unknown, known = enumeration(stack, citizens[label], args.enum, len(done[label]))
            done[label].append(1)
            row = {
                "logins_per_s": b.rate,
                "logins_per_cpu_s": b.logins / b.cpu_seconds if b.cpu_seconds else 0.0,
                "failures": b.failures,
                "login_p50_ms": b.pct("login_ms", 50),
                "login_p99_ms": b.pct("login_ms", 99),
                "word_p50_ms": b.pct("word_ms", 50),
                "word_p99_ms": b.pct("word_ms", 99),
                "rss_peak_mib": b.rss_peak_mib,
                "rss_idle_mib": idle,
                "enum_unknown_ms": unknown * 1000,
                "enum_known_ms": known * 1000,
                "enum_ratio": unknown / known,
            }
            print(f"  {label}: " + ", ".join(f"{k} {v:.3g}" for k, v in row.items()), flush=True)
            return row

        return run

    compared = harness.alternate({label: measure(label) for label in LABELS}, args.rounds)
    cores = harness_cpus()
    hwm = {
        label: max(_status_kib(pid, "VmHWM") for pid in worker_pids(stacks[label])) / 1024
        for label in LABELS
    }

    def med(label: str, key: str) -> float:
        return compared.median(label, key=lambda row: row[key])

    rows = []
    metrics = [
        ("logins/s", "logins_per_s"),
        ("logins/s per core", None),
        ("logins per CPU-second (web + worker)", "logins_per_cpu_s"),
        ("login p50 ms", "login_p50_ms"),
        ("login p99 ms", "login_p99_ms"),
        ("word step p50 ms", "word_p50_ms"),
        ("word step p99 ms", "word_p99_ms"),
        ("failed logins per burst", "failures"),
        ("worker RSS peak MiB (sampled)", "rss_peak_mib"),
        ("worker RSS 1 s after the burst MiB", "rss_idle_mib"),
        ("enumeration: unknown ID ms", "enum_unknown_ms"),
        ("enumeration: known ID, wrong word ms", "enum_known_ms"),
        ("enumeration ratio unknown/known", "enum_ratio"),
    ]
    data: dict[str, Any] = {"params": params, "rounds": compared.samples, "hwm_mib": hwm}

    def ratio(a: float, b: float) -> float:
        return float("nan") if a == b == 0 else harness.ratio(a, b)

    for title, key in metrics:
        if key is None:
            values = [med(label, "logins_per_s") / cores for label in LABELS]
        else:
            values = [med(label, key) for label in LABELS]
        rows.append([title, *values, ratio(values[1], values[0]), ratio(values[2], values[0])])
    values = [hwm[label] for label in LABELS]
    rows.append(["worker VmHWM MiB (whole run)", *values, ratio(values[1], values[0]),
                 ratio(values[2], values[0])])  # fmt: skip
    rehashed = stacks["MIGRATING"].query(
        "SELECT count(*) FILTER (WHERE security_word_hash LIKE %s), count(*) FROM accounts_citizen",
        ["%m=19456,t=3,p=1%"],
    )[0]
    audited = stacks["MIGRATING"].query(
        "SELECT count(*) FROM audit_auditevent WHERE action = 'nes.login.word_rehashed'"
    )[0][0]
    logged_in = stacks["MIGRATING"].query(
        "SELECT count(*) FROM audit_auditevent WHERE action = 'nes.login.word_passed'"
    )[0][0]
    report = [
        f"bench/logins.py, {time.strftime('%Y-%m-%d %H:%M')}, {cores} cores, {args.rounds} "
        f"rounds x {args.duration:.0f} s, {args.clients} clients, {args.enum} enumeration pairs",
        f"OLD hashes: {params['OLD']}; NEW hashes: {params['NEW']}; MIGRATING: the NEW "
        f"hasher, every citizen starting with the OLD hash; 2 gunicorn workers x 2 threads, a "
        f"2-process celery worker per stack",
        harness.table(["measurement", *LABELS, "NEW/OLD", "MIGRATING/OLD"], rows),
        f"MIGRATING: {logged_in} right words, {audited} rehashes audited, {rehashed[0]} of "
        f"{rehashed[1]} citizens now have NEW hashes (a wrong word never rehashes)",
    ]
    missed = []
    if max(hwm["NEW"], med("NEW", "rss_peak_mib")) > RSS_TARGET_MIB:
        missed.append(f"NEW worker RSS peak > {RSS_TARGET_MIB:.0f} MiB")
    if not ENUM_RATIO[0] <= med("NEW", "enum_ratio") <= ENUM_RATIO[1]:
        missed.append(f"NEW enumeration ratio outside {ENUM_RATIO}")
    report.append("targets: " + ("all met" if not missed else "MISSED: " + "; ".join(missed)))
    text = "\n".join(report)
    print()
    print(text)
    (harness.WORK / "logins.txt").write_text(text + "\n")
    (harness.WORK / "logins.json").write_text(json.dumps(data, indent=1))
    print(f"(report saved to {harness.WORK / 'logins.txt'} and .json)")
    for outbox in outboxes.values():
        outbox.stop()
    for stack in stacks.values():
        stack.stop()
    return 1 if missed else 0


def harness_cpus() -> int:
    return len(os.sched_getaffinity(0))


if __name__ == "__main__":
    try:
        raise SystemExit(main())
    finally:
        harness.stop_all()
