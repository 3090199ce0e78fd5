"""Page speed: the portal's pages against a bare Django view on the same stack, at 1k and 1M.

Needs PostgreSQL and Redis (bench/harness.py: ``NES_BENCH_PG``, default the local server;
``NES_BENCH_REDIS``, default here ``redis://127.0.0.1:6379/15``, which it empties) and the demo
CA in ``var/pki`` (``DEBUG=true .venv/bin/python manage.py create_demo_ca``). Run:

    .venv/bin/python bench/pages.py                    # ~4 min: 1,000 citizens (make bench)
    .venv/bin/python bench/pages.py --million          # + 1,000,000 citizens and 1M/1k ratios
    .venv/bin/python bench/pages.py --scale million    # the 1M stack only, against its bare view
    .venv/bin/python bench/pages.py --only activity    # one page (or a few) against the bare view

Each stack is the portal as production runs it — ``gunicorn -c gunicorn.conf.py`` (DEBUG off,
2 workers × 2 threads) and a celery worker on a PostgreSQL database of its own — started with
``DJANGO_SETTINGS_MODULE=bench.bare_settings``: the portal's settings and URLs plus one
benchmark-only view, ``/bench/bare/`` (bench/bare_views.py: the session read, ``get_token``,
one Citizen by primary key, a 5 kB template). Its throughput is what a Django page costs on
this stack, with the same middleware, sessions, database and gunicorn; every page is reported
as a ratio to it.

Databases (kept between runs, their COMMENT says how they were loaded; ``--reload`` redoes
them): ``nes_bench_pages_1k`` = ``seed_demo --force`` + ``load_scale_data --citizens 1000
--publish``, ``nes_bench_pages_1m`` = the same with 1,000,000 citizens (~3 min to load, ~4 GB).

Measured per page, alternating bare / page (and, with both scales, bare 1k / page 1k / bare 1M
/ page 1M) for ``--rounds`` rounds of ``--duration`` s: requests/s, p50/p95 latency, the median
of the per-round page/bare ratios (target ≥ 0.7) and 1M/1k ratios (target ≥ 0.9; the bare
view's own 1M/1k is the noise floor of the run); gunicorn workers' CPU per request
(/proc, before and after each run) and the database backends' (``pg_stat_activity``);
queries per request (the test Client against the same database, ``CaptureQueriesContext``).
Logged-in pages use the demo citizen Kerimcan Zeytin (certificates, two AKİS cards, an E-Onay
application, two years of audit events: 240 visits, 1,723 events of which 763 are shown on
Hesap Hareketlerim), with a session made server-side (``harness.login``). The captcha throttle is
raised for the run (``NES_THROTTLES``: one client sends every request); it is still counted.

Targets are reported, not enforced (for now): the exit code is 0 unless a stack fails.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import sys
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

os.environ.setdefault("NES_BENCH_REDIS", "redis://127.0.0.1:6379/15")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import harness  # noqa: E402
from cryptography import x509  # noqa: E402
from revocation import ocsp_request  # noqa: E402

DEMO_CITIZEN = "10000000146"  # Kerimcan Zeytin (nesportal/demo.py)
SETTINGS = "bench.bare_settings"
SEED = 20261202
# bump when the data set changes: cached databases are then reloaded (2: the demo citizen's
# two years of audit events for Hesap Hareketlerim)
DATA_VERSION = 2
SCALES = {"1k": 1_000, "1m": 1_000_000}
BARE_TARGET = 0.7
SCALE_TARGET = 0.9
# One client sends every request: the captcha throttle (30/min per client) would answer 429.
THROTTLES = "captcha=100000000/m;100000000/h"


# --- the data sets ----------------------------------------------------------------------------


def stack_extra() -> dict[str, str]:
    return {"DJANGO_SETTINGS_MODULE": SETTINGS, "NES_THROTTLES": THROTTLES}


def db_name(scale: str) -> str:
    return f"pages_{scale}"


def build_database(scale: str, *, reload: bool = False) -> dict[str, Any]:
    """``nes_bench_pages_<scale>``: the demo and ``load_scale_data``; reused if loaded alike."""
    name = db_name(scale)
    plan = {"citizens": SCALES[scale], "seed": SEED, "version": DATA_VERSION}
    env = harness.stack_env(name, 0, extra=stack_extra())
    note = harness.database_note(name) if harness.database_exists(name) else None
    if note and not reload and note.get("plan") == plan:
        print(f"{scale}: reusing {harness.database_name(name)} (loaded {note.get('loaded_at')})")
        harness.manage(env, "migrate", "--noinput", "-v", "0")
        return note
    print(f"{scale}: loading {plan['citizens']:,} citizens into {harness.database_name(name)} …")
    started = time.perf_counter()
    harness.create_database(name, env)
    harness.manage(env, "seed_demo", "--force")
    output = harness.manage(
        env,
        "load_scale_data",
        "--force",
        "--citizens",
        str(plan["citizens"]),
        "--seed",
        str(plan["seed"]),
        "--publish",
    )
    events = harness.run_django(
        env, f"IDENTIFIER = {DEMO_CITIZEN!r}\nSEED = {SEED}\n" + _ACTIVITY_CODE
    )
    output += (
        f"\naudit events of the demo citizen: {events['events']:,} ({events['shown']:,} shown)"
    )
    total = time.perf_counter() - started
    lines = [line for line in output.splitlines() if not line.startswith("  CRL 2")]
    note = {
        "plan": plan,
        "loaded_at": time.strftime("%Y-%m-%d %H:%M:%S"),
        "seconds_total": round(total, 1),
        "load_output": lines,
    }
    harness.set_database_note(name, note)
    print(f"{scale}: loaded in {total:.0f} s")
    return note


# Two years of a frequent user's visits for Hesap Hareketlerim: every login with its internal
# steps (which the page must skip), a wrong word now and then, an operation or two, the logout.
# Raw INSERTs: AuditEvent's auto_now_add would stamp every row with the loading time.
_ACTIVITY_CODE = """
import json, random
from datetime import timedelta
from django.db import connection, transaction
from django.utils import timezone
from accounts.activity import SHOWN
from accounts.models import Citizen
from pinvault.models import AkisCard

