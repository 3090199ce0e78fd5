"""The text of every SMS the portal sends, rendered at send time and never stored.

:func:`render_body` is called by the sending task (``accounts.tasks.send_sms``) with the
``SmsMessage`` row: a code is derived from its challenge (``accounts.codes``), a link's token
from its link row (``accounts.tokens``), everything else from the row's non-secret ``context``
(a serial, a card, a field, the lock reason, a receipt number). No text carries a PIN, a PUK or
a security word.

* **Language**: the citizen's (``Citizen.language``: the language they last used the site in),
  Turkish by default.
* **Length** (``accounts.segments``): every code SMS fits one segment in both languages — the
  code comes first, so a phone's preview always shows it; Turkish texts, which need UCS-2,
  fit 70 characters, English ones 160 GSM-7 characters. A code for a certificate or a card
  names its last six characters ("…3fa9c1"), which the page shows too. Notices fit
  :func:`max_segments` (3, or 4 with a receipt number) with a 40-character serial and base URL.
* **"Bu işlemi ben yapmadım"**: every notice of something done on the account
  (``SmsMessage.NOT_ME_KINDS``) ends with its single-use link (``context["not_me"]``,
  ``protection``); without a usable link it ends with the call centre's number.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from django.utils import translation
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.debug import sensitive_variables

from nesportal.contact import CALL_CENTRE_PHONE

from .codes import expected_code
from .models import Citizen, SmsMessage
from .tokens import not_me_sms_url, reset_link_sms_url

if TYPE_CHECKING:
    from django_stubs_ext import StrPromise

# Notices fit 3 segments, those that also carry a receipt number 4 (Turkish, UCS-2: 67
# characters per segment), with a 40-character serial and a 40-character PORTAL_BASE_URL.
NOTICE_MAX_SEGMENTS = 3
RECEIPT_KINDS = (
    SmsMessage.Kind.CERT_REVOKED,
    SmsMessage.Kind.PINPUK_DELETED,
    SmsMessage.Kind.EONAY_DECIDED,
)
TAIL = 6  # characters of a serial a code SMS names


def max_segments(kind: str) -> int:
    """The most segments a text of ``kind`` takes (tests/accounts/test_sms_texts.py)."""
    if kind in SmsMessage.CODE_KINDS:
        return 1
    if kind == SmsMessage.Kind.WORD_RESET_LINK:
        return 4  # the agent's link: a 64-character token
    return NOTICE_MAX_SEGMENTS + (kind in RECEIPT_KINDS)


# What a CONTACT_UPDATED notice names (context["field"]); the Turkish words are those of rows
# queued before the field was stored as a code.
FIELDS: dict[str, StrPromise] = {
    "phone": gettext_lazy("cep telefonu"),
    "email": gettext_lazy("e-posta"),
    "address": gettext_lazy("adres"),
    "cep telefonu": gettext_lazy("cep telefonu"),
    "e-posta": gettext_lazy("e-posta"),
    "adres": gettext_lazy("adres"),
}
# E-Onay decisions (context["decision"]), by code and by the Turkish word of older rows.
DECISIONS: dict[str, StrPromise] = {
    "approved": gettext_lazy("onaylandı"),
    "rejected": gettext_lazy("reddedildi"),
    "by_consent": gettext_lazy("sürekli onayınızla onaylandı"),
    "onaylandı": gettext_lazy("onaylandı"),
    "reddedildi": gettext_lazy("reddedildi"),
    "sürekli onayınızla onaylandı": gettext_lazy("sürekli onayınızla onaylandı"),
}


# Standing E-Onay consent (context["state"] a code, context["scope"] the scope label's msgid).
CONSENT_STATES: dict[str, StrPromise] = {
    "given": gettext_lazy("verildi"),
    "withdrawn": gettext_lazy("geri alındı"),
}


def _consent_state(context: dict[str, str]) -> str:
    """ "verildi (Kurum ödemeli ilk başvuru)" in the active language; an older row's Turkish
    text as it is."""
    state = context.get("state", "")
    if state not in CONSENT_STATES:
        return state
    scope = context.get("scope", "")
    label = str(CONSENT_STATES[state])
    return f"{label} ({_(scope)})" if scope else label


def _local_date(context: dict[str, str]) -> str:
    """The context's date in the active language's format (``date_iso``), or as it was
    written (``date``, rows queued before the ISO date)."""
    iso = context.get("date_iso", "")
    try:
        return (
            date_format(dt.date.fromisoformat(iso), "DATE_FORMAT")
            if iso
            else context.get("date", "")
        )
    except ValueError:
        return context.get("date", "")


def language_of(message: SmsMessage) -> str:
    """The language of the SMS: its citizen's (Turkish for a row without one)."""
    return message.citizen.language if message.citizen_id else "tr"


