"""Sending SMS through Celery: the ``accounts.send_sms`` task (and ``accounts.purge_expired``).

Rows are queued by ``accounts.sms_queue.queue_sms``, which hands only the row's id to the task
once the issuing transaction commits. The task:

1. claims the row with a conditional UPDATE queued → sending: a task that Redis redelivers, or
   that runs twice for any reason, finds nothing to claim and stops (the idempotency key is the
   row's id);
2. renders the text at send time (``accounts.sms_texts.render_body``: a login code is derived
   from the challenge id, never stored) and refuses to send a code whose challenge is no longer
   open;
3. calls the backend; on a failure the provider certainly did not accept it goes back to
   *queued* and is retried with exponential backoff, at most ``SMS_MAX_RETRIES`` times and never
   past the code's lifetime; an ambiguous failure (read timeout) is recorded as *failed* and
   not retried, so nobody gets the same SMS twice.

Every outcome is written to the row (visible in admin) and to the audit log. A code SMS that
ends *failed* voids its code (:func:`finish`): it was never delivered, so it costs no budget
(``accounts.otp``) and the citizen may ask for a new one at once.
"""

from __future__ import annotations

import logging

from celery import shared_task
from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from audit.log import record

from .housekeeping import purge_expired, settle_lost_sends
from .models import SmsChallenge, SmsMessage
from .sms import SmsDeliveryError, get_backend
from .sms_texts import render_body

logger = logging.getLogger(__name__)


def finish(message: SmsMessage, status: str, **fields: object) -> None:
    now = timezone.now()
    with transaction.atomic():
        SmsMessage.objects.filter(pk=message.pk).update(status=status, updated_at=now, **fields)
        if status == SmsMessage.Status.FAILED and message.challenge_id:
            # Never delivered: the code is void (verify_code refuses it) and costs no budget.
            SmsChallenge.objects.filter(
                pk=message.challenge_id, consumed_at=None, invalidated_at=None
            ).update(invalidated_at=now)


@shared_task(bind=True, ignore_result=True)
@sensitive_variables("body")
def send_sms(self, message_id: str) -> str:  # type: ignore[no-untyped-def]
    claimed = SmsMessage.objects.filter(pk=message_id, status=SmsMessage.Status.QUEUED).update(
        status=SmsMessage.Status.SENDING, attempts=F("attempts") + 1, updated_at=timezone.now()
    )
    if not claimed:
        return "lost-send" if settle_lost_sends(pk=message_id) else "already-handled"
    message = SmsMessage.objects.select_related("citizen", "challenge").get(pk=message_id)

    body = render_body(message)
    if body is None:
        reason = "Kod gönderilmeden geçersiz oldu (süresi doldu, kullanıldı ya da yenisi istendi)."
        finish(message, SmsMessage.Status.FAILED, failure_reason=reason)
        record("nes.sms.failed", citizen=message.citizen, sms=message_id, reason=reason)
        return "expired"

    try:
        provider_id = get_backend().send(
            to=message.to_number, body=body, idempotency_key=str(message.pk)
        )
    except SmsDeliveryError as exc:
        return _handle_failure(self, message, exc)
    except Exception as exc:  # a bug or an unexpected provider reply: do not guess, record it
        logger.exception("SMS %s: unexpected error from the SMS backend", message_id)
        reason = f"Beklenmeyen hata: {type(exc).__name__}"
        finish(message, SmsMessage.Status.FAILED, failure_reason=reason)
        record("nes.sms.failed", citizen=message.citizen, sms=message_id, reason=reason)
        return "failed"

    finish(
        message,
        SmsMessage.Status.SENT,
        provider_message_id=provider_id[:64],
        sent_at=timezone.now(),
        failure_reason="",
    )
    record("nes.sms.sent", citizen=message.citizen, sms=message_id, provider_id=provider_id)
    return "sent"


def _handle_failure(task, message: SmsMessage, exc: SmsDeliveryError) -> str:  # type: ignore[no-untyped-def]
    retries = task.request.retries or 0
    countdown = settings.SMS_RETRY_BASE_SECONDS * (2**retries)
    deadline = message.challenge.expires_at if message.challenge else None
    in_time = deadline is None or timezone.now().timestamp() + countdown < deadline.timestamp()
    if exc.retryable and retries < settings.SMS_MAX_RETRIES and in_time:
        finish(message, SmsMessage.Status.QUEUED, failure_reason=exc.reason)
        record(
            "nes.sms.retry",
            citizen=message.citizen,
            sms=str(message.pk),
            reason=exc.reason,
            attempt=message.attempts,
        )
        raise task.retry(countdown=countdown, max_retries=settings.SMS_MAX_RETRIES, exc=exc)
    finish(message, SmsMessage.Status.FAILED, failure_reason=exc.reason)
    record("nes.sms.failed", citizen=message.citizen, sms=str(message.pk), reason=exc.reason)
    return "failed"


# purge_expired is imported so that autodiscovery (which imports this module) registers it.
__all__ = ["finish", "purge_expired", "send_sms"]