citizen = Citizen.objects.get(tckn=IDENTIFIER)
cards = list(AkisCard.objects.filter(citizen=citizen).values_list("serial_number", flat=True))
rng = random.Random(SEED)
devices = ["Chrome 131 · Windows", "Mobile Safari 17 · iOS · iPhone", "Firefox 133 · Linux"]
operations = [
    ("nes.pinpuk.viewed", lambda: {"card": rng.choice(cards), "fields": ["pin", "puk"]}),
    ("nes.profile.address_changed", lambda: {"before": "…", "after": "…"}),
    ("nes.recovery.code_sent", dict),
    ("nes.login.code_failed", lambda: {"purpose": "pinpuk", "code_failure_count": 1}),
]
rows = []
at = timezone.now() - timedelta(days=730)
for visit in range(240):
    at += timedelta(minutes=rng.randint(600, 5400))
    ip = f"198.51.100.{rng.randint(1, 254)}"
    def add(action, data=None, minutes=1):
        global at
        at += timedelta(seconds=rng.randint(5, 60 * minutes))
        rows.append((at, action, citizen.pk, "", ip, json.dumps(data or {})))
    if rng.random() < 0.1:
        add("nes.login.word_failed", {"failure_count": 1})
    add("nes.login.word_passed")
    add("nes.sms.queued", {"kind": "login_code"})
    add("nes.sms.sent", {"provider_id": "bench"})
    add("nes.login.code_passed", {"purpose": "login"})
    add("nes.login.succeeded", {"device": rng.choice(devices)})
    for _ in range(rng.randint(0, 2)):
        action, data = rng.choice(operations)
        add(action, data(), minutes=5)
    add("nes.logout")
with transaction.atomic(), connection.cursor() as cursor:
    cursor.executemany(
        "INSERT INTO audit_auditevent (at, action, citizen_id, subject, ip_address, data) "
        "VALUES (%s, %s, %s, %s, %s, %s::jsonb)",
        rows,
    )
    cursor.execute("ANALYZE audit_auditevent")
result = {"events": len(rows), "shown": sum(1 for row in rows if row[1] in SHOWN)}
"""


# --- the pages ----------------------------------------------------------------------------------

_CERT_CODE = """
from django.utils import timezone
from accounts.models import Citizen
from certificates.models import Certificate
citizen = Citizen.objects.get(tckn=IDENTIFIER)
cert = (Certificate.objects.filter(citizen=citizen, kind="nes", status="active",
        not_after__gt=timezone.now()).order_by("-not_before").first())
