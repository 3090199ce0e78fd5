"""The text of every SMS the portal sends, rendered at send time and never stored.

:func:`render_body` is called by the sending task (``accounts.tasks.send_sms``) with the
``SmsMessage`` row: a code is derived from its challenge (``accounts.codes``), a reset link's
token from its link row (``accounts.tokens``), everything else from the row's non-secret
``context`` (a serial, a card, a field name, the lock reason). Texts are Turkish whatever the
page's language: SMS go to Turkish mobiles. No text carries a PIN, a PUK or a security word.
"""

from __future__ import annotations

from django.utils import translation
from django.utils.translation import gettext as _
from django.views.decorators.debug import sensitive_variables

from nesportal.contact import CALL_CENTRE_PHONE

from .codes import expected_code
from .models import Citizen, SmsMessage
from .tokens import reset_link_sms_url


def _lock_notice(reason: str) -> str:
    """The ``ACCOUNT_LOCKED`` text for the lock reason (``Citizen.LockReason``); the general
    one for a reason without a text of its own. Call inside ``translation.override``."""
    reasons = Citizen.LockReason
    texts: dict[str, str] = {
        reasons.WRONG_CODE: _(
            "NES Portal: Hesabınız 3 kez hatalı girilen SMS Onay Kodu nedeniyle güvenlik "
            "amacıyla bloke edildi. Yeniden açmak için %(phone)s numaralı Çağrı Merkezi'ni "
            "arayınız."
        ),
        reasons.WRONG_BIRTH_DATE: _(
            "NES Portal: Hesabınız Güvenlik Sözcüğü yenilemede 3 hatalı deneme nedeniyle "
            "güvenlik amacıyla bloke edildi. Yeniden açmak için %(phone)s numaralı Çağrı "
            "Merkezi'ni arayınız."
        ),
        reasons.ESIGN_FAILED: _(
            "NES Portal: Hesabınız 3 başarısız E-İmzalı Giriş denemesi nedeniyle güvenlik "
            "amacıyla bloke edildi. Yeniden açmak için %(phone)s numaralı Çağrı Merkezi'ni "
            "arayınız."
        ),
    }
    if reason in texts:
        return texts[reason]
    return _(
        "NES Portal: Hesabınız 3 hatalı giriş nedeniyle güvenlik amacıyla bloke edildi. "
        "Yeniden açmak için %(phone)s numaralı Çağrı Merkezi'ni arayınız."
    )


@sensitive_variables("code", "params")
def render_body(message: SmsMessage) -> str | None:
    """The SMS text, or None if it must not be sent any more (the code is no longer valid)."""
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
            codes: dict[str, str] = {
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
            params = {"code": code, "phone": CALL_CENTRE_PHONE, "serial": subject, "card": subject}
            return codes[message.kind] % params
        if message.kind == kinds.WORD_RESET_LINK:
            # The link's token is derived from the link row at send time, never stored.
            url = reset_link_sms_url(message.context.get("reset_link", ""))
            if url is None:
                return None
            return _(
                "NES Portal: Güvenlik Sözcüğünüzü yenilemek için tek kullanımlık bağlantınız "
                "(30 dakika geçerli): %(url)s Siz istemediyseniz %(phone)s numarasını arayınız."
            ) % {"url": url, "phone": CALL_CENTRE_PHONE}
        account_notices: dict[str, str] = {
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
                "phone": CALL_CENTRE_PHONE,
                "field": message.context.get("field", ""),
                "application": message.context.get("application", ""),
                "decision": message.context.get("decision", ""),
                "state": message.context.get("state", ""),
            }
        notices: dict[str, str] = {
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
            return notices[message.kind] % {"serial": serial, "phone": CALL_CENTRE_PHONE}
        # AKİS card notices: they name the card, never carry a PIN or PUK.
        card_notices: dict[str, str] = {
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
            return card_notices[message.kind] % {"card": card, "phone": CALL_CENTRE_PHONE}
        if message.kind == SmsMessage.Kind.ACCOUNT_LOCKED:
            return _lock_notice(message.context.get("reason", "")) % {"phone": CALL_CENTRE_PHONE}
        if message.kind == kinds.CERT_EXPIRING:
            return _(
                "NES Portal: %(serial)s seri numaralı sertifikanızın süresi %(days)s gün sonra "
                "(%(date)s) doluyor. Yenilemek için başvurunuzu zamanında yapınız."
            ) % {
                "serial": serial,
                "days": message.context.get("days", ""),
                "date": message.context.get("date", ""),
            }
        if message.kind == kinds.CERT_READY:
            return _(
                "NES Portal: %(serial)s seri numaralı yeni sertifikanızı bugünden itibaren "
                "Sertifikamı Kullanıma Aç sayfasından kullanıma açabilirsiniz."
            ) % {"serial": serial}
        if message.kind == kinds.ACCOUNT_PROTECTED:
            return _(
                "NES Portal: hesabınız korumaya alındı: %(count)s sertifikanız askıya alındı, "
                "bütün oturumlarınız kapatıldı. Bilgi için %(phone)s numarasını arayınız."
            ) % {"count": message.context.get("count", "0"), "phone": CALL_CENTRE_PHONE}
        if message.kind == SmsMessage.Kind.NOTICES_CAPPED:
            return _(
                "NES Portal: Bu saat içinde hesabınızda çok sayıda işlem yapıldı; başka bildirim "
                "gönderilmeyecek. İşlemlerinizi NES Portal'da görebilirsiniz."
            )
    raise ValueError(f"unknown SMS kind {message.kind!r}")
