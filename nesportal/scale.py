"""A national-size data set for benchmarks: ``manage.py load_scale_data``. Never for production.

What it loads (PostgreSQL only, through COPY; no model instances, rows generated as streams):

* ``citizens`` citizens with unique, valid T.C. Kimlik Nos (the first nine digits count up from
  :data:`TCKN_BASE`, so they never meet the demo's or the test factories' numbers), Turkish
  names from small lists, birth dates between 1940 and 2006, and valid Turkish mobile numbers
  (operator prefixes in :data:`MOBILE_PREFIXES`; all pass ``validate_turkish_mobile``).
  **Every one of them shares one security-word hash**: the word is :data:`SECURITY_WORD`,
  hashed once with ``make_password``. One Argon2 hash per row would take days, and a
  benchmark only needs *a* valid hash; a real portal must never share one.
* ``certificates_per_citizen`` certificates per citizen, of the configured issuing CA, with
  random 159-bit serials. Validity is three years; notAfter is spread evenly from
  :data:`EXPIRED_SPAN` ago to three years ahead (about 14 % expired, ~42 monthly CRL shards),
  ``crl_shard`` = ``certificates.ca.shard_for(not_after)``. Exactly ``bad_fraction`` of them
  are revoked or suspended (half each), exactly ``pending_fraction`` are pending (issued in the
  last two months, not opened yet), the rest active. Every row satisfies the model's check
  constraints (the database enforces them during the load).
  **Every row carries the same DER**: one real placeholder certificate issued once from the
  CA (its private key is thrown away), with its fingerprint. The row's serial, subject name and
  validity are the row's own; the DER's are not. Good enough for CRL, OCSP and page
  benchmarks; useless for anything that parses the holder's certificate.
* Afterwards: the CRL shard rows (``publication.ensure_shards``), every CRL of the CA marked as
  needing publication (``wanted = signed + 1``), ``VACUUM ANALYZE``; optionally
  (``publish=True``) the CRLs signed at once with ``publication.refresh_due()``.

Speed: under a minute per million certificates on a 2-core machine (bench/README.md has the
measured figures). Every row goes in in one transaction: a failure leaves nothing behind.
It refuses a database that already holds scale citizens (load into a fresh one).
"""

from __future__ import annotations

import random
import time
from array import array
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.db import connection, transaction
from django.db.backends.utils import CursorWrapper
from django.db.models import F
from django.utils import timezone

from accounts.identity import tckn_check_digits, turkish_upper
from certificates import ca as ca_module
from certificates import pki, publication
from certificates.models import Certificate, CrlShard

# The one security word of every scale citizen (benchmarks only; published on purpose).
SECURITY_WORD = "ölçek-sözcüğü-2026"
# First nine digits of scale T.C. Kimlik Nos: 300000000 + n (the demo uses 1…/2…, the test
# factories 9…), so at most 600 million citizens.
TCKN_BASE = 300_000_000
MAX_CITIZENS = 600_000_000

VALIDITY = timedelta(days=3 * 365)
EXPIRED_SPAN = timedelta(days=180)  # notAfter from this long ago …
FUTURE_SPAN = VALIDITY  # … to this far ahead
PENDING_SPAN = timedelta(days=60)  # pending certificates were issued this recently
DEFAULT_PENDING_FRACTION = 0.002
MOBILE_SHARE = 0.2

# Turkcell 530–539, Vodafone 540–549, Türk Telekom 501, 505–507, 550–555, 559: every 7-digit
# subscriber number after them is a valid mobile number for phonenumbers (tests check a sample).
MOBILE_PREFIXES = (
    "501", "505", "506", "507",
    *(str(p) for p in range(530, 540)),
    *(str(p) for p in range(540, 550)),
    *(str(p) for p in range(550, 556)),
    "559",
)  # fmt: skip

