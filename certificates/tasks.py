"""Celery tasks of the CA: CRL publication after status changes, the periodic re-signing, and
the holders' reminders (``certificates.reminders``).

Thin, as STYLE.md wants: they take ids and call ``certificates.publication``. Publication is
single-flight, so a task that runs twice, late, or beside another signs nothing twice.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from celery import current_app, shared_task
from django.db import OperationalError
from django.utils import timezone

from . import publication, reminders

logger = logging.getLogger(__name__)

# Changes that commit within this many seconds are published by one signing: the first task
# signs them all and the others find the CRL fresh. The embedded default (tasks in-process)
# publishes at once.
PUBLISH_COUNTDOWN = 1


@shared_task(
    name="certificates.publish_crls",
    autoretry_for=(Exception,),
    retry_backoff=2,
    retry_backoff_max=60,
    max_retries=5,
    acks_late=True,
)
def publish_crls(ca_id: int, shards: list[str]) -> int:
    """Publish the CRLs a status change made stale: its shard, then the full CRL.

    When changes keep arriving faster than the rounds of one run sign them, the run queues the
    next one instead of holding the worker.
    """
    outcome = publication.publish_for(ca_id, set(shards))
    if outcome.pending:
        queue_publication(ca_id, shards[0] if shards else "")
    elif outcome.retry_in and not current_app.conf.task_always_eager:
        # A large full CRL spaced out: one run when it may follow (the embedded default has
        # small CRLs, which are never spaced out).
        publish_crls.apply_async(args=(ca_id, []), countdown=outcome.retry_in)
    return outcome.signed


@shared_task(name="certificates.refresh_crls", acks_late=True)
def refresh_crls() -> int:
    """Celery beat: re-sign what changed without being published, and what is due."""
    return publication.refresh_due()


@shared_task(
    name="certificates.send_reminders",
    acks_late=True,
    autoretry_for=(OperationalError,),
    retry_backoff=5,
    max_retries=3,
)
def send_reminders(at: str | None = None) -> dict[str, Any]:
    """Celery beat, hourly: the expiry and new-certificate reminders due now.

    Every reminder is claimed once (``certificates.reminders``), so a run that overlaps another,
    is retried or redelivered sends nothing twice. ``at`` (ISO 8601) runs as of an earlier
    moment, for an operator's replay or a test; it is never later than now, so no reminder can
    be sent early.
    """
    now = timezone.now()
    if at:
        moment = datetime.fromisoformat(at)
        if timezone.is_naive(moment):
            moment = timezone.make_aware(moment)  # TIME_ZONE: Istanbul
        now = min(now, moment)
    return reminders.send_due_reminders(now=now).as_dict()


def queue_publication(ca_id: int, shard: str) -> None:
    """Called once a status change committed; never lets a broker outage fail the change."""
    try:
        publish_crls.apply_async(
            args=(ca_id, [shard] if shard else []), countdown=PUBLISH_COUNTDOWN
        )
    except Exception:
        # The demand is in the database: refresh_crls (beat) publishes it within minutes.
        logger.exception("CRL publication could not be queued for CA %s", ca_id)
