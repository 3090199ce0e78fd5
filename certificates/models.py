"""Issuing CAs, the citizens' qualified certificates and their status history.

State machine (held by the database): ``pending`` (issued, not yet opened for use) → ``active``
⇄ ``suspended`` → ``revoked``; a revoked certificate never comes back; *expired* is derived from
``not_after``. Transitions are the methods below; each runs in a transaction, re-reads the row
with ``select_for_update()``, checks the current status, writes the new one and records a
``CertificateStatusChange``. Views, admin and tasks never assign ``status`` themselves, and
check constraints keep the columns consistent with the status whatever code writes them.

Private keys never go into the database: the CA's key is read from a file (``certificates.ca``)
and the holder's key lives on the AKİS card.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import models, transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext_lazy as _


class CertificateError(Exception):
    """An illegal transition; ``message`` is shown to the citizen as it is."""

    def __init__(self, message: Any) -> None:
        super().__init__(str(message))
        self.message = message


class CertificateAuthority(models.Model):
    """An issuing CA whose certificate (public) we hold; its key stays in a file."""

    slug = models.SlugField(_("kısa ad"), unique=True)
    name = models.CharField(_("ad"), max_length=200)
    certificate_der = models.BinaryField(_("sertifika (DER)"))
    crl_number = models.PositiveBigIntegerField(_("son SİL numarası"), default=0)
    crl_der = models.BinaryField(_("son SİL (DER)"), null=True, blank=True)
    crl_this_update = models.DateTimeField(_("SİL yayın zamanı"), null=True, blank=True)
    crl_next_update = models.DateTimeField(_("sonraki SİL zamanı"), null=True, blank=True)
    crl_stale = models.BooleanField(
        _("SİL yenilenmeli"),
        default=True,
        help_text=_("Bir sertifikanın durumu değişti; SİL yeniden imzalanacak."),
    )

    class Meta:
        verbose_name = _("sertifika hizmet sağlayıcı")
        verbose_name_plural = _("sertifika hizmet sağlayıcılar")

    def __str__(self) -> str:
        return self.name


class Certificate(models.Model):
    class Kind(models.TextChoices):
        NES = "nes", _("Nitelikli Elektronik Sertifika (AKİS kart)")
        MOBILE = "mobile", _("Mobil Nitelikli Elektronik Sertifika")

    class Status(models.TextChoices):
        PENDING = "pending", _("Kullanıma açılmadı")
        ACTIVE = "active", _("Geçerli")
        SUSPENDED = "suspended", _("Askıda")
        REVOKED = "revoked", _("İptal edildi")

    class SuspendedBy(models.TextChoices):
        HOLDER = "holder", _("Sertifika sahibi")
        CA = "ca", _("Sertifika hizmet sağlayıcı")

    class RevocationReason(models.TextChoices):
        # Values are cryptography's x509.ReasonFlags names.
        KEY_COMPROMISE = "key_compromise", _("Anahtarım ele geçirildi / kartım kayboldu")
        AFFILIATION_CHANGED = "affiliation_changed", _("Bilgilerim değişti")
        SUPERSEDED = "superseded", _("Yeni sertifika aldım")
        CESSATION_OF_OPERATION = "cessation_of_operation", _("Artık kullanmayacağım")
        UNSPECIFIED = "unspecified", _("Belirtmek istemiyorum")

    ca = models.ForeignKey(
        CertificateAuthority,
        verbose_name=_("sertifika hizmet sağlayıcı"),
        on_delete=models.PROTECT,
        related_name="certificates",
    )
    citizen = models.ForeignKey(
        "accounts.Citizen",
        verbose_name=_("sertifika sahibi"),
        on_delete=models.PROTECT,
        related_name="certificates",
    )
    serial_number = models.CharField(
        _("seri numarası"), max_length=40, help_text=_("Onaltılık, küçük harf.")
    )
    kind = models.CharField(_("tür"), max_length=16, choices=Kind.choices, default=Kind.NES)
    der = models.BinaryField(_("sertifika (DER)"))
    subject_name = models.CharField(_("sahip"), max_length=200)
    not_before = models.DateTimeField(_("geçerlilik başlangıcı"))
    not_after = models.DateTimeField(_("geçerlilik sonu"))
    fingerprint_sha256 = models.CharField(_("SHA-256 parmak izi"), max_length=95)
    status = models.CharField(
        _("durum"), max_length=16, choices=Status.choices, default=Status.PENDING
    )
    issued_at = models.DateTimeField(_("üretim zamanı"), default=timezone.now)
    opened_at = models.DateTimeField(_("kullanıma açılma"), null=True, blank=True)
    suspended_at = models.DateTimeField(_("askıya alınma"), null=True, blank=True)
    suspended_by = models.CharField(
        _("askıya alan"), max_length=8, choices=SuspendedBy.choices, blank=True
    )
    revoked_at = models.DateTimeField(_("iptal zamanı"), null=True, blank=True)
    revocation_reason = models.CharField(
        _("iptal nedeni"), max_length=32, choices=RevocationReason.choices, blank=True
    )

    class Meta:
        verbose_name = _("sertifika")
        verbose_name_plural = _("sertifikalar")
        ordering = ["-not_before", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["ca", "serial_number"], name="certificate_serial_per_ca"
            ),
            models.CheckConstraint(
                condition=Q(status__in=["pending", "active", "suspended", "revoked"]),
                name="certificate_status_valid",
            ),
            models.CheckConstraint(
                condition=Q(status="revoked", revoked_at__isnull=False) & ~Q(revocation_reason="")
                | ~Q(status="revoked") & Q(revoked_at__isnull=True, revocation_reason=""),
                name="certificate_revoked_iff_reason",
            ),
            models.CheckConstraint(
                condition=Q(status="suspended", suspended_at__isnull=False) & ~Q(suspended_by="")
                | ~Q(status="suspended"),
                name="certificate_suspension_recorded",
            ),
            models.CheckConstraint(
                condition=~Q(status="pending") | Q(opened_at__isnull=True),
                name="certificate_pending_not_opened",
            ),
            models.CheckConstraint(
                condition=Q(not_after__gt=models.F("not_before")),
                name="certificate_validity_order",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.serial_number} ({self.subject_name})"

    def get_absolute_url(self) -> str:
        return reverse("certificates:detail", args=[self.serial_number])

    # --- derived state ---------------------------------------------------------------------

    def is_expired(self, now: datetime | None = None) -> bool:
        return (now or timezone.now()) >= self.not_after

    @property
    def display_status(self) -> str:
        if self.status != self.Status.REVOKED and self.is_expired():
            return str(_("Süresi doldu"))
        return str(self.get_status_display())

    def days_left(self, now: datetime | None = None) -> int:
        return max(0, (self.not_after - (now or timezone.now())).days)

    @property
    def serial_int(self) -> int:
        return int(self.serial_number, 16)

    # --- transitions -------------------------------------------------------------------------

    def _locked(self) -> Certificate:
        """This row, re-read under a row lock (call inside transaction.atomic)."""
        return Certificate.objects.select_for_update().get(pk=self.pk)

    def _apply(
        self,
        current: Certificate,
        to: str,
        *,
        now: datetime,
        by_citizen: Any = None,
        by_user: Any = None,
        reason: str = "",
        **fields: Any,
    ) -> CertificateStatusChange:
        previous = current.status
        for name, value in {"status": to, **fields}.items():
            setattr(current, name, value)
        current.save(update_fields=["status", *fields])
        # Whoever made the change (service, admin, demo data), the published CRL no longer
        # matches: the next CRL request re-signs it even if nobody publishes on commit.
        CertificateAuthority.objects.filter(pk=current.ca_id).update(crl_stale=True)
        self.refresh_from_db()
        return CertificateStatusChange.objects.create(
            certificate=current,
            from_status=previous,
            to_status=to,
            at=now,
            by_citizen=by_citizen,
            by_user=by_user,
            reason=reason,
        )

    def _refuse_if_expired(self, current: Certificate, now: datetime) -> None:
        if current.is_expired(now):
            raise CertificateError(_("Bu sertifikanın geçerlilik süresi dolmuştur."))

    def open_for_use(
        self, *, by_citizen: Any = None, now: datetime | None = None
    ) -> CertificateStatusChange:
        """pending → active, unless an older certificate of the same kind is still valid."""
        now = now or timezone.now()
        with transaction.atomic():
            current = self._locked()
            if current.status != self.Status.PENDING:
                raise CertificateError(_("Bu sertifika zaten kullanıma açılmış."))
            self._refuse_if_expired(current, now)
            blocking = (
                Certificate.objects.filter(
                    citizen_id=current.citizen_id,
                    kind=current.kind,
                    status__in=[self.Status.ACTIVE, self.Status.SUSPENDED],
                    not_after__gt=now,
                    not_before__lt=current.not_before,
                )
                .order_by("-not_after")
                .first()
            )
            if blocking is not None:
                raise CertificateError(
                    _(
                        "Eski sertifikanızın (%(serial)s) geçerlilik süresi dolmadan yeni "
                        "sertifikanızı kullanamazsınız. Yeni sertifikanızı %(date)s tarihinden "
                        "itibaren kullanıma açabilirsiniz; eski sertifikanızı süresi dolmadan "
                        "imha etmeyiniz."
                    )
                    % {
                        "serial": blocking.serial_number,
                        "date": date_format(
                            timezone.localtime(blocking.not_after), "DATETIME_FORMAT"
                        ),
                    }
                )
            return self._apply(
                current, self.Status.ACTIVE, now=now, by_citizen=by_citizen, opened_at=now
            )

    def suspend(
        self,
        *,
        by: str,
        by_citizen: Any = None,
        by_user: Any = None,
        reason: str = "",
        now: datetime | None = None,
    ) -> CertificateStatusChange:
        """active → suspended (certificateHold)."""
        now = now or timezone.now()
        with transaction.atomic():
            current = self._locked()
            if current.status != self.Status.ACTIVE:
                raise CertificateError(
                    _("Yalnızca geçerli durumdaki bir sertifika askıya alınabilir.")
                )
            self._refuse_if_expired(current, now)
            return self._apply(
                current,
                self.Status.SUSPENDED,
                now=now,
                by_citizen=by_citizen,
                by_user=by_user,
                reason=reason,
                suspended_at=now,
                suspended_by=by,
            )

    def reinstate(
        self, *, by: str, by_citizen: Any = None, by_user: Any = None, now: datetime | None = None
    ) -> CertificateStatusChange:
        """suspended → active. A holder may lift only a suspension they made themselves."""
        now = now or timezone.now()
        with transaction.atomic():
            current = self._locked()
            if current.status != self.Status.SUSPENDED:
                raise CertificateError(_("Bu sertifika askıda değil."))
            if by == self.SuspendedBy.HOLDER and current.suspended_by != self.SuspendedBy.HOLDER:
                raise CertificateError(
                    _(
                        "Bu sertifika sertifika hizmet sağlayıcı tarafından askıya alınmıştır; "
                        "askıdan indirmek için 444 5 576 numaralı Çağrı Merkezimizi arayınız."
                    )
                )
            self._refuse_if_expired(current, now)
            return self._apply(
                current,
                self.Status.ACTIVE,
                now=now,
                by_citizen=by_citizen,
                by_user=by_user,
                suspended_at=None,
                suspended_by="",
            )

    def revoke(
        self,
        *,
        reason: str,
        by_citizen: Any = None,
        by_user: Any = None,
        now: datetime | None = None,
    ) -> CertificateStatusChange:
        """pending/active/suspended → revoked, for good."""
        now = now or timezone.now()
        if reason not in self.RevocationReason.values:
            raise CertificateError(_("Geçerli bir iptal nedeni seçiniz."))
        with transaction.atomic():
            current = self._locked()
            if current.status == self.Status.REVOKED:
                raise CertificateError(_("Bu sertifika zaten iptal edilmiş."))
            self._refuse_if_expired(current, now)
            return self._apply(
                current,
                self.Status.REVOKED,
                now=now,
                by_citizen=by_citizen,
                by_user=by_user,
                reason=reason,
                revoked_at=now,
                revocation_reason=reason,
                suspended_at=None,
                suspended_by="",
            )


class CertificateStatusChange(models.Model):
    """One transition of one certificate (like healthchecks' Flip)."""

    certificate = models.ForeignKey(
        Certificate,
        verbose_name=_("sertifika"),
        on_delete=models.PROTECT,
        related_name="status_changes",
    )
    from_status = models.CharField(
        _("önceki durum"), max_length=16, choices=Certificate.Status.choices
    )
    to_status = models.CharField(_("yeni durum"), max_length=16, choices=Certificate.Status.choices)
    at = models.DateTimeField(_("zaman"), default=timezone.now)
    by_citizen = models.ForeignKey(
        "accounts.Citizen",
        verbose_name=_("yapan vatandaş"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    by_user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("yapan personel"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    reason = models.CharField(_("neden"), max_length=64, blank=True)

    class Meta:
        verbose_name = _("durum değişikliği")
        verbose_name_plural = _("durum değişiklikleri")
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"{self.certificate.serial_number}: {self.from_status} → {self.to_status}"


class LoginChallenge(models.Model):
    """A random challenge for E-İmzalı Giriş: single use, valid 2 minutes, bound to the browser
    session that asked for it (the row keeps only the SHA-256 of the session's token)."""

    LIFETIME = timedelta(minutes=2)

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    nonce = models.BinaryField(_("rastgele değer"))
    binding_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField(_("oluşturulma"), default=timezone.now)
    expires_at = models.DateTimeField(_("geçerlilik sonu"))
    used_at = models.DateTimeField(_("kullanılma"), null=True, blank=True)

    class Meta:
        verbose_name = _("e-imzalı giriş sorusu")
        verbose_name_plural = _("e-imzalı giriş soruları")

    def __str__(self) -> str:
        return str(self.id)
