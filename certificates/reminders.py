"""Reminders to certificate holders: expiry at 90, 60, 30, 15, 7 and 1 days, and the new
certificate that can be opened for use from today.

Contract:

* **Exactly once.** Each reminder is claimed by its ``ExpiryReminder`` row (unique per
  certificate and threshold) in the transaction that queues the SMS, with the certificate's row
  locked: runs that overlap (two beat runs, a retried task, the command beside the task)
  serialise on that lock, and the later one finds the row and sends nothing. The e-mail goes
  only once that transaction has committed, from the run that claimed the row.
* **Only while it is true.** Under the lock the certificate is checked again: an expiry
  reminder only for an *active* certificate whose notAfter is still ahead, a new-certificate
  reminder only for a *pending* one that ``Certificate.open_for_use`` would open now. So no
  reminder follows a revocation, a suspension or the expiry, however late the run.
* **The nearest threshold only.** A threshold is due from the day it is reached on. A run that
  finds several due (the certificate was suspended meanwhile, runs were missing) sends the
  nearest and records the others as *skipped*, which are never sent later. A threshold is
  looked for during ``CATCH_UP`` after it was reached: that bridges the night (nothing is sent
  outside ``SENDING_HOURS``) and a worker outage; after that, the next threshold reminds.
* **Not at night.** Only from 09:00 to 20:00 Istanbul time; a run outside those hours sends
  nothing and the next run in hours sends what is due.
* **No renewal nagging.** A certificate that already has a successor of the same kind
  (pending, active or suspended, still valid) gets no expiry reminder; the successor gets the
  new-certificate reminder on the day it can be opened.
* **Work per run follows what is due**, not the number of certificates: every candidate query
  is a narrow range on an indexed column (``not_after``, ``issued_at``, ``revoked_at``, partial
  indexes of ``Certificate.Meta``), read in keyset batches, with the certificates already
  reminded left out by the unique index of ``ExpiryReminder``.

Nothing here carries a secret: the SMS context is a serial, a number of days and a date.
"""

from __future__ import annotations

import logging
import smtplib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.core.mail import send_mail
from django.db import transaction
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import translation
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from accounts.models import Citizen, SmsMessage
from accounts.sms_queue import queue_sms
from audit.actor import Actor
from audit.log import record
from nesportal.contact import CALL_CENTRE_PHONE

from .models import Certificate, ExpiryReminder

logger = logging.getLogger(__name__)

THRESHOLDS = (90, 60, 30, 15, 7, 1)  # days before notAfter, farthest first
ISTANBUL = ZoneInfo("Europe/Istanbul")
SENDING_HOURS = (time(9, 0), time(20, 0))  # from 09:00 up to (not including) 20:00
# How long after a threshold (or the day a new certificate became openable) a run still sends
# it. Longer than a night, a weekend's outage; shorter than the smallest gap between two
# thresholds (7 → 1), so each run finds a certificate under one threshold only.
CATCH_UP = timedelta(days=3)
BATCH = 500

ACTOR = Actor.system("reminders")

Status = Certificate.Status
Threshold = ExpiryReminder.Threshold
IN_USE = (Status.ACTIVE, Status.SUSPENDED)


@dataclass
class RunResult:
    """What one run did (the task's result, the command's output)."""

    quiet_hours: bool = False
    expiry_sent: dict[str, int] = field(default_factory=dict)  # threshold → SMS queued
    skipped: int = 0
    ready_sent: int = 0

    def as_dict(self) -> dict[str, object]:
        return {
            "quiet_hours": self.quiet_hours,
            "expiry_sent": dict(self.expiry_sent),
            "skipped": self.skipped,
            "ready_sent": self.ready_sent,
        }


def in_sending_hours(now: datetime) -> bool:
    start, end = SENDING_HOURS
    return start <= now.astimezone(ISTANBUL).time() < end


def local_date(moment: datetime) -> str:
    """dd.mm.yyyy in Istanbul, the date every text shows."""
    return moment.astimezone(ISTANBUL).strftime("%d.%m.%Y")


def send_due_reminders(*, now: datetime) -> RunResult:
    """Send every reminder due at ``now``; safe to run at any time, twice, or in parallel."""
    result = RunResult()
    if not in_sending_hours(now):
        result.quiet_hours = True
        return result
    for days in THRESHOLDS:
        for (pk,) in _keyset(_expiry_candidates(days, now), "not_after"):
            sent = remind_expiry(pk, now=now)
            if sent is not None:
                threshold, skipped = sent
                result.expiry_sent[threshold] = result.expiry_sent.get(threshold, 0) + 1
                result.skipped += len(skipped)
    for pk in _ready_candidates(now):
        if remind_ready(pk, now=now):
            result.ready_sent += 1
    return result


# --- expiry --------------------------------------------------------------------------------


