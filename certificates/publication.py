"""CRL publication: demand-driven, single-flight, off the request path, streamed.

Contract
========

* **Shards.** Every certificate issued since shards exist names the CRL of its shard in its CRL
  distribution point: ``/crl/<slug>/<YYYYMM>.crl``, the UTC month its validity ends in
  (temporal sharding, as Let's Encrypt does). A shard holds at most one month of issuance, so no
  CRL grows with the age or size of the CA; a shard whose month has passed no longer changes.
  Shards keep the entries of certificates that expired (``expiredCertsOnCRL`` = the issuing
  CA's notBefore: ETSI EN 319 411-2 wants revocation status kept beyond expiry) and carry a
  critical issuingDistributionPoint naming their URL. The **full CRL** ``/crl/<slug>.crl`` lists
  every *unexpired* revoked or held certificate (no IDP); it is the distribution point of the
  certificates issued before shards existed.
* **Demand.** A status change increments ``CrlShard.wanted`` of its shard and of the full CRL in
  its own transaction (``CrlShardManager.note_change``) and, once committed, queues one
  ``publish_crls`` task (``certificates.tasks``; in the embedded default it runs in-process right
  after the commit). OCSP answers from the database at once; the CRL follows within seconds.
* **Single flight.** :func:`publish` takes a lease on the shard's row under its row lock, checks
  whether the CRL still needs signing (``signed < wanted``, never signed, or due), releases the
  lock, streams the entries straight from the database (tuples, no model instances) into one
  builder call, signs, and stores the result only while it still holds the lease. Any number of
  changes or requests in a burst produce one or two signings, never one each; a publisher that
  finds the lease held does nothing, because the holder re-checks ``wanted`` when it is done.
  No row lock is ever held while signing, so status changes never wait for a signature.
* **Schedule.** A CRL is valid 24 h (``CRL_VALIDITY``) and re-signed once it is 12 h old
  (``CRL_REFRESH_AGE``) even when nothing changed, by the periodic ``refresh_crls`` task (Celery
  beat; ETSI EN 319 411-1: a new CRL at least every 24 h). A request for a CRL that was never
  signed, or whose nextUpdate has passed (beat down), signs it in the request, still
  single-flight: the others wait for that one signing.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from celery import current_app
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from . import ca as ca_module
from . import pki
from .models import Certificate, CertificateAuthority, CrlShard

logger = logging.getLogger(__name__)

CRL_VALIDITY = timedelta(hours=24)
CRL_REFRESH_AGE = timedelta(hours=12)
# How long a request waits for the signing of a CRL that must exist (below gunicorn's timeout).
WAIT_FOR_SIGNER = 20.0
# The full CRL can be large (a million entries take ~40 s of a core to sign): once a signing
# took a second or more, it follows changes at most every FULL_CRL_SPACING × that time, so it
# never takes more than about a tenth of a worker. Shards, which certificates point at, follow
# every change at once.
FULL_CRL_SPACING = 10
FULL_CRL_SPACING_FROM = 1.0
STREAM_CHUNK = 5000

Status = Certificate.Status


class CrlUnavailable(Exception):
    """No valid CRL can be served now (the CA files are unreadable, or signing failed)."""


# --- shards --------------------------------------------------------------------------------


def valid_shard_name(shard: str) -> bool:
    """``YYYYMM`` of a month in which a certificate of the issuing CA can expire.

    Requests name shards; bounding them by the CA's validity keeps a client from creating rows
    for arbitrary months.
    """
    if len(shard) != 6 or not shard.isdigit() or not 1 <= int(shard[4:]) <= 12:
        return False
    cert = ca_module.certificate()
    return (
        ca_module.shard_for(cert.not_valid_before_utc)
        <= shard
        <= ca_module.shard_for(cert.not_valid_after_utc)
    )


def ensure_shards(ca_id: int, shards: set[str]) -> None:
    """Make the rows of these shards (and the full CRL) if they do not exist yet."""
    wanted = shards | {CrlShard.FULL}
    existing = set(
        CrlShard.objects.filter(ca_id=ca_id, shard__in=wanted).values_list("shard", flat=True)
    )
    missing = wanted - existing
    if missing:
        CrlShard.objects.bulk_create(
            [CrlShard(ca_id=ca_id, shard=shard) for shard in sorted(missing)],
            ignore_conflicts=True,
        )


# --- entries, streamed ------------------------------------------------------------------------


def _entries(ca_id: int, shard: str, now: datetime) -> Iterator[pki.CrlEntry]:
    """The CRL entries of one shard (or of the full CRL), straight from a server-side cursor.

    Revoked certificates with their reason; suspended ones and those not yet opened for use as
    certificateHold (a new certificate cannot be used before its holder opens it).
    """
    rows = Certificate.objects.filter(ca_id=ca_id).filter(~Q(status=Status.ACTIVE))
    # A shard keeps expired certificates (expiredCertsOnCRL); the full CRL lists live ones.
    rows = rows.filter(crl_shard=shard) if shard else rows.filter(not_after__gt=now)
    columns = ("serial_number", "status", "revoked_at", "revocation_reason", "suspended_at")
    reasons = {name: x509.ReasonFlags[name] for name in Certificate.RevocationReason.values}
    hold = x509.ReasonFlags.certificate_hold
    for serial, status, revoked_at, reason, suspended_at, issued_at in rows.values_list(
        *columns, "issued_at"
    ).iterator(chunk_size=STREAM_CHUNK):
        if status == Status.REVOKED:
            yield pki.CrlEntry(int(serial, 16), revoked_at, reasons[reason])
        else:
            yield pki.CrlEntry(int(serial, 16), suspended_at or issued_at, hold)


# --- publishing -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    """What :func:`publish` did.

    ``signed``: how many CRLs it signed; ``busy``: another publisher held the lease (it will see
    our change when it re-checks); ``pending``: changes are still unpublished after the last
    round (the caller queues another run; the periodic task would catch it anyway);
    ``retry_in``: seconds until the full CRL may follow the changes it is spaced out from.
    """

    signed: int = 0
    busy: bool = False
    pending: bool = False
    retry_in: float = 0.0


def _spacing_left(row: CrlShard, now: datetime) -> float:
    """Seconds before a large full CRL may be re-signed for changes (0: now)."""
    if not row.is_full or row.this_update is None or row.sign_seconds < FULL_CRL_SPACING_FROM:
        return 0.0
    ready = row.this_update + timedelta(seconds=FULL_CRL_SPACING * row.sign_seconds)
    return max(0.0, (ready - now).total_seconds())


def _needs_signing(row: CrlShard, now: datetime, *, force: bool) -> bool:
    if force or row.this_update is None or row.next_update is None:
        return True
    due = row.this_update <= now - CRL_REFRESH_AGE or row.next_update <= now + timedelta(hours=1)
    return due or (row.signed < row.wanted and _spacing_left(row, now) == 0)


_FRESH = "fresh"
_BUSY = "busy"


def _take_lease(shard_id: int, *, force: bool) -> tuple[CrlShard, str] | str:
    """Under the row lock: ``(row, token)`` if we are to sign, else ``_FRESH`` or ``_BUSY``."""
    with transaction.atomic():
        row = CrlShard.objects.select_for_update().defer("der").get(pk=shard_id)
        now = timezone.now()
        if not _needs_signing(row, now, force=force):
            return _FRESH
        if row.lease_until is not None and row.lease_until > now:
            return _BUSY
        token = secrets.token_hex(16)
        CrlShard.objects.filter(pk=row.pk).update(lease_token=token, lease_until=now + row.LEASE)
        return row, token


def _sign(row: CrlShard) -> tuple[bytes, int, datetime, datetime, float]:
    started = time.perf_counter()
    material = ca_module.material()
    slug = CertificateAuthority.objects.values_list("slug", flat=True).get(pk=row.ca_id)
    # Read the clock once the lease is ours: a publisher that waited would otherwise sign a
    # higher CRL number with an older thisUpdate than the CRL before it.
    now = timezone.now().replace(microsecond=0)
    counted = _Counter(_entries(row.ca_id, row.shard, now))
    crl = pki.build_crl(
        material,
        entries=counted,
        crl_number=row.number + 1,
        this_update=now,
        next_update=now + CRL_VALIDITY,
        idp_url=ca_module.crl_url(slug, row.shard) if row.shard else None,
        expired_certs_on_crl=material.certificate.not_valid_before_utc if row.shard else None,
    )
    der = crl.public_bytes(serialization.Encoding.DER)
    return der, counted.count, now, now + CRL_VALIDITY, time.perf_counter() - started


class _Counter:
    """Passes entries through once, counting them (for the admin's "kayıt sayısı")."""

    def __init__(self, entries: Iterator[pki.CrlEntry]) -> None:
        self._entries = entries
        self.count = 0

    def __iter__(self) -> Iterator[pki.CrlEntry]:
        for entry in self._entries:
            self.count += 1
            yield entry


def publish(shard_id: int, *, force: bool = False, max_rounds: int = 3) -> Outcome:
    """Sign the CRL of this shard row if it needs it, single-flight (see the module docstring).

    Returns at once when it is fresh or another publisher holds the lease. Loops while changes
    arrived during the signing, at most ``max_rounds`` times, then reports ``pending``.
    Raises whatever loading the CA or signing raised (the lease is released first).
    """
    signed = 0
    for _round in range(max_rounds):
        taken = _take_lease(shard_id, force=force and signed == 0)
        if taken == _FRESH:
            return Outcome(signed=signed, retry_in=_retry_in(shard_id))
        if taken == _BUSY:
            return Outcome(signed=signed, busy=True)
        assert not isinstance(taken, str)
        row, token = taken
        try:
            der, count, this_update, next_update, seconds = _sign(row)
        except BaseException:
            CrlShard.objects.filter(pk=row.pk, lease_token=token).update(
                lease_token="", lease_until=None
            )
            raise
        etag = '"' + hashlib.sha256(der).hexdigest()[:32] + '"'
        stored = CrlShard.objects.filter(pk=row.pk, lease_token=token).update(
            der=der,
            etag=etag,
            number=row.number + 1,
            signed=row.wanted,
            this_update=this_update,
            next_update=next_update,
            entry_count=count,
            size_bytes=len(der),
            sign_seconds=round(seconds, 3),
            lease_token="",
            lease_until=None,
        )
        if not stored:
            # Our lease lapsed and another publisher took over: its CRL stands.
            logger.warning("CRL %s/%s: lease lost while signing", row.ca_id, row.shard or "full")
            return Outcome(signed=signed, busy=True)
        signed += 1
        _announce(row.pk)  # every process serves the new one at once
        logger.info(
            "CRL %s/%s #%s signed: %s entries, %s bytes, %.2f s",
            row.ca_id,
            row.shard or "full",
            row.number + 1,
            count,
            len(der),
            seconds,
        )
    row = CrlShard.objects.defer("der").get(pk=shard_id)
    return Outcome(signed=signed, pending=_needs_signing(row, timezone.now(), force=False))


def _retry_in(shard_id: int) -> float:
    row = CrlShard.objects.defer("der").get(pk=shard_id)
    return _spacing_left(row, timezone.now()) if row.signed < row.wanted else 0.0


def publish_for(ca_id: int, shards: set[str], *, force: bool = False) -> Outcome:
    """Publish the given shards of a CA and its full CRL (shards first: they are small and are
    what certificates point at). Returns the combined outcome."""
    ensure_shards(ca_id, shards)
    rows = dict(
        CrlShard.objects.filter(ca_id=ca_id, shard__in=shards | {CrlShard.FULL}).values_list(
            "shard", "pk"
        )
    )
    order = sorted(rows, key=lambda shard: (shard == CrlShard.FULL, shard))
    outcomes = [publish(rows[shard], force=force) for shard in order]
    return Outcome(
        signed=sum(o.signed for o in outcomes),
        busy=any(o.busy for o in outcomes),
        pending=any(o.pending for o in outcomes),
        retry_in=max(o.retry_in for o in outcomes),
    )


def refresh_due(*, now: datetime | None = None) -> int:
    """Sign every CRL that changed without being published, or that is due (periodic task)."""
    now = now or timezone.now()
    due = CrlShard.objects.filter(
        Q(this_update__isnull=True)
        | Q(this_update__lte=now - CRL_REFRESH_AGE)
        | Q(next_update__lte=now + timedelta(hours=1))
        | Q(signed__lt=F("wanted"))
    ).values_list("pk", flat=True)
    return sum(publish(pk).signed for pk in due.order_by("-shard"))


def stored_crl(ca_id: int, shard: str = "") -> x509.CertificateRevocationList | None:
    """The newest signed CRL of a shard as stored (operators' and tests' view; not for serving)."""
    der = CrlShard.objects.filter(ca_id=ca_id, shard=shard).values_list("der", flat=True).first()
    return None if der is None else x509.load_der_x509_crl(bytes(der))


# --- serving ------------------------------------------------------------------------------


@dataclass(frozen=True)
class PublishedCrl:
    shard_id: int
    number: int
    etag: str
    this_update: datetime
    next_update: datetime
    der: bytes


_META_TTL = 1.0  # seconds a process trusts its memory of "which CRL is current"
_meta: dict[tuple[int, str], tuple[float, tuple]] = {}
_bytes: OrderedDict[tuple[int, int], bytes] = OrderedDict()
_bytes_size = 0
_serve_lock = threading.Lock()


def _meta_key(ca_id: int, shard: str) -> str:
    return f"crl:meta:{ca_id}:{shard or 'full'}"


def _announce(row_id: int) -> None:
    """After a signing: every web process learns the new CRL at once through the shared cache
    (only the publisher writes there, so a slow reader can never put an older CRL back)."""
    ca_id, shard = CrlShard.objects.values_list("ca_id", "shard").get(pk=row_id)
    _meta.pop((ca_id, shard), None)
    if not settings.NES_SHARED_CACHE:
        return
    found = CrlShard.objects.filter(pk=row_id).values_list(
        "ca_id", "shard", "pk", "number", "etag", "this_update", "next_update"
    )[0]
    try:
        cache.set(_meta_key(found[0], found[1]), found[2:], timeout=None)
    except Exception:
        logger.warning("CRL announcement not cached; processes re-read within a second")


def _metadata(ca_id: int, shard: str, *, shared: bool) -> tuple | None:
    """Which CRL is current: from the shared cache (set by the publisher), else the database
    read at most once a second per process."""
    if shared:
        try:
            announced = cache.get(_meta_key(ca_id, shard))
        except Exception:
            announced = None
        if announced is not None:
            return tuple(announced)
    key = (ca_id, shard)
    now = time.monotonic()
    cached = _meta.get(key)
    if cached is not None and now - cached[0] < _META_TTL:
        return cached[1]
    found = (
        CrlShard.objects.filter(ca_id=ca_id, shard=shard)
        .values_list("pk", "number", "etag", "this_update", "next_update")
        .first()
    )
    if found is not None and found[3] is not None:
        _meta[key] = (now, found)
    return found


def _crl_bytes(shard_id: int, number: int) -> bytes:
    global _bytes_size
    key = (shard_id, number)
    with _serve_lock:
        if key in _bytes:
            _bytes.move_to_end(key)
            return _bytes[key]
    der = CrlShard.objects.filter(pk=shard_id, number=number).values_list("der", flat=True).first()
    if der is None:
        raise LookupError("superseded")
    der = bytes(der)
    limit = settings.NES_CRL_MEMORY_CACHE_BYTES
    with _serve_lock:
        for stale in [k for k in _bytes if k[0] == shard_id]:
            _bytes_size -= len(_bytes.pop(stale))
        _bytes[key] = der
        _bytes_size += len(der)
        while _bytes_size > limit and len(_bytes) > 1:
            _k, evicted = _bytes.popitem(last=False)
            _bytes_size -= len(evicted)
    return der


def forget_served() -> None:
    """Drop this process's memory of published CRLs (tests; never needed in production)."""
    global _bytes_size
    with _serve_lock:
        _meta.clear()
        _bytes.clear()
        _bytes_size = 0


def current(ca_id: int, shard: str) -> PublishedCrl:
    """The CRL to serve for a shard ("" = full): the newest published one.

    Served from this process's memory (metadata re-read at most once a second, bytes once per
    publication); never re-signed here unless there is none or its nextUpdate has passed, and
    then single-flight. Raises ``CrlUnavailable`` if no valid CRL can be had.
    """
    now = timezone.now()
    shared = settings.NES_SHARED_CACHE
    for _attempt in range(3):
        meta = _metadata(ca_id, shard, shared=shared)
        if meta is not None and meta[3] is not None and meta[4] > now:
            pk, number, etag, this_update, next_update = meta
            try:
                der = _crl_bytes(pk, number)
            except LookupError:
                # Superseded between the two reads (or an announcement that is not ours):
                # the database decides.
                _meta.pop((ca_id, shard), None)
                shared = False
                continue
            return PublishedCrl(pk, number, etag, this_update, next_update, der)
        _sign_now(ca_id, shard)
        _meta.pop((ca_id, shard), None)
    raise CrlUnavailable(f"no CRL for {ca_id}/{shard or 'full'}")


def _sign_now(ca_id: int, shard: str) -> None:
    """A CRL that must exist now (never signed, or past its nextUpdate).

    With a worker, the publication task signs it (single-flight) and the request waits up to
    ``WAIT_FOR_SIGNER`` seconds for it: a large CRL is never signed inside a web request, where
    gunicorn would kill the request before the signature is done. The embedded default (tasks
    in-process) signs it here, single-flight too.
    """
    ensure_shards(ca_id, {shard} if shard else set())
    shard_id = CrlShard.objects.values_list("pk", flat=True).get(ca_id=ca_id, shard=shard)
    deadline = time.monotonic() + WAIT_FOR_SIGNER
    if not current_app.conf.task_always_eager:
        try:
            current_app.send_task(
                "certificates.publish_crls", args=[ca_id, [shard] if shard else []]
            )
        except Exception as exc:
            raise CrlUnavailable("the publication task cannot be queued") from exc
        while time.monotonic() < deadline:
            _meta.pop((ca_id, shard), None)
            row = CrlShard.objects.filter(pk=shard_id).values_list("next_update").first()
            if row and row[0] is not None and row[0] > timezone.now():
                return
            time.sleep(0.2)
        raise CrlUnavailable("the CRL is still being signed")
    while True:
        try:
            # No force: under the lease, "never signed" and "past or near nextUpdate" already
            # count as needing a signature, and a request that waited finds it done.
            outcome = publish(shard_id)
        except Exception as exc:
            logger.exception("CRL %s/%s cannot be signed", ca_id, shard or "full")
            raise CrlUnavailable(str(exc)) from exc
        if not outcome.busy:
            return
        if time.monotonic() > deadline:
            raise CrlUnavailable("another process is still signing")
        time.sleep(0.05)


def crl_http_max_age(published: PublishedCrl, *, now: datetime | None = None) -> int:
    """Seconds an HTTP cache may keep this CRL: until its planned refresh, at most the cap.

    The CRL is re-signed on every status change, so caches should come back often; they do so
    cheaply with If-None-Match (304).
    """
    now = now or datetime.now(UTC)
    refresh_at = min(published.this_update + CRL_REFRESH_AGE, published.next_update)
    return max(0, min(settings.NES_CRL_HTTP_MAX_AGE, int((refresh_at - now).total_seconds())))
