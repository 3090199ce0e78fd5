"""The append-only audit log.

Every security-relevant event is one ``AuditEvent`` row with a namespaced action code
(``nes.login.word_failed``, ``nes.account.unlocked`` …). Rows are never changed or deleted:
``save()`` refuses updates, the queryset refuses ``update()``/``delete()``, and on PostgreSQL a
trigger (migration 0002) refuses UPDATE and DELETE from any client. ``data`` must never hold a
secret; callers pass only identifiers, reasons and outcomes.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class AppendOnlyError(Exception):
    """Raised on any attempt to change or remove an audit event."""


class AuditEventQuerySet(models.QuerySet):
    def update(self, **kwargs: Any) -> int:
        raise AppendOnlyError("The audit log is append-only.")

    def delete(self) -> tuple[int, dict[str, int]]:
        raise AppendOnlyError("The audit log is append-only.")

    # bulk_update goes through update(); _raw_delete is what cascades would use.
    def _raw_delete(self, using: str | None) -> int:
        raise AppendOnlyError("The audit log is append-only.")


class AuditEvent(models.Model):
    at = models.DateTimeField(_("zaman"), auto_now_add=True, db_index=True)
    action = models.CharField(_("olay"), max_length=64, db_index=True)
    citizen = models.ForeignKey(
        "accounts.Citizen",
        verbose_name=_("vatandaş"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="audit_events",
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("personel"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    subject = models.CharField(
        _("konu"),
        max_length=128,
        blank=True,
        help_text=_("Hesap bulunamadığında girilen kimliğin anahtarlı özeti (kimlik yazılmaz)."),
    )
    ip_address = models.GenericIPAddressField(_("IP adresi"), null=True, blank=True)
    data = models.JSONField(_("ayrıntı"), default=dict, blank=True)

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        verbose_name = _("denetim kaydı")
        verbose_name_plural = _("denetim kayıtları")
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        # In TIME_ZONE like every other time on admin pages (this is the page's breadcrumb).
        return f"{timezone.localtime(self.at):%Y-%m-%d %H:%M:%S} {self.action}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise AppendOnlyError("The audit log is append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise AppendOnlyError("The audit log is append-only.")
