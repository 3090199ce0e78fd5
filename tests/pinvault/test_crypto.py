"""The vault's cryptography as a contract (pinvault/crypto.py): round trip, binding of every
record to its citizen, card and field, tamper detection, the keyring and its errors, and no key
material in messages, reprs or error reports."""

from __future__ import annotations

import base64
import dataclasses
import html
import re
import sys

import pytest
from django.core import checks
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings
from django.views.debug import ExceptionReporter

from pinvault import crypto
from pinvault.checks import check_vault_keys
from pinvault.crypto import KeyringError, Sealed, VaultError

KEYS = {name: bytes([n]) * 16 + bytes(range(16)) for n, name in enumerate(["k1", "k2", "k3"], 1)}


def b64(key: bytes) -> str:
    return base64.b64encode(key).decode()


def ring(*ids: str) -> str:
    """A VAULT_KEYS value holding the test keys ``ids`` (newest last)."""
    return ",".join(f"{key_id}:{b64(KEYS[key_id])}" for key_id in ids)


CONTEXT = {"citizen_id": 41, "card_serial": "AKS-2011-000123", "field": "pin"}
TURKISH = "Çağrı Şükrü Öztürk, İğdır ığüşöç ĞÜŞİÖÇ: 428571"


@pytest.fixture(autouse=True)
def keys_k1(settings: object) -> None:
    settings.VAULT_KEYS = ring("k1")  # type: ignore[attr-defined]


def flip(data: bytes, index: int) -> bytes:
    changed = bytearray(data)
    changed[index] ^= 0x01
    return bytes(changed)


def test_it_round_trips_turkish_text() -> None:
    sealed = crypto.seal(TURKISH, **CONTEXT)

    assert crypto.open_sealed(sealed, **CONTEXT) == TURKISH
    assert TURKISH.encode() not in sealed.ciphertext
    assert sealed.key_id == "k1"
    assert len(sealed.nonce) == 12
    assert len(sealed.wrapped_key) == crypto.WRAPPED_KEY_BYTES == 61
    # AES-GCM: ciphertext is as long as the UTF-8 plaintext, plus the 16-byte tag.
    assert len(sealed.ciphertext) == len(TURKISH.encode()) + 16


def test_it_round_trips_empty_and_long_text() -> None:
    for text in ["", "0" * 10_000]:
        assert crypto.open_sealed(crypto.seal(text, **CONTEXT), **CONTEXT) == text


def test_it_uses_a_fresh_data_key_and_nonces_every_time() -> None:
    first = crypto.seal("123456", **CONTEXT)
    second = crypto.seal("123456", **CONTEXT)

    assert first.ciphertext != second.ciphertext
    assert first.nonce != second.nonce
    assert first.wrapped_key != second.wrapped_key
    assert first.wrapped_key[1:13] != second.wrapped_key[1:13]  # the wrap nonces


@pytest.mark.parametrize("column", ["wrapped_key", "nonce", "ciphertext"])
def test_it_detects_a_flipped_bit_anywhere(column: str) -> None:
    sealed = crypto.seal("123456", **CONTEXT)
    original = getattr(sealed, column)

    for index in range(len(original)):
        tampered = dataclasses.replace(sealed, **{column: flip(original, index)})
        with pytest.raises(VaultError):
            crypto.open_sealed(tampered, **CONTEXT)


@pytest.mark.parametrize("column", ["wrapped_key", "nonce", "ciphertext"])
def test_it_detects_truncated_extended_and_empty_columns(column: str) -> None:
    sealed = crypto.seal("123456", **CONTEXT)
    original = getattr(sealed, column)

    for value in [original[:-1], original + b"\x00", b""]:
        with pytest.raises(VaultError):
            crypto.open_sealed(dataclasses.replace(sealed, **{column: value}), **CONTEXT)


def test_it_detects_a_changed_key_id(settings: object) -> None:
    sealed = crypto.seal("123456", **CONTEXT)
    settings.VAULT_KEYS = ring("k1", "k2")  # type: ignore[attr-defined]

    with pytest.raises(VaultError, match="does not open"):
        crypto.open_sealed(dataclasses.replace(sealed, key_id="k2"), **CONTEXT)
    with pytest.raises(VaultError, match="No master key with id 'nope'"):
        crypto.open_sealed(dataclasses.replace(sealed, key_id="nope"), **CONTEXT)


