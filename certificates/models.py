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

from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import models, transaction
from django.db.models import F, Q
from django.dispatch import Signal
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext_lazy as _

from nesportal.contact import with_phone
from nesportal.exceptions import PortalError

# Sent once the transaction that changed a certificate's status (or issued it) has committed,
# with ``certificate`` (the row as committed). certificates.apps connects the CRL publication
# and the OCSP cache to it; nothing here knows about either.
status_committed = Signal()


def announce_after_commit(certificate: Certificate) -> None:
    transaction.on_commit(
        lambda: status_committed.send(sender=Certificate, certificate=certificate)
    )


class CertificateError(PortalError):
    """An illegal transition; ``message`` is shown to the citizen as it is."""

    def __init__(self, message: Any) -> None:
        super().__init__(message)
        self.args = (str(message),)


class CertificateAuthority(models.Model):
    """An issuing CA whose certificate (public) we hold; its key stays in a file.

    The CA row is small on purpose: every OCSP answer and certificate page may need it, so the
    signed CRLs live in their own table (``CrlShard``) and are loaded only to be served.
    """

    slug = models.SlugField(_("kısa ad"), unique=True)
    name = models.CharField(_("ad"), max_length=200)
    certificate_der = models.BinaryField(_("sertifika (DER)"))

    class Meta:
        verbose_name = _("sertifika hizmet sağlayıcı")
        verbose_name_plural = _("sertifika hizmet sağlayıcılar")

    def __str__(self) -> str:
        return self.name


class CrlShardManager(models.Manager["CrlShard"]):
    def note_change(self, certificate: Certificate) -> None:
        """Record, in the caller's transaction, that the certificate's CRLs must be re-signed.

        Increments ``wanted`` of the full CRL and of the certificate's shard, creating the rows
        the first time. Row locks are held only until the caller commits (milliseconds): the
        publisher never holds them while it signs.
        """
        shards = {CrlShard.FULL, certificate.crl_shard}
        rows = self.filter(ca_id=certificate.ca_id, shard__in=shards)
        if rows.update(wanted=F("wanted") + 1) < len(shards):
            # First change in a shard (rows are normally made at issuance): make the missing
            # rows, then count the change again on all of them (an extra count costs at most
            # one redundant signing; a missing one would lose the change).
            for shard in shards:
                self.get_or_create(ca_id=certificate.ca_id, shard=shard)
            rows.update(wanted=F("wanted") + 1)