def tail(serial: str) -> str:
    """The last characters of a certificate's or card's serial, as a code SMS names it."""
    return serial[-TAIL:]


def _code_text(kind: str) -> str:
    """The code SMS of ``kind``, with ``%(code)s`` first (call inside ``translation.override``)."""
    kinds = SmsMessage.Kind
    texts: dict[str, str] = {
        kinds.LOGIN_CODE: _(
            "%(code)s NES Portal giriş kodunuz. 3 dk geçerli. Kimseyle paylaşmayın."
        ),
        kinds.REVOKE_CODE: _(
            "%(code)s: …%(tail)s sertifikanızın İPTAL kodu. Geri alınamaz. NES Portal"
        ),
        kinds.PINPUK_CODE: _(
            "%(code)s: …%(tail)s kartınızın PIN/PUK kodu. Paylaşmayın. NES Portal"
        ),
        kinds.UNLOCK_CODE: _(
            "%(code)s: …%(tail)s kartınızın KİLİT ÇÖZME kodu. Paylaşmayın. NES Portal"
        ),
        kinds.RECOVERY_CODE: _(
            "%(code)s NES Portal Güvenlik Sözcüğü yenileme kodunuz. Paylaşmayın."
        ),
        kinds.PHONE_CHANGE_CODE: _(
            "%(code)s NES Portal yeni numara onay kodunuz. İstemediyseniz yok sayın."
        ),
        kinds.EONAY_CODE: _("%(code)s NES Portal E-Onay işlemi kodunuz. Kimseyle paylaşmayın."),
    }
    return texts[kind]


def _lock_notice(reason: str) -> str:
    """The ``ACCOUNT_LOCKED`` text for the lock reason (``Citizen.LockReason``); the general
    one for a reason without a text of its own. Call inside ``translation.override``."""
    reasons = Citizen.LockReason
    texts: dict[str, str] = {
        reasons.WRONG_CODE: _(
            "NES Portal: hesabınız 3 kez hatalı SMS Onay Kodu nedeniyle bloke edildi. Açmak "
            "için %(phone)s numarasını arayınız."
        ),
        reasons.WRONG_BIRTH_DATE: _(
            "NES Portal: hesabınız Güvenlik Sözcüğü yenilemede 3 hatalı deneme nedeniyle bloke "
            "edildi. Açmak için %(phone)s numarasını arayınız."
        ),
        reasons.ESIGN_FAILED: _(
            "NES Portal: hesabınız 3 başarısız E-İmzalı Giriş nedeniyle bloke edildi. Açmak "
            "için %(phone)s numarasını arayınız."
        ),
    }
    if reason in texts:
        return texts[reason]
    return _(
        "NES Portal: hesabınız 3 hatalı giriş nedeniyle bloke edildi. Açmak için %(phone)s "
        "numarasını arayınız."
    )