def _expiry_candidates(days: int, now: datetime) -> QuerySet[Certificate]:
    """Active certificates for which ``days`` is the nearest threshold reached, reached within
    ``CATCH_UP``, and not yet reminded at it."""
    nearer = min((d for d in THRESHOLDS if d < days), default=0)
    upper = now + timedelta(days=days)
    lower = max(now + timedelta(days=nearer), upper - CATCH_UP)
    return (
        Certificate.objects.filter(status=Status.ACTIVE, not_after__gt=lower, not_after__lte=upper)
        .exclude(
            Exists(ExpiryReminder.objects.filter(certificate=OuterRef("pk"), threshold=str(days)))
        )
        .exclude(
            Exists(
                _successors(
                    now,
                    citizen_id=OuterRef("citizen_id"),
                    kind=OuterRef("kind"),
                    not_before=OuterRef("not_before"),
                )
            )
        )
    )


def _successors(
    now: datetime, *, citizen_id: Any, kind: Any, not_before: Any
) -> QuerySet[Certificate]:
    """Newer certificates of the holder and kind, still to be used: the renewal is done."""
    return Certificate.objects.filter(
        citizen_id=citizen_id,
        kind=kind,
        status__in=(Status.PENDING, *IN_USE),
        not_before__gt=not_before,
        not_after__gt=now,
    )


def remind_expiry(pk: int, *, now: datetime) -> tuple[str, list[str]] | None:
    """Send the certificate's due expiry reminder: ``(threshold sent, thresholds skipped)``, or
    None if none is due (any more)."""
    with transaction.atomic():
        cert = Certificate.objects.select_for_update().filter(pk=pk).first()
        if cert is None or cert.status != Status.ACTIVE or cert.not_after <= now:
            return None
        left = cert.not_after - now
        reached = [str(d) for d in THRESHOLDS if left <= timedelta(days=d)]
        if not reached:
            return None
        done = set(cert.reminders.values_list("threshold", flat=True))
        nearest = reached[-1]
        if nearest in done:
            return None
        renewed = _successors(
            now, citizen_id=cert.citizen_id, kind=cert.kind, not_before=cert.not_before
        )
        if renewed.exists():
            return None
        skipped = [t for t in reached[:-1] if t not in done]
        ExpiryReminder.objects.bulk_create(
            [
                ExpiryReminder(
                    certificate=cert, threshold=nearest, outcome=ExpiryReminder.Outcome.SENT, at=now
                ),
                *(
                    ExpiryReminder(
                        certificate=cert,
                        threshold=t,
                        outcome=ExpiryReminder.Outcome.SKIPPED,
                        at=now,
                    )
                    for t in skipped
                ),
            ]
        )
        citizen = Citizen.objects.get(pk=cert.citizen_id)
        date = local_date(cert.not_after)
        queue_sms(
            citizen,
            SmsMessage.Kind.CERT_EXPIRING,
            actor=ACTOR,
            # The ISO date is written in the holder's language when the SMS is rendered.
            context={
                "serial": cert.serial_number,
                "days": nearest,
                "date": date,
                "date_iso": cert.not_after.astimezone(ISTANBUL).date().isoformat(),
            },
        )
        record(
            "nes.reminder.expiry_sent",
            actor=ACTOR,
            citizen=citizen,
            serial=cert.serial_number,
            days=int(nearest),
            skipped=[int(t) for t in skipped],
            email=bool(citizen.email),
        )
        if citizen.email:
            with translation.override(citizen.language):
                date = date_format(cert.not_after.astimezone(ISTANBUL).date(), "DATE_FORMAT")
                subject = _("NES Portal: sertifikanızın süresi %(date)s tarihinde doluyor") % {
                    "date": date
                }
                body = _(
                    "Sayın %(name)s,\n\n"
                    "%(serial)s seri numaralı nitelikli elektronik sertifikanızın geçerlilik "
                    "süresi %(date)s tarihinde doluyor (kalan gün: %(days)s). Süresi dolan "
                    "sertifika ile elektronik imza atılamaz.\n\n"
                    "Kesintisiz kullanmak için yeni sertifika başvurunuzu zamanında yapınız. "
                    "Yeni sertifikanızı, eskisinin süresi dolduğu gün NES Portal'daki "
                    "«Sertifikamı Kullanıma Aç» sayfasından kullanıma açabilirsiniz.\n\n"
                    "Sorularınız için Çağrı Merkezi: %(phone)s\n\n"
                    "NES Portal"
                ) % {
                    "name": citizen.full_name,
                    "serial": cert.serial_number,
                    "days": nearest,
                    "date": date,
                    "phone": CALL_CENTRE_PHONE,
                }
            _email_after_commit(citizen.email, subject, body, serial=cert.serial_number)
    return nearest, skipped


# --- a new certificate that can be opened ------------------------------------------------


