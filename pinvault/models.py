"""AKİS cards, their encrypted PIN/PUK vault entries, and unlocks waiting for the card tool.

No PIN or PUK is ever stored in plaintext: a ``VaultEntry`` holds AES-256-GCM ciphertext whose
data key is wrapped by a master key from ``VAULT_KEYS`` (``pinvault/crypto.py``). Deleting the
secrets destroys these rows (``AkisCard.secrets_deleted_at`` records that and when).

A card's state changes only through the ``AkisCard`` methods under "transitions" (like
``certificates.models.Certificate``): each either re-reads the row with ``select_for_update()``
and checks the state before writing it, or is one conditional ``UPDATE`` whose ``WHERE`` clause
is the check, and raises ``PinVaultError`` when the card's state does not allow it. Pages, the
card tool API and admin ask the card which actions it allows (``allowed_actions``,
``unlock_refusal``) instead of restating the rules; ``pinvault.services`` and
``pinvault.cardtool`` add the audit entry and the holder's SMS notice around each transition.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from typing import NamedTuple

from django.db import models, transaction
from django.db.models import Case, F, Q, Value, When
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from nesportal.exceptions import PortalError

# Cards produced before this date are unlocked with the PUK in the AKİS Kart İzleme Aracı;
# cards produced on or after it are unlocked on the portal, without the PUK.
PORTAL_UNLOCK_FROM = dt.date(2011, 1, 1)
MAX_WRONG_PUK = 3


class PinVaultError(PortalError):
    """The action cannot be done in the card's current state; ``message`` is for the holder.

    ``code`` names the refusal for programs (the card tool API maps it to its own error codes):
    ``puk_card``, ``unusable``, ``not_locked``, ``unlock_pending``, ``unknown_unlock``,
    ``no_puk``, or empty for refusals of the services (e.g. nothing in the vault for a PDF).
    """


class CardAction:
    """What ``AkisCard.allowed_actions`` can answer."""

    UNLOCK = "unlock"  # Kilit Çözme on the portal, without the PUK (cards from 2011 on)
    SHOW_PUK = "show_puk"  # show the PUK for the card tool (cards before 2011)
    REPORT_WRONG_PUK = "report_wrong_puk"  # the card tool counts a wrong PUK (before 2011)
    DELETE_SECRETS = "delete_secrets"  # Parolalarımı Sil


class PortalUnlock(NamedTuple):
    """What ``AkisCard.unlock`` did: the new pending unlock, and the id of one it replaced."""

    unlock: CardUnlock
    superseded_id: int | None


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

    # --- what the card allows ----------------------------------------------------------------
    # The checks below read this instance; the transitions repeat them on the locked row (or in
    # their UPDATE's WHERE clause), so a page that shows a button never decides the outcome.

    @property
    def puk_attempts_left(self) -> int:
        return max(MAX_WRONG_PUK - self.wrong_puk_count, 0)

    def unlock_refusal(self) -> str | None:
        """Why the portal cannot unlock this card now (for the holder), or None if it can."""
        refusal = self._unlock_refusal()
        return refusal.message if refusal is not None else None

    @property
    def can_unlock(self) -> bool:
        """Kilit Çözme on the portal: a PIN-locked card produced on or after 01.01.2011."""
        return self._unlock_refusal() is None

    @property
    def can_report_wrong_puk(self) -> bool:
        """The card tool may count a wrong PUK: a card before 2011 that is not unusable."""
        return self._wrong_puk_refusal() is None

    def can_show_puk(self, stored: Collection[str]) -> bool:
        """The PUK may be shown for the card tool: a usable pre-2011 card whose PUK is stored.

        ``stored``: the vault fields the card has (``pinvault.services.stored_fields``).
        """
        return (
            self.unlocks_with_puk
            and self.state != self.State.UNUSABLE
            and VaultEntry.Field.PUK in stored
        )

    def allowed_actions(
        self, stored: Collection[str] = (), *, unlock_pending: bool = False
    ) -> frozenset[str]:
        """The ``CardAction`` names this card allows now.

        ``stored`` are the vault fields the card has and ``unlock_pending`` whether an unlock
        waits for the card tool (both known to the caller's page, so no query here).
        """
        actions = set()
        if self.can_unlock:
            actions.add(CardAction.UNLOCK)
        if self.can_show_puk(stored):
            actions.add(CardAction.SHOW_PUK)
        if self.can_report_wrong_puk:
            actions.add(CardAction.REPORT_WRONG_PUK)
        if not unlock_pending and ({VaultEntry.Field.PIN, VaultEntry.Field.PUK} & set(stored)):
            actions.add(CardAction.DELETE_SECRETS)
        return frozenset(actions)

    def _unlock_refusal(self) -> PinVaultError | None:
        if self.unlocks_with_puk:
            return PinVaultError(
                gettext(
                    "Bu kart 01.01.2011 tarihinden önce üretildi: kilidi PUK kodu ile AKİS Kart "
                    "İzleme Aracı'ndan çözülür."
                ),
                code="puk_card",
            )
        if self.state == self.State.UNUSABLE:
            return PinVaultError(_unusable_message(), code="unusable")
        if self.state != self.State.PIN_LOCKED:
            return PinVaultError(
                gettext(
                    "Bu kartın PIN'i kilitli değil. Kilit çözme yalnızca PIN'i 3 kez hatalı "
                    "girildiği için kilitlenen kartlar içindir."
                ),
                code="not_locked",
            )
        return None

    def _wrong_puk_refusal(self) -> PinVaultError | None:
        if not self.unlocks_with_puk:
            return PinVaultError(
                gettext(
                    "Bu kart 01.01.2011 ve sonrasında üretildi: kilidi bu sitede, PUK'suz "
                    "çözülür; hatalı PUK girişi sayılmaz."
                ),
                code="no_puk",
            )
        if self.state == self.State.UNUSABLE or self.wrong_puk_count >= MAX_WRONG_PUK:
            return PinVaultError(_unusable_message(), code="unusable")
        return None

    # --- transitions -------------------------------------------------------------------------
    # Each runs in a transaction of its own, or in the caller's: a service that writes the
    # audit entry and queues the SMS in the same ``transaction.atomic()`` keeps the row lock
    # until its commit, so nothing else changes the card in between.

    def _locked(self) -> AkisCard:
        """This row, re-read under a row lock (call inside transaction.atomic)."""
        return AkisCard.objects.select_for_update().get(pk=self.pk)

    def unlock(self, *, now: dt.datetime | None = None) -> PortalUnlock:
        """pin_locked → active on the portal (cards from 2011 on), recording a pending unlock.

        Under the row lock: the refusal is checked on the locked row, an unlock the card tool
        has not applied yet is replaced by a new one (new id, so a tool still holding the old
        id, and the old PIN, gets 404 and fetches again instead of writing a PIN the holder no
        longer sees; the database allows one pending unlock per card), and the card becomes
        active. Two parallel calls give one unlock: the second sees an active card and is
        refused. The caller stores the new PIN (``pin`` and ``unlock_pin``) in the same
        transaction. Raises ``PinVaultError`` (``puk_card``, ``unusable``, ``not_locked``).
        """
        now = now or timezone.now()
        with transaction.atomic():
            locked = self._locked()
            refusal = locked._unlock_refusal()
            if refusal is not None:
                self.state = locked.state
                raise refusal
            previous = CardUnlock.objects.filter(card=locked, applied_at__isnull=True).first()
            superseded = previous.pk if previous is not None else None
            if previous is not None:
                previous.delete()
            unlock = CardUnlock.objects.create(card=locked, created_at=now)
            locked.state = self.State.ACTIVE
            locked.save(update_fields=["state", "updated_at"])
        self.state, self.updated_at = locked.state, locked.updated_at
        return PortalUnlock(unlock, superseded)

    def apply_unlock(
        self, unlock_id: int, *, now: dt.datetime | None = None
    ) -> tuple[CardUnlock, bool]:
        """The card tool wrote the unlock's new PIN to the card: (unlock, applied by this call).

        Marks the unlock applied with ``UPDATE … WHERE applied_at IS NULL`` (so a repeated call
        answers ``False`` and changes nothing), forgets the unlock PIN (the new PIN stays the
        card's ``pin``) and makes the card active, unless it became unusable meanwhile (also a
        conditional UPDATE). Raises ``PinVaultError`` (``unknown_unlock``) for an id that is not
        an unlock of this card.
        """
        now = now or timezone.now()
        with transaction.atomic():
            # The card's row lock first, in the same order as every other writer of the card.
            self._locked()
            updated = CardUnlock.objects.filter(
                pk=unlock_id, card=self, applied_at__isnull=True
            ).update(applied_at=now)
            unlock = CardUnlock.objects.filter(pk=unlock_id, card=self).first()
            if unlock is None:
                raise PinVaultError(
                    gettext("Bu kart için böyle bir kilit çözme işlemi yok."),
                    code="unknown_unlock",
                )
            if updated:
                VaultEntry.objects.filter(card=self, field=VaultEntry.Field.UNLOCK_PIN).delete()
                AkisCard.objects.filter(pk=self.pk).exclude(state=self.State.UNUSABLE).update(
                    state=self.State.ACTIVE, updated_at=now
                )
            self.refresh_from_db(fields=["state", "updated_at"])
        return unlock, bool(updated)

    def count_wrong_puk(self, *, now: dt.datetime | None = None) -> None:
        """One wrong PUK entered in the card tool (cards before 2011); the third: unusable.

        One statement: the WHERE clause reserves the increment, and SET sees the old count, so
        the increment from 2 to 3 is the one that also sets the state (the
        ``card_three_wrong_puk_unusable`` constraint demands both together). The UPDATE holds
        the row lock until commit, so the instance re-read afterwards shows this call's own
        result. Raises ``PinVaultError`` (``no_puk`` for cards from 2011 on, ``unusable`` once
        the card is unusable: nothing is counted; the instance is re-read either way).
        """
        refusal = self._wrong_puk_refusal()
        if refusal is not None and refusal.code == "no_puk":
            raise refusal
        now = now or timezone.now()
        with transaction.atomic():
            updated = (
                AkisCard.objects.filter(pk=self.pk, wrong_puk_count__lt=MAX_WRONG_PUK)
                .exclude(state=self.State.UNUSABLE)
                .update(
                    wrong_puk_count=F("wrong_puk_count") + 1,
                    state=Case(
                        When(
                            wrong_puk_count__gte=MAX_WRONG_PUK - 1,
                            then=Value(self.State.UNUSABLE.value),
                        ),
                        default=F("state"),
                    ),
                    updated_at=now,
                )
            )
            self.refresh_from_db(fields=["wrong_puk_count", "state", "updated_at"])
        if not updated:
            raise PinVaultError(_unusable_message(), code="unusable")

    def destroy_secrets(self, *, now: dt.datetime | None = None) -> int:
        """Delete all of the card's vault rows (PIN, PUK, unlock PIN) and record when.

        Under the row lock. Refused (``PinVaultError`` ``unlock_pending``) while a portal unlock
        waits for the card tool: its new PIN is in the vault and the tool could no longer write
        it to the card. The rows are deleted (SQL ``DELETE``), not flagged, in the transaction
        that sets ``secrets_deleted_at`` (also on this instance); an earlier deletion time is
        kept if there was nothing left to delete. Returns the number of rows deleted.
        """
        now = now or timezone.now()
        with transaction.atomic():
            locked = self._locked()
            if CardUnlock.objects.filter(card=locked, applied_at__isnull=True).exists():
                raise PinVaultError(
                    gettext(
                        "Kartınız için bekleyen bir kilit çözme işlemi var: yeni PIN, kartınız "
                        "AKİS Kart İzleme Aracı'na takıldığında karta yazılacak. Bu işlem "
                        "tamamlandıktan sonra PIN/PUK bilginizi silebilirsiniz."
                    ),
                    code="unlock_pending",
                )
            deleted, _by_model = VaultEntry.objects.filter(card=locked).delete()
            if deleted or locked.secrets_deleted_at is None:
                locked.secrets_deleted_at = now
                locked.save(update_fields=["secrets_deleted_at", "updated_at"])
        self.secrets_deleted_at = locked.secrets_deleted_at
        return deleted


def _unusable_message() -> str:
    return gettext("Bu kart kullanım dışıdır; kilidi çözülemez. Kart ücret karşılığında yenilenir.")


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
        return f"{self.card.serial_number} {timezone.localtime(self.created_at):%Y-%m-%d %H:%M}"