FIRST_NAMES = (
    "Ahmet", "Mehmet", "Mustafa", "Ali", "Hüseyin", "Hasan", "İbrahim", "İsmail", "Osman",
    "Yusuf", "Murat", "Ömer", "Ramazan", "Halil", "Süleyman", "Abdullah", "Mahmut", "Recep",
    "Salih", "Fatih", "Kadir", "Emre", "Burak", "Serkan", "Çağlar", "Oğuz", "Gökhan", "Şükrü",
    "Fatma", "Ayşe", "Emine", "Hatice", "Zeynep", "Elif", "Meryem", "Şerife", "Zehra", "Sultan",
    "Hanife", "Merve", "Havva", "Özlem", "Esra", "Büşra", "Gül", "Yasemin", "Dilek", "Çiğdem",
    "Tuğba", "Ebru", "Şeyma", "Gülşen", "Nurcan", "İpek",
)  # fmt: skip
LAST_NAMES = (
    "Yılmaz", "Kaya", "Demir", "Şahin", "Çelik", "Yıldız", "Yıldırım", "Öztürk", "Aydın",
    "Özdemir", "Arslan", "Doğan", "Kılıç", "Aslan", "Çetin", "Kara", "Koç", "Kurt", "Özkan",
    "Şimşek", "Polat", "Özcan", "Korkmaz", "Çakır", "Erdoğan", "Yavuz", "Can", "Acar", "Şen",
    "Aktaş", "Güler", "Yalçın", "Güneş", "Bozkurt", "Bulut", "Keskin", "Ünal", "Turan", "Gül",
    "Özer", "Işık", "Kaplan", "Avcı", "Sarı", "Tekin", "Taş", "Köse", "Yüksel", "Ateş", "Aksoy",
    "Güngör", "Eren", "Uçar", "Zeytin",
)  # fmt: skip

Status = Certificate.Status

CITIZEN_COLUMNS = (
    ("id", "int8"),
    ("tckn", "varchar"),
    ("first_name", "varchar"),
    ("last_name", "varchar"),
    ("birth_date", "date"),
    ("mobile_phone", "varchar"),
    ("email", "varchar"),
    ("address", "text"),
    ("security_word_hash", "varchar"),
    ("failure_count", "int2"),
    ("code_failure_count", "int2"),
    ("lock_reason", "varchar"),
    ("created_at", "timestamptz"),
    ("updated_at", "timestamptz"),
    ("session_epoch", "int4"),
    ("language", "varchar"),
)
CERTIFICATE_COLUMNS = (
    ("ca_id", "int8"),
    ("citizen_id", "int8"),
    ("serial_number", "varchar"),
    ("kind", "varchar"),
    ("der", "bytea"),
    ("subject_name", "varchar"),
    ("not_before", "timestamptz"),
    ("not_after", "timestamptz"),
    ("fingerprint_sha256", "varchar"),
    ("status", "varchar"),
    ("issued_at", "timestamptz"),
    ("opened_at", "timestamptz"),
    ("suspended_at", "timestamptz"),
    ("suspended_by", "varchar"),
    ("revoked_at", "timestamptz"),
    ("revocation_reason", "varchar"),
    ("crl_shard", "varchar"),
    ("status_version", "int4"),
)


class ScaleError(Exception):
    """The data set cannot be loaded here (wrong database, already loaded, bad arguments)."""


@dataclass
class LoadReport:
    citizens: int = 0
    certificates: int = 0
    statuses: Counter = field(default_factory=Counter)
    shards: int = 0
    full_crl_entries: int = 0  # unexpired non-active certificates (what the full CRL lists)
    phases: list[tuple[str, float]] = field(default_factory=list)
    published: list[tuple[str, int, int, float]] = field(default_factory=list)

    @property
    def total_seconds(self) -> float:
        return sum(seconds for _name, seconds in self.phases)


def tckn(n: int) -> str:
    """The T.C. Kimlik No of scale citizen ``n`` (0-based)."""
    first_nine = str(TCKN_BASE + n)
    return first_nine + tckn_check_digits(first_nine)


