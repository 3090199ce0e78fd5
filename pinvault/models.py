"""AKİS cards, their encrypted PIN/PUK vault entries, and unlocks waiting for the card tool.

No PIN or PUK is ever stored in plaintext: a ``VaultEntry`` holds AES-256-GCM ciphertext whose
data key is wrapped by a master key from ``VAULT_KEYS`` (``pinvault/crypto.py``). Deleting the
secrets destroys these rows (``AkisCard.secrets_deleted_at`` records that and when).
"""

from __future__ import annotations

import datetime as dt

from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

# Cards produced before this date are unlocked with the PUK in the AKİS Kart İzleme Aracı;
# cards produced on or after it are unlocked on the portal, without the PUK.
PORTAL_UNLOCK_FROM = dt.date(2011, 1, 1)
MAX_WRONG_PUK = 3


class AkisCard(models.Model):
    class State(models.TextChoices):
        ACTIVE = "active", _("Kullanımda")
        PIN_LOCKED = "pin_locked", _("PIN kilitli")
        UNUSABLE = "unusable", _("Kullanım dışı")

    citizen = models.ForeignKey(
        "accounts.Citizen",
        verbose_name=_("kart sahibi"),
        on_delete=models.PROTECT,
        related_name="cards",
    )
    serial_number = models.CharField(_("kart seri numarası"), max_length=32, unique=True)
    produced_on = models.DateField(_("üretim tarihi"))
    state = models.CharField(_("durum"), max_length=16, choices=State.choices, default=State.ACTIVE)
    wrong_puk_count = models.PositiveSmallIntegerField(_("hatalı PUK girişi"), default=0)
    secrets_deleted_at = models.DateTimeField(
        _("PIN/PUK silinme zamanı"),
        null=True,
        blank=True,
        help_text=_("Sahibi PIN/PUK bilgisini sildi; bir daha gösterilemez."),
    )
    created_at = models.DateTimeField(_("oluşturulma"), auto_now_add=True)
    updated_at = models.DateTimeField(_("güncellenme"), auto_now=True)

    class Meta:
        verbose_name = _("AKİS kart")
        verbose_name_plural = _("AKİS kartlar")
        ordering = ["-produced_on", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(wrong_puk_count__lte=MAX_WRONG_PUK),
                name="card_wrong_puk_max",
            ),
            models.CheckConstraint(
                condition=Q(state__in=["active", "pin_locked", "unusable"]),
                name="card_state_valid",
            ),
            models.CheckConstraint(
                condition=~Q(wrong_puk_count=MAX_WRONG_PUK) | Q(state="unusable"),
                name="card_three_wrong_puk_unusable",
            ),
        ]

    def __str__(self) -> str:
        return self.serial_number

    @property
    def unlocks_with_puk(self) -> bool:
        """Before 01.01.2011: PUK in the card tool. From then on: on the portal, no PUK."""
        return self.produced_on < PORTAL_UNLOCK_FROM


class VaultEntry(models.Model):
    """One encrypted secret of one card (envelope encryption, see pinvault/crypto.py)."""

    class Field(models.TextChoices):
        PIN = "pin", "PIN"
        PUK = "puk", "PUK"
        # The new PIN of an unlock, kept only until the card tool has applied it.
        UNLOCK_PIN = "unlock_pin", _("Kilit çözme PIN'i")

    card = models.ForeignKey(AkisCard, on_delete=models.CASCADE, related_name="vault_entries")
    field = models.CharField(max_length=16, choices=Field.choices)
    key_id = models.CharField(_("ana anahtar kimliği"), max_length=64)
    wrapped_key = models.BinaryField()
    nonce = models.BinaryField()
    ciphertext = models.BinaryField()
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("şifreli kayıt")
        verbose_name_plural = _("şifreli kayıtlar")
        constraints = [
            models.UniqueConstraint(fields=["card", "field"], name="vault_one_entry_per_field")
        ]

    def __str__(self) -> str:
        return f"{self.card.serial_number} {self.field} ({self.key_id})"


class CardUnlock(models.Model):
    """A portal unlock (cards from 2011 on) that the AKİS card tool still has to apply."""

    card = models.ForeignKey(AkisCard, on_delete=models.PROTECT, related_name="unlocks")
    created_at = models.DateTimeField(_("oluşturulma"), default=timezone.now)
    applied_at = models.DateTimeField(_("karta uygulandı"), null=True, blank=True)

    class Meta:
        verbose_name = _("kilit çözme")
        verbose_name_plural = _("kilit çözmeler")
        ordering = ["-created_at"]
        constraints = [
            # At most one unlock waiting per card.
            models.UniqueConstraint(
                fields=["card"],
                condition=Q(applied_at__isnull=True),
                name="card_one_pending_unlock",
            )
        ]

    def __str__(self) -> str:
        return f"{self.card.serial_number} {self.created_at:%Y-%m-%d %H:%M}"
