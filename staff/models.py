"""Staff accounts' second factor and their lock.

* ``SealedTOTPDevice``: django-otp's ``otp_totp`` device (RFC 6238, any authenticator app,
  django-otp's replay protection ``last_t`` and its throttling), whose ``key`` column holds the
  secret sealed by ``staff.sealing`` instead of the secret itself.
* ``HashedStaticDevice``: django-otp's ``otp_static`` device (single-use backup codes) whose
  tokens are keyed digests, never the codes.
* ``StaffGuard``: the staff account's lock. Wrong passwords and wrong codes count together
  (``staff.guard``); at ``STAFF_MAX_FAILURES`` the account locks until a superuser unlocks it.

Both devices are proxies: the tables are django-otp's, so its middleware (``is_verified``) and
admin site work unchanged, and django-otp never lists a proxy among the device classes, so no
library path can ever verify against the sealed value.
"""

from __future__ import annotations

import secrets
from base64 import b32encode
from typing import Any

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from nesportal.limits import STAFF_MAX_FAILURES

from .sealing import SealError, backup_code_digests, open_key, seal_key

TOTP_SECRET_BYTES = 20  # RFC 4226's recommended 160 bits; 32 base32 characters
BACKUP_CODES = 10


class SealedTOTPDevice(TOTPDevice):
    key: str  # otp_totp's column, holding the sealed secret (django-otp ships no types)
    user_id: int

    class Meta:
        proxy = True
        verbose_name = _("kimlik doğrulayıcı (TOTP)")
        verbose_name_plural = _("kimlik doğrulayıcılar (TOTP)")

    @classmethod
    def create_for(cls, user: Any, *, name: str) -> SealedTOTPDevice:
        """A new, unconfirmed device with a fresh secret (shown once, at enrolment)."""
        secret = secrets.token_bytes(TOTP_SECRET_BYTES)
        return cls.objects.create(
            user=user, name=name, confirmed=False, key=seal_key(secret, user.pk)
        )

    @property
    def bin_key(self) -> bytes:
        secret, _current = open_key(self.key, self.user_id)
        return secret

    @property
    def secret_text(self) -> str:
        """The secret in the base32 an authenticator app asks for, in groups of four."""
        text = b32encode(self.bin_key).decode()
        return " ".join(text[i : i + 4] for i in range(0, len(text), 4))

    def verify_token(self, token: Any) -> bool:
        """django-otp's TOTP check (throttling, replay via ``last_t``, drift) on the opened
        secret; a key sealed under a fallback ``SECRET_KEY`` is resealed under the current one.
        A key nothing opens verifies nothing."""
        try:
            _secret, current = open_key(self.key, self.user_id)
        except SealError:
            return False
        verified = bool(super().verify_token(token))
        if verified and not current:
            self.key = seal_key(self.bin_key, self.user_id)
            self.save(update_fields=["key"])
        return verified


class HashedStaticDevice(StaticDevice):
    class Meta:
        proxy = True
        verbose_name = _("yedek kodlar")
        verbose_name_plural = _("yedek kodlar")

    def replace_codes(self, count: int = BACKUP_CODES) -> list[str]:
        """New backup codes (returned once, to be shown once); the old ones stop working."""
        codes = [StaticToken.random_token() for _ in range(count)]
        self.token_set.all().delete()
        StaticToken.objects.bulk_create(
            StaticToken(device=self, token=backup_code_digests(code, self.user_id)[0])
            for code in codes
        )
        return [f"{code[:4]}-{code[4:]}" for code in codes]

    def verify_token(self, token: Any) -> bool:
        """One backup code, once: the DELETE of its digest is the check, so two parallel uses
        of one code cannot both pass. Throttled like django-otp's own static device."""
        allowed, _data = self.verify_is_allowed()
        if not allowed:
            return False
        deleted, _rows = StaticToken.objects.filter(
            device=self, token__in=backup_code_digests(str(token), self.user_id)
        ).delete()
        if deleted:
            self.throttle_reset(commit=False)
            self.set_last_used_timestamp(commit=False)
            self.save()
            return True
        self.throttle_increment()
        return False

    @property
    def codes_left(self) -> int:
        return self.token_set.count()


class StaffGuard(models.Model):
    """One staff account's failure counter and lock (``staff.guard`` changes it)."""

    class LockReason(models.TextChoices):
        WRONG_PASSWORD = "wrong_password", _("Hatalı parola")
        WRONG_TOKEN = "wrong_token", _("Hatalı doğrulama kodu")

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="staff_guard",
        verbose_name=_("personel"),
    )
    failure_count = models.PositiveSmallIntegerField(_("hatalı deneme"), default=0)
    locked_at = models.DateTimeField(_("kilitlenme zamanı"), null=True, blank=True)
    lock_reason = models.CharField(
        _("kilit nedeni"), max_length=20, choices=LockReason.choices, blank=True
    )

    class Meta:
        verbose_name = _("personel hesabı kilidi")
        verbose_name_plural = _("personel hesabı kilitleri")
        permissions = [("unlock_staff", _("Personel hesabının kilidini açabilir"))]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(failure_count__lte=STAFF_MAX_FAILURES),
                name="staff_guard_failures_bounded",
            ),
            models.CheckConstraint(
                condition=models.Q(locked_at__isnull=True, lock_reason="")
                | models.Q(locked_at__isnull=False) & ~models.Q(lock_reason=""),
                name="staff_guard_locked_with_reason",
            ),
        ]

    def __str__(self) -> str:
        return str(self.user)

    @property
    def is_locked(self) -> bool:
        return self.locked_at is not None