def _ready_candidates(now: datetime) -> Iterator[int]:
    """Pending certificates that may have become openable within ``CATCH_UP``: issued lately,
    or of a holder and kind whose older certificate has just expired or been revoked."""
    since = now - CATCH_UP
    pending = Certificate.objects.filter(status=Status.PENDING, not_after__gt=now).exclude(
        Exists(ExpiryReminder.objects.filter(certificate=OuterRef("pk"), threshold=Threshold.READY))
    )
    seen: set[int] = set()
    for (pk,) in _keyset(pending.filter(issued_at__gt=since, issued_at__lte=now), "issued_at"):
        seen.add(pk)
        yield pk
    ended = [
        (
            Certificate.objects.filter(status__in=IN_USE, not_after__gt=since, not_after__lte=now),
            "not_after",
        ),
        (
            Certificate.objects.filter(
                status=Status.REVOKED, revoked_at__gt=since, revoked_at__lte=now
            ),
            "revoked_at",
        ),
    ]
    for queryset, column in ended:
        for holders in _chunks(_keyset(queryset, column, "citizen_id", "kind")):
            citizens = {holder[0] for holder in holders}
            rows = pending.filter(citizen_id__in=citizens).values_list("pk", "citizen_id", "kind")
            for pk, citizen_id, kind in rows:
                if (citizen_id, kind) in holders and pk not in seen:
                    seen.add(pk)
                    yield pk


def remind_ready(pk: int, *, now: datetime) -> bool:
    """Send the new-certificate reminder if the certificate can be opened now and has not had
    it; True if it was sent."""
    with transaction.atomic():
        cert = Certificate.objects.select_for_update().filter(pk=pk).first()
        if cert is None or cert.status != Status.PENDING or cert.not_after <= now:
            return False
        # The rule of Certificate.open_for_use: no older certificate of the kind still valid.
        blocked = Certificate.objects.filter(
            citizen_id=cert.citizen_id,
            kind=cert.kind,
            status__in=IN_USE,
            not_after__gt=now,
            not_before__lt=cert.not_before,
        ).exists()
        if blocked or cert.reminders.filter(threshold=Threshold.READY).exists():
            return False
        ExpiryReminder.objects.create(
            certificate=cert,
            threshold=Threshold.READY,
            outcome=ExpiryReminder.Outcome.SENT,
            at=now,
        )
        citizen = Citizen.objects.get(pk=cert.citizen_id)
        queue_sms(
            citizen,
            SmsMessage.Kind.CERT_READY,
            actor=ACTOR,
            context={"serial": cert.serial_number},
        )
        record(
            "nes.reminder.ready_sent",
            actor=ACTOR,
            citizen=citizen,
            serial=cert.serial_number,
            email=bool(citizen.email),
        )
        if citizen.email:
            with translation.override(citizen.language):
                subject = _("NES Portal: yeni sertifikanızı kullanıma açabilirsiniz")
                body = _(
                    "Sayın %(name)s,\n\n"
                    "%(serial)s seri numaralı yeni nitelikli elektronik sertifikanızı bugünden "
                    "itibaren kullanıma açabilirsiniz: NES Portal'a giriş yapınız ve "
                    "«Sertifikamı Kullanıma Aç» sayfasını açınız.\n\n"
                    "Sorularınız için Çağrı Merkezi: %(phone)s\n\n"
                    "NES Portal"
                ) % {
                    "name": citizen.full_name,
                    "serial": cert.serial_number,
                    "phone": CALL_CENTRE_PHONE,
                }
            _email_after_commit(citizen.email, subject, body, serial=cert.serial_number)
    return True


# --- helpers -------------------------------------------------------------------------------


def _email_after_commit(to: str, subject: str, body: str, *, serial: str) -> None:
    """Send once the claiming transaction has committed; the SMS is the reminder that counts,
    so a mail server that fails is logged and the run goes on."""

    def send() -> None:
        try:
            send_mail(subject, body, None, [to])
        except (smtplib.SMTPException, OSError):
            logger.warning("reminder e-mail for certificate %s not sent", serial, exc_info=True)

    transaction.on_commit(send)


def _keyset(
    queryset: QuerySet[Certificate], column: str, *values: str
) -> Iterator[tuple[Any, ...]]:
    """``(values…)`` of the rows of ``queryset`` (default: the pk), in (``column``, pk) order,
    read ``BATCH`` at a time: each page is a range on the index of ``column``, and the whole
    set is never in memory. Rows the caller changed meanwhile may drop out; none repeats."""
    fields = values or ("pk",)
    last: tuple[datetime, int] | None = None
    while True:
        page = queryset
        if last is not None:
            after, pk = last
            page = page.filter(Q(**{f"{column}__gt": after}) | Q(**{column: after}, pk__gt=pk))
        rows = list(page.order_by(column, "pk").values_list(column, "pk", *fields)[:BATCH])
        for row in rows:
            yield tuple(row[2:])
        if len(rows) < BATCH:
            return
        last = (rows[-1][0], rows[-1][1])


def _chunks(rows: Iterator[tuple[Any, ...]]) -> Iterator[set[tuple[Any, ...]]]:
    chunk: set[tuple[Any, ...]] = set()
    for row in rows:
        chunk.add(row)
        if len(chunk) >= BATCH:
            yield chunk
            chunk = set()
    if chunk:
        yield chunk