def unexpired_share() -> float:
    """Expected share of non-pending certificates still valid at load time."""
    future = FUTURE_SPAN.total_seconds()
    return future / (future + EXPIRED_SPAN.total_seconds())


def expected_full_crl_entries(
    citizens: int,
    certificates_per_citizen: int,
    bad_fraction: float,
    pending_fraction: float = DEFAULT_PENDING_FRACTION,
) -> float:
    """How many entries the full CRL will list (unexpired revoked, suspended and pending)."""
    total = citizens * certificates_per_citizen
    return total * (bad_fraction * unexpired_share() + pending_fraction)


def bad_fraction_for(
    entries: int,
    citizens: int,
    certificates_per_citizen: int,
    pending_fraction: float = DEFAULT_PENDING_FRACTION,
) -> float:
    """The ``bad_fraction`` that makes the full CRL list about ``entries`` certificates."""
    total = citizens * certificates_per_citizen
    fraction = (entries / total - pending_fraction) / unexpired_share()
    if not 0 <= fraction <= 1 - pending_fraction:
        raise ScaleError(
            f"{entries} full-CRL entries cannot come from {total} certificates with a pending "
            f"fraction of {pending_fraction} (bad fraction would be {fraction:.4f})"
        )
    return fraction


def _picker(n: int, k: int, rng: random.Random) -> Iterator[bool]:
    """Exactly ``k`` of ``n`` items, chosen uniformly, one decision per item (Knuth's
    selection sampling): exact counts without holding n decisions in memory."""
    chosen = 0
    for i in range(n):
        pick = rng.random() * (n - i) < k - chosen
        chosen += pick
        yield pick


def _placeholder_der(now: datetime) -> tuple[bytes, str]:
    """One real certificate from the issuing CA that every scale row shares (benchmarks only)."""
    material = ca_module.material()
    ca_row = ca_module.issuing_ca()
    not_before = max(now - timedelta(days=1), material.certificate.not_valid_before_utc)
    not_after = min(not_before + VALIDITY, material.certificate.not_valid_after_utc)
    key = ec.generate_private_key(ec.SECP256R1())
    cert = pki.issue_qualified_certificate(
        material,
        public_key=key.public_key(),
        serial_number=pki.random_serial(),
        given_name="Ölçek",
        surname="Verisi",
        identity=pki.natural_person_identity(tckn(0), None),
        not_before=not_before,
        not_after=not_after,
        crl_url=ca_module.crl_url(ca_row.slug, ca_module.shard_for(not_after)),
        ocsp_url=ca_module.ocsp_url(),
        ca_issuers_url=ca_module.ca_issuers_url(ca_row.slug),
        policy_oid=settings.NES_POLICY_OID,
        pds_url=settings.NES_PDS_URL,
    )
    return cert.public_bytes(serialization.Encoding.DER), pki.fingerprint_sha256(cert)


class _Phase:
    """Times one phase of the load, records it in the report and logs it."""

    def __init__(self, report: LoadReport, log: Callable[[str], None], name: str) -> None:
        self.report = report
        self.log = log
        self.name = name
        self.rows = 0
        self.note = ""

    def __enter__(self) -> _Phase:
        self.started = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        seconds = time.perf_counter() - self.started
        self.report.phases.append((self.name, seconds))
        if exc[0] is not None:
            return
        note = self.note
        if self.rows:
            note = f"  ({self.rows:,} rows, {self.rows / max(seconds, 1e-9):,.0f} rows/s)"
        self.log(f"{self.name}: {seconds:.1f} s{note}")


@contextmanager
def _one_transaction(report: LoadReport, log: Callable[[str], None]) -> Iterator[None]:
    """``transaction.atomic()`` whose commit is timed as a phase of its own."""
    with transaction.atomic():
        yield
        started = time.perf_counter()
    seconds = time.perf_counter() - started
    report.phases.append(("commit", seconds))
    log(f"commit: {seconds:.1f} s")