def test_the_key_id_is_bound_even_when_two_ids_hold_the_same_key(settings: object) -> None:
    settings.VAULT_KEYS = f"k1:{b64(KEYS['k1'])},alias:{b64(KEYS['k1'])}"  # type: ignore[attr-defined]
    sealed = crypto.seal("123456", **CONTEXT)
    assert sealed.key_id == "alias"

    with pytest.raises(VaultError):
        crypto.open_sealed(dataclasses.replace(sealed, key_id="k1"), **CONTEXT)


@pytest.mark.parametrize(
    "other",
    [
        {"citizen_id": 42},
        {"card_serial": "AKS-2011-000124"},
        {"card_serial": "aks-2011-000123"},
        {"field": "puk"},
        {"field": "unlock_pin"},
    ],
)
def test_it_refuses_a_record_opened_for_another_citizen_card_or_field(other: dict) -> None:
    sealed = crypto.seal("123456", **CONTEXT)

    with pytest.raises(VaultError):
        crypto.open_sealed(sealed, **{**CONTEXT, **other})
    with pytest.raises(VaultError):
        crypto.rewrap(sealed, **{**CONTEXT, **other})


@pytest.mark.parametrize("column", ["wrapped_key", "ciphertext", "nonce+ciphertext"])
@pytest.mark.parametrize(
    "other",
    [
        {"field": "puk"},  # the other field of the same card
        {"card_serial": "AKS-2011-000999"},  # another card of the same citizen
        {"citizen_id": 77, "card_serial": "AKS-2011-000777"},  # another citizen's card
    ],
)
def test_it_refuses_columns_swapped_between_records(column: str, other: dict) -> None:
    mine = crypto.seal("111111", **CONTEXT)
    theirs_context = {**CONTEXT, **other}
    theirs = crypto.seal("222222", **theirs_context)
    swapped = {
        "wrapped_key": {"wrapped_key": theirs.wrapped_key},
        "ciphertext": {"ciphertext": theirs.ciphertext},
        "nonce+ciphertext": {"nonce": theirs.nonce, "ciphertext": theirs.ciphertext},
    }[column]

    with pytest.raises(VaultError):
        crypto.open_sealed(dataclasses.replace(mine, **swapped), **CONTEXT)
    with pytest.raises(VaultError):
        crypto.open_sealed(
            dataclasses.replace(theirs, **swapped_back(mine, column)), **theirs_context
        )
    # A whole record moved to the other row does not open there either.
    with pytest.raises(VaultError):
        crypto.open_sealed(theirs, **CONTEXT)


def swapped_back(mine: Sealed, column: str) -> dict[str, bytes]:
    if column == "nonce+ciphertext":
        return {"nonce": mine.nonce, "ciphertext": mine.ciphertext}
    return {column: getattr(mine, column)}


def test_the_binding_cannot_be_shifted_between_card_serial_and_field() -> None:
    # Separators inside values are percent-encoded, so these contexts differ.
    sealed = crypto.seal("123456", citizen_id=1, card_serial="A|field=pin", field="x")

    with pytest.raises(VaultError):
        crypto.open_sealed(sealed, citizen_id=1, card_serial="A", field="pin|field=x")
    assert crypto.open_sealed(sealed, citizen_id=1, card_serial="A|field=pin", field="x")


def test_it_wants_a_real_context() -> None:
    with pytest.raises(TypeError):
        crypto.seal("1", **{**CONTEXT, "citizen_id": None})  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        crypto.seal("1", **{**CONTEXT, "citizen_id": True})
    with pytest.raises(ValueError):
        crypto.seal("1", **{**CONTEXT, "card_serial": ""})
    with pytest.raises(ValueError):
        crypto.seal("1", **{**CONTEXT, "field": ""})
    with pytest.raises(TypeError):
        crypto.seal(b"123456", **CONTEXT)  # type: ignore[arg-type]


def test_the_newest_key_encrypts_and_old_keys_still_decrypt(settings: object) -> None:
    old = crypto.seal("123456", **CONTEXT)
    settings.VAULT_KEYS = ring("k1", "k2")  # type: ignore[attr-defined]

    new = crypto.seal("654321", **CONTEXT)

    assert (old.key_id, new.key_id) == ("k1", "k2")
    assert crypto.open_sealed(old, **CONTEXT) == "123456"
    assert crypto.open_sealed(new, **CONTEXT) == "654321"


