"""Envelope encryption for the PIN/PUK vault. All of the vault's cryptography lives here.

Security contract
=================

What is protected
    Each secret (a PIN, a PUK, an unlock PIN) is one record. A record is sealed with a fresh,
    random 256-bit *data key* and AES-256-GCM under a fresh random 96-bit nonce. The data key is
    then *wrapped* (encrypted) with the newest *master key* of the keyring (AES-256-GCM again,
    with its own fresh nonce). Only ``key_id``, ``wrapped_key``, ``nonce`` and ``ciphertext`` are
    stored (``pinvault.models.VaultEntry``); neither the plaintext nor the data key is.

Binding (associated data)
    Both layers authenticate the record's context as GCM associated data, so a ciphertext or a
    wrapped key copied into another row, card, citizen or field fails to open::

        record:  b"nes-pinvault/v1|citizen=<id>|card=<serial>|field=<field>"
        wrap:    b"nes-pinvault/v1/wrap|key=<key id>|citizen=<id>|card=<serial>|field=<field>"

    ``<serial>``, ``<field>`` and ``<key id>`` are percent-encoded (``urllib.parse.quote`` with
    no safe characters), so no value can contain ``|`` or ``=`` and the encoding is injective:
    two different contexts never produce the same associated data.

Wrap method
    AES-256-GCM rather than RFC 3394 AES key wrap, because GCM authenticates associated data:
    the key id and the record context are bound to the wrapped key as well, so changing the
    ``key_id`` column, or moving the wrapped key to another record, fails at the wrap layer.
    ``wrapped_key`` is ``b"\\x01"`` (format version) + 12-byte nonce + 32-byte encrypted data key
    + 16-byte tag = 61 bytes. Nonces are random; with one data key per record (one encryption
    each) and ≪ 2**32 wraps per master key, random 96-bit nonces stay far inside GCM's bounds.

Failure
    Any mismatch (tampered column, wrong context, unknown key id, wrong key) raises
    ``VaultError``. Messages name no secret and no key material (at most a key *id*, which is
    not secret); the underlying exception is suppressed (``from None``).

Keys
    Master keys come from ``settings.VAULT_KEYS`` (never ``SECRET_KEY``): comma-separated
    ``key-id:base64(32 bytes)`` entries, the NEWEST LAST. The newest encrypts, all decrypt.
    ``rewrap`` moves a record to the newest key without touching (or decrypting) its
    ciphertext; ``manage.py rotate_vault_keys`` does that for every record, after which the old
    key can be removed from ``VAULT_KEYS``. Removing a key makes every record still wrapped by
    it — including copies in old database backups — permanently unreadable.

What is not promised
    Python cannot reliably wipe memory: plaintexts and data keys live in ordinary ``bytes`` and
    ``str`` objects until garbage-collected. Functions that hold them are marked
    ``sensitive_variables`` so Django's error reports do not show their locals. ``rewrap``
    verifies the wrapped key (and its binding) but not the ciphertext, which it never decrypts;
    a tampered ciphertext is detected when the record is opened. The holder of a master key
    (the server) can read every record wrapped by it: this protects against database leaks,
    not against a compromised application server.
"""

from __future__ import annotations

import base64
import binascii
import functools
import os
import re
from dataclasses import dataclass, field
from urllib.parse import quote

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.views.decorators.debug import sensitive_variables

KEY_BYTES = 32  # AES-256, for master keys and data keys
NONCE_BYTES = 12  # GCM's 96-bit nonce
TAG_BYTES = 16
WRAP_FORMAT = b"\x01"
WRAPPED_KEY_BYTES = len(WRAP_FORMAT) + NONCE_BYTES + KEY_BYTES + TAG_BYTES

KEY_ID_RE = re.compile(r"[A-Za-z0-9._-]+")
KEY_ID_MAX_LENGTH = 64  # VaultEntry.key_id's max_length

RECORD_LABEL = b"nes-pinvault/v1"
WRAP_LABEL = b"nes-pinvault/v1/wrap"


class VaultError(Exception):
    """A vault record could not be sealed, opened or re-wrapped. Never carries secrets."""


class KeyringError(VaultError, ImproperlyConfigured):
    """``VAULT_KEYS`` is missing or malformed: a ``VaultError`` and ``ImproperlyConfigured``."""


@dataclass(frozen=True)
class Sealed:
    """One encrypted record, as stored in the four columns of a ``VaultEntry``."""

    key_id: str
    wrapped_key: bytes
    nonce: bytes
    ciphertext: bytes


