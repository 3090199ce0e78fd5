"""Citizens, their SMS one-time-code challenges, and the SMS messages sent to them.

Citizens are not Django users: they never log in through Django's password form or admin.
Their security word is stored only as an Argon2 hash; SMS codes are never stored at all (see
``accounts/otp.py``: the code is derived from the challenge id with a server key).
"""

from __future__ import annotations

import contextlib
import uuid
from datetime import timedelta
from typing import Any

import phonenumbers
from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from nesportal import limits

from .identity import mask_phone, turkish_upper, validate_tckn

MAX_FAILURES = 3
CALL_CENTRE_GROUP = "Çağrı Merkezi"  # created by migration 0002
CALL_CENTRE_SUPERVISOR_GROUP = "Çağrı Merkezi Süpervizörü"  # created by migration 0011


def validate_turkish_mobile(value: str) -> None:
    try:
        number = phonenumbers.parse(value, "TR")
    except phonenumbers.NumberParseException as exc:
        raise ValidationError(
            _("Geçerli bir cep telefonu numarası giriniz."), code="phone"
        ) from exc
    if (
        not phonenumbers.is_valid_number(number)
        or number.country_code != 90
        or phonenumbers.number_type(number) != phonenumbers.PhoneNumberType.MOBILE
    ):
        raise ValidationError(
            _("Türkiye'de kayıtlı bir cep telefonu numarası giriniz (+90 5xx xxx xx xx)."),
            code="phone",
        )


def normalize_phone(value: str) -> str:
    """Any Turkish way of writing a mobile number → E.164 (+905xxxxxxxxx)."""
    number = phonenumbers.parse(value, "TR")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


class CitizenQuerySet(models.QuerySet):
    def by_identifier(self, identifier: str) -> CitizenQuerySet:
        """Lookup by a normalised T.C. Kimlik No (digits) or passport number."""
        if identifier.isdigit():
            return self.filter(tckn=identifier)
        return self.filter(passport_no=identifier)


