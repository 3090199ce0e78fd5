"""Revocation at national scale, end to end: a demo-sized portal against a national-sized one.

Needs PostgreSQL and Redis (bench/harness.py: NES_BENCH_PG, NES_BENCH_REDIS, default the local
servers, Redis db 14, which it empties), ``wrk``, ``openssl`` and ``curl``, and the demo CA in
``var/pki`` (``DEBUG=true .venv/bin/python manage.py create_demo_ca``). Run:

    .venv/bin/python bench/revocation.py                    # ~10 min: 300,000 citizens
    .venv/bin/python bench/revocation.py --full             # 1,000,000 citizens
    .venv/bin/python bench/revocation.py --full --entries 1000000
    .venv/bin/python bench/revocation.py --full --only throughput herd   # some phases only

Two stacks side by side, each its own database, gunicorn (``gunicorn.conf.py``, DEBUG off) and
celery worker, started and stopped here:

* SMALL: ``nes_bench_small``, the demo data only (``seed_demo --force``), made fresh each run;
* LARGE: ``nes_bench_large``, the demo data plus ``load_scale_data`` with the citizens asked for
  and the bad fraction chosen so that the full CRL lists about ``--entries`` certificates. The
  loaded database is kept between runs (its COMMENT records how it was loaded) unless
  ``--reload`` or another size is asked for.

Measured, alternating SMALL/LARGE (A B A B …), medians and LARGE/SMALL ratios, on the demo
citizen Kerimcan Zeytin's active certificate:

1. the "Askıya Al" / "Askıdan İndir" POST pair: p50/p95 latency (target: LARGE p95 ≤ 1.5 ×
   SMALL p95);
2. the delay from the POST's response until, seen from outside, OCSP (``openssl ocsp``,
   without and with a nonce, response verified) shows the new status (target ≤ 1 s), the
   certificate's CRL shard (its CRL distribution point on the bench port, fetched with curl)
   lists it or no longer lists it (target ≤ 5 s, ≤ 30 s with 1M entries), and the full CRL
   does (reported). A CRL counts once it has shown the change for 1.5 s: for up to a second
   after a signing, one web process may serve the new CRL and another the old one;
3. throughput with wrk: OCSP POST with a nonce (signed fresh), OCSP GET without (pre-signed,
   Redis), the shard CRL (also revalidated with If-None-Match), the full CRL and the logged-in
   certificate page (targets: LARGE/SMALL ≥ 0.9 for OCSP, the shard CRL and the page;
   pre-signed GET ≥ 2 × fresh POST on each stack). gunicorn.conf.py recycles workers every
   2,000 requests; the report counts the restarts (``--gunicorn-args '--max-requests 0'``
   shows the figures without them, for diagnosis only);
4. the herd: the full CRL's nextUpdate made to pass, 8 parallel GETs: how many signings
   (target exactly 1).

Prints tables, every figure with its ratio, and a summary block; saves them under
/tmp/nes_bench/. Exits 1 if a target is missed.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import re
import shutil
import subprocess
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

import harness  # noqa: E402
from cryptography import x509  # noqa: E402
from cryptography.hazmat.primitives import hashes, serialization  # noqa: E402
from cryptography.x509 import ocsp  # noqa: E402

DEMO_CITIZEN = "10000000146"  # Kerimcan Zeytin (nesportal/demo.py)
K = 3  # certificates per citizen
PENDING_FRACTION = 0.002  # nesportal.scale.DEFAULT_PENDING_FRACTION
SEED = 20261201
# Bump when nesportal/scale.py changes what it loads: cached LARGE databases are then reloaded.
DATA_VERSION = 1

OCSP_DELAY_TARGET = 1.0
PAIR_P95_TARGET = 1.5
THROUGHPUT_TARGET = 0.9
PRESIGNED_TARGET = 2.0
POLL_TIMEOUT = 180.0


# --- the data set -----------------------------------------------------------------------------


def scale_constants() -> tuple[float, float]:
    """(unexpired share, pending fraction) as nesportal.scale defines them (no Django needed:
    the module's constants are read from a subprocess so that this process stays Django-free)."""
    code = (
        "from nesportal import scale\n"
        "result = [scale.unexpired_share(), scale.DEFAULT_PENDING_FRACTION]\n"
    )
    env = harness.stack_env("small", 0)
    share, pending = harness.run_django(env, code)
    return share, pending


def plan_large(entries: int, citizens: int) -> dict[str, Any]:
    share, pending = scale_constants()
    total = citizens * K
    bad = (entries / total - pending) / share
    if not 0 < bad < 1 - pending:
        raise SystemExit(
            f"--entries {entries} cannot come from {citizens:,} citizens × {K} certificates "
            f"(bad fraction would be {bad:.4f}); choose other --citizens"
        )
    return {
        "citizens": citizens,
        "certificates_per_citizen": K,
        "bad_fraction": round(bad, 6),
        "pending_fraction": pending,
        "seed": SEED,
        "entries": entries,
        "version": DATA_VERSION,
    }


def build_small() -> float:
    started = time.perf_counter()
    env = harness.stack_env("small", 0)
    harness.create_database("small", env)
    harness.manage(env, "seed_demo", "--force")
    harness.manage(env, "publish_crls")
    return time.perf_counter() - started


def large_name(plan: dict[str, Any]) -> str:
    """One cached database per size: nes_bench_large_<entries>k_<citizens>k."""
    return f"large_{plan['entries'] // 1000}k_{plan['citizens'] // 1000}k"


def build_large(plan: dict[str, Any], *, reload: bool) -> dict[str, Any]:
    name = large_name(plan)
    note = harness.database_note(name) if harness.database_exists(name) else None
    wanted = {k: v for k, v in plan.items()}
    if note and not reload and note.get("plan") == wanted:
        print(
            f"LARGE: reusing {harness.database_name(name)} (loaded {note.get('loaded_at')}; "
            "--reload to redo)"
        )
        # Newer migrations (indexes) apply to a cached database too; VACUUM for index-only scans.
        env = harness.stack_env(name, 0)
        harness.manage(env, "migrate", "--noinput", "-v", "0")
        harness.query(name, "VACUUM ANALYZE certificates_certificate")
        return note
    print(
        f"LARGE: loading {plan['citizens']:,} citizens × {K}, bad fraction "
        f"{plan['bad_fraction']:.4f} (full CRL ≈ {plan['entries']:,} entries) …",
        flush=True,
    )
    env = harness.stack_env(name, 0)
    started = time.perf_counter()
    harness.create_database(name, env)
    harness.manage(env, "seed_demo", "--force")
    seeded = time.perf_counter() - started
    output = harness.manage(
        env,
        "load_scale_data",
        "--force",
        "--citizens",
        str(plan["citizens"]),
        "--certificates-per-citizen",
        str(K),
        "--bad-fraction",
        str(plan["bad_fraction"]),
        "--pending-fraction",
        str(plan["pending_fraction"]),
        "--seed",
        str(plan["seed"]),
        "--publish",
    )
    total = time.perf_counter() - started
    lines = [line for line in output.splitlines() if not line.startswith("  CRL 2")]
    print("\n".join("  " + line for line in lines))
    note = {
        "plan": wanted,
        "loaded_at": time.strftime("%Y-%m-%d %H:%M:%S"),
        "seconds_total": round(total, 1),
        "seconds_migrate_seed": round(seeded, 1),
        "load_output": lines,
    }
    harness.set_database_note(name, note)
    print(f"LARGE: built in {total:.0f} s (migrate + seed_demo {seeded:.0f} s)")
    return note


# --- the demo certificate ---------------------------------------------------------------------

_CERT_CODE = """
from django.utils import timezone
from accounts.models import Citizen
from certificates.models import Certificate
citizen = Citizen.objects.get(tckn=IDENTIFIER)
cert = (Certificate.objects.filter(citizen=citizen, kind="nes", status__in=["active", "suspended"],
        not_after__gt=timezone.now()).order_by("-not_before").first())
if cert.status == "suspended":  # left so by an interrupted run
    cert.reinstate(by="holder", by_citizen=citizen)
    cert.refresh_from_db()
result = {"serial": cert.serial_number, "der": bytes(cert.der).hex(), "shard": cert.crl_shard,
          "status": cert.status}
"""


@dataclass
class Target:
    """What a stack measures against: the demo certificate, its URLs and OCSP requests."""

    stack: harness.Stack
    serial: str
    shard: str
    cert: x509.Certificate
    shard_path: str
    full_path: str = "/crl/nes-portal.crl"
    session: harness.LoggedIn | None = None
    nonced_bodies: list[bytes] = field(default_factory=list)
    get_path: str = ""

    @property
    def serial_int(self) -> int:
        return int(self.serial, 16)

    @property
    def detail_path(self) -> str:
        return f"/sertifikalar/{self.serial}/"


def prepare_target(stack: harness.Stack, issuer: x509.Certificate) -> Target:
    found = harness.run_django(stack.env, f"IDENTIFIER = {DEMO_CITIZEN!r}\n" + _CERT_CODE)
    cert = x509.load_der_x509_certificate(bytes.fromhex(found["der"]))
    points = cert.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
    dp_url = points[0].full_name[0].value
    # The certificate names PORTAL_BASE_URL's host; the bench server listens on its own port.
    shard_path = urllib.parse.urlsplit(dp_url).path
    target = Target(stack, found["serial"], found["shard"], cert, shard_path)
    target.nonced_bodies = [ocsp_request(cert, issuer, nonce=True) for _ in range(256)]
    plain = ocsp_request(cert, issuer, nonce=False)
    target.get_path = "/ocsp/" + urllib.parse.quote(base64.b64encode(plain).decode(), safe="")
    # The detail page lists the certificate's whole history: remove the active ⇄ suspended
    # transitions earlier runs left (a reused LARGE database would otherwise render a longer
    # page than the fresh SMALL one). Benchmark databases only.
    stack.query(
        "DELETE FROM certificates_certificatestatuschange WHERE certificate_id = "
        "(SELECT id FROM certificates_certificate WHERE serial_number = %s) "
        "AND from_status IN ('active', 'suspended') AND to_status IN ('active', 'suspended')",
        [target.serial],
    )
    target.session = harness.login(stack, DEMO_CITIZEN, csrf_page=f"{target.detail_path}askiya-al/")
    return target


def ocsp_request(cert: x509.Certificate, issuer: x509.Certificate, *, nonce: bool) -> bytes:
    builder = ocsp.OCSPRequestBuilder().add_certificate(
        cert,
        issuer,
        hashes.SHA1(),  # noqa: S303 (the CertID hash openssl and most relying parties use)
    )
    if nonce:
        builder = builder.add_extension(x509.OCSPNonce(os.urandom(16)), critical=False)
    return builder.build().public_bytes(serialization.Encoding.DER)


# --- suspend / reinstate ----------------------------------------------------------------------


def post_change(target: Target, action: str) -> harness.Response:
    """POST "askiya-al" or "askidan-indir"; checks the portal's redirect to the detail page."""
    assert target.session is not None
    response = harness.http_request(
        target.stack.url(f"{target.detail_path}{action}/"),
        method="POST",
        body=target.session.form(),
        headers={
            **target.session.headers,
            "Content-Type": "application/x-www-form-urlencoded",
        },
    )
    location = response.headers.get("location", "")
    if response.status != 302 or not location.endswith(target.detail_path):
        raise RuntimeError(
            f"{target.stack.name}: POST {action} answered {response.status} → {location!r}"
        )
    return response


def worker_restarts(stack: harness.Stack) -> int:
    """How often gunicorn recycled a worker so far (max_requests in gunicorn.conf.py)."""
    log = stack.log_dir / "gunicorn.log"
    return log.read_text(errors="replace").count("Autorestarting worker") if log.exists() else 0


def status_of(target: Target) -> str:
    return target.stack.query(
        "SELECT status FROM certificates_certificate WHERE serial_number = %s", [target.serial]
    )[0][0]


def wait_quiet(stack: harness.Stack, timeout: float = 600.0) -> float:
    """Until every CRL of the stack is signed (signed ≥ wanted, no lease) and its queue empty."""
    import redis

    queue = stack.env["CELERY_TASK_DEFAULT_QUEUE"]
    client = redis.Redis.from_url(harness.REDIS_URL)
    started = time.perf_counter()
    while True:
        busy = stack.query(
            "SELECT count(*) FROM certificates_crlshard "
            "WHERE signed < wanted OR lease_until > now()"
        )[0][0]
        if not busy and not client.llen(queue):
            return time.perf_counter() - started
        if time.perf_counter() - started > timeout:
            raise RuntimeError(f"{stack.name}: CRLs still unpublished after {timeout:.0f} s")
        time.sleep(0.2)


# --- seen from outside ------------------------------------------------------------------------


def openssl_ocsp(target: Target, paths: dict[str, Path], *, nonce: bool) -> str:
    """``good``, ``hold``, ``revoked`` or ``error:…`` as openssl ocsp reports it (verified)."""
    command = [
        "openssl",
        "ocsp",
        "-issuer",
        str(paths["issuer"]),
        "-serial",
        f"0x{target.serial}",
        "-url",
        target.stack.url("/ocsp"),
        "-CAfile",
        str(paths["chain"]),
        "-timeout",
        "10",
    ] + ([] if nonce else ["-no_nonce"])
    done = subprocess.run(command, capture_output=True, text=True, timeout=30)  # noqa: S603
    match = re.search(r": (good|revoked|unknown)\b", done.stdout)
    if done.returncode != 0 or match is None or "Response verify OK" not in done.stderr:
        return f"error:{done.returncode}:{done.stderr.strip()[:200]}"
    if match.group(1) == "revoked":
        return "hold" if "certificateHold" in done.stdout else "revoked"
    return match.group(1)


def crl_lists(url: str, serial: int) -> bool | None:
    """Whether the CRL at ``url`` (fetched with curl) lists ``serial``; None if unavailable."""
    done = subprocess.run(  # noqa: S603
        ["curl", "-sf", "--max-time", "60", url],  # noqa: S607
        capture_output=True,
        timeout=90,
    )
    if done.returncode != 0:
        return None
    crl = x509.load_der_x509_crl(done.stdout)
    return crl.get_revoked_certificate_by_serial_number(serial) is not None


def openssl_crl_lists(url: str, serial: int) -> bool:
    """The same question answered by ``openssl crl -text`` (a cross-check, not timed)."""
    data = subprocess.run(["curl", "-sf", url], capture_output=True, check=True).stdout  # noqa: S603,S607
    text = subprocess.run(  # noqa: S603
        ["openssl", "crl", "-inform", "DER", "-noout", "-text"],  # noqa: S607
        input=data,
        capture_output=True,
        check=True,
    ).stdout.decode()
    digits = f"{serial:X}"
    digits = digits.zfill(len(digits) + len(digits) % 2)  # openssl prints whole octets
    return f"Serial Number: {digits}" in text


# Web processes trust their memory of which CRL is current for up to a second
# (publication._META_TTL), so right after a signing one process may serve the new CRL and
# another the old one: a CRL counts as showing the change once it has for SETTLE_CRL seconds.
SETTLE_CRL = 1.5
SETTLE_OCSP = 0.3


def poll(
    check: Callable[[], bool], started: float, interval: float, settle: float
) -> tuple[float | None, int]:
    """Seconds from ``started`` until ``check()`` holds and keeps holding for ``settle``
    seconds (None after POLL_TIMEOUT), and how often it held and then did not."""
    first: float | None = None
    flips = 0
    while True:
        holds = check()
        elapsed = time.perf_counter() - started
        if holds and first is None:
            first = elapsed
        elif not holds and first is not None:
            first, flips = None, flips + 1
        if first is not None and elapsed - first >= settle:
            return first, flips
        if elapsed > POLL_TIMEOUT:
            return None, flips
        time.sleep(interval)


def delays_after(
    target: Target, action: str, paths: dict[str, Path], flips: dict[str, list[int]]
) -> dict[str, float | None]:
    """POST the change, then poll the four views of it in parallel threads."""
    suspended = action == "askiya-al"
    want = "hold" if suspended else "good"
    post_change(target, action)
    started = time.perf_counter()
    shard_url = target.stack.url(target.shard_path)
    full_url = target.stack.url(target.full_path)
    checks: dict[str, tuple[Callable[[], bool], float, float]] = {
        "ocsp_no_nonce": (
            lambda: openssl_ocsp(target, paths, nonce=False) == want,
            0.02,
            SETTLE_OCSP,
        ),
        "ocsp_nonce": (
            lambda: openssl_ocsp(target, paths, nonce=True) == want,
            0.02,
            SETTLE_OCSP,
        ),
        "crl_shard": (
            lambda: crl_lists(shard_url, target.serial_int) is suspended,
            0.05,
            SETTLE_CRL,
        ),
        "crl_full": (
            lambda: crl_lists(full_url, target.serial_int) is suspended,
            0.1,
            SETTLE_CRL,
        ),
    }
    results: dict[str, float | None] = {}

    def run(name: str, check: Callable[[], bool], interval: float, settle: float) -> None:
        results[name], flaps = poll(check, started, interval, settle)
        if flaps:
            flips.setdefault(name, []).append(flaps)

    threads = [threading.Thread(target=run, args=(name, *spec)) for name, spec in checks.items()]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


# --- the herd ---------------------------------------------------------------------------------


def herd(target: Target, parallel: int = 8) -> dict[str, Any]:
    stack = target.stack
    wait_quiet(stack)
    sql_number = "SELECT number FROM certificates_crlshard WHERE shard = ''"
    before = stack.query(sql_number)[0][0]
    stack.query(
        "UPDATE certificates_crlshard SET next_update = now() - interval '1 minute' "
        "WHERE shard = ''"
    )
    # As if the time had come: the announcement in the shared cache (publication._announce)
    # would say so too; web processes trust their own memory for up to a second
    # (publication._META_TTL): let it lapse so that every GET sees the passed nextUpdate.
    import redis

    client = redis.Redis.from_url(harness.REDIS_URL)
    for key in client.scan_iter(f"{stack.env['CACHE_KEY_PREFIX']}:*crl:meta:*"):
        client.delete(key)
    time.sleep(1.5)
    barrier = threading.Barrier(parallel)
    answers: list[tuple[int, float, str]] = []

    def get() -> None:
        barrier.wait()
        response = harness.http_get(stack.url(target.full_path), timeout=180)
        answers.append((response.status, response.seconds, response.headers.get("etag", "")))

    threads = [threading.Thread(target=get) for _ in range(parallel)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    after = stack.query(sql_number)[0][0]
    time.sleep(2)  # a late second signing would show here
    later, sign_seconds = stack.query(
        "SELECT number, sign_seconds FROM certificates_crlshard WHERE shard = ''"
    )[0]
    return {
        "signings": later - before,
        "sign_s": sign_seconds,
        "signings_during": after - before,
        "statuses": sorted({a[0] for a in answers}),
        "etags": len({a[2] for a in answers}),
        "max_s": max(a[1] for a in answers),
        "median_s": harness.median(a[1] for a in answers),
    }


# --- the phases -----------------------------------------------------------------------------

PHASES = ("pairs", "delays", "throughput", "herd")
LABELS = ("SMALL", "LARGE")
NAMES = {
    "control": "control: CA certificate GET (same on both)",
    "ocsp_post": "OCSP POST, nonce (fresh)",
    "ocsp_get": "OCSP GET, no nonce (pre-signed)",
    "crl_shard": "shard CRL GET",
    "crl_shard_304": "shard CRL GET, If-None-Match (304)",
    "crl_full": "full CRL GET",
    "detail": "certificate page (logged in)",
}

# LARGE/SMALL ≥ THROUGHPUT_TARGET for these; the full CRL (50× the bytes) and the conditional
# GET are reported only.
TARGETED = ("ocsp_post", "ocsp_get", "crl_shard", "detail")


@dataclass
class Run:
    args: argparse.Namespace
    targets: dict[str, Target]
    paths: dict[str, Path]
    report: list[str] = field(default_factory=list)
    missed: list[str] = field(default_factory=list)
    summary: list[str] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)

    def out(self, line: str = "") -> None:
        print(line, flush=True)
        self.report.append(line)

    def miss(self, what: str) -> None:
        self.missed.append(what)


def phase_pairs(run: Run) -> None:
    args, targets = run.args, run.targets
    run.out()
    run.out(
        f"== 1. Askıya Al / Askıdan İndir POST pair, {args.pairs} pairs per stack, alternating =="
    )
    latencies: dict[str, dict[str, list[float]]] = {
        label: {"askiya-al": [], "askidan-indir": [], "pair": []} for label in LABELS
    }
    for _pair in range(args.pairs):
        for label, target in targets.items():
            first = post_change(target, "askiya-al").seconds
            second = post_change(target, "askidan-indir").seconds
            latencies[label]["askiya-al"].append(first * 1000)
            latencies[label]["askidan-indir"].append(second * 1000)
            latencies[label]["pair"].append((first + second) * 1000)
            time.sleep(0.2)
    rows = []
    for what in ("askiya-al", "askidan-indir", "pair"):
        values = {label: sorted(latencies[label][what]) for label in LABELS}
        for pct in (50, 95):
            small, large = (harness.percentile(values[label], pct) for label in LABELS)
            rows.append([f"{what} p{pct} ms", small, large, large / small])
    run.out(harness.table(["POST", "SMALL", "LARGE", "LARGE/SMALL"], rows))
    ratio = rows[-1][3]
    ok = ratio <= PAIR_P95_TARGET
    run.out(
        f"target: LARGE pair p95 ≤ {PAIR_P95_TARGET}× SMALL: {ratio:.2f}× → "
        f"{'OK' if ok else 'MISSED'}"
    )
    if not ok:
        run.miss(f"POST pair p95 ratio {ratio:.2f}× > {PAIR_P95_TARGET}×")
    for target in targets.values():
        assert status_of(target) == "active"
    run.data["latencies_ms"] = latencies
    pair = {label: sorted(latencies[label]["pair"]) for label in LABELS}
    run.summary.append(
        f"POST pair (Askıya Al + Askıdan İndir) p50/p95 ms: SMALL "
        f"{harness.percentile(pair['SMALL'], 50):.0f}/{harness.percentile(pair['SMALL'], 95):.0f}"
        f", LARGE {harness.percentile(pair['LARGE'], 50):.0f}/"
        f"{harness.percentile(pair['LARGE'], 95):.0f} → p95 LARGE/SMALL {ratio:.2f}× "
        f"(target ≤ {PAIR_P95_TARGET}×)"
    )


def phase_delays(run: Run) -> None:
    args, targets = run.args, run.targets
    run.out()
    run.out(
        f"== 2. delay from the POST's response until seen from outside, {args.delay_rounds} "
        "rounds per stack and direction =="
    )
    delays: dict[str, dict[str, list[float | None]]] = {label: {} for label in LABELS}
    flaps: dict[str, dict[str, list[int]]] = {label: {} for label in LABELS}
    for round_ in range(args.delay_rounds):
        for label, target in targets.items():
            for action in ("askiya-al", "askidan-indir"):
                wait_quiet(target.stack)
                measured = delays_after(target, action, run.paths, flaps[label])
                for name, value in measured.items():
                    delays[label].setdefault(f"{name} ({action})", []).append(value)
                if round_ == 0 and action == "askiya-al":
                    shard_url = target.stack.url(target.shard_path)
                    if not openssl_crl_lists(shard_url, target.serial_int):
                        run.out(f"{label}: openssl crl does not list {target.serial} in its shard!")
                        run.miss(f"{label}: openssl crl cross-check")
    shard_target = 30.0 if args.entries >= 1_000_000 else 5.0
    rows = []
    worst: dict[str, dict[str, float]] = {label: {} for label in LABELS}
    medians: dict[str, dict[str, float]] = {label: {} for label in LABELS}
    for name in delays["SMALL"]:
        row: list[Any] = [name]
        for label in LABELS:
            values = delays[label][name]
            finite = [v for v in values if v is not None]
            medians[label][name] = harness.median(finite) if finite else float("nan")
            worst[label][name] = max(finite) if len(finite) == len(values) else float("inf")
            row += [medians[label][name], worst[label][name]]
        row.append(row[3] / row[1] if row[1] else float("nan"))
        rows.append(row)
    run.out(
        harness.table(
            ["seconds", "SMALL median", "SMALL max", "LARGE median", "LARGE max",
             "LARGE/SMALL (median)"],
            rows,
        )
    )  # fmt: skip
    limits = {"ocsp_no_nonce": OCSP_DELAY_TARGET, "ocsp_nonce": OCSP_DELAY_TARGET}
    limits["crl_shard"] = shard_target
    for label in LABELS:
        for name, top in worst[label].items():
            limit = limits.get(name.split(" ")[0])
            if limit is not None and not top <= limit:
                run.miss(f"{label} {name}: max {top:.2f} s > {limit:.0f} s")
    run.out(
        f"targets: OCSP ≤ {OCSP_DELAY_TARGET:.0f} s, shard CRL ≤ {shard_target:.0f} s "
        f"(every round); full CRL reported. A CRL counts once it has shown the change for "
        f"{SETTLE_CRL} s (OCSP {SETTLE_OCSP} s)"
    )
    for label in LABELS:
        for name, counts in flaps[label].items():
            run.out(
                f"{label} {name}: showed the change, then not, {sum(counts)} time(s) in "
                f"{len(counts)} of {2 * args.delay_rounds} polls (web processes serve different "
                "CRL versions for up to 1 s after a signing)"
            )
    for label, target in targets.items():
        signed = target.stack.query(
            "SELECT shard, entry_count, sign_seconds FROM certificates_crlshard "
            "WHERE shard IN ('', %s) ORDER BY shard",
            [target.shard],
        )
        run.out(
            f"{label}: last signing "
            + ", ".join(f"{s or 'full'} {n:,} entries in {t:.2f} s" for s, n, t in signed)
        )
    run.data["delays_s"] = delays
    run.data["delay_flaps"] = flaps

    def cell(label: str, kind: str) -> str:
        parts = []
        for action in ("askiya-al", "askidan-indir"):
            name = f"{kind} ({action})"
            parts.append(f"{medians[label][name]:.2f}/{worst[label][name]:.2f}")
        return " ; ".join(parts)

    run.summary.append(
        "delays s, median/max, suspend ; reinstate (targets: OCSP ≤ 1 s, shard ≤ "
        f"{shard_target:.0f} s):"
    )
    for label in LABELS:
        run.summary.append(
            f"  {label}: OCSP no-nonce {cell(label, 'ocsp_no_nonce')} | nonce "
            f"{cell(label, 'ocsp_nonce')} | shard CRL {cell(label, 'crl_shard')} | full CRL "
            f"{cell(label, 'crl_full')}"
        )


def _load(
    target: Target, kind: str, args: argparse.Namespace, duration: float | None = None
) -> harness.LoadResult:
    url = target.stack.url
    options: dict[str, Any] = {
        "duration": duration or args.duration,
        "connections": args.connections,
    }
    if kind == "ocsp_post":
        return harness.load(
            url("/ocsp"),
            method="POST",
            headers={"Content-Type": "application/ocsp-request"},
            bodies=target.nonced_bodies,
            **options,
        )
    if kind == "ocsp_get":
        return harness.load(url(target.get_path), **options)
    if kind == "control":
        return harness.load(url("/ca/nes-portal.crt"), **options)
    if kind == "crl_shard":
        return harness.load(url(target.shard_path), **options)
    if kind == "crl_shard_304":
        etag = harness.http_get(url(target.shard_path)).headers["etag"]
        return harness.load(url(target.shard_path), headers={"If-None-Match": etag}, **options)
    if kind == "crl_full":
        return harness.load(url(target.full_path), **options)
    assert target.session is not None
    return harness.load(url(target.detail_path), headers=target.session.headers, **options)


def phase_throughput(run: Run) -> None:
    args, targets = run.args, run.targets
    run.out()
    run.out(
        f"== 3. throughput, wrk {args.duration:.0f} s per run, {args.rounds} rounds of every "
        f"endpoint on SMALL then LARGE, {args.connections} connections =="
    )
    for target in targets.values():
        wait_quiet(target.stack)
        harness.http_get(target.stack.url(target.get_path))  # fill the pre-signed cache
    for kind in NAMES:  # warm-up, not counted
        for target in targets.values():
            _load(target, kind, args, duration=1.0)
    restarts_before = {label: worker_restarts(t.stack) for label, t in targets.items()}
    # Each round runs every endpoint on SMALL and then on LARGE: the two runs of a LARGE/SMALL
    # pair are back to back, and a stack's OCSP POST and GET runs are in the same round.
    samples: dict[str, dict[str, list[harness.LoadResult]]] = {
        kind: {label: [] for label in LABELS} for kind in NAMES
    }
    for _round in range(args.rounds):
        for kind in NAMES:
            for label, target in targets.items():
                samples[kind][label].append(_load(target, kind, args))
    throughput = {kind: harness.Compared(per_stack) for kind, per_stack in samples.items()}
    for kind, name in NAMES.items():
        for label in LABELS:
            errors = sum(r.errors for r in throughput[kind].samples[label])
            if errors:
                run.out(f"  {name} on {label}: {errors} errors!")
                run.miss(f"{name} on {label}: {errors} errors")
    rows = []
    for kind, name in NAMES.items():
        compared = throughput[kind]
        rps = {label: compared.median(label, lambda r: r.rps) for label in LABELS}
        p95 = {label: compared.median(label, lambda r: r.p95_ms) for label in LABELS}
        each = {
            label: "/".join(f"{r.rps:.0f}" for r in compared.samples[label]) for label in LABELS
        }
        ratio = compared.paired_ratio("LARGE", "SMALL", lambda r: r.rps)
        rows.append([name, rps["SMALL"], rps["LARGE"], ratio, p95["SMALL"], p95["LARGE"],
                     each["SMALL"], each["LARGE"]])  # fmt: skip
        if kind in TARGETED and ratio < THROUGHPUT_TARGET:
            run.miss(f"{name}: LARGE/SMALL {ratio:.2f} < {THROUGHPUT_TARGET}")
    run.out(
        harness.table(
            ["req/s (median)", "SMALL", "LARGE", "LARGE/SMALL*", "SMALL p95 ms", "LARGE p95 ms",
             "SMALL rounds", "LARGE rounds"],
            rows,
        )
    )  # fmt: skip
    presigned = {}
    for label in LABELS:
        per_round = harness.Compared(
            {"get": samples["ocsp_get"][label], "post": samples["ocsp_post"][label]}
        )
        presigned[label] = per_round.paired_ratio("get", "post", lambda r: r.rps)
        if presigned[label] < PRESIGNED_TARGET:
            run.miss(f"{label}: pre-signed GET / fresh POST {presigned[label]:.2f}× < 2×")
    run.out(
        "pre-signed GET / fresh POST (median of per-round ratios): "
        f"SMALL {presigned['SMALL']:.2f}×, LARGE {presigned['LARGE']:.2f}× "
        f"(target ≥ {PRESIGNED_TARGET:.0f}×)"
    )
    run.out("* median of the per-round ratios (each LARGE run right after its SMALL run)")
    run.out(f"targets: LARGE/SMALL ≥ {THROUGHPUT_TARGET} for OCSP, shard CRL and the page")
    control = rows[0][3]
    run.out(
        f"noise: the control (the same small response on both stacks) came out at LARGE/SMALL "
        f"{control:.2f}; ratios within ±{abs(1 - control):.2f} of 1 are not distinguishable "
        "from noise in this run"
    )
    restarts = {
        label: worker_restarts(t.stack) - restarts_before[label] for label, t in targets.items()
    }
    run.out(
        "gunicorn worker restarts during these runs (gunicorn.conf.py max_requests + "
        f"jitter): SMALL {restarts['SMALL']}, LARGE {restarts['LARGE']}"
    )
    run.data["throughput_rps"] = {
        kind: {label: [r.rps for r in c.samples[label]] for label in LABELS}
        for kind, c in throughput.items()
    }
    run.summary.append(
        "req/s median SMALL → LARGE (LARGE/SMALL): "
        + "; ".join(f"{row[0]} {row[1]:,.0f} → {row[2]:,.0f} ({row[3]:.2f})" for row in rows)
    )
    run.summary.append(
        f"noise control LARGE/SMALL {control:.2f}; "
        f"pre-signed OCSP GET / fresh POST: SMALL {presigned['SMALL']:.2f}×, LARGE "
        f"{presigned['LARGE']:.2f}× (target ≥ 2×); worker restarts SMALL {restarts['SMALL']}, "
        f"LARGE {restarts['LARGE']}"
    )


def phase_herd(run: Run) -> None:
    run.out()
    run.out("== 4. the herd: full CRL's nextUpdate passed, 8 parallel GETs ==")
    herds = {label: herd(target) for label, target in run.targets.items()}
    run.out(
        harness.table(
            ["stack", "signings", "HTTP statuses", "distinct ETags", "median s", "max s",
             "signing s"],
            [[label, h["signings"], ",".join(map(str, h["statuses"])), h["etags"], h["median_s"],
              h["max_s"], h["sign_s"]] for label, h in herds.items()],
        )
    )  # fmt: skip
    for label, h in herds.items():
        if h["signings"] != 1 or h["statuses"] != [200]:
            run.miss(f"herd on {label}: {h['signings']} signings, statuses {h['statuses']}")
    ratio = herds["LARGE"]["max_s"] / herds["SMALL"]["max_s"]
    run.out(f"herd LARGE/SMALL slowest GET: {ratio:.1f}× (target: exactly 1 signing each)")
    run.data["herd"] = herds
    run.summary.append(
        f"herd (8 GETs, nextUpdate passed): signings SMALL {herds['SMALL']['signings']}, LARGE "
        f"{herds['LARGE']['signings']} (target 1); slowest GET SMALL "
        f"{herds['SMALL']['max_s']:.2f} s, LARGE {herds['LARGE']['max_s']:.2f} s "
        f"(signing {herds['LARGE']['sign_s']:.1f} s)"
    )


# --- main -------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--entries",
        type=int,
        choices=(10_000, 100_000, 1_000_000),
        default=100_000,
        help="full-CRL entries on LARGE (100000)",
    )
    parser.add_argument(
        "--citizens",
        type=int,
        default=None,
        help="LARGE citizens (default 300,000; 1,000,000 with --full or --entries 1000000)",
    )
    parser.add_argument("--full", action="store_true", help="1,000,000 citizens on LARGE")
    parser.add_argument("--reload", action="store_true", help="reload LARGE even if cached")
    parser.add_argument(
        "--only",
        nargs="+",
        choices=PHASES,
        default=list(PHASES),
        help="run only these measurements",
    )
    parser.add_argument("--pairs", type=int, default=20, help="POST pairs per stack (20)")
    parser.add_argument("--delay-rounds", type=int, default=3, help="delay rounds (3)")
    parser.add_argument("--rounds", type=int, default=5, help="throughput rounds (5)")
    parser.add_argument("--duration", type=float, default=3.0, help="seconds per wrk run (3)")
    parser.add_argument("--connections", type=int, default=8, help="wrk connections (8)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers per stack (2)")
    parser.add_argument(
        "--gunicorn-args",
        default="",
        help="GUNICORN_CMD_ARGS for both stacks, for diagnosis only (e.g. "
        "'--max-requests 0'); the report says so",
    )
    parser.add_argument("--ports", type=int, nargs=2, default=(18101, 18102))
    args = parser.parse_args()  # fmt: skip
    citizens = args.citizens or (1_000_000 if args.full or args.entries == 1_000_000 else 300_000)

    harness.install_cleanup()
    harness.require_demo_ca()
    for tool in ("openssl", "curl"):
        if not shutil.which(tool):
            raise SystemExit(f"{tool} is needed")
    if not shutil.which("wrk"):
        print("wrk not installed: using the Python load client (lower ceilings)")

    import redis

    redis.Redis.from_url(harness.REDIS_URL).flushdb()  # the benchmark db (14) only
    plan = plan_large(args.entries, citizens)
    small_seconds = build_small()
    print(f"SMALL: nes_bench_small migrated and seeded in {small_seconds:.0f} s")
    note = build_large(plan, reload=args.reload)

    paths = {"issuer": harness.PKI_DIR / "issuing.crt", "chain": harness.WORK / "chain.pem"}
    paths["chain"].write_bytes(
        paths["issuer"].read_bytes() + (harness.PKI_DIR / "root.crt").read_bytes()
    )
    issuer = x509.load_pem_x509_certificate(paths["issuer"].read_bytes())

    extra = {"GUNICORN_CMD_ARGS": args.gunicorn_args} if args.gunicorn_args else {}
    names = {"SMALL": "small", "LARGE": large_name(plan)}
    stacks = {
        label: harness.Stack(
            names[label], harness.free_port(port), workers=args.workers, extra_env=extra
        )
        for label, port in zip(LABELS, args.ports, strict=True)
    }
    for label, stack in stacks.items():
        stack.start()
        print(f"{label}: gunicorn + worker on {stack.base_url} (logs in {stack.log_dir})")
    targets = {label: prepare_target(stack, issuer) for label, stack in stacks.items()}
    for label, target in targets.items():
        wait_quiet(target.stack)
        print(f"{label}: demo certificate {target.serial} (shard {target.shard})")

    run = Run(args, targets, paths)
    sizes, counts = {}, {}
    for label, target in targets.items():
        rows = target.stack.query(
            "SELECT shard, entry_count, size_bytes FROM certificates_crlshard "
            "WHERE shard IN ('', %s)",
            [target.shard],
        )
        sizes[label] = {shard or "full": (n, size) for shard, n, size in rows}
        counts[label] = target.stack.query("SELECT count(*) FROM certificates_certificate")[0][0]
    run.out()
    run.out("== data ==")
    run.out(
        harness.table(
            ["stack", "certificates", "full CRL entries", "full CRL bytes", "shard",
             "shard entries", "shard bytes"],
            [[label, counts[label], *sizes[label]["full"], targets[label].shard,
              *sizes[label][targets[label].shard]] for label in LABELS],
        )
    )  # fmt: skip
    run.out(
        f"LARGE load: {note.get('seconds_total', float('nan')):.0f} s in all "
        f"(loaded {note.get('loaded_at')}); {args.workers} gunicorn workers × 2 threads and a "
        "2-process celery worker per stack"
        + (f"; GUNICORN_CMD_ARGS={args.gunicorn_args!r} (diagnosis)" if args.gunicorn_args else "")
    )
    large = targets["LARGE"]
    run.summary.append(
        f"bench/revocation.py --entries {args.entries} --citizens {citizens}: LARGE "
        f"{counts['LARGE']:,} certificates, full CRL {sizes['LARGE']['full'][0]:,} entries "
        f"({sizes['LARGE']['full'][1] / 1e6:.1f} MB), shard {large.shard} "
        f"{sizes['LARGE'][large.shard][0]:,} entries ({sizes['LARGE'][large.shard][1] / 1e3:.0f}"
        f" kB); LARGE load {note.get('seconds_total', float('nan')):.0f} s"
    )

    phases = {"pairs": phase_pairs, "delays": phase_delays, "throughput": phase_throughput,
              "herd": phase_herd}  # fmt: skip
    for name in PHASES:
        if name in args.only:
            phases[name](run)

    run.out()
    run.out("=== summary (paste) ===")
    for line in run.summary:
        run.out(line)
    run.out("targets: " + ("all met" if not run.missed else "MISSED: " + "; ".join(run.missed)))
    stem = f"revocation-{args.entries}-{citizens}"
    (harness.WORK / f"{stem}.txt").write_text("\n".join(run.report) + "\n")
    (harness.WORK / f"{stem}.json").write_text(
        json.dumps({**run.data, "missed": run.missed}, indent=1)
    )
    print(f"(report saved to {harness.WORK / stem}.txt and .json)")
    for stack in stacks.values():
        stack.stop()
    return 1 if run.missed else 0


if __name__ == "__main__":
    try:
        raise SystemExit(main())
    finally:
        harness.stop_all()
