"""The one table of E-İmzalı Giriş: the login challenges handed out to browsers."""

from __future__ import annotations

import uuid
from datetime import timedelta

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class LoginChallenge(models.Model):
    """A random challenge for E-İmzalı Giriş: single use, valid 2 minutes, bound to the browser
    that asked for it (the row keeps only the SHA-256 of the token in its ``nes_esign`` cookie).
    Expired rows are purged by ``expires_at`` (indexed for it)."""

    LIFETIME = timedelta(minutes=2)

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    nonce = models.BinaryField(_("rastgele değer"))
    binding_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField(_("oluşturulma"), default=timezone.now)
    expires_at = models.DateTimeField(_("geçerlilik sonu"), db_index=True)
    used_at = models.DateTimeField(_("kullanılma"), null=True, blank=True)

    class Meta:
        # The model moved here from ``certificates`` (migrations esign 0001 and certificates
        # 0007): the table kept its name, so no row was copied and no table was rebuilt.
        db_table = "certificates_loginchallenge"
        verbose_name = _("e-imzalı giriş sorusu")
        verbose_name_plural = _("e-imzalı giriş soruları")

    def __str__(self) -> str:
        return str(self.id)