class Citizen(models.Model):
    class LockReason(models.TextChoices):
        """What the attempt that locked the account was (``accounts.lockout.lock``).

        Wrong words, wrong birth dates and failed E-İmzalı Giriş share one strike counter, so
        the reason names the third strike; the audit log shows each of them."""

        WRONG_WORD = "wrong_word", _("3 kez hatalı Güvenlik Sözcüğü")
        WRONG_CODE = "wrong_code", _("3 kez hatalı SMS Onay Kodu")
        WRONG_BIRTH_DATE = (
            "wrong_birth_date",
            _("3 kez hatalı doğum tarihi (Güvenlik Sözcüğümü Unuttum)"),
        )
        ESIGN_FAILED = "esign_failed", _("3 kez başarısız E-İmzalı Giriş")

    tckn = models.CharField(
        _("T.C. Kimlik No"),
        max_length=11,
        unique=True,
        null=True,
        blank=True,
        validators=[validate_tckn],
    )
    passport_no = models.CharField(
        _("Pasaport No"),
        max_length=20,
        unique=True,
        null=True,
        blank=True,
        help_text=_("Yalnızca T.C. Kimlik No'su olmayan yabancı uyruklu sertifika sahipleri için."),
    )
    first_name = models.CharField(_("ad"), max_length=100)
    last_name = models.CharField(_("soyad"), max_length=100)
    birth_date = models.DateField(_("doğum tarihi"))
    mobile_phone = models.CharField(
        _("cep telefonu"),
        max_length=16,
        validators=[validate_turkish_mobile],
        help_text=_("E.164 biçiminde, ör. +905321234567."),
    )
    email = models.EmailField(_("e-posta"), blank=True)
    address = models.TextField(_("adres"), blank=True)
    security_word_hash = models.CharField(_("Güvenlik Sözcüğü özeti"), max_length=256)
    failure_count = models.PositiveSmallIntegerField(
        _("ardışık hatalı Güvenlik Sözcüğü"),
        default=0,
        help_text=_("Doğru Güvenlik Sözcüğü ya da başarılı giriş sıfırlar."),
    )
    code_failure_count = models.PositiveSmallIntegerField(
        _("ardışık hatalı SMS Onay Kodu"),
        default=0,
        help_text=_("Yalnızca doğru SMS Onay Kodu sıfırlar; yeniden giriş sıfırlamaz."),
    )
    locked_at = models.DateTimeField(_("kilitlenme zamanı"), null=True, blank=True)
    session_epoch = models.PositiveIntegerField(
        _("oturum kuşağı"),
        default=0,
        help_text=_(
            "Artırılınca vatandaşın bütün oturumları kapanır (ör. Bu işlemi ben yapmadım)."
        ),
    )
    language = models.CharField(
        _("dil"),
        max_length=8,
        choices=settings.LANGUAGES,
        default="tr",
        help_text=_("SMS ve e-postaların dili: vatandaşın sitede son seçtiği dil."),
    )
    lock_reason = models.CharField(
        _("kilit nedeni"), max_length=16, choices=LockReason.choices, blank=True
    )
    created_at = models.DateTimeField(_("oluşturulma"), auto_now_add=True)
    updated_at = models.DateTimeField(_("güncellenme"), auto_now=True)

    objects = CitizenQuerySet.as_manager()

    class Meta:
        verbose_name = _("vatandaş")
        verbose_name_plural = _("vatandaşlar")
        ordering = ["last_name", "first_name"]
        permissions = [
            ("unlock_citizen", _("Vatandaş hesabının kilidini açabilir")),
            ("send_reset_link", _("Güvenlik Sözcüğü yenileme bağlantısı gönderebilir")),
        ]
        constraints = [
            models.CheckConstraint(
                condition=(Q(tckn__isnull=False) & Q(passport_no__isnull=True))
                | (Q(tckn__isnull=True) & Q(passport_no__isnull=False)),
                name="citizen_one_identity",
                violation_error_message=_(
                    "T.C. Kimlik No veya Pasaport No'dan yalnızca biri girilir."
                ),
            ),
            models.CheckConstraint(
                condition=Q(failure_count__lte=MAX_FAILURES),
                name="citizen_failure_count_max",
            ),
            models.CheckConstraint(
                condition=Q(code_failure_count__lte=MAX_FAILURES),
                name="citizen_code_failure_count_max",
            ),
            models.CheckConstraint(
                condition=Q(locked_at__isnull=True, lock_reason="")
                | Q(locked_at__isnull=False) & ~Q(lock_reason=""),
                name="citizen_lock_reason_iff_locked",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.full_name} ({self.identifier})"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.mobile_phone:
            # An unparsable number is kept as typed; full_clean reports it.
            with contextlib.suppress(phonenumbers.NumberParseException):
                self.mobile_phone = normalize_phone(self.mobile_phone)
        super().save(*args, **kwargs)

    @property
    def identifier(self) -> str:
        return self.tckn or self.passport_no or ""

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}"

    @property
    def greeting_name(self) -> str:
        """'AD SOYAD' as on the İşlemler Menüsü: Turkish capitals (i → İ) for T.C. citizens,
        ordinary ones for foreigners' names (Schmidt → SCHMIDT, not SCHMİDT)."""
        return turkish_upper(self.full_name) if self.tckn else self.full_name.upper()

    @property
    def masked_phone(self) -> str:
        return mask_phone(self.mobile_phone)

    @property
    def is_locked(self) -> bool:
        return self.locked_at is not None

    def set_security_word(self, raw_word: str) -> None:
        self.security_word_hash = make_password(raw_word)