def load(
    *,
    citizens: int = 1_000_000,
    certificates_per_citizen: int = 3,
    bad_fraction: float = 0.05,
    pending_fraction: float = DEFAULT_PENDING_FRACTION,
    seed: int | None = None,
    publish: bool = False,
    now: datetime | None = None,
    log: Callable[[str], None] = print,
) -> LoadReport:
    """Load the data set into the default database (see the module docstring)."""
    if connection.vendor != "postgresql":
        raise ScaleError(
            f"load_scale_data needs PostgreSQL (it uses COPY); the database is {connection.vendor}"
        )
    if not 1 <= citizens <= MAX_CITIZENS:
        raise ScaleError(f"--citizens must be between 1 and {MAX_CITIZENS}")
    if certificates_per_citizen < 0:
        raise ScaleError("--certificates-per-citizen must not be negative")
    if not 0 <= bad_fraction <= 1 or not 0 <= pending_fraction <= 1 - bad_fraction:
        raise ScaleError("fractions must be between 0 and 1, and add up to at most 1")
    now = (now or timezone.now()).astimezone(UTC).replace(microsecond=0)
    rng = random.Random(seed)
    report = LoadReport()

    def phase(name: str) -> _Phase:
        return _Phase(report, log, name)

    with phase("prepare (CA, placeholder certificate, shared hash)"):
        ca_row = ca_module.issuing_ca()
        ca_cert = ca_module.material().certificate
        der, fingerprint = _placeholder_der(now)
        word_hash = make_password(SECURITY_WORD)
        lowest, highest = tckn(0), tckn(citizens - 1)
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT 1 FROM accounts_citizen WHERE tckn BETWEEN %s AND %s LIMIT 1",
                [lowest, highest],
            )
            if cursor.fetchone():
                raise ScaleError(
                    "this database already holds scale citizens: load into a fresh database"
                )

    # One transaction for every row: a failure leaves nothing behind. Foreign keys are checked
    # at the end of each COPY (not at commit), so each phase's time includes its checks.
    with _one_transaction(report, log):
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit = off")
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")

        with phase("citizens (COPY)") as step:
            first_id, names = _copy_citizens(citizens, rng, word_hash, now)
            report.citizens = step.rows = citizens

        total = citizens * certificates_per_citizen
        with phase("certificates (COPY)") as step:
            shards = _copy_certificates(
                report,
                first_id=first_id,
                names=names,
                per_citizen=certificates_per_citizen,
                bad=round(total * bad_fraction),
                pending=round(total * pending_fraction),
                ca_id=ca_row.id,
                ca_not_before=ca_cert.not_valid_before_utc,
                ca_not_after=ca_cert.not_valid_after_utc,
                der=der,
                fingerprint=fingerprint,
                rng=rng,
                now=now,
            )
            report.certificates = step.rows = total

        with phase("CRL shards (rows, wanted = signed + 1)") as step:
            publication.ensure_shards(ca_row.id, shards)
            CrlShard.objects.filter(ca_id=ca_row.id).update(wanted=F("signed") + 1)
            report.shards = CrlShard.objects.filter(ca_id=ca_row.id).count()
            step.note = f"  ({report.shards} CRLs incl. the full one)"

    # VACUUM too: it sets the visibility map, without which the CRL queries cannot be answered
    # from the covering indexes alone (certificates migration 0005) until autovacuum comes by.
    with phase("VACUUM ANALYZE"), connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE certificates_certificate")
        cursor.execute("ANALYZE")

    if publish:
        with phase("publish (refresh_due)") as step:
            before = dict(CrlShard.objects.filter(ca_id=ca_row.id).values_list("shard", "number"))
            publication.refresh_due()
            for shard, number, entries, size, seconds in (
                CrlShard.objects.filter(ca_id=ca_row.id)
                .order_by("shard")
                .values_list("shard", "number", "entry_count", "size_bytes", "sign_seconds")
            ):
                if number != before.get(shard):
                    report.published.append((shard, entries, size, seconds))
            step.note = f"  ({len(report.published)} CRLs signed)"
    return report


