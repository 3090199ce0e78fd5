"""E-Onay: the holder's consent to applications that staff enter on their behalf.

* ``Consent`` is a *standing* consent for one scope (institution-paid first application or
  renewal). Giving it creates a row; withdrawing it stamps ``withdrawn_at``. A partial unique
  constraint keeps at most one active row per citizen and scope, so the history stays intact.
* ``Application`` is entered by staff in admin and waits for the citizen. It is decided exactly
  once: ``decide()`` is a conditional UPDATE ``status = 'waiting' → approved/rejected``, so two
  tabs (or a tab and a replayed request) can never both decide. A CheckConstraint keeps the
  decision fields consistent with the status. Staff never decide: the admin has no code path
  that calls ``decide()``.
"""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class ApplicationError(Exception):
    """The application cannot be decided (already decided, or not the citizen's)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class Consent(models.Model):
    class Scope(models.TextChoices):
        FIRST = "kurum_odemeli_ilk", _("Kurum ödemeli ilk başvuru")
        RENEWAL = "kurum_odemeli_yenileme", _("Kurum ödemeli yenileme")

    citizen = models.ForeignKey(
        "accounts.Citizen",
        verbose_name=_("vatandaş"),
        on_delete=models.PROTECT,
        related_name="eonay_consents",
    )
    scope = models.CharField(_("kapsam"), max_length=32, choices=Scope.choices)
    given_at = models.DateTimeField(_("verilme zamanı"), default=timezone.now)
    withdrawn_at = models.DateTimeField(_("geri alınma zamanı"), null=True, blank=True)

    class Meta:
        verbose_name = _("sürekli E-Onay")
        verbose_name_plural = _("sürekli E-Onaylar")
        ordering = ["-given_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["citizen", "scope"],
                condition=Q(withdrawn_at=None),
                name="eonay_one_active_consent_per_scope",
            ),
            models.CheckConstraint(
                condition=Q(scope__in=["kurum_odemeli_ilk", "kurum_odemeli_yenileme"]),
                name="eonay_consent_scope_valid",
            ),
            models.CheckConstraint(
                condition=Q(withdrawn_at=None) | Q(withdrawn_at__gte=models.F("given_at")),
                name="eonay_consent_withdrawn_after_given",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_scope_display()} ({self.citizen_id})"

    @property
    def is_active(self) -> bool:
        return self.withdrawn_at is None


tax_number_validator = RegexValidator(r"^\d{10}$", _("Vergi kimlik numarası 10 rakamdan oluşur."))


class Application(models.Model):
    class Kind(models.TextChoices):
        FIRST = "ilk_basvuru", _("Kurum ödemeli ilk başvuru")
        RENEWAL = "yenileme", _("Kurum ödemeli sertifika yenileme")
        REPLACEMENT = "kart_degisimi", _("Kurum ödemeli kart değişimi")

    class Status(models.TextChoices):
        WAITING = "waiting", _("Onayınızı bekliyor")
        APPROVED = "approved", _("Onaylandı")
        REJECTED = "rejected", _("Reddedildi")

    # Which standing consent covers which kind; a replacement card always needs an explicit
    # decision.
    CONSENT_SCOPES = {
        Kind.FIRST: Consent.Scope.FIRST,
        Kind.RENEWAL: Consent.Scope.RENEWAL,
    }

    reference = models.CharField(
        _("başvuru numarası"), max_length=20, unique=True, null=True, blank=True, editable=False
    )
    citizen = models.ForeignKey(
        "accounts.Citizen",
        verbose_name=_("vatandaş"),
        on_delete=models.PROTECT,
        related_name="eonay_applications",
    )
    kind = models.CharField(_("başvuru türü"), max_length=20, choices=Kind.choices)
    institution_name = models.CharField(_("kurum adı"), max_length=200)
    institution_tax_number = models.CharField(
        _("kurum vergi kimlik no"), max_length=10, validators=[tax_number_validator]
    )
    contact_name = models.CharField(_("kurum yetkilisi"), max_length=120)
    contact_phone = models.CharField(_("yetkili telefonu"), max_length=20)
    contact_email = models.EmailField(_("yetkili e-posta adresi"))
    entered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("giren personel"),
        on_delete=models.PROTECT,
        related_name="+",
        editable=False,
    )
    entered_at = models.DateTimeField(_("giriş zamanı"), default=timezone.now, editable=False)
    status = models.CharField(
        _("durum"),
        max_length=10,
        choices=Status.choices,
        default=Status.WAITING,
        editable=False,
    )
    decided_at = models.DateTimeField(_("karar zamanı"), null=True, blank=True, editable=False)
    decided_by_consent = models.ForeignKey(
        Consent,
        verbose_name=_("onaylayan sürekli E-Onay"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="approved_applications",
        editable=False,
    )

    class Meta:
        verbose_name = _("E-Onay başvurusu")
        verbose_name_plural = _("E-Onay başvuruları")
        ordering = ["-entered_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind__in=["ilk_basvuru", "yenileme", "kart_degisimi"]),
                name="eonay_application_kind_valid",
            ),
            # The decision fields follow the status: a waiting application has none, a rejected
            # one has a time and was rejected by the citizen (a consent only ever approves).
            models.CheckConstraint(
                condition=(
                    Q(status="waiting", decided_at=None, decided_by_consent=None)
                    | Q(status="approved", decided_at__isnull=False)
                    | Q(status="rejected", decided_at__isnull=False, decided_by_consent=None)
                ),
                name="eonay_application_decision_consistent",
            ),
        ]
        indexes = [models.Index(fields=["citizen", "status"], name="eonay_app_citizen_status")]

    def __str__(self) -> str:
        return self.reference or _("(numarasız başvuru)")

    def save(self, *args: object, **kwargs: object) -> None:
        super().save(*args, **kwargs)  # type: ignore[arg-type]
        if not self.reference:
            # The human reference needs the id, so it is set right after the insert (in the
            # caller's transaction).
            self.reference = self.make_reference(self.pk, self.entered_at)
            Application.objects.filter(pk=self.pk).update(reference=self.reference)

    @staticmethod
    def make_reference(pk: int, at: datetime) -> str:
        return f"EO-{timezone.localtime(at).year}-{pk:06d}"

    @property
    def consent_scope(self) -> str | None:
        return self.CONSENT_SCOPES.get(self.kind)

    @property
    def is_waiting(self) -> bool:
        return self.status == self.Status.WAITING

    @property
    def decided_by_citizen(self) -> bool:
        return self.status != self.Status.WAITING and self.decided_by_consent_id is None

    def decide(
        self,
        *,
        approve: bool,
        consent: Consent | None = None,
        now: datetime | None = None,
    ) -> bool:
        """Record the decision if the application is still waiting. True if this call decided.

        A conditional UPDATE: the database lets exactly one of two parallel calls match
        ``status='waiting'`` (on PostgreSQL the second waits for the first's row lock, then
        re-checks the condition and updates nothing).
        """
        if consent is not None and not approve:
            raise ValueError("a standing consent only approves")
        now = now or timezone.now()
        status = self.Status.APPROVED if approve else self.Status.REJECTED
        updated = Application.objects.filter(pk=self.pk, status=self.Status.WAITING).update(
            status=status, decided_at=now, decided_by_consent=consent
        )
        self.refresh_from_db(fields=["status", "decided_at", "decided_by_consent"])
        return bool(updated)
