"""The Turkish label of every audit action admin shows, in one place.

Admin pages (the citizen's "Son giriş denemeleri", "Denetim kayıtları") show the label, with
the raw code as the ``title`` tooltip: agents read what happened, and whoever searches the log
or the code still sees the code. A code without a label (a new one) is shown as it is.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.translation import gettext_lazy as _

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise

ACTION_LABELS: dict[str, StrOrPromise] = {
    # Şifreli Giriş
    "nes.login.captcha_failed": _("Giriş: resimdeki yazı hatalı"),
    "nes.login.word_passed": _("Giriş: Güvenlik Sözcüğü doğru"),
    "nes.login.word_failed": _("Giriş: Güvenlik Sözcüğü hatalı"),
    "nes.login.word_rehashed": _("Giriş: Güvenlik Sözcüğü özeti yeni parametrelerle yenilendi"),
    "nes.login.locked_attempt": _("Giriş denemesi: hesap kilitli"),
    "nes.login.code_passed": _("Giriş: SMS Onay Kodu doğru"),
    "nes.login.code_failed": _("Giriş: SMS Onay Kodu hatalı"),
    "nes.login.succeeded": _("Giriş yapıldı"),
    "nes.login.esign_passed": _("E-İmzalı Giriş yapıldı"),
    "nes.login.esign_failed": _("E-İmzalı Giriş başarısız"),
    "nes.esign.signature_invalid": _("E-İmzalı Giriş: imza geçersiz (hak düşülmedi)"),
    "nes.logout": _("Çıkış yapıldı"),
    # The lock
    "nes.account.locked": _("Hesap kilitlendi"),
    "nes.account.unlocked": _("Hesabın kilidi açıldı"),
    # Güvenlik Sözcüğümü Unuttum
    "nes.recovery.captcha_failed": _("Sözcük yenileme: resimdeki yazı hatalı"),
    "nes.recovery.fact_passed": _("Sözcük yenileme: doğum tarihi doğru"),
    "nes.recovery.fact_failed": _("Sözcük yenileme: doğum tarihi hatalı"),
    "nes.recovery.locked_attempt": _("Sözcük yenileme denemesi: hesap kilitli"),
    "nes.recovery.code_sent": _("Sözcük yenileme: SMS Onay Kodu gönderildi"),
    "nes.recovery.code_passed": _("Sözcük yenileme: SMS Onay Kodu doğru"),
    "nes.recovery.word_changed": _("Güvenlik Sözcüğü değiştirildi"),
    "nes.recovery.link_sent": _("Sözcük yenileme bağlantısı gönderildi"),
    # Bilgi Güncelle
    "nes.profile.address_changed": _("Adres değiştirildi"),
    "nes.profile.email_change_requested": _("E-posta değişikliği istendi"),
    "nes.profile.email_changed": _("E-posta değiştirildi"),
    "nes.profile.phone_change_requested": _("Cep telefonu değişikliği istendi"),
    "nes.profile.phone_changed": _("Cep telefonu değiştirildi"),
    # SMS and e-mail
    "nes.sms.queued": _("SMS kuyruğa alındı"),
    "nes.sms.sent": _("SMS gönderildi"),
    "nes.sms.retry": _("SMS yeniden denenecek"),
    "nes.sms.failed": _("SMS gönderilemedi"),
    "nes.sms.not_queued": _("SMS kuyruğa alınamadı"),
    "nes.sms.budget_exceeded": _("SMS sınırı aşıldı"),
    "nes.email.budget_exceeded": _("E-posta sınırı aşıldı"),
    "nes.throttle.exceeded": _("İstek sınırı aşıldı"),
    # Certificates
    "nes.certificate.issued": _("Sertifika üretildi"),
    "nes.certificate.opened": _("Sertifika kullanıma açıldı"),
    "nes.certificate.suspended": _("Sertifika askıya alındı"),
    "nes.certificate.reinstated": _("Sertifika askıdan indirildi"),
    "nes.certificate.revoked": _("Sertifika iptal edildi"),
    "nes.certificate.refused": _("Sertifika işlemi reddedildi"),
    # PIN/PUK and cards
    "nes.pinpuk.viewed": _("PIN/PUK görüntülendi"),
    "nes.pinpuk.saved": _("PIN/PUK kaydedildi (PDF)"),
    "nes.pinpuk.deleted": _("PIN/PUK silindi"),
    "nes.card.unlocked": _("Kart kilidi çözüldü (yeni PIN)"),
    "nes.cardtool.auth_failed": _("Kart aracı: yetkisiz istek"),
    "nes.cardtool.unlock_fetched": _("Kart aracı: kilit çözme alındı"),
    "nes.cardtool.unlock_applied": _("Kart aracı: kilit çözme uygulandı"),
    "nes.cardtool.wrong_puk": _("Kart aracı: hatalı PUK girişi"),
    "nes.cardtool.wrong_puk_refused": _("Kart aracı: hatalı PUK bildirimi reddedildi"),
    # E-Onay
    "nes.eonay.application_entered": _("E-Onay başvurusu girildi"),
    "nes.eonay.approved": _("E-Onay başvurusu onaylandı"),
    "nes.eonay.rejected": _("E-Onay başvurusu reddedildi"),
    "nes.eonay.approved_by_consent": _("E-Onay başvurusu sürekli onayla onaylandı"),
    "nes.eonay.cancelled": _("E-Onay başvurusu iptal edildi (hatalı giriş)"),
    "nes.eonay.refused": _("E-Onay işlemi reddedildi"),
    "nes.eonay.consent_given": _("Sürekli E-Onay verildi"),
    "nes.eonay.consent_withdrawn": _("Sürekli E-Onay geri alındı"),
    "nes.eonay.card_signature_refused": _("Kartla E-Onay imzası reddedildi"),
    # Bu işlemi ben yapmadım (accounts.notme)
    "nes.notme.opened": _("'Bu işlemi ben yapmadım' bağlantısı açıldı"),
    "nes.notme.identity_failed": _("'Bu işlemi ben yapmadım': T.C. Kimlik No eşleşmedi"),
    "nes.notme.protected": _("'Bu işlemi ben yapmadım': hesap korumaya alındı"),
    # Reminders (certificates.reminders)
    "nes.reminder.expiry_sent": _("Sertifika süresi hatırlatması gönderildi"),
    "nes.reminder.ready_sent": _("Yeni sertifika hatırlatması gönderildi"),
    # Receipts (receipts/)
    "nes.receipt.issued": _("İşlem makbuzu oluşturuldu"),
    "nes.receipt.downloaded": _("İşlem makbuzu indirildi"),
    # Staff login to admin (staff/)
    "nes.staff.password_passed": _("Personel girişi: parola doğru"),
    "nes.staff.password_failed": _("Personel girişi: parola hatalı"),
    "nes.staff.token_failed": _("Personel girişi: doğrulama kodu hatalı"),
    "nes.staff.login": _("Personel girişi yapıldı"),
    "nes.staff.backup_code_used": _("Personel girişi: yedek kod kullanıldı"),
    "nes.staff.locked": _("Personel hesabı kilitlendi"),
    "nes.staff.locked_attempt": _("Personel girişi denemesi: hesap kilitli"),
    "nes.staff.unlocked": _("Personel hesabının kilidi açıldı"),
    "nes.staff.device_added": _("Personel kimlik doğrulayıcı ekledi"),
    "nes.staff.devices_reset": _("Personelin iki adımlı doğrulaması sıfırlandı"),
}


def action_label(code: str) -> StrOrPromise:
    """The Turkish label of ``code`` (the code itself if it has none)."""
    return ACTION_LABELS.get(code, code)


def action_html(code: str) -> SafeString:
    """The label, with the raw code as its tooltip (escaped)."""
    return format_html('<span title="{}">{}</span>', code, action_label(code))
