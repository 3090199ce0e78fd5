"""Sending SMS through Celery.

``queue_sms`` records an ``SmsMessage`` row (status *queued*) inside the caller's transaction
and hands only its id to the ``send_sms`` task once that transaction commits. The task:

1. claims the row with a conditional UPDATE queued → sending: a task that Redis redelivers, or
   that runs twice for any reason, finds nothing to claim and stops (the idempotency key is the
   row's id);
2. renders the text at send time (a login code is derived from the challenge id, never stored)
   and refuses to send a code whose challenge is no longer open;
3. calls the backend; on a failure the provider certainly did not accept it goes back to
   *queued* and is retried with exponential backoff, at most ``SMS_MAX_RETRIES`` times and never
   past the code's lifetime; an ambiguous failure (read timeout) is recorded as *failed* and
   not retried, so nobody gets the same SMS twice.

Every outcome is written to the row (visible in admin) and to the audit log. A code SMS that
ends *failed* voids its code (``_finish``): it was never delivered, so it costs no budget
(``accounts.otp``) and the citizen may ask for a new one at once.

Notices (``SmsMessage.NOTICE_KINDS``) have a budget of their own, ``NOTICES_PER_HOUR`` per
citizen, counted in ``queue_sms`` under the citizen's row lock: the first notice over it is
replaced by one ``NOTICES_CAPPED`` SMS, and the later ones of that hour are recorded as
*suppressed* and never sent (each one audited as ``nes.sms.budget_exceeded``).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from celery import shared_task
from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.http import HttpRequest
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.views.decorators.debug import sensitive_variables

from audit.log import record
from nesportal import limits

from .housekeeping import purge_expired, settle_lost_sends
from .identity import mask_phone
from .models import Citizen, SmsChallenge, SmsMessage
from .sms import SmsDeliveryError, get_backend

logger = logging.getLogger(__name__)

CALL_CENTRE = "444 5 576"


def queue_sms(
    citizen: Citizen,
    kind: str,
    *,
    challenge: SmsChallenge | None = None,
    request: HttpRequest | None = None,
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
            held = _hold_notice(citizen, kind, request=request, context=context, to=to)
            if held is not None:
                return held
        message = SmsMessage.objects.create(
            citizen=citizen,
            challenge=challenge,
            kind=kind,
            to_number=to or citizen.mobile_phone,
            context=context or {},
        )
        record("nes.sms.queued", citizen=citizen, request=request, sms=str(message.pk), kind=kind)
        transaction.on_commit(lambda: _publish(message, expires=expires, request=request))
    return message


NOTICE_WINDOW = timedelta(hours=1)


def _hold_notice(
    citizen: Citizen,
    kind: str,
    *,
    request: HttpRequest | None,
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
        citizen=citizen,
        request=request,
        budget="notices",
        limit=limits.NOTICES_PER_HOUR,
        kind=kind,
        sms=str(suppressed.pk),
        to=mask_phone(number),
        replaced_by_cap_notice=not capped,
    )
    if capped:
        return suppressed
    return queue_sms(citizen, SmsMessage.Kind.NOTICES_CAPPED, request=request, to=number)


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


def _publish(message: SmsMessage, *, expires: datetime | None, request: HttpRequest | None) -> None:
    """Hand the row's id to the worker; runs once the issuing transaction has committed.

    The broker's waits are bounded (nesportal/broker.py), so an unreachable or hung Redis ends
    here within seconds. If the publish failed after Redis had stored the task after all (a
    lost reply), the worker finds no queued row to claim and sends nothing: never twice.
    """
    try:
        send_sms.apply_async(args=[str(message.pk)], expires=expires)
    except Exception as exc:  # kombu's OperationalError, redis' errors, a socket timeout
        reason = f"Kuyruğa alınamadı: {type(exc).__name__}"
        logger.error("SMS %s not queued: %s: %s", message.pk, type(exc).__name__, exc)
        record(
            "nes.sms.not_queued",
            citizen=message.citizen,
            request=request,
            sms=str(message.pk),
            reason=reason,
        )
        if message.kind not in _WAITED_FOR:
            # A notice of something that did happen: the row stays, marked, and the action
            # that caused it is not undone.
            _finish(message, SmsMessage.Status.FAILED, failure_reason=reason)
            return
        if message.challenge_id:
            SmsChallenge.objects.filter(pk=message.challenge_id, invalidated_at=None).update(
                invalidated_at=timezone.now()
            )
        SmsMessage.objects.filter(pk=message.pk, status=SmsMessage.Status.QUEUED).delete()
        raise SmsUnavailable(reason) from exc


@sensitive_variables("code", "params")
def render_body(message: SmsMessage) -> str | None:
    """The SMS text, or None if it must not be sent any more (the code is no longer valid)."""
    from .otp import expected_code

    kinds = SmsMessage.Kind
    serial = message.context.get("serial", "")
    with translation.override("tr"):
        if message.kind in SmsMessage.CODE_KINDS:
            challenge = message.challenge
            if challenge is None or not challenge.is_open():
                return None
            code = expected_code(challenge)
            # The subject names what the code confirms: a certificate serial or a card serial.
            subject = challenge.subject
            codes = {
                kinds.LOGIN_CODE: _(
                    "NES Portal giriş için SMS Onay Kodunuz: %(code)s. Kod 3 dakika geçerlidir; "
                    "kimseyle paylaşmayınız. Giriş yapan siz değilseniz %(phone)s numarasını "
                    "arayınız."
                ),
                kinds.REVOKE_CODE: _(
                    "NES Portal: %(serial)s seri numaralı sertifikanızın İPTALİ için SMS Onay "
                    "Kodunuz: %(code)s. İptal geri alınamaz. İşlemi siz yapmıyorsanız kodu "
                    "kimseyle paylaşmayınız ve %(phone)s numarasını arayınız."
                ),
                kinds.PINPUK_CODE: _(
                    "NES Portal: %(card)s seri numaralı kartınızın PIN/PUK işlemi için SMS Onay "
                    "Kodunuz: %(code)s. Kimseyle paylaşmayınız. İşlemi siz yapmıyorsanız "
                    "%(phone)s numarasını arayınız."
                ),
                kinds.UNLOCK_CODE: _(
                    "NES Portal: %(card)s seri numaralı kartınızın KİLİT ÇÖZME işlemi için SMS "
                    "Onay Kodunuz: %(code)s. Kimseyle paylaşmayınız. İşlemi siz yapmıyorsanız "
                    "%(phone)s numarasını arayınız."
                ),
                kinds.RECOVERY_CODE: _(
                    "NES Portal: Güvenlik Sözcüğü YENİLEME için SMS Onay Kodunuz: %(code)s. "
                    "Kimseyle paylaşmayınız. İşlemi siz yapmıyorsanız %(phone)s numarasını "
                    "arayınız."
                ),
                kinds.PHONE_CHANGE_CODE: _(
                    "NES Portal: bu numarayı cep telefonu olarak kaydetmek için SMS Onay "
                    "Kodunuz: %(code)s. İşlemi siz yapmıyorsanız bu mesajı dikkate almayınız."
                ),
                kinds.EONAY_CODE: _(
                    "NES Portal: E-Onay işlemi için SMS Onay Kodunuz: %(code)s. Kimseyle "
                    "paylaşmayınız. İşlemi siz yapmıyorsanız %(phone)s numarasını arayınız."
                ),
            }
            params = {"code": code, "phone": CALL_CENTRE, "serial": subject, "card": subject}
            return codes[message.kind] % params
        if message.kind == kinds.WORD_RESET_LINK:
            # The link's token is derived from the link row at send time, never stored.
            from .recovery import reset_link_sms_url

            url = reset_link_sms_url(message.context.get("reset_link", ""))
            if url is None:
                return None
            return _(
                "NES Portal: Güvenlik Sözcüğünüzü yenilemek için tek kullanımlık bağlantınız "
                "(30 dakika geçerli): %(url)s Siz istemediyseniz %(phone)s numarasını arayınız."
            ) % {"url": url, "phone": CALL_CENTRE}
        account_notices = {
            kinds.WORD_CHANGED: _(
                "NES Portal: Güvenlik Sözcüğünüz değiştirildi ve tüm oturumlarınız kapatıldı. "
                "İşlemi siz yapmadıysanız hemen %(phone)s numarasını arayınız."
            ),
            kinds.PHONE_CHANGED: _(
                "NES Portal: hesabınızın cep telefonu numarası değiştirildi; bu numaraya artık "
                "SMS gönderilmeyecek. İşlemi siz yapmadıysanız %(phone)s numarasını arayınız."
            ),
            kinds.CONTACT_UPDATED: _(
                "NES Portal: iletişim bilgileriniz (%(field)s) güncellendi. İşlemi siz "
                "yapmadıysanız %(phone)s numarasını arayınız."
            ),
            kinds.EONAY_WAITING: _(
                "NES Portal: %(application)s numaralı başvurunuz E-Onay'ınızı bekliyor. "
                "E-Onay İşlemleri sayfasından onaylayabilir ya da reddedebilirsiniz."
            ),
            kinds.EONAY_DECIDED: _(
                "NES Portal: %(application)s numaralı başvuru için E-Onay kararınız: %(decision)s."
            ),
            kinds.EONAY_CONSENT: _(
                "NES Portal: sürekli E-Onay tercihiniz kaydedildi: %(state)s. İşlemi siz "
                "yapmadıysanız %(phone)s numarasını arayınız."
            ),
        }
        if message.kind in account_notices:
            return account_notices[message.kind] % {
                "phone": CALL_CENTRE,
                "field": message.context.get("field", ""),
                "application": message.context.get("application", ""),
                "decision": message.context.get("decision", ""),
                "state": message.context.get("state", ""),
            }
        notices = {
            kinds.CERT_OPENED: _(
                "NES Portal: %(serial)s seri numaralı sertifikanız kullanıma açıldı."
            ),
            kinds.CERT_SUSPENDED: _(
                "NES Portal: %(serial)s seri numaralı sertifikanız askıya alındı. İşlemi siz "
                "yapmadıysanız %(phone)s numarasını arayınız."
            ),
            kinds.CERT_REINSTATED: _(
                "NES Portal: %(serial)s seri numaralı sertifikanız askıdan indirildi ve yeniden "
                "kullanılabilir."
            ),
            kinds.CERT_REVOKED: _(
                "NES Portal: %(serial)s seri numaralı sertifikanız iptal edildi. İşlemi siz "
                "yapmadıysanız %(phone)s numarasını arayınız."
            ),
        }
        if message.kind in notices:
            return notices[message.kind] % {"serial": serial, "phone": CALL_CENTRE}
        # AKİS card notices: they name the card, never carry a PIN or PUK.
        card_notices = {
            kinds.PINPUK_VIEWED: _(
                "NES Portal: %(card)s seri numaralı kartınızın PIN/PUK bilgisi görüntülendi. "
                "İşlemi siz yapmadıysanız %(phone)s numarasını arayınız."
            ),
            kinds.PINPUK_SAVED: _(
                "NES Portal: %(card)s seri numaralı kartınızın PIN/PUK bilgisi PDF dosyası "
                "olarak kaydedildi. İşlemi siz yapmadıysanız %(phone)s numarasını arayınız."
            ),
            kinds.PINPUK_DELETED: _(
                "NES Portal: %(card)s seri numaralı kartınızın PIN/PUK bilgisi sistemden "
                "kalıcı olarak silindi ve bir daha görüntülenemez. İşlemi siz yapmadıysanız "
                "%(phone)s numarasını arayınız."
            ),
            kinds.CARD_UNLOCKED: _(
                "NES Portal: %(card)s seri numaralı kartınız için yeni PIN oluşturuldu. Kart, "
                "AKİS Kart İzleme Aracı'na bir sonraki takılışında yeni PIN ile açılır. İşlemi "
                "siz yapmadıysanız %(phone)s numarasını arayınız."
            ),
            kinds.CARD_UNUSABLE: _(
                "NES Portal: %(card)s seri numaralı kartınız 3 hatalı PUK girişi nedeniyle "
                "kullanım dışı kaldı ve bir daha kullanılamaz. Kart ücret karşılığında "
                "yenilenir; bilgi için %(phone)s numarasını arayınız."
            ),
        }
        if message.kind in card_notices:
            card = message.context.get("card", "")
            return card_notices[message.kind] % {"card": card, "phone": CALL_CENTRE}
        if message.kind == SmsMessage.Kind.ACCOUNT_LOCKED:
            return _(
                "NES Portal: Hesabınız 3 hatalı giriş nedeniyle güvenlik amacıyla bloke edildi. "
                "Yeniden açmak için %(phone)s numaralı Çağrı Merkezi'ni arayınız."
            ) % {"phone": CALL_CENTRE}
        if message.kind == SmsMessage.Kind.NOTICES_CAPPED:
            return _(
                "NES Portal: Bu saat içinde hesabınızda çok sayıda işlem yapıldı; başka bildirim "
                "gönderilmeyecek. İşlemlerinizi NES Portal'da görebilirsiniz."
            )
    raise ValueError(f"unknown SMS kind {message.kind!r}")


def _finish(message: SmsMessage, status: str, **fields: object) -> None:
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
        _finish(message, SmsMessage.Status.FAILED, failure_reason=reason)
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
        _finish(message, SmsMessage.Status.FAILED, failure_reason=reason)
        record("nes.sms.failed", citizen=message.citizen, sms=message_id, reason=reason)
        return "failed"

    _finish(
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
        _finish(message, SmsMessage.Status.QUEUED, failure_reason=exc.reason)
        record(
            "nes.sms.retry",
            citizen=message.citizen,
            sms=str(message.pk),
            reason=exc.reason,
            attempt=message.attempts,
        )
        raise task.retry(countdown=countdown, max_retries=settings.SMS_MAX_RETRIES, exc=exc)
    _finish(message, SmsMessage.Status.FAILED, failure_reason=exc.reason)
    record("nes.sms.failed", citizen=message.citizen, sms=str(message.pk), reason=exc.reason)
    return "failed"


__all__ = ["purge_expired", "queue_sms", "send_sms"]  # purge_expired: registers the task