def test_a_record_under_a_removed_key_does_not_open(settings: object) -> None:
    sealed = crypto.seal("123456", **CONTEXT)
    settings.VAULT_KEYS = ring("k2")  # type: ignore[attr-defined]

    with pytest.raises(VaultError, match="No master key with id 'k1'") as caught:
        crypto.open_sealed(sealed, **CONTEXT)
    assert "123456" not in str(caught.value)


def test_rewrap_moves_the_data_key_to_the_newest_key_only(settings: object) -> None:
    sealed = crypto.seal(TURKISH, **CONTEXT)
    settings.VAULT_KEYS = ring("k1", "k2")  # type: ignore[attr-defined]

    moved = crypto.rewrap(sealed, **CONTEXT)

    assert moved.key_id == "k2"
    assert moved.wrapped_key != sealed.wrapped_key
    assert (moved.nonce, moved.ciphertext) == (sealed.nonce, sealed.ciphertext)
    settings.VAULT_KEYS = ring("k2")  # type: ignore[attr-defined]
    assert crypto.open_sealed(moved, **CONTEXT) == TURKISH


def test_rewrap_never_decrypts_the_ciphertext(settings: object) -> None:
    # A tampered ciphertext passes rewrap (its data key is fine) and fails when opened.
    sealed = crypto.seal("123456", **CONTEXT)
    broken = dataclasses.replace(sealed, ciphertext=flip(sealed.ciphertext, 0))
    settings.VAULT_KEYS = ring("k1", "k2")  # type: ignore[attr-defined]

    moved = crypto.rewrap(broken, **CONTEXT)

    assert moved.ciphertext == broken.ciphertext
    with pytest.raises(VaultError):
        crypto.open_sealed(moved, **CONTEXT)


def test_rewrap_refuses_a_tampered_wrapped_key(settings: object) -> None:
    sealed = crypto.seal("123456", **CONTEXT)
    settings.VAULT_KEYS = ring("k1", "k2")  # type: ignore[attr-defined]

    with pytest.raises(VaultError):
        crypto.rewrap(
            dataclasses.replace(sealed, wrapped_key=flip(sealed.wrapped_key, 20)), **CONTEXT
        )


def test_it_accepts_memoryview_columns_as_postgresql_returns_them() -> None:
    sealed = crypto.seal("123456", **CONTEXT)
    as_views = Sealed(
        key_id=sealed.key_id,
        wrapped_key=memoryview(sealed.wrapped_key),  # type: ignore[arg-type]
        nonce=memoryview(sealed.nonce),  # type: ignore[arg-type]
        ciphertext=memoryview(sealed.ciphertext),  # type: ignore[arg-type]
    )

    assert crypto.open_sealed(as_views, **CONTEXT) == "123456"


# --- the keyring ---------------------------------------------------------------------------


def test_it_parses_a_keyring_newest_last() -> None:
    parsed = crypto.parse_keyring(f" k1:{b64(KEYS['k1'])} ,\n 2026.01_b-x : {b64(KEYS['k2'])}\n")

    assert parsed.ids == ("k1", "2026.01_b-x")
    assert parsed.newest_id == "2026.01_b-x"
    assert parsed.get("k1") == KEYS["k1"]
    assert parsed.get("2026.01_b-x") == KEYS["k2"]
    assert "k1" in parsed
    with pytest.raises(VaultError, match="No master key with id 'k3'"):
        parsed.get("k3")


def test_the_keyring_repr_shows_no_key() -> None:
    parsed = crypto.parse_keyring(ring("k1", "k2"))

    for text in [repr(parsed), str(parsed)]:
        assert text == "Keyring(ids=('k1', 'k2'))"
        for key in KEYS.values():
            assert repr(key) not in text
            assert b64(key) not in text