class SmsChallenge(models.Model):
    """One SMS Onay Kodu request: bound to a citizen, a purpose and one browser session.

    The code itself is not stored. ``accounts.otp.expected_code`` derives it from this row's id
    and purpose with a server-side key; the row holds only the SHA-256 of the random session
    binding token kept in the session that asked for it.
    """

    class Purpose(models.TextChoices):
        LOGIN = "login", _("Giriş")
        REVOKE = "revoke", _("Sertifika iptali")
        PINPUK = "pinpuk", _("PIN/PUK işlemi")
        UNLOCK = "unlock", _("Kilit çözme")
        RECOVERY = "recovery", _("Güvenlik Sözcüğü yenileme")
        PHONE_CHANGE = "phone_change", _("Cep telefonu değişikliği")
        EONAY = "eonay", _("E-Onay işlemi")

    LIFETIME = timedelta(seconds=180)
    # Between two codes of one budget (own codes, recovery codes): nesportal/limits.py.
    RESEND_AFTER = timedelta(seconds=limits.SECONDS_BETWEEN_CODES)
    MAX_WRONG = 3

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    citizen = models.ForeignKey(
        Citizen, verbose_name=_("vatandaş"), on_delete=models.CASCADE, related_name="sms_challenges"
    )
    purpose = models.CharField(_("amaç"), max_length=16, choices=Purpose.choices)
    subject = models.CharField(
        _("konu"),
        max_length=64,
        blank=True,
        help_text=_("Onaylanan işlemin nesnesi, ör. iptal edilecek sertifikanın seri numarası."),
    )
    binding_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField(_("oluşturulma"), default=timezone.now)
    expires_at = models.DateTimeField(_("geçerlilik sonu"))
    wrong_attempts = models.PositiveSmallIntegerField(_("hatalı deneme"), default=0)
    consumed_at = models.DateTimeField(_("kullanıldı"), null=True, blank=True)
    invalidated_at = models.DateTimeField(_("geçersiz kılındı"), null=True, blank=True)

    class Meta:
        verbose_name = _("SMS onay kodu isteği")
        verbose_name_plural = _("SMS onay kodu istekleri")
        indexes = [models.Index(fields=["citizen", "purpose", "created_at"])]
        constraints = [
            models.CheckConstraint(
                condition=Q(wrong_attempts__lte=3), name="challenge_wrong_attempts_max"
            ),
        ]

    def __str__(self) -> str:
        return (
            f"{self.get_purpose_display()} {timezone.localtime(self.created_at):%Y-%m-%d %H:%M:%S}"
        )

    def is_open(self, now: Any = None) -> bool:
        now = now or timezone.now()
        return self.consumed_at is None and self.invalidated_at is None and self.expires_at > now


def _without(kinds: tuple[str, ...], *left_out: str) -> tuple[str, ...]:
    """``kinds`` in their order, without ``left_out`` (for the kind groups of ``SmsMessage``)."""
    return tuple(kind for kind in kinds if kind not in left_out)