@dataclass(frozen=True)
class Keyring:
    """Master keys by id, oldest first; the last one (``newest_id``) encrypts, all decrypt.

    The keys are left out of ``repr()`` so that a logged or printed keyring shows ids only.
    """

    entries: tuple[tuple[str, bytes], ...] = field(repr=False)

    def __post_init__(self) -> None:
        if not self.entries:
            raise KeyringError("VAULT_KEYS holds no key (expected 'key-id:base64-key,…').")
        seen: dict[str, int] = {}
        for position, (key_id, key) in enumerate(self.entries, start=1):
            if not KEY_ID_RE.fullmatch(key_id) or len(key_id) > KEY_ID_MAX_LENGTH:
                raise KeyringError(
                    f"VAULT_KEYS entry {position}: the key id must be 1–{KEY_ID_MAX_LENGTH} "
                    "characters of A–Z, a–z, 0–9, '.', '_' or '-'."
                )
            if key_id in seen:
                raise KeyringError(
                    f"VAULT_KEYS entries {seen[key_id]} and {position} use the same key id."
                )
            seen[key_id] = position
            if not isinstance(key, bytes) or len(key) != KEY_BYTES:
                raise KeyringError(
                    f"VAULT_KEYS entry {position}: the key must be exactly {KEY_BYTES} bytes "
                    "(44 characters of base64)."
                )

    def __repr__(self) -> str:
        return f"Keyring(ids={self.ids!r})"

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(key_id for key_id, _ in self.entries)

    @property
    def newest_id(self) -> str:
        return self.entries[-1][0]

    def __contains__(self, key_id: object) -> bool:
        return key_id in self.ids

    @sensitive_variables()
    def get(self, key_id: str) -> bytes:
        """The master key with id ``key_id``; ``VaultError`` if the keyring does not hold it."""
        for candidate, key in self.entries:
            if candidate == key_id:
                return key
        raise VaultError(
            f"No master key with id {str(key_id)[:KEY_ID_MAX_LENGTH]!r} in VAULT_KEYS."
        )


@sensitive_variables()
def parse_keyring(text: str) -> Keyring:
    """Parse ``"id-1:base64,id-2:base64"`` (newest last) into a ``Keyring``.

    Raises ``KeyringError`` (a ``VaultError`` and ``ImproperlyConfigured``) whose message points
    at the entry by position and never repeats any of the text, since a mistyped entry may
    hold key material anywhere.
    """
    if not isinstance(text, str) or not text.strip():
        raise KeyringError("VAULT_KEYS is empty (expected 'key-id:base64-key,…', newest last).")
    entries: list[tuple[str, bytes]] = []
    for position, raw in enumerate(text.split(","), start=1):
        item = raw.strip()
        if not item:
            raise KeyringError(f"VAULT_KEYS entry {position} is empty (stray comma?).")
        key_id, sep, encoded = item.partition(":")
        if not sep:
            raise KeyringError(
                f"VAULT_KEYS entry {position} has no ':' (expected 'key-id:base64-key')."
            )
        try:
            key = base64.b64decode(encoded.strip(), validate=True)
        except (binascii.Error, ValueError):
            raise KeyringError(
                f"VAULT_KEYS entry {position}: the key is not valid base64."
            ) from None
        entries.append((key_id.strip(), key))
    return Keyring(tuple(entries))


@functools.lru_cache(maxsize=4)
def _cached_keyring(text: str) -> Keyring:
    return parse_keyring(text)


def keyring() -> Keyring:
    """The keyring of ``settings.VAULT_KEYS``, parsed once per distinct setting value.

    Keyed by the setting's text, so ``override_settings(VAULT_KEYS=…)`` takes effect at once.
    """
    return _cached_keyring(getattr(settings, "VAULT_KEYS", None) or "")


def _part(value: str) -> bytes:
    return quote(value, safe="").encode("ascii")


def _record_aad(citizen_id: int, card_serial: str, field: str) -> bytes:
    if isinstance(citizen_id, bool) or not isinstance(citizen_id, int):
        raise TypeError("citizen_id must be an int (the citizen's primary key).")
    if not isinstance(card_serial, str) or not card_serial:
        raise ValueError("card_serial must be a non-empty string.")
    if not isinstance(field, str) or not field:
        raise ValueError("field must be a non-empty string.")
    return b"%s|citizen=%d|card=%s|field=%s" % (
        RECORD_LABEL,
        citizen_id,
        _part(card_serial),
        _part(field),
    )


def _wrap_aad(key_id: str, record_aad: bytes) -> bytes:
    # record_aad starts with RECORD_LABEL; append only its context part after our own label.
    context = record_aad[len(RECORD_LABEL) :]
    return b"%s|key=%s%s" % (WRAP_LABEL, _part(key_id), context)


