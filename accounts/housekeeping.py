"""Housekeeping: expired sessions, SMS challenges and links deleted on a schedule (Celery beat).

Every anonymous visit to a page with a form stores a session row, and every code or link a row
of its own; nothing else ever deletes them. ``purge_expired`` (beat, every
``NES_HOUSEKEEPING_INTERVAL`` seconds) deletes

* sessions past their expiry (what ``manage.py clearsessions`` does, in batches);
* captcha rows past their expiry: every view of a page with a captcha stores one, and only a
  login POST would ever have deleted any (``purge_captchas`` also runs on its own, every
  ``NES_CAPTCHA_PURGE_INTERVAL`` seconds, since a captcha lives 5 minutes);
* SMS challenges, security-word reset links, "Bu işlemi ben yapmadım" links and unconfirmed
  contact changes that expired more than ``RETENTION`` ago: by then they can confirm nothing,
  and the hour-long SMS budgets no longer count them. A confirmed contact change stays: it is
  the citizen's history in admin (the audit log keeps every step anyway).

Deletes go ``BATCH_SIZE`` rows per statement, each batch its own transaction, so a large backlog
never holds long locks. Each run is idempotent: a second one finds nothing; two at once delete
each row once (a row another run already deleted simply is not counted again).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from importlib import import_module
from uuid import UUID

from captcha.models import CaptchaStore
from celery import shared_task
from django.conf import settings
from django.contrib.sessions.backends.db import SessionStore as DbSessionStore
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from audit.log import record

from .models import ContactChange, NotMeLink, SmsChallenge, SmsMessage, WordResetLink

logger = logging.getLogger(__name__)

BATCH_SIZE = 10_000
RETENTION = timedelta(days=1)


def delete_in_batches(queryset: QuerySet, *, batch_size: int = BATCH_SIZE) -> int:
    """Delete the rows of ``queryset`` ``batch_size`` at a time; return how many went.

    Through ``QuerySet.delete()``, so ``on_delete`` rules (e.g. SET_NULL on an SMS record's
    challenge) still apply.
    """
    model = queryset.model
    total = 0
    while True:
        pks = list(queryset.order_by().values_list("pk", flat=True)[:batch_size])
        if not pks:
            return total
        with transaction.atomic():
            _count, per_model = model._default_manager.filter(pk__in=pks).delete()
        total += per_model.get(model._meta.label, 0)
        if len(pks) < batch_size:
            return total


LOST_SEND_MARGIN_SECONDS = 30
LOST_SEND_REASON = (
    "Gönderim sırasında işçi durdu; SMS sağlayıcıya ulaşmış olabilir, yeniden gönderilmedi."
)


def settle_lost_sends(*, pk: UUID | str | None = None, now: datetime | None = None) -> int:
    """Mark SMS left ``sending`` by a worker that died mid-send as failed; return how many.

    A row stays ``sending`` for at most one provider call (``TWILIO_TIMEOUT_SECONDS``); one
    older than that plus a margin belongs to a worker that is gone. Sending it again could
    deliver it twice (the provider may have taken it), so it is never resent: it becomes
    ``failed`` with a reason that says so, costs no budget, and the citizen asks for a new code.
    Called by a redelivered task that finds its row taken, and by housekeeping for the rest.
    """
    now = now or timezone.now()
    stale = now - timedelta(seconds=settings.TWILIO_TIMEOUT_SECONDS + LOST_SEND_MARGIN_SECONDS)
    rows = SmsMessage.objects.filter(status=SmsMessage.Status.SENDING, updated_at__lt=stale)
    if pk is not None:
        rows = rows.filter(pk=pk)
    settled = 0
    for message in rows.select_related("citizen")[:1000]:
        done = SmsMessage.objects.filter(
            pk=message.pk, status=SmsMessage.Status.SENDING, updated_at__lt=stale
        ).update(status=SmsMessage.Status.FAILED, failure_reason=LOST_SEND_REASON, updated_at=now)
        if done:
            settled += 1
            record("nes.sms.failed", citizen=message.citizen, sms=str(message.pk), reason="lost")
    return settled


def purge_sessions(now: datetime, *, batch_size: int = BATCH_SIZE) -> int:
    """Expired sessions: batched for the database engines, else the engine's own
    ``clear_expired()`` (cache sessions expire by themselves)."""
    store = import_module(settings.SESSION_ENGINE).SessionStore
    if issubclass(store, DbSessionStore):
        expired = store.get_model_class().objects.filter(expire_date__lt=now)
        return delete_in_batches(expired, batch_size=batch_size)
    store.clear_expired()
    return 0


def purge_captcha_rows(now: datetime, *, batch_size: int = BATCH_SIZE) -> int:
    """Captchas past their expiry: they can no longer be solved (``SingleUseCaptchaField``
    accepts only unexpired rows), so nobody needs them."""
    return delete_in_batches(
        CaptchaStore.objects.filter(expiration__lte=now), batch_size=batch_size
    )


def purge_all(now: datetime | None = None, *, batch_size: int = BATCH_SIZE) -> dict[str, int]:
    now = now or timezone.now()
    cutoff = now - RETENTION
    return {
        "sessions": purge_sessions(now, batch_size=batch_size),
        "captchas": purge_captcha_rows(now, batch_size=batch_size),
        "sms_challenges": delete_in_batches(
            SmsChallenge.objects.filter(expires_at__lt=cutoff), batch_size=batch_size
        ),
        "reset_links": delete_in_batches(
            WordResetLink.objects.filter(expires_at__lt=cutoff), batch_size=batch_size
        ),
        # Used or not: the audit log keeps "nes.notme.protected".
        "not_me_links": delete_in_batches(
            NotMeLink.objects.filter(expires_at__lt=cutoff), batch_size=batch_size
        ),
        "contact_changes": delete_in_batches(
            ContactChange.objects.filter(expires_at__lt=cutoff, confirmed_at=None),
            batch_size=batch_size,
        ),
        # Not a deletion: SMS a dead worker left "sending" become "failed".
        "lost_sends": settle_lost_sends(now=now),
    }


@shared_task(name="accounts.purge_expired", acks_late=True)
def purge_expired() -> dict[str, int]:
    """Celery beat: delete what expired (see the module docstring); one log line."""
    counts = purge_all()
    logger.info("housekeeping: deleted %s", " ".join(f"{name}={n}" for name, n in counts.items()))
    return counts


@shared_task(name="accounts.purge_captchas", acks_late=True)
def purge_captchas() -> int:
    """Celery beat, every few minutes: expired captcha rows (one per page view with a form)."""
    deleted = purge_captcha_rows(timezone.now())
    logger.info("housekeeping: deleted captchas=%d", deleted)
    return deleted
