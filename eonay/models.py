"""E-Onay: the holder's consent to applications that staff enter on their behalf.

* ``Consent`` is a *standing* consent for one scope (institution-paid first application or
  renewal). Giving it creates a row; withdrawing it stamps ``withdrawn_at``. A partial unique
  constraint keeps at most one active row per citizen and scope, so the history stays intact.
* ``Application`` is entered by staff in admin and waits for the citizen. It is decided exactly
  once: ``decide()`` is a conditional UPDATE ``status = 'waiting' → approved/rejected``, so two
  tabs (or a tab and a replayed request) can never both decide. A CheckConstraint keeps the
  decision fields consistent with the status. Staff never decide: the admin has no code path
  that calls ``decide()``. A supervisor may only *cancel* an application entered by mistake
  while it still waits (``cancel()``, the same conditional UPDATE from ``waiting``): it is then
  neither approved nor rejected, and no longer waits for the citizen.

Both change state only through the methods below (like ``certificates.models.Certificate``):
``Consent.objects.give``, ``Consent.withdraw``, ``Application.enter``,
``Application.decide`` and ``Application.cancel``. Giving, withdrawing and entering take the
citizen's row lock first, so an application entered while the citizen withdraws their consent
is either approved by a consent that was active or waits, never approved by a consent withdrawn
before it; a refused transition raises ``ConsentError`` / ``ApplicationError``. Pages ask the
rows what they allow (``Application.allowed_actions``, ``Consent.objects.allowed_actions``);
``eonay.services`` adds the audit entry and the SMS around each transition.

* ``CardSignature`` is the citizen's card signature (a detached CMS, CAdES-BES) over the
  canonical E-Onay text (``esign.consent``) that gave or withdrew a consent or decided an
  application, kept as evidence. ``esign.card_eonay`` verifies it (our CA, this citizen's live
  certificate, the portal's own fresh text) and then calls ``eonay.services`` with it; the row
  is written once and never changed (``save`` refuses an update, nothing deletes it: every
  reference to it is PROTECT). Its nonce is unique, so one signed text is used at most once.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from accounts.models import Citizen
from nesportal.exceptions import PortalError


class ApplicationError(PortalError):
    """The application cannot be decided (already decided, or not the citizen's)."""


class ConsentError(PortalError):
    """The standing consent cannot be changed so (e.g. it was withdrawn already)."""


def lock_holder(citizen_id: int) -> None:
    """The citizen's row lock (inside transaction.atomic): consents and entries queue on it."""
    Citizen.objects.select_for_update().only("pk").get(pk=citizen_id)


class CardSignature(models.Model):
    """A card signature over an E-Onay text: immutable evidence (see the module docstring)."""

    class Action(models.TextChoices):
        CONSENT_GIVE = "consent.give", _("Sürekli onay verme")
        CONSENT_WITHDRAW = "consent.withdraw", _("Sürekli onayı geri alma")
        APPLICATION_APPROVE = "application.approve", _("Başvuru onayı")
        APPLICATION_REJECT = "application.reject", _("Başvuru reddi")

    citizen = models.ForeignKey(
        "accounts.Citizen",
        verbose_name=_("vatandaş"),
        on_delete=models.PROTECT,
        related_name="eonay_card_signatures",
        editable=False,
    )
    certificate = models.ForeignKey(
        "certificates.Certificate",
        verbose_name=_("imzalayan sertifika"),
        on_delete=models.PROTECT,
        related_name="eonay_card_signatures",
        editable=False,
    )
    action = models.CharField(_("işlem"), max_length=24, choices=Action.choices, editable=False)
    # The scope or the application reference the text names (for lists and audit).
    subject = models.CharField(_("konu"), max_length=40, editable=False)
    text = models.TextField(_("imzalanan metin"), editable=False)
    nonce = models.CharField(_("tek kullanımlık değer"), max_length=43, unique=True, editable=False)
    cms = models.BinaryField(_("imza (CMS, DER)"), editable=False)
    signing_time = models.DateTimeField(_("imza zamanı"), editable=False)
    verified_at = models.DateTimeField(_("doğrulama zamanı"), editable=False)

    class Meta:
        verbose_name = _("kartla E-Onay imzası")
        verbose_name_plural = _("kartla E-Onay imzaları")
        ordering = ["-verified_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(
                    action__in=[
                        "consent.give",
                        "consent.withdraw",
                        "application.approve",
                        "application.reject",
                    ]
                ),
                name="eonay_card_signature_action_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_action_display()} {self.subject} ({self.verified_at:%Y-%m-%d %H:%M})"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise ValueError("a card signature is evidence: it is never changed")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> Any:
        raise ValueError("a card signature is evidence: it is never deleted")

    @property
    def serial(self) -> str:
        return str(self.certificate.serial_number)


class ConsentManager(models.Manager["Consent"]):
    def active(self, citizen: Citizen, scope: str | None) -> Consent | None:
        """The citizen's active standing consent for ``scope`` (None for no scope)."""
        if scope is None:
            return None
        return self.filter(citizen=citizen, scope=scope, withdrawn_at=None).first()

    def allowed_actions(self, citizen: Citizen, scope: str) -> frozenset[str]:
        """``{"withdraw"}`` while a consent for ``scope`` is active, ``{"give"}`` otherwise."""
        if self.active(citizen, scope) is not None:
            return frozenset({Consent.Action.WITHDRAW})
        return frozenset({Consent.Action.GIVE})

    def give(
        self,
        citizen: Citizen,
        scope: str,
        *,
        now: datetime | None = None,
        signature: CardSignature | None = None,
    ) -> tuple[Consent, bool]:
        """A standing consent for ``scope``: (consent, created). Idempotent.

        Under the citizen's row lock (held until the caller's transaction commits): an active
        consent is returned as it is (``signature`` is then not attached), otherwise a new row
        is made (the partial unique constraint allows one active row per citizen and scope),
        with the card ``signature`` that gave it, if any.
        """
        with transaction.atomic():
            lock_holder(citizen.pk)
            now = now or timezone.now()  # after the lock: times follow the order of changes
            existing = self.active(citizen, scope)
            if existing is not None:
                return existing, False
            consent = self.create(
                citizen=citizen, scope=scope, given_at=now, given_signature=signature
            )
            return consent, True


class Consent(models.Model):
    class Scope(models.TextChoices):
        FIRST = "kurum_odemeli_ilk", _("Kurum ödemeli ilk başvuru")
        RENEWAL = "kurum_odemeli_yenileme", _("Kurum ödemeli yenileme")

    class Action:
        GIVE = "give"
        WITHDRAW = "withdraw"

    citizen = models.ForeignKey(
        "accounts.Citizen",
        verbose_name=_("vatandaş"),
        on_delete=models.PROTECT,
        related_name="eonay_consents",
    )
    scope = models.CharField(_("kapsam"), max_length=32, choices=Scope.choices)
    given_at = models.DateTimeField(_("verilme zamanı"), default=timezone.now)
    withdrawn_at = models.DateTimeField(_("geri alınma zamanı"), null=True, blank=True)
    # The card signatures that gave / withdrew it (None: the SMS Onay Kodu).
    given_signature = models.ForeignKey(
        CardSignature,
        verbose_name=_("verme imzası (kart)"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        editable=False,
    )
    withdrawn_signature = models.ForeignKey(
        CardSignature,
        verbose_name=_("geri alma imzası (kart)"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        editable=False,
    )

    objects = ConsentManager()

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
            models.CheckConstraint(
                condition=Q(withdrawn_signature=None) | Q(withdrawn_at__isnull=False),
                name="eonay_consent_withdrawn_signature_withdrawn",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_scope_display()} ({self.citizen_id})"

    @property
    def is_active(self) -> bool:
        return self.withdrawn_at is None

    def withdraw(
        self, *, now: datetime | None = None, signature: CardSignature | None = None
    ) -> None:
        """active → withdrawn, under the citizen's row lock, as ``UPDATE … WHERE withdrawn_at IS
        NULL`` (with the card ``signature`` that withdrew it, if any). Raises ``ConsentError``
        if it was withdrawn already (e.g. in another tab)."""
        with transaction.atomic():
            lock_holder(self.citizen_id)
            now = now or timezone.now()  # after the lock: times follow the order of changes
            updated = Consent.objects.filter(pk=self.pk, withdrawn_at=None).update(
                withdrawn_at=now, withdrawn_signature=signature
            )
            self.refresh_from_db(fields=["withdrawn_at", "withdrawn_signature"])
        if not updated:
            raise ConsentError(
                gettext("%(scope)s için verilmiş bir sürekli onayınız bulunmuyor.")
                % {"scope": self.get_scope_display()}
            )


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
        CANCELLED = "cancelled", _("İptal edildi (hatalı giriş)")

    class Action:
        APPROVE = "approve"
        REJECT = "reject"

    # Which standing consent covers which kind; a replacement card always needs an explicit
    # decision.
    CONSENT_SCOPES: ClassVar[dict[str, str]] = {
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
    # The citizen's card signature of the decision (None: SMS Onay Kodu, consent, cancelled).
    decision_signature = models.ForeignKey(
        CardSignature,
        verbose_name=_("karar imzası (kart)"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        editable=False,
    )
    # A supervisor's cancellation of an application entered by mistake (``cancel``).
    cancelled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("iptal eden personel"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        editable=False,
    )
    cancel_reason = models.CharField(
        _("iptal gerekçesi"), max_length=500, blank=True, editable=False
    )

    class Meta:
        verbose_name = _("E-Onay başvurusu")
        verbose_name_plural = _("E-Onay başvuruları")
        ordering = ["-entered_at", "-id"]
        permissions = [
            ("cancel_application", _("Yanlışlıkla girilmiş E-Onay başvurusunu iptal edebilir")),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind__in=["ilk_basvuru", "yenileme", "kart_degisimi"]),
                name="eonay_application_kind_valid",
            ),
            # The decision fields follow the status: a waiting application has none, a rejected
            # one has a time and was rejected by the citizen (a consent only ever approves), a
            # cancelled one has a time, the staff member and a reason (and only it has those).
            models.CheckConstraint(
                condition=(
                    Q(status="waiting", decided_at=None, decided_by_consent=None)
                    | Q(status="approved", decided_at__isnull=False)
                    | Q(status="rejected", decided_at__isnull=False, decided_by_consent=None)
                    | Q(
                        status="cancelled",
                        decided_at__isnull=False,
                        decided_by_consent=None,
                        cancelled_by__isnull=False,
                    )
                    & ~Q(cancel_reason="")
                ),
                name="eonay_application_decision_consistent",
            ),
            models.CheckConstraint(
                condition=Q(status="cancelled") | Q(cancelled_by__isnull=True, cancel_reason=""),
                name="eonay_application_cancel_only_cancelled",
            ),
            # A card signature decides only as the citizen's own decision.
            models.CheckConstraint(
                condition=Q(decision_signature=None)
                | Q(status__in=["approved", "rejected"], decided_by_consent=None),
                name="eonay_application_signature_only_citizen_decision",
            ),
        ]
        indexes = [models.Index(fields=["citizen", "status"], name="eonay_app_citizen_status")]

    def __str__(self) -> str:
        return self.reference or gettext("(numarasız başvuru)")

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
        return (
            self.status in (self.Status.APPROVED, self.Status.REJECTED)
            and self.decided_by_consent_id is None
        )

    @property
    def is_cancelled(self) -> bool:
        return self.status == self.Status.CANCELLED

    # --- what the application allows ---------------------------------------------------------

    @property
    def can_decide(self) -> bool:
        """The citizen may still approve or reject it (``decide`` checks again in SQL)."""
        return self.is_waiting

    def allowed_actions(self) -> frozenset[str]:
        """``{"approve", "reject"}`` while it waits for the citizen, nothing once decided."""
        if self.can_decide:
            return frozenset({self.Action.APPROVE, self.Action.REJECT})
        return frozenset()

    def decision_refusal(self) -> str | None:
        """Why it cannot be decided (for the citizen), or None while it waits."""
        if self.can_decide:
            return None
        if self.is_cancelled:
            return gettext(
                "%(ref)s numaralı başvuru sertifika hizmet sağlayıcı tarafından iptal edildi; "
                "onayınız gerekmiyor."
            ) % {"ref": self.reference}
        return gettext(
            "%(ref)s numaralı başvuru için karar daha önce verilmiş (%(status)s). E-Onay "
            "kararları kesindir ve değiştirilemez."
        ) % {"ref": self.reference, "status": self.get_status_display()}

    # --- transitions -------------------------------------------------------------------------

    def enter(self, *, entered_by: Any, now: datetime | None = None) -> Consent | None:
        """Save this new application as entered by staff: waiting, or approved at once.

        Under the citizen's row lock (held until the caller's transaction commits, like
        ``Consent.objects.give`` and ``Consent.withdraw``): if an active standing consent covers
        its kind it approves the application; that consent is returned (None: it waits).
        """
        if self.pk is not None:
            raise ValueError("only a new application is entered")
        with transaction.atomic():
            lock_holder(self.citizen_id)
            now = now or timezone.now()  # after the lock: times follow the order of changes
            self.entered_by = entered_by
            self.entered_at = now
            self.status = self.Status.WAITING
            self.decided_at = None
            self.decided_by_consent = None
            self.save()
            consent = Consent.objects.active(self.citizen, self.consent_scope)
            if consent is not None:
                self.decide(approve=True, consent=consent, now=now)
        return consent

    def decide(
        self,
        *,
        approve: bool,
        consent: Consent | None = None,
        now: datetime | None = None,
        signature: CardSignature | None = None,
    ) -> bool:
        """waiting → approved/rejected, once. True: this call decided (it never answers False).

        A conditional UPDATE: the database lets exactly one of two parallel calls match
        ``status='waiting'`` (on PostgreSQL the second waits for the first's row lock, then
        re-checks the condition and updates nothing). ``signature`` is the citizen's card
        signature of the decision (``CardSignature``), if they signed it. Every other call
        raises ``ApplicationError`` (the instance is re-read first, so it shows the decision).
        """
        if consent is not None and not approve:
            raise ValueError("a standing consent only approves")
        if consent is not None and signature is not None:
            raise ValueError("a decision is made by a standing consent or by the citizen")
        now = now or timezone.now()
        status = self.Status.APPROVED if approve else self.Status.REJECTED
        updated = Application.objects.filter(pk=self.pk, status=self.Status.WAITING).update(
            status=status,
            decided_at=now,
            decided_by_consent=consent,
            decision_signature=signature,
        )
        self.refresh_from_db(
            fields=["status", "decided_at", "decided_by_consent", "decision_signature"]
        )
        if not updated:
            raise ApplicationError(self.decision_refusal() or "")
        return True

    def cancel(self, *, by_user: Any, reason: str, now: datetime | None = None) -> bool:
        """waiting → cancelled (entered by mistake), by staff with a reason. True: cancelled.

        The same conditional UPDATE as ``decide``: an application the citizen decided first
        (or another supervisor cancelled) is left alone and ``ApplicationError`` is raised, so
        a cancellation never overrides a decision and never happens twice.
        """
        if not reason:
            raise ValueError("a cancellation needs a reason")
        now = now or timezone.now()
        updated = Application.objects.filter(pk=self.pk, status=self.Status.WAITING).update(
            status=self.Status.CANCELLED,
            decided_at=now,
            cancelled_by=by_user,
            cancel_reason=reason,
        )
        self.refresh_from_db(fields=["status", "decided_at", "cancelled_by", "cancel_reason"])
        if not updated:
            raise ApplicationError(
                gettext(
                    "%(ref)s numaralı başvuru artık onay beklemiyor (%(status)s); iptal edilemez."
                )
                % {"ref": self.reference, "status": self.get_status_display()}
            )
        return True