def _copy_citizens(n: int, rng: random.Random, word_hash: str, now: datetime) -> tuple[int, array]:
    """COPY ``n`` citizens with ids reserved from the table's identity sequence.

    Returns the first id and each citizen's (first, last) name indices, two per citizen, which
    the certificates need for their subject names.
    """
    names = array("H", bytes(2 * 2 * n))
    birth_low = date(1940, 1, 1).toordinal()
    birth_high = date(2006, 12, 31).toordinal()
    prefixes = MOBILE_PREFIXES
    n_first, n_last = len(FIRST_NAMES), len(LAST_NAMES)
    randrange = rng.randrange
    from_ordinal = date.fromordinal
    columns = ", ".join(name for name, _type in CITIZEN_COLUMNS)
    with connection.cursor() as cursor:
        # Nobody else inserts meanwhile: ids first_id … first_id + n - 1 are ours.
        cursor.execute("LOCK TABLE accounts_citizen IN SHARE ROW EXCLUSIVE MODE")
        cursor.execute(
            "SELECT GREATEST(COALESCE(MAX(id), 0), "
            "(SELECT last_value FROM pg_sequences WHERE schemaname = current_schema() AND "
            "sequencename = %s)) + 1 FROM accounts_citizen",
            [_sequence_name(cursor, "accounts_citizen")],
        )
        first_id = int(cursor.fetchone()[0])
        pg = cursor.connection
        with (
            pg.cursor() as raw,
            raw.copy(f"COPY accounts_citizen ({columns}) FROM STDIN (FORMAT BINARY)") as copy,
        ):
            copy.set_types([type_ for _name, type_ in CITIZEN_COLUMNS])
            write = copy.write_row
            for i in range(n):
                f = randrange(n_first)
                last = randrange(n_last)
                names[2 * i] = f
                names[2 * i + 1] = last
                write(
                    (
                        first_id + i,
                        tckn(i),
                        FIRST_NAMES[f],
                        LAST_NAMES[last],
                        from_ordinal(randrange(birth_low, birth_high)),
                        f"+90{prefixes[randrange(len(prefixes))]}{randrange(10_000_000):07d}",
                        "",
                        "",
                        word_hash,
                        0,
                        0,
                        "",
                        now,
                        now,
                        0,
                        "tr",
                    )
                )
        cursor.execute(
            "SELECT setval(pg_get_serial_sequence('accounts_citizen', 'id'), %s)",
            [first_id + n - 1],
        )
    return first_id, names


def _sequence_name(cursor: CursorWrapper, table: str) -> str:
    cursor.execute("SELECT pg_get_serial_sequence(%s, 'id')", [table])
    row = cursor.fetchone()
    assert row is not None, table
    name: str = row[0]
    return name.split(".")[-1].strip('"')