@sensitive_variables()
def _wrap(data_key: bytes, *, ring: Keyring, record_aad: bytes) -> tuple[str, bytes]:
    key_id = ring.newest_id
    wrap_nonce = os.urandom(NONCE_BYTES)
    encrypted = AESGCM(ring.get(key_id)).encrypt(
        wrap_nonce, data_key, _wrap_aad(key_id, record_aad)
    )
    return key_id, WRAP_FORMAT + wrap_nonce + encrypted


@sensitive_variables()
def _unwrap(sealed: Sealed, *, ring: Keyring, record_aad: bytes) -> bytes:
    wrapped = bytes(sealed.wrapped_key)
    if len(wrapped) != WRAPPED_KEY_BYTES or not wrapped.startswith(WRAP_FORMAT):
        raise VaultError("The vault record's wrapped key is malformed.")
    master_key = ring.get(sealed.key_id)  # VaultError for an unknown id
    wrap_nonce = wrapped[len(WRAP_FORMAT) : len(WRAP_FORMAT) + NONCE_BYTES]
    encrypted = wrapped[len(WRAP_FORMAT) + NONCE_BYTES :]
    try:
        data_key = AESGCM(master_key).decrypt(
            wrap_nonce, encrypted, _wrap_aad(sealed.key_id, record_aad)
        )
    except InvalidTag:
        raise VaultError(
            "The vault record's data key does not open: wrong master key, tampered record, "
            "or a record copied from another card, citizen or field."
        ) from None
    if len(data_key) != KEY_BYTES:  # cannot happen for a record we sealed
        raise VaultError("The vault record's data key is malformed.")
    return data_key


@sensitive_variables()
def seal(plaintext: str, *, citizen_id: int, card_serial: str, field: str) -> Sealed:
    """Encrypt ``plaintext`` for one record (citizen, card, field) under the newest master key."""
    if not isinstance(plaintext, str):
        raise TypeError("seal() encrypts text (str).")
    record_aad = _record_aad(citizen_id, card_serial, field)
    ring = keyring()
    data_key = AESGCM.generate_key(bit_length=KEY_BYTES * 8)
    nonce = os.urandom(NONCE_BYTES)
    ciphertext = AESGCM(data_key).encrypt(nonce, plaintext.encode("utf-8"), record_aad)
    key_id, wrapped_key = _wrap(data_key, ring=ring, record_aad=record_aad)
    return Sealed(key_id=key_id, wrapped_key=wrapped_key, nonce=nonce, ciphertext=ciphertext)


@sensitive_variables()
def open_sealed(sealed: Sealed, *, citizen_id: int, card_serial: str, field: str) -> str:
    """Decrypt a record sealed for exactly this citizen, card and field; else ``VaultError``."""
    record_aad = _record_aad(citizen_id, card_serial, field)
    data_key = _unwrap(sealed, ring=keyring(), record_aad=record_aad)
    nonce = bytes(sealed.nonce)
    if len(nonce) != NONCE_BYTES:
        raise VaultError("The vault record's nonce is malformed.")
    try:
        plaintext = AESGCM(data_key).decrypt(nonce, bytes(sealed.ciphertext), record_aad)
    except InvalidTag:
        raise VaultError(
            "The vault record does not decrypt: tampered ciphertext or nonce, or a record "
            "copied from another card, citizen or field."
        ) from None
    try:
        return plaintext.decode("utf-8")
    except UnicodeDecodeError:  # authenticated, so only if something else sealed non-UTF-8
        raise VaultError("The vault record is not UTF-8 text.") from None


@sensitive_variables()
def rewrap(sealed: Sealed, *, citizen_id: int, card_serial: str, field: str) -> Sealed:
    """The same record with its data key wrapped by the newest master key.

    ``nonce`` and ``ciphertext`` are returned unchanged and never decrypted; the wrapped key
    (and with it the record's binding) is verified. Always re-wraps, with a fresh wrap nonce,
    even when the record is already under the newest key.
    """
    record_aad = _record_aad(citizen_id, card_serial, field)
    ring = keyring()
    data_key = _unwrap(sealed, ring=ring, record_aad=record_aad)
    key_id, wrapped_key = _wrap(data_key, ring=ring, record_aad=record_aad)
    return Sealed(
        key_id=key_id,
        wrapped_key=wrapped_key,
        nonce=bytes(sealed.nonce),
        ciphertext=bytes(sealed.ciphertext),
    )
