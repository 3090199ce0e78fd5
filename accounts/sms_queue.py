"""Queueing an SMS: the row, the notice budget and the hand-over to the worker.

``queue_sms`` records an ``SmsMessage`` row (status *queued*) inside the caller's transaction
and hands only its id to the ``accounts.send_sms`` task (``accounts.tasks``) once that
transaction commits. Services queue through here and never import the task module's
internals; the text is rendered by the task at send time (``accounts.sms_texts``).

Notices (``SmsMessage.NOTICE_KINDS``) have a budget of their own, ``NOTICES_PER_HOUR`` per
citizen, counted in ``queue_sms`` under the citizen's row lock: the first notice over it is
replaced by one ``NOTICES_CAPPED`` SMS, and the later ones of that hour are recorded as
*suppressed* and never sent (each one audited as ``nes.sms.budget_exceeded``).

A code or link SMS that the broker cannot take fails the request (:class:`SmsUnavailable`)
and leaves nothing behind; a notice that cannot be queued is recorded as *failed* and the
action that caused it stands.
"""

from __future__ import annotations

import logging
import secrets
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from audit.actor import Actor
from audit.log import record
from nesportal import limits

from .identity import mask_phone
from .models import Citizen, NotMeLink, SmsChallenge, SmsMessage
from .tasks import finish, send_sms
from .tokens import not_me_token, token_hash

logger = logging.getLogger(__name__)


def queue_sms(
    citizen: Citizen,
    kind: str,
    *,
    challenge: SmsChallenge | None = None,
    actor: Actor | None = None,
    expires: datetime | None = None,
    context: dict[str, str] | None = None,
    to: str | None = None,
) -> SmsMessage:
    """Queue one SMS to the citizen's registered mobile, or to ``to`` (e.g. a new number being
    confirmed, or the old number being told of a change).

    A notice over the hourly notice budget is not sent: the returned row is then the
    ``NOTICES_CAPPED`` SMS that replaces it, or the *suppressed* notice itself."""
    with transaction.atomic():
        if kind in SmsMessage.NOTICE_KINDS:
            held = _hold_notice(citizen, kind, actor=actor, context=context, to=to)
            if held is not None:
                return held
        context = dict(context or {})
        if kind in SmsMessage.NOT_ME_KINDS:
            # The notice carries a "Bu işlemi ben yapmadım" link (also the one to the old
            # number after a phone change: it is the holder's).
            context["not_me"] = str(_not_me_link(citizen, kind).pk)
        message = SmsMessage.objects.create(
            citizen=citizen,
            challenge=challenge,
            kind=kind,
            to_number=to or citizen.mobile_phone,
            context=context,
        )
        record("nes.sms.queued", actor=actor, citizen=citizen, sms=str(message.pk), kind=kind)
        transaction.on_commit(lambda: _publish(message, expires=expires, actor=actor))
    return message


NOTICE_WINDOW = timedelta(hours=1)


def _not_me_link(citizen: Citizen, kind: str) -> NotMeLink:
    """A new "Bu işlemi ben yapmadım" link for one notice; its token is derived from the row
    (``accounts.tokens.not_me_token``) and only its hash is stored."""
    link = NotMeLink.objects.create(
        citizen=citizen,
        kind=kind,
        token_hash=secrets.token_hex(32),  # placeholder until the row has its id
        expires_at=timezone.now() + NotMeLink.LIFETIME,
    )
    link.token_hash = token_hash(not_me_token(link))
    link.save(update_fields=["token_hash"])
    return link


def _hold_notice(
    citizen: Citizen,
    kind: str,
    *,
    actor: Actor | None,
    context: dict[str, str] | None,
    to: str | None,
) -> SmsMessage | None:
    """None if the notice may go; else the row recorded instead (caller holds a transaction).

    The citizen's row lock serialises every notice of one citizen, so parallel actions cannot
    both see "one left". A notice that failed, or was suppressed, does not count."""
    now = timezone.now()
    Citizen.objects.select_for_update().only("pk").get(pk=citizen.pk)
    recent = SmsMessage.objects.filter(citizen=citizen, created_at__gt=now - NOTICE_WINDOW)
    sent = (
        recent.filter(kind__in=SmsMessage.NOTICE_KINDS)
        .exclude(status__in=SmsMessage.FREE_STATUSES)
        .count()
    )
    if sent < limits.NOTICES_PER_HOUR:
        return None
    capped = recent.filter(kind=SmsMessage.Kind.NOTICES_CAPPED).exists()
    number = to or citizen.mobile_phone
    suppressed = SmsMessage.objects.create(
        citizen=citizen,
        kind=kind,
        to_number=number,
        context=context or {},
        status=SmsMessage.Status.SUPPRESSED,
        failure_reason="Saatlik bildirim sınırı aşıldı; gönderilmedi.",
    )
    record(
        "nes.sms.budget_exceeded",
        actor=actor,
        citizen=citizen,
        budget="notices",
        limit=limits.NOTICES_PER_HOUR,
        kind=kind,
        sms=str(suppressed.pk),
        to=mask_phone(number),
        replaced_by_cap_notice=not capped,
    )
    if capped:
        return suppressed
    return queue_sms(citizen, SmsMessage.Kind.NOTICES_CAPPED, actor=actor, to=number)


class SmsUnavailable(Exception):
    """A code or link SMS could not be handed to the worker (the broker is unreachable).

    Nothing was sent and nothing of it is left: its row is deleted (the audit log keeps
    ``nes.sms.queued`` and ``nes.sms.not_queued``), its challenge voided, so it counts against
    no budget and a new attempt gets a new code at once. Views show "SMS gönderilemedi, lütfen
    tekrar deneyiniz" with HTTP 503 (``nesportal.broker.SmsUnavailableMiddleware`` for the
    views that do not catch it themselves).
    """


# What the citizen is waiting for on the page: failing to queue it fails the request.
_WAITED_FOR = (*SmsMessage.CODE_KINDS, SmsMessage.Kind.WORD_RESET_LINK)


def _publish(message: SmsMessage, *, expires: datetime | None, actor: Actor | None) -> None:
    """Hand the row's id to the worker; runs once the issuing transaction has committed.

    The broker's waits are bounded (nesportal/broker.py), so an unreachable or hung Redis ends
    here within seconds. If the publish failed after Redis had stored the task after all (a
    lost reply), the worker finds no queued row to claim and sends nothing: never twice.
    """
    try:
        # Leaving expires out is what None means to Celery (send_sms sets no default of its
        # own); celery-types accepts only a value.
        if expires is None:
            send_sms.apply_async(args=(str(message.pk),))
        else:
            send_sms.apply_async(args=(str(message.pk),), expires=expires)
    except Exception as exc:  # kombu's OperationalError, redis' errors, a socket timeout
        reason = f"Kuyruğa alınamadı: {type(exc).__name__}"
        logger.error("SMS %s not queued: %s: %s", message.pk, type(exc).__name__, exc)
        record(
            "nes.sms.not_queued",
            actor=actor,
            citizen=message.citizen,
            sms=str(message.pk),
            reason=reason,
        )
        if message.kind not in _WAITED_FOR:
            # A notice of something that did happen: the row stays, marked, and the action
            # that caused it is not undone.
            finish(message, SmsMessage.Status.FAILED, failure_reason=reason)
            return
        if message.challenge_id:
            SmsChallenge.objects.filter(pk=message.challenge_id, invalidated_at=None).update(
                invalidated_at=timezone.now()
            )
        SmsMessage.objects.filter(pk=message.pk, status=SmsMessage.Status.QUEUED).delete()
        raise SmsUnavailable(reason) from exc