def _notice_text(message: SmsMessage) -> str:
    """The body of a notice or reminder, without its ending (call inside ``override``)."""
    kinds = SmsMessage.Kind
    context = message.context
    values = {
        "phone": CALL_CENTRE_PHONE,
        "serial": context.get("serial", ""),
        "card": context.get("card", ""),
        "application": context.get("application", ""),
        "days": context.get("days", ""),
        "date": _local_date(context),
        "count": context.get("count", "0"),
        "field": str(FIELDS.get(context.get("field", ""), context.get("field", ""))),
        "decision": str(DECISIONS.get(context.get("decision", ""), context.get("decision", ""))),
        "state": _consent_state(context),
    }
    if message.kind == kinds.ACCOUNT_LOCKED:
        return _lock_notice(context.get("reason", "")) % values
    texts: dict[str, str] = {
        kinds.WORD_CHANGED: _(
            "NES Portal: Güvenlik Sözcüğünüz değiştirildi, bütün oturumlarınız kapatıldı."
        ),
        kinds.PHONE_CHANGED: _(
            "NES Portal: hesabınızın cep telefonu değiştirildi; bu numaraya artık SMS "
            "gönderilmeyecek."
        ),
        kinds.CONTACT_UPDATED: _("NES Portal: iletişim bilginiz (%(field)s) güncellendi."),
        kinds.EONAY_WAITING: _(
            "NES Portal: %(application)s numaralı başvurunuz E-Onay'ınızı bekliyor. E-Onay "
            "İşlemleri sayfasından onaylayabilir ya da reddedebilirsiniz."
        ),
        kinds.EONAY_DECIDED: _(
            "NES Portal: %(application)s numaralı başvuru için E-Onay kararınız: %(decision)s."
        ),
        kinds.EONAY_CONSENT: _("NES Portal: sürekli E-Onay tercihiniz kaydedildi: %(state)s."),
        kinds.CERT_OPENED: _("NES Portal: %(serial)s seri numaralı sertifikanız kullanıma açıldı."),
        kinds.CERT_SUSPENDED: _("NES Portal: %(serial)s seri numaralı sertifikanız askıya alındı."),
        kinds.CERT_REINSTATED: _(
            "NES Portal: %(serial)s seri numaralı sertifikanız askıdan indirildi."
        ),
        kinds.CERT_REVOKED: _("NES Portal: %(serial)s seri numaralı sertifikanız iptal edildi."),
        kinds.PINPUK_VIEWED: _("NES Portal: %(card)s kartınızın PIN/PUK bilgisi görüntülendi."),
        kinds.PINPUK_SAVED: _(
            "NES Portal: %(card)s kartınızın PIN/PUK bilgisi PDF olarak kaydedildi."
        ),
        kinds.PINPUK_DELETED: _(
            "NES Portal: %(card)s kartınızın PIN/PUK bilgisi kalıcı olarak silindi."
        ),
        kinds.CARD_UNLOCKED: _(
            "NES Portal: %(card)s kartınız için yeni PIN oluşturuldu; kart AKİS Kart İzleme "
            "Aracı'na takılınca açılır."
        ),
        kinds.CARD_UNUSABLE: _(
            "NES Portal: %(card)s kartınız 3 hatalı PUK nedeniyle kullanım dışı kaldı; ücret "
            "karşılığında yenilenir."
        ),
        kinds.NOTICES_CAPPED: _(
            "NES Portal: bu saatte hesabınızda çok işlem yapıldı; yeni bildirim "
            "gönderilmeyecek. Hepsi Hesap Hareketlerim'de."
        ),
        kinds.CERT_EXPIRING: _(
            "NES Portal: %(serial)s seri numaralı sertifikanızın süresi %(days)s gün sonra "
            "(%(date)s) doluyor. Yenilemek için başvurunuzu zamanında yapınız."
        ),
        kinds.CERT_READY: _(
            "NES Portal: %(serial)s seri numaralı yeni sertifikanızı bugünden itibaren "
            "Sertifikamı Kullanıma Aç sayfasından kullanıma açabilirsiniz."
        ),
        kinds.ACCOUNT_PROTECTED: _(
            "NES Portal: hesabınız korumaya alındı: %(count)s sertifikanız askıya alındı, bütün "
            "oturumlarınız kapatıldı. Giriş yapıp Askıdan İndir ile geri alabilirsiniz."
        ),
    }
    if message.kind not in texts:
        raise ValueError(f"unknown SMS kind {message.kind!r}")
    return texts[message.kind] % values


def _ending(message: SmsMessage) -> str:
    """The receipt number and the "Bu işlemi ben yapmadım" link (or the call centre), for the
    kinds that carry them (call inside ``override``)."""
    parts = []
    receipt = message.context.get("receipt", "")
    if receipt:
        parts.append(_("Makbuz No: %(receipt)s.") % {"receipt": receipt})
    if message.kind in SmsMessage.NOT_ME_KINDS:
        url = not_me_sms_url(message.context.get("not_me", ""))
        if url is not None:
            parts.append(_("Siz yapmadıysanız: %(url)s") % {"url": url})
        else:
            parts.append(
                _("Siz yapmadıysanız %(phone)s numarasını arayınız.") % {"phone": CALL_CENTRE_PHONE}
            )
    return "".join(" " + part for part in parts)


@sensitive_variables("code", "params")
def render_body(message: SmsMessage) -> str | None:
    """The SMS text, or None if it must not be sent any more (the code or link is no longer
    valid)."""
    kinds = SmsMessage.Kind
    with translation.override(language_of(message) or "tr"):
        if message.kind in SmsMessage.CODE_KINDS:
            challenge = message.challenge
            if challenge is None or not challenge.is_open():
                return None
            code = expected_code(challenge)
            # The subject names what the code confirms: a certificate serial or a card serial.
            params = {"code": code, "tail": tail(challenge.subject)}
            return _code_text(message.kind) % params
        if message.kind == kinds.WORD_RESET_LINK:
            # The link's token is derived from the link row at send time, never stored.
            url = reset_link_sms_url(message.context.get("reset_link", ""))
            if url is None:
                return None
            return _(
                "NES Portal: Güvenlik Sözcüğü yenileme bağlantınız (30 dk, tek kullanımlık): "
                "%(url)s İstemediyseniz %(phone)s numarasını arayınız."
            ) % {"url": url, "phone": CALL_CENTRE_PHONE}
        return _notice_text(message) + _ending(message)