class SmsMessage(models.Model):
    """One SMS we asked a provider to deliver, and its outcome, for admin and the audit trail.

    Its id is the idempotency key: the sending task claims the row with a conditional UPDATE
    (queued → sending) before calling the provider, so a redelivered task never sends twice.
    The text is rendered at send time and never stored (a login SMS carries a code).

    Budgets (``nesportal/limits.py``) are counted on these rows: codes per citizen per hour,
    the holder's own codes apart from recovery codes; phone-change codes per new number per
    day; notices per citizen per hour. A row that finally *failed* costs nothing (and its code
    is void); a notice over the hourly budget is recorded as *suppressed* and never sent.
    """

    class Kind(models.TextChoices):
        LOGIN_CODE = "login_code", _("Giriş onay kodu")
        REVOKE_CODE = "revoke_code", _("Sertifika iptali onay kodu")
        ACCOUNT_LOCKED = "account_locked", _("Hesap kilitlendi bildirimi")
        CERT_OPENED = "cert_opened", _("Sertifika kullanıma açıldı bildirimi")
        CERT_SUSPENDED = "cert_suspended", _("Sertifika askıya alındı bildirimi")
        CERT_REINSTATED = "cert_reinstated", _("Sertifika askıdan indirildi bildirimi")
        CERT_REVOKED = "cert_revoked", _("Sertifika iptal edildi bildirimi")
        PINPUK_CODE = "pinpuk_code", _("PIN/PUK işlemi onay kodu")
        UNLOCK_CODE = "unlock_code", _("Kilit çözme onay kodu")
        PINPUK_VIEWED = "pinpuk_viewed", _("PIN/PUK görüntülendi bildirimi")
        PINPUK_SAVED = "pinpuk_saved", _("PIN/PUK kaydedildi (PDF) bildirimi")
        PINPUK_DELETED = "pinpuk_deleted", _("PIN/PUK silindi bildirimi")
        CARD_UNLOCKED = "card_unlocked", _("Kart kilidi çözüldü bildirimi")
        CARD_UNUSABLE = "card_unusable", _("Kart kullanım dışı kaldı bildirimi")
        RECOVERY_CODE = "recovery_code", _("Güvenlik Sözcüğü yenileme onay kodu")
        PHONE_CHANGE_CODE = "phone_change_code", _("Yeni cep telefonu onay kodu")
        EONAY_CODE = "eonay_code", _("E-Onay onay kodu")
        WORD_CHANGED = "word_changed", _("Güvenlik Sözcüğü değişti bildirimi")
        WORD_RESET_LINK = "word_reset_link", _("Güvenlik Sözcüğü yenileme bağlantısı")
        PHONE_CHANGED = "phone_changed", _("Cep telefonu değişti bildirimi (eski numaraya)")
        CONTACT_UPDATED = "contact_updated", _("İletişim bilgisi güncellendi bildirimi")
        EONAY_WAITING = "eonay_waiting", _("E-Onay bekleyen başvuru bildirimi")
        EONAY_DECIDED = "eonay_decided", _("E-Onay kararı bildirimi")
        EONAY_CONSENT = "eonay_consent", _("E-Onay sürekli onay bildirimi")
        NOTICES_CAPPED = "notices_capped", _("Bildirim sınırı aşıldı bildirimi")
        CERT_EXPIRING = "cert_expiring", _("Sertifika süresi doluyor hatırlatması")
        CERT_READY = "cert_ready", _("Yeni sertifika kullanıma açılabilir hatırlatması")
        ACCOUNT_PROTECTED = "account_protected", _("Hesap korumaya alındı bildirimi")

    class Status(models.TextChoices):
        QUEUED = "queued", _("Kuyrukta")
        SENDING = "sending", _("Gönderiliyor")
        SENT = "sent", _("Gönderildi")
        FAILED = "failed", _("Başarısız")
        SUPPRESSED = "suppressed", _("Gönderilmedi (bildirim sınırı)")

    CODE_KINDS = (
        Kind.LOGIN_CODE,
        Kind.REVOKE_CODE,
        Kind.PINPUK_CODE,
        Kind.UNLOCK_CODE,
        Kind.RECOVERY_CODE,
        Kind.PHONE_CHANGE_CODE,
        Kind.EONAY_CODE,
    )
    # Codes a third party who knows an ID and a birth date can trigger: a budget of their own.
    RECOVERY_CODE_KINDS = (Kind.RECOVERY_CODE,)
    # Codes the holder asked for, logged in or with their security word.
    OWN_CODE_KINDS = (
        Kind.LOGIN_CODE,
        Kind.REVOKE_CODE,
        Kind.PINPUK_CODE,
        Kind.UNLOCK_CODE,
        Kind.PHONE_CHANGE_CODE,
        Kind.EONAY_CODE,
    )
    # Every other kind but the agent's reset link (what the citizen waits for, on the phone
    # with the agent) and the cap notice itself.
    NOTICE_KINDS = (
        Kind.ACCOUNT_LOCKED,
        Kind.CERT_OPENED,
        Kind.CERT_SUSPENDED,
        Kind.CERT_REINSTATED,
        Kind.CERT_REVOKED,
        Kind.PINPUK_VIEWED,
        Kind.PINPUK_SAVED,
        Kind.PINPUK_DELETED,
        Kind.CARD_UNLOCKED,
        Kind.CARD_UNUSABLE,
        Kind.WORD_CHANGED,
        Kind.PHONE_CHANGED,
        Kind.CONTACT_UPDATED,
        Kind.EONAY_WAITING,
        Kind.EONAY_DECIDED,
        Kind.EONAY_CONSENT,
        Kind.ACCOUNT_PROTECTED,
    )
    # Reminders (certificates.reminders): at most one per certificate and threshold, by an
    # idempotency row, so no hourly budget of their own; never in quiet hours.
    REMINDER_KINDS = (Kind.CERT_EXPIRING, Kind.CERT_READY)
    # Notices that carry a "Bu işlemi ben yapmadım" link (accounts.notme): every notice of
    # something done on the account, and the cap notice (many actions in one hour).
    # Not the E-Onay waiting notice: an application entered by a registration authority is not
    # something done on the account, and its answer is "Reddet" on the E-Onay page.
    # Nor the protection notice: it answers a link already used.
    NOT_ME_KINDS = (
        *_without(NOTICE_KINDS, Kind.EONAY_WAITING, Kind.ACCOUNT_PROTECTED),
        Kind.NOTICES_CAPPED,
    )
    # Statuses that cost nothing: never delivered.
    FREE_STATUSES = (Status.FAILED, Status.SUPPRESSED)

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    citizen = models.ForeignKey(
        Citizen,
        verbose_name=_("vatandaş"),
        on_delete=models.CASCADE,
        related_name="sms_messages",
    )
    challenge = models.ForeignKey(
        SmsChallenge,
        verbose_name=_("onay kodu isteği"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="messages",
    )
    kind = models.CharField(_("tür"), max_length=32, choices=Kind.choices)
    context = models.JSONField(
        _("bağlam"),
        default=dict,
        blank=True,
        help_text=_("Metni oluşturmak için gereken gizli olmayan bilgiler (ör. seri numarası)."),
    )
    to_number = models.CharField(_("alıcı"), max_length=16)
    status = models.CharField(
        _("durum"), max_length=16, choices=Status.choices, default=Status.QUEUED
    )
    attempts = models.PositiveSmallIntegerField(_("deneme"), default=0)
    provider_message_id = models.CharField(_("sağlayıcı mesaj no"), max_length=64, blank=True)
    failure_reason = models.TextField(_("hata nedeni"), blank=True)
    created_at = models.DateTimeField(_("oluşturulma"), default=timezone.now, db_index=True)
    updated_at = models.DateTimeField(_("güncellenme"), auto_now=True)
    sent_at = models.DateTimeField(_("gönderilme"), null=True, blank=True)

    class Meta:
        verbose_name = _("SMS")
        verbose_name_plural = _("SMS kayıtları")
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["citizen", "kind", "created_at"])]

    def __str__(self) -> str:
        to = mask_phone(self.to_number)
        return f"{self.get_kind_display()} → {to} ({self.get_status_display()})"