def _copy_certificates(
    report: LoadReport,
    *,
    first_id: int,
    names: array,
    per_citizen: int,
    bad: int,
    pending: int,
    ca_id: int,
    ca_not_before: datetime,
    ca_not_after: datetime,
    der: bytes,
    fingerprint: str,
    rng: random.Random,
    now: datetime,
) -> set[str]:
    """COPY every citizen's certificates; returns the shards they fall into."""
    n_citizens = len(names) // 2
    total = n_citizens * per_citizen
    subjects = [[turkish_upper(f"{first} {last}") for last in LAST_NAMES] for first in FIRST_NAMES]
    reasons = list(Certificate.RevocationReason.values)
    # Exactly `bad` bad ones (half revoked, half suspended, chosen among the bad) and exactly
    # `pending` pending ones among the good.
    is_bad = _picker(total, bad, rng)
    is_revoked = _picker(bad, bad // 2 + bad % 2, rng)
    is_pending = _picker(total - bad, pending, rng)
    now_ts = now.timestamp()
    low = max(now - EXPIRED_SPAN, ca_not_before + VALIDITY + timedelta(minutes=1)).timestamp()
    high = min(now + FUTURE_SPAN, ca_not_after).timestamp()
    if high <= low:
        raise ScaleError("the issuing CA's validity is too short for three-year certificates")
    validity = VALIDITY.total_seconds()
    pending_span = PENDING_SPAN.total_seconds()
    ts = datetime.fromtimestamp
    utc = UTC
    uniform = rng.uniform
    rand = rng.random
    getrandbits = rng.getrandbits
    choice = rng.choice
    shard_memo: dict[tuple[int, int], str] = {}
    statuses: Counter = Counter()
    full_entries = 0
    nes, mobile = Certificate.Kind.NES.value, Certificate.Kind.MOBILE.value
    holder, by_ca = Certificate.SuspendedBy.HOLDER.value, Certificate.SuspendedBy.CA.value
    active, pending_s = Status.ACTIVE.value, Status.PENDING.value
    revoked_s, suspended_s = Status.REVOKED.value, Status.SUSPENDED.value
    columns = ", ".join(name for name, _type in CERTIFICATE_COLUMNS)

    with connection.cursor() as cursor:
        pg = cursor.connection
        with (
            pg.cursor() as raw,
            raw.copy(
                f"COPY certificates_certificate ({columns}) FROM STDIN (FORMAT BINARY)"
            ) as copy,
        ):
            copy.set_types([type_ for _name, type_ in CERTIFICATE_COLUMNS])
            write = copy.write_row
            for c in range(n_citizens):
                citizen_id = first_id + c
                subject = subjects[names[2 * c]][names[2 * c + 1]]
                for _k in range(per_citizen):
                    bad_one = next(is_bad)
                    status = active
                    if bad_one:
                        status = revoked_s if next(is_revoked) else suspended_s
                    elif next(is_pending):
                        status = pending_s
                    if status == pending_s:
                        nb = now_ts - uniform(0, pending_span)
                        na = nb + validity
                    else:
                        na = uniform(low, high)
                        nb = na - validity
                    not_before, not_after = ts(nb, utc), ts(na, utc)
                    shard = shard_memo.get((not_after.year, not_after.month))
                    if shard is None:
                        shard = shard_memo[(not_after.year, not_after.month)] = ca_module.shard_for(
                            not_after
                        )
                    opened_at = suspended_at = revoked_at = None
                    suspended_by = reason = ""
                    version = 1
                    if status == pending_s:
                        version = 0
                    else:
                        # Opened within two days of issuance (never in the future) …
                        opened = nb + min(172_800 * rand(), max(0.0, now_ts - nb))
                        opened_at = ts(opened, utc)
                        if status != active:
                            # … and revoked or suspended later, before now and its expiry.
                            at = ts(uniform(opened, max(min(now_ts, na) - 60, opened)), utc)
                            version = 2
                            if status == revoked_s:
                                revoked_at, reason = at, choice(reasons)
                            else:
                                suspended_at = at
                                suspended_by = holder if rand() < 0.9 else by_ca
                    if status != active and na > now_ts:
                        full_entries += 1
                    statuses[status] += 1
                    write(
                        (
                            ca_id,
                            citizen_id,
                            format(getrandbits(159) or 1, "x"),
                            mobile if rand() < MOBILE_SHARE else nes,
                            der,
                            subject,
                            not_before,
                            not_after,
                            fingerprint,
                            status,
                            not_before,
                            opened_at,
                            suspended_at,
                            suspended_by,
                            revoked_at,
                            reason,
                            shard,
                            version,
                        )
                    )
    report.statuses = statuses
    report.full_crl_entries = full_entries
    return set(shard_memo.values())