result = {"serial": cert.serial_number, "der": bytes(cert.der).hex(), "shard": cert.crl_shard,
          "citizens": Citizen.objects.count(), "certificates": Certificate.objects.count()}
"""

_CAPTCHA_RE = re.compile(r"/captcha/image/(\w+)/")


@dataclass
class Page:
    key: str
    label: str
    logged_in: bool
    method: str = "GET"
    content_type: str = ""


PAGES = [
    Page("bare", "bare Django view (/bench/bare/)", True),
    Page("home", "home (/)", False),
    Page("login", "Şifreli Giriş GET (/giris/)", False),
    Page("captcha", "captcha image", False),
    Page("menu", "İşlemler Menüsü (/islemler/)", True),
    Page("list", "Sertifika Listele (/sertifikalar/)", True),
    Page("detail", "certificate detail", True),
    Page("pinpuk", "PIN/PUK list (/pin-puk/)", True),
    Page("unlock", "Kilit Çözme list (/kilit-cozme/)", True),
    Page("eonay", "E-Onay (/e-onay/)", True),
    Page("profile", "Bilgi Güncelle (/bilgi-guncelle/)", True),
    Page("activity", "Hesap Hareketlerim (/hesap-hareketlerim/)", True),
    Page("ocsp", "OCSP POST, nonce (fresh)", False, "POST", "application/ocsp-request"),
    Page("crl", "CRL GET (the certificate's shard)", False),
]
BY_KEY = {page.key: page for page in PAGES}


@dataclass
class Site:
    """One stack and what its pages need: paths, the session, OCSP bodies."""

    scale: str
    stack: harness.Stack
    paths: dict[str, str] = field(default_factory=dict)
    session: harness.LoggedIn | None = None
    ocsp_bodies: list[bytes] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)

    def refresh_captcha(self) -> None:
        """A fresh captcha key (they expire after minutes) from the Şifreli Giriş page."""
        page = harness.http_get(self.stack.url("/giris/"))
        match = _CAPTCHA_RE.search(page.body.decode("utf-8", "replace"))
        if page.status != 200 or match is None:
            raise RuntimeError(f"{self.scale}: no captcha on /giris/ (HTTP {page.status})")
        self.paths["captcha"] = f"/captcha/image/{match.group(1)}/"

    def request_args(self, page: Page) -> dict[str, Any]:
        headers: dict[str, str] = {}
        if page.logged_in:
            assert self.session is not None
            headers.update(self.session.headers)
        if page.content_type:
            headers["Content-Type"] = page.content_type
        bodies = self.ocsp_bodies if page.key == "ocsp" else None
        return {"method": page.method, "headers": headers, "bodies": bodies}


def prepare_site(scale: str, stack: harness.Stack, issuer: x509.Certificate) -> Site:
    found = harness.run_django(stack.env, f"IDENTIFIER = {DEMO_CITIZEN!r}\n" + _CERT_CODE)
    cert = x509.load_der_x509_certificate(bytes.fromhex(found["der"]))
    points = cert.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
    shard_path = urllib.parse.urlsplit(points[0].full_name[0].value).path
    site = Site(scale, stack, data=found)
    site.paths = {
        "bare": "/bench/bare/",
        "home": "/",
        "login": "/giris/",
        "menu": "/islemler/",
        "list": "/sertifikalar/",
        "detail": f"/sertifikalar/{found['serial']}/",
        "pinpuk": "/pin-puk/",
        "unlock": "/kilit-cozme/",
        "eonay": "/e-onay/",
        "profile": "/bilgi-guncelle/",
        "activity": "/hesap-hareketlerim/",
        "ocsp": "/ocsp",
        "crl": shard_path,
    }
    site.refresh_captcha()
    site.ocsp_bodies = [ocsp_request(cert, issuer, nonce=True) for _ in range(256)]
    site.session = harness.login(stack, DEMO_CITIZEN, csrf_page="/bilgi-guncelle/")
    rows = stack.query(
        "SELECT entry_count, size_bytes FROM certificates_crlshard WHERE shard = %s",
        [found["shard"]],
    )
    site.data["shard"] = found["shard"]
    site.data["shard_entries"], site.data["shard_bytes"] = rows[0] if rows else (0, 0)
    for page in PAGES:  # every page answers 200 before it is measured
        args = site.request_args(page)
        body = args["bodies"][0] if args["bodies"] else None
        answer = harness.http_request(
            stack.url(site.paths[page.key]),
            method=page.method,
            body=body,
            headers=args["headers"],
        )
        if answer.status != 200:
            raise RuntimeError(
                f"{scale}: {page.method} {site.paths[page.key]} answered {answer.status} "
                f"(location {answer.headers.get('location')!r})"
            )
    return site


# --- queries per request ----------------------------------------------------------------------

_QUERIES_CODE = """
from django.conf import settings
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

