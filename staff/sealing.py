"""The staff second factor's secrets at rest: nothing in the database opens them alone.

* A TOTP key is sealed with AES-SIV (RFC 5297) under a key derived from ``SECRET_KEY`` (HKDF,
  its own label) and bound to its user, so a database dump, a backup or a row copied to
  another user yields no usable authenticator. AES-SIV because the sealed key must fit
  django-otp's ``TOTPDevice.key`` column (80 hex digits): 16 bytes of synthetic IV + the
  20-byte secret = 72 digits, and SIV needs no nonce that could repeat. ``SECRET_KEY_FALLBACKS``
  still open keys sealed before a rotation (the next verification reseals them).
* A backup code is stored only as a keyed digest (HMAC-SHA256, truncated to django-otp's
  16-character ``StaticToken.token``): a code is single use and can be checked, never read.
"""

from __future__ import annotations

import hashlib
import hmac
from binascii import Error as BinasciiError
from binascii import hexlify, unhexlify

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESSIV
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings

TOTP_LABEL = b"nesportal.staff.totp-key.v1"
BACKUP_LABEL = b"nesportal.staff.backup-code.v1"


class SealError(Exception):
    """A sealed key that no current or fallback key opens (or that is not a sealed key)."""


def _derive(secret: str, label: bytes, length: int) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=None, info=label).derive(
        secret.encode()
    )


def _secrets() -> list[str]:
    return [settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", [])]


def _aad(user_id: int) -> list[bytes]:
    return [b"user:%d" % user_id]


def seal_key(secret: bytes, user_id: int) -> str:
    """The hex text to store for the TOTP ``secret`` of ``user_id``."""
    siv = AESSIV(_derive(settings.SECRET_KEY, TOTP_LABEL, 64))
    return hexlify(siv.encrypt(secret, _aad(user_id))).decode()


def open_key(sealed: str, user_id: int) -> tuple[bytes, bool]:
    """The TOTP secret, and whether it was sealed under the current ``SECRET_KEY``."""
    try:
        data = unhexlify(sealed.encode())
    except (BinasciiError, ValueError) as exc:
        raise SealError("not a sealed key") from exc
    for index, secret in enumerate(_secrets()):
        try:
            return AESSIV(_derive(secret, TOTP_LABEL, 64)).decrypt(data, _aad(user_id)), index == 0
        except (InvalidTag, ValueError):
            continue
    raise SealError("no key opens this sealed key")


def normalise_backup_code(code: str) -> str:
    """Backup codes are typed in any case, with spaces or dashes between the groups."""
    return "".join(ch for ch in code.lower() if ch.isalnum())


def backup_code_digests(code: str, user_id: int) -> list[str]:
    """What a backup code is stored as (first: under the current key; then the fallbacks')."""
    message = b"%d:" % user_id + normalise_backup_code(code).encode()
    return [
        hmac.new(_derive(secret, BACKUP_LABEL, 32), message, hashlib.sha256).hexdigest()[:16]
        for secret in _secrets()
    ]