class ContactChange(models.Model):
    """A requested change of mobile phone or e-mail, effective only once confirmed.

    A new mobile number is confirmed with an SMS code sent to that number (``challenge``); a new
    e-mail address with a link whose token is stored only as a SHA-256 hash.
    """

    class Field(models.TextChoices):
        PHONE = "phone", _("cep telefonu")
        EMAIL = "email", _("e-posta")

    citizen = models.ForeignKey(
        Citizen,
        verbose_name=_("vatandaş"),
        on_delete=models.CASCADE,
        related_name="contact_changes",
    )
    field = models.CharField(_("alan"), max_length=8, choices=Field.choices)
    old_value = models.CharField(_("eski değer"), max_length=254, blank=True)
    new_value = models.CharField(_("yeni değer"), max_length=254)
    challenge = models.ForeignKey(
        SmsChallenge,
        verbose_name=_("onay kodu isteği"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    token_hash = models.CharField(max_length=64, blank=True)
    target_key = models.CharField(
        _("hedef anahtarı"),
        max_length=254,
        blank=True,
        help_text=_(
            "E-posta bütçesi için normalleştirilmiş yeni adres (küçük harf, +etiket atılmış)."
        ),
    )
    created_at = models.DateTimeField(_("istenme"), default=timezone.now)
    expires_at = models.DateTimeField(_("geçerlilik sonu"))
    confirmed_at = models.DateTimeField(_("onaylanma"), null=True, blank=True)
    cancelled_at = models.DateTimeField(_("vazgeçilme"), null=True, blank=True)

    class Meta:
        verbose_name = _("iletişim bilgisi değişikliği")
        verbose_name_plural = _("iletişim bilgisi değişiklikleri")
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["citizen", "field", "created_at"]),
            models.Index(fields=["target_key", "created_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.citizen} {self.field}"


class WordResetLink(models.Model):
    """A single-use security-word reset link an agent sent by SMS (valid 30 minutes).

    Only the SHA-256 of the token is stored; the token travels once, in the SMS.
    """

    LIFETIME = timedelta(minutes=30)

    citizen = models.ForeignKey(
        Citizen, verbose_name=_("vatandaş"), on_delete=models.CASCADE, related_name="reset_links"
    )
    token_hash = models.CharField(max_length=64, unique=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("gönderen personel"),
        on_delete=models.PROTECT,
        related_name="+",
    )
    reason = models.CharField(_("gerekçe"), max_length=500)
    created_at = models.DateTimeField(_("oluşturulma"), default=timezone.now)
    expires_at = models.DateTimeField(_("geçerlilik sonu"))
    used_at = models.DateTimeField(_("kullanılma"), null=True, blank=True)

    class Meta:
        verbose_name = _("Güvenlik Sözcüğü yenileme bağlantısı")
        verbose_name_plural = _("Güvenlik Sözcüğü yenileme bağlantıları")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.citizen} {timezone.localtime(self.created_at):%Y-%m-%d %H:%M}"


class NotMeLink(models.Model):
    """A "Bu işlemi ben yapmadım" link carried by one notice SMS or e-mail (``accounts.notme``).

    Whoever opens it and gives the holder's T.C. Kimlik No (and the captcha) puts the account
    under protection in one click: every active certificate suspended (certificateHold, which
    the holder lifts after logging in), every session ended, open codes and reset links void.
    It can only protect the holder, never harm them irreversibly. Single use, valid 72 hours.
    Only the SHA-256 of its token is stored; the token (128 bits) is derived from the row with
    the server key when the text is rendered, and travels once.
    """

    LIFETIME = timedelta(hours=72)

    citizen = models.ForeignKey(
        Citizen, verbose_name=_("vatandaş"), on_delete=models.CASCADE, related_name="not_me_links"
    )
    token_hash = models.CharField(max_length=64, unique=True)
    kind = models.CharField(_("bildirim"), max_length=32, choices=SmsMessage.Kind.choices)
    created_at = models.DateTimeField(_("oluşturulma"), default=timezone.now)
    expires_at = models.DateTimeField(_("geçerlilik sonu"))
    used_at = models.DateTimeField(_("kullanılma"), null=True, blank=True)

    class Meta:
        verbose_name = _("'Bu işlemi ben yapmadım' bağlantısı")
        verbose_name_plural = _("'Bu işlemi ben yapmadım' bağlantıları")
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["expires_at"])]

    def __str__(self) -> str:
        return f"{self.citizen} {timezone.localtime(self.created_at):%Y-%m-%d %H:%M}"