out = {}
for key, method, path, logged_in, body, content_type in PAGES:
    client = Client(HTTP_HOST="127.0.0.1")
    if logged_in:
        client.cookies[settings.SESSION_COOKIE_NAME] = SESSION_KEY
    def go():
        if method == "POST":
            return client.post(path, data=bytes.fromhex(body), content_type=content_type)
        return client.get(path)
    go()  # caches, the CA files, the first connection
    counts = []
    for _i in range(3):
        with CaptureQueriesContext(connection) as captured:
            response = go()
        # Statements that do work; BEGIN/COMMIT (the session save's transaction) not counted.
        counts.append(sum(1 for q in captured.captured_queries if q["sql"].split(" ", 1)[0]
                          not in ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE")))
    out[key] = {"status": response.status_code, "queries": sorted(counts)[1],
                "sql": [q["sql"][:160] for q in captured.captured_queries]}
result = out
"""


def count_queries(site: Site) -> dict[str, Any]:
    """Queries per request of each page (BEGIN/COMMIT not counted): the test Client in a
    subprocess with the stack's settings and database, the logged-in pages with the benchmark
    session (median of 3, after one warm-up request)."""
    assert site.session is not None
    site.refresh_captcha()
    pages = [
        [
            page.key,
            page.method,
            site.paths[page.key],
            page.logged_in,
            site.ocsp_bodies[0].hex() if page.key == "ocsp" else "",
            page.content_type,
        ]
        for page in PAGES
    ]
    code = f"PAGES = {pages!r}\nSESSION_KEY = {site.session.session_key!r}\n" + _QUERIES_CODE
    return harness.run_django(site.stack.env, code)


# --- load -------------------------------------------------------------------------------------


@dataclass
class Sample:
    result: harness.LoadResult
    web_cpu_ms: float  # gunicorn workers, per request
    db_cpu_ms: float  # the database's backends, per request

    @property
    def rps(self) -> float:
        return self.result.rps


def measure(site: Site, page: Page, args: argparse.Namespace) -> Sample:
    if page.key == "captcha":
        site.refresh_captcha()
    stack = site.stack
    web, db = stack.web_worker_pids(), stack.database_backend_pids()
    web_before, db_before = harness.cpu_seconds(web), harness.cpu_seconds(db)
    result = harness.load(
        stack.url(site.paths[page.key]),
        duration=args.duration,
        connections=args.connections,
        **site.request_args(page),
    )
    # Backends opened during the run count from zero (the list is taken again afterwards).
    web_after = harness.cpu_seconds(stack.web_worker_pids())
    db_after = harness.cpu_seconds(stack.database_backend_pids())
    n = max(result.requests, 1)
    return Sample(
        result,
        harness.cpu_used(web_before, web_after) * 1000 / n,
        harness.cpu_used(db_before, db_after) * 1000 / n,
    )


def variant(site: Site, page: Page, args: argparse.Namespace) -> Callable[[], Sample]:
    return lambda: measure(site, page, args)


def run_pages(sites: dict[str, Site], args: argparse.Namespace) -> dict[str, harness.Compared]:
    """Per page: bare, page (per scale, in turn), ``--rounds`` times."""
    compared: dict[str, harness.Compared] = {}
    for site in sites.values():  # warm-up: every page once, briefly
        for page in PAGES:
            harness.load(
                site.stack.url(site.paths[page.key]),
                duration=1.0,
                connections=args.connections,
                **site.request_args(page),
            )
    for page in PAGES[1:]:
        variants: dict[str, Callable[[], Sample]] = {}
        for scale, site in sites.items():
            variants[f"bare@{scale}"] = variant(site, BY_KEY["bare"], args)
            variants[f"page@{scale}"] = variant(site, page, args)
        started = time.perf_counter()
        compared[page.key] = harness.alternate(variants, args.rounds)
        medians = ", ".join(
            f"{name} {compared[page.key].median(name, lambda s: s.rps):.0f}" for name in variants
        )
        print(f"  {page.label}: {medians} req/s ({time.perf_counter() - started:.0f} s)")
    return compared


# --- report -----------------------------------------------------------------------------------


def mark(ok: bool) -> str:
    return "✓" if ok else "✗"


def rps(s: Sample) -> float:
    return s.rps


def report(
    sites: dict[str, Site],
    compared: dict[str, harness.Compared],
    queries: dict[str, dict[str, Any]],
    args: argparse.Namespace,
) -> list[str]:
    out: list[str] = []
    for scale, site in sites.items():
        rows = []
        bare_all = [s for c in compared.values() for s in c.samples[f"bare@{scale}"]]
        bare_row = [
            BY_KEY["bare"].label,
            harness.median(s.rps for s in bare_all),
            1.0,
            harness.median(s.result.p50_ms for s in bare_all),
            harness.median(s.result.p95_ms for s in bare_all),
            queries[scale]["bare"]["queries"],
            harness.median(s.web_cpu_ms for s in bare_all),
            harness.median(s.db_cpu_ms for s in bare_all),
            1.0,
            sum(s.result.errors for s in bare_all),
            "",
        ]
        bare_cpu = harness.median(s.web_cpu_ms + s.db_cpu_ms for s in bare_all)
        rows.append(bare_row)
        for page in PAGES[1:]:
            c = compared[page.key]
            samples = c.samples[f"page@{scale}"]
            r = c.paired_ratio(f"page@{scale}", f"bare@{scale}", rps)
            rows.append(
                [
                    page.label,
                    c.median(f"page@{scale}", rps),
                    r,
                    harness.median(s.result.p50_ms for s in samples),
                    harness.median(s.result.p95_ms for s in samples),
                    queries[scale][page.key]["queries"],
                    harness.median(s.web_cpu_ms for s in samples),
                    harness.median(s.db_cpu_ms for s in samples),
                    harness.ratio(
                        bare_cpu, harness.median(s.web_cpu_ms + s.db_cpu_ms for s in samples)
                    ),
                    sum(s.result.errors for s in samples),
                    f"{mark(r >= BARE_TARGET)} ≥ {BARE_TARGET}",
                ]
            )
        data = site.data
        out.append("")
        out.append(
            f"== {scale}: {data['citizens']:,} citizens, {data['certificates']:,} certificates; "
            f"shard CRL {data['shard']} {data['shard_entries']:,} entries "
            f"({data['shard_bytes'] / 1000:.1f} kB) =="
        )
        out.append(
            harness.table(
                ["page", "req/s", "vs bare", "p50 ms", "p95 ms", "queries", "web CPU ms/req",
                 "db CPU ms/req", "CPU vs bare", "errors", "target"],
                rows,
            )
        )  # fmt: skip
    if len(sites) == 2:
        rows = []
        for page in PAGES:
            if page.key == "bare":
                samples_1k = [s for c in compared.values() for s in c.samples["bare@1k"]]
                samples_1m = [s for c in compared.values() for s in c.samples["bare@1m"]]
                pairs = zip(samples_1m, samples_1k, strict=True)
                r = harness.median(harness.ratio(a.rps, b.rps) for a, b in pairs)
                target = "(noise floor)"
            else:
                c = compared[page.key]
                samples_1k, samples_1m = c.samples["page@1k"], c.samples["page@1m"]
                r = c.paired_ratio("page@1m", "page@1k", rps)
                target = f"{mark(r >= SCALE_TARGET)} ≥ {SCALE_TARGET}"
            rows.append(
                [
                    page.label,
                    harness.median(s.rps for s in samples_1k),
                    harness.median(s.rps for s in samples_1m),
                    r,
                    harness.median(s.result.p95_ms for s in samples_1k),
                    harness.median(s.result.p95_ms for s in samples_1m),
                    f"{queries['1k'][page.key]['queries']} / {queries['1m'][page.key]['queries']}",
                    target,
                ]
            )
        out.append("")
        out.append("== 1M / 1k (median of per-round ratios) ==")
        out.append(
            harness.table(
                ["page", "req/s 1k", "req/s 1M", "1M/1k", "p95 ms 1k", "p95 ms 1M",
                 "queries 1k/1M", "target"],
                rows,
            )
        )  # fmt: skip
    tool = "wrk" if shutil.which("wrk") else "the Python keep-alive client (no wrk)"
    out.append("")
    out.append(
        f"{args.rounds} rounds × {args.duration:g} s per page and variant, {args.connections} "
        f"connections, {tool}; gunicorn {args.workers} workers × 2 threads; "
        f"{time.strftime('%Y-%m-%d %H:%M')}, {os.cpu_count()} CPUs, load average "
        f"{os.getloadavg()[0]:.1f}. 'vs bare' and '1M/1k' are medians of per-round ratios "
        "(each pair back to back); CPU from /proc (gunicorn workers; the database's backends); "
        "'CPU vs bare' = bare's (web + db) CPU per request / the page's: the throughput ratio "
        "the CPU figures imply, steadier than req/s on a shared machine."
    )
    out.append("Targets (page ≥ 0.7 × bare; 1M/1k ≥ 0.9) are reported, not enforced: exit code 0.")
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--scale",
        choices=("small", "million", "both"),
        default="small",
        help="small: 1,000 citizens (default); million: 1,000,000; both: both and 1M/1k",
    )
    parser.add_argument("--million", action="store_true", help="the same as --scale both")
    parser.add_argument("--reload", action="store_true", help="reload the databases")
    parser.add_argument("--rounds", type=int, default=3, help="rounds per page (3)")
    parser.add_argument("--duration", type=float, default=2.0, help="seconds per run (2)")
    parser.add_argument("--connections", type=int, default=8, help="connections (8)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (2)")
    parser.add_argument("--ports", type=int, nargs=2, default=(18111, 18112))
    parser.add_argument(
        "--only",
        nargs="+",
        choices=[page.key for page in PAGES[1:]],
        help="measure only these pages (and the bare view), e.g. --only activity",
    )
    args = parser.parse_args()
    if args.only:
        PAGES[:] = [page for page in PAGES if page.key == "bare" or page.key in args.only]
    if args.million:
        args.scale = "both"
    scales = {"small": ["1k"], "million": ["1m"], "both": ["1k", "1m"]}[args.scale]

    harness.install_cleanup()
    harness.require_demo_ca()
    import redis

    redis.Redis.from_url(harness.REDIS_URL).flushdb()  # the benchmark's own db (15)
    notes = {scale: build_database(scale, reload=args.reload) for scale in scales}
    issuer = x509.load_pem_x509_certificate((harness.PKI_DIR / "issuing.crt").read_bytes())
    sites: dict[str, Site] = {}
    for scale, port in zip(scales, args.ports, strict=False):
        stack = harness.Stack(
            db_name(scale), harness.free_port(port), workers=args.workers, extra_env=stack_extra()
        )
        stack.start()
        print(f"{scale}: gunicorn + worker on {stack.base_url} (logs in {stack.log_dir})")
        sites[scale] = prepare_site(scale, stack, issuer)
    queries = {scale: count_queries(site) for scale, site in sites.items()}
    for scale, counted in queries.items():
        wrong = {k: v["status"] for k, v in counted.items() if v["status"] != 200}
        if wrong:
            raise RuntimeError(f"{scale}: the test Client got {wrong}")
    print(
        f"measuring {len(PAGES) - 1} pages × {args.rounds} rounds × "
        f"{2 * len(sites)} runs of {args.duration:g} s …",
        flush=True,
    )
    compared = run_pages(sites, args)
    lines = report(sites, compared, queries, args)
    print("\n".join(lines))
    stem = f"pages-{args.scale}"
    (harness.WORK / f"{stem}.txt").write_text("\n".join(lines) + "\n")
    (harness.WORK / f"{stem}.json").write_text(
        json.dumps(
            {
                "notes": notes,
                "queries": queries,
                "samples": {
                    key: {
                        name: [
                            {"rps": s.rps, "p50_ms": s.result.p50_ms, "p95_ms": s.result.p95_ms,
                             "web_cpu_ms": s.web_cpu_ms, "db_cpu_ms": s.db_cpu_ms,
                             "errors": s.result.errors}
                            for s in samples
                        ]
                        for name, samples in c.samples.items()
                    }
                    for key, c in compared.items()
                },
            },
            indent=1,
        )
    )  # fmt: skip
    print(f"(report saved to {harness.WORK / stem}.txt and .json; SQL per page in the .json)")
    for site in sites.values():
        site.stack.stop()
    return 0


if __name__ == "__main__":
    try:
        raise SystemExit(main())
    finally:
        harness.stop_all()