GOOD = b64(KEYS["k1"])
SECRETISH = b64(b"S" * 31)  # decodes to 31 bytes


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "is empty"),
        ("   \n", "is empty"),
        (GOOD, "entry 1 has no ':'"),
        (f"k1:{GOOD},", "entry 2 is empty"),
        (f"k1:{GOOD},,k2:{GOOD}", "entry 2 is empty"),
        (f":{GOOD}", "entry 1: the key id"),
        (f"k 1:{GOOD}", "entry 1: the key id"),
        (f"kä:{GOOD}", "entry 1: the key id"),
        (f"{'k' * 65}:{GOOD}", "entry 1: the key id"),
        (f"{SECRETISH}x:{GOOD}", "entry 1: the key id"),
        (f"k1:{GOOD},k1:{b64(KEYS['k2'])}", "entries 1 and 2 use the same key id"),
        (f"k1:{GOOD},k2:not base64!", "entry 2: the key is not valid base64"),
        (f"k1:{GOOD[:-2]}", "entry 1: the key is not valid base64"),
        (f"k1:{SECRETISH}", "entry 1: the key must be exactly 32 bytes"),
        (f"k1:{b64(b'x' * 33)}", "entry 1: the key must be exactly 32 bytes"),
        (f"k1:{GOOD}:extra", "entry 1: the key is not valid base64"),
        (f"k2:{GOOD}:{SECRETISH}", "entry 1: the key is not valid base64"),
    ],
)
def test_it_refuses_a_bad_keyring_without_repeating_it(text: str, message: str) -> None:
    with pytest.raises(KeyringError, match=message) as caught:
        crypto.parse_keyring(text)

    error = caught.value
    assert isinstance(error, VaultError)
    assert isinstance(error, ImproperlyConfigured)
    assert error.__cause__ is None
    assert error.__context__ is None or error.__suppress_context__
    assert GOOD not in str(error)
    assert SECRETISH not in str(error)
    assert SECRETISH[:8] not in str(error)


def test_a_directly_built_keyring_is_validated_too() -> None:
    with pytest.raises(KeyringError, match="holds no key"):
        crypto.Keyring(())
    with pytest.raises(KeyringError, match="exactly 32 bytes"):
        crypto.Keyring((("k1", b"short"),))


def test_keyring_follows_the_setting(settings: object) -> None:
    assert crypto.keyring().ids == ("k1",)

    with override_settings(VAULT_KEYS=ring("k1", "k2")):
        assert crypto.keyring().newest_id == "k2"
    assert crypto.keyring().newest_id == "k1"

    settings.VAULT_KEYS = ""  # type: ignore[attr-defined]
    with pytest.raises(KeyringError, match="VAULT_KEYS is empty"):
        crypto.keyring()
    with pytest.raises(VaultError):
        crypto.seal("123456", **CONTEXT)


# --- checks and error reports --------------------------------------------------------------


def test_the_system_check_accepts_a_good_keyring() -> None:
    assert check_vault_keys() == []


@pytest.mark.parametrize("value", ["", f"k1:{SECRETISH}", f"k1:{GOOD},k1:{GOOD}"])
def test_the_system_check_reports_a_bad_keyring_as_e001(settings: object, value: str) -> None:
    settings.VAULT_KEYS = value  # type: ignore[attr-defined]

    errors = [e for e in checks.run_checks() if e.id == "pinvault.E001"]

    assert len(errors) == 1
    assert "VAULT_KEYS" in errors[0].msg
    assert errors[0].hint
    assert SECRETISH not in errors[0].msg and GOOD not in errors[0].msg


def error_report() -> str:
    """Django's HTML error page (what DEBUG=True or the admin e-mails show) for the exception."""
    return ExceptionReporter(None, *sys.exc_info()).get_traceback_html()


def test_error_reports_hide_the_locals_of_the_crypto_functions(settings: object) -> None:
    settings.DEBUG = False  # type: ignore[attr-defined]
    sealed = crypto.seal(TURKISH, **CONTEXT)
    tampered = dataclasses.replace(sealed, ciphertext=flip(sealed.ciphertext, 3))
    try:
        crypto.open_sealed(tampered, **CONTEXT)
    except VaultError:
        report = error_report()
    settings.VAULT_KEYS = ""  # type: ignore[attr-defined]
    try:  # fails after the plaintext was passed in
        crypto.seal(TURKISH, **CONTEXT)
    except VaultError:
        report += error_report()

    assert "<td>data_key</td>" in report  # the variables are listed, their values hidden
    assert re.search(r"<td>data_key</td>\s*<td class=\"code\"><pre>&#x27;\*{20}&#x27;", report)
    assert re.search(r"<td>plaintext</td>\s*<td class=\"code\"><pre>&#x27;\*{20}&#x27;", report)
    assert re.search(r"<td>VAULT_KEYS</td>\s*<td class=\"code\"><pre>&#x27;\*{20}&#x27;", report)
    assert html.escape(TURKISH) not in report and TURKISH not in report
    for key in KEYS.values():
        assert html.escape(repr(key)) not in report and b64(key) not in report