class CrlShard(models.Model):
    """One published CRL of a CA: the full CRL (``shard=""``) or one shard.

    Shards are temporal (README "Revocation at national scale"): a certificate belongs to the
    shard of the month its validity ends in (``"202911"``), written into its CRL distribution
    point at issuance, so no shard grows with the age of the CA. The full CRL lists every
    unexpired revoked or held certificate and is the distribution point of certificates issued
    before shards existed.

    Publication is demand-driven and single-flight:

    * every status change increments ``wanted`` of its shard and of the full CRL in the
      transaction that changes the status (so the demand commits with the change);
    * a publisher takes the *lease* (``lease_token``/``lease_until``) under the row lock, reads
      ``wanted``, streams the entries and signs **outside** any transaction, then stores the CRL
      with ``signed = wanted-as-read`` only if it still holds the lease. Changes that commit
      meanwhile leave ``wanted > signed`` and cause one more round, never one signing each;
      a publisher that finds the lease taken does nothing (the holder will see its change).
    """

    FULL = ""
    LEASE = timedelta(minutes=5)

    ca = models.ForeignKey(
        CertificateAuthority,
        verbose_name=_("sertifika hizmet sağlayıcı"),
        on_delete=models.PROTECT,
        related_name="crl_shards",
    )
    shard = models.CharField(
        _("bölüm"),
        max_length=6,
        blank=True,
        help_text=_("Boş: tam SİL; YYYYAA: geçerliliği o ay biten sertifikalar."),
    )
    wanted = models.PositiveBigIntegerField(_("istenen sürüm"), default=1)
    signed = models.PositiveBigIntegerField(_("imzalanan sürüm"), default=0)
    number = models.PositiveBigIntegerField(_("SİL numarası"), default=0)
    this_update = models.DateTimeField(_("yayın zamanı"), null=True, blank=True)
    next_update = models.DateTimeField(_("sonraki yayın"), null=True, blank=True)
    der = models.BinaryField(_("SİL (DER)"), null=True, blank=True, editable=False)
    etag = models.CharField(max_length=66, blank=True, editable=False)
    entry_count = models.PositiveIntegerField(_("kayıt sayısı"), default=0)
    size_bytes = models.PositiveIntegerField(_("boyut (bayt)"), default=0)
    sign_seconds = models.FloatField(_("imzalama süresi (sn)"), default=0)
    lease_token = models.CharField(max_length=32, blank=True, editable=False)
    lease_until = models.DateTimeField(null=True, blank=True, editable=False)

    objects = CrlShardManager()

    class Meta:
        verbose_name = _("yayımlanan SİL")
        verbose_name_plural = _("yayımlanan SİL'ler")
        ordering = ["ca", "shard"]
        constraints = [
            models.UniqueConstraint(fields=["ca", "shard"], name="crl_shard_per_ca"),
            models.CheckConstraint(
                condition=Q(shard="") | Q(shard__regex=r"^[0-9]{6}$"), name="crl_shard_format"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.ca_id}/{self.shard or 'full'} #{self.number}"

    @property
    def is_full(self) -> bool:
        return self.shard == self.FULL


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
    # The CRL shard named in the certificate's CRL distribution point ("" = the full CRL, for
    # certificates issued before shards existed).
    crl_shard = models.CharField(_("SİL bölümü"), max_length=6, blank=True, default="")
    # Incremented by every transition: pre-signed OCSP responses are valid only for the
    # version they were signed for (certificates.responder).
    status_version = models.PositiveIntegerField(default=0, editable=False)

    class Meta:
        verbose_name = _("sertifika")
        verbose_name_plural = _("sertifikalar")
        ordering = ["-not_before", "-id"]
        permissions = [
            (
                "suspend_certificate",
                _("Sertifikayı SHS adına askıya alabilir ve askıdan indirebilir"),
            ),
        ]
        indexes = [
            # The CRL queries read only the (few) certificates that are not active.
            models.Index(
                fields=["ca", "crl_shard"],
                condition=~Q(status="active"),
                name="certificate_crl_shard_entries",
            ),
            models.Index(
                fields=["ca", "not_after"],
                condition=~Q(status="active"),
                name="certificate_crl_full_entries",
            ),
            # Reminders (certificates.reminders) read narrow not_after ranges: active
            # certificates near a threshold, and certificates that have just expired (the day
            # a newer pending one can be opened).
            models.Index(
                fields=["not_after"],
                condition=Q(status__in=["active", "suspended"]),
                name="certificate_in_use_not_after",
            ),
            # ... and the certificates issued or revoked lately (a pending one may be opened).
            models.Index(
                fields=["issued_at"],
                condition=Q(status="pending"),
                name="certificate_pending_issued",
            ),
            models.Index(
                fields=["revoked_at"],
                condition=Q(status="revoked"),
                name="certificate_revoked_at",
            ),
        ]
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

    def shows_expired(self) -> bool:
        """Shown as "Süresi doldu": past its validity and not revoked (a revoked certificate
        stays "İptal edildi")."""
        return self.status != self.Status.REVOKED and self.is_expired()

    @property
    def display_status(self) -> str:
        if self.shows_expired():
            return str(_("Süresi doldu"))
        return str(self.Status(self.status).label)

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
        current.status_version += 1
        for name, value in {"status": to, **fields}.items():
            setattr(current, name, value)
        current.save(update_fields=["status", "status_version", *fields])
        # Whoever made the change (service, admin, demo data), the published CRLs no longer
        # match: the demand is recorded in this transaction, and publication is asked for once
        # it commits (certificates.publication listens to ``status_committed``).
        CrlShard.objects.note_change(current)
        self.refresh_from_db()
        change = CertificateStatusChange.objects.create(
            certificate=current,
            from_status=previous,
            to_status=to,
            at=now,
            by_citizen=by_citizen,
            by_user=by_user,
            reason=reason,
        )
        announce_after_commit(current)
        return change

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
        self,
        *,
        by: str,
        by_citizen: Any = None,
        by_user: Any = None,
        reason: str = "",
        now: datetime | None = None,
    ) -> CertificateStatusChange:
        """suspended → active. A holder may lift only a suspension they made themselves."""
        now = now or timezone.now()
        with transaction.atomic():
            current = self._locked()
            if current.status != self.Status.SUSPENDED:
                raise CertificateError(_("Bu sertifika askıda değil."))
            if by == self.SuspendedBy.HOLDER and current.suspended_by != self.SuspendedBy.HOLDER:
                raise CertificateError(
                    with_phone(
                        _(
                            "Bu sertifika sertifika hizmet sağlayıcı tarafından askıya "
                            "alınmıştır; askıdan indirmek için %(phone)s numaralı Çağrı "
                            "Merkezimizi arayınız."
                        )
                    )
                )
            self._refuse_if_expired(current, now)
            return self._apply(
                current,
                self.Status.ACTIVE,
                now=now,
                by_citizen=by_citizen,
                by_user=by_user,
                reason=reason,
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
    # A revocation's reason code, or the staff member's reason for a suspension by the CA.
    reason = models.CharField(_("neden"), max_length=500, blank=True)

    class Meta:
        verbose_name = _("durum değişikliği")
        verbose_name_plural = _("durum değişiklikleri")
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"{self.certificate.serial_number}: {self.from_status} → {self.to_status}"


class ExpiryReminder(models.Model):
    """The one reminder of one certificate at one threshold (``certificates.reminders``).

    The unique (certificate, threshold) row is the idempotency key: it is claimed in the
    transaction that queues the SMS, under the certificate's row lock, so a reminder goes at
    most once however many runs overlap. A threshold passed while an earlier run was missing is
    recorded as *skipped* when a nearer one is sent, and is never sent afterwards.
    """

    class Threshold(models.TextChoices):
        DAYS_90 = "90", _("90 gün kala")
        DAYS_60 = "60", _("60 gün kala")
        DAYS_30 = "30", _("30 gün kala")
        DAYS_15 = "15", _("15 gün kala")
        DAYS_7 = "7", _("7 gün kala")
        DAYS_1 = "1", _("1 gün kala")
        READY = "ready", _("Yeni sertifika kullanıma açılabilir")

    class Outcome(models.TextChoices):
        SENT = "sent", _("Gönderildi")
        SKIPPED = "skipped", _("Atlandı (daha yakın hatırlatma gönderildi)")

    certificate = models.ForeignKey(
        Certificate,
        verbose_name=_("sertifika"),
        on_delete=models.CASCADE,
        related_name="reminders",
    )
    threshold = models.CharField(_("hatırlatma"), max_length=8, choices=Threshold.choices)
    outcome = models.CharField(_("sonuç"), max_length=8, choices=Outcome.choices)
    at = models.DateTimeField(_("zaman"), default=timezone.now)

    class Meta:
        verbose_name = _("sertifika hatırlatması")
        verbose_name_plural = _("sertifika hatırlatmaları")
        ordering = ["-at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["certificate", "threshold"], name="expiry_reminder_once"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.certificate_id} {self.threshold} {self.outcome}"
