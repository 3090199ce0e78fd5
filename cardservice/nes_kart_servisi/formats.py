"""The only two things the service ever signs, and the strict parsing of a sign request.

1. The E-İmzalı Giriş login challenge. The page sends the challenge id and the nonce; the
   service builds the message itself (:func:`login_message`), so that a page can never make
   the card sign anything but ``b"NES-PORTAL-LOGIN\\0" + uuid.bytes + nonce``.
2. The E-Onay consent text (:func:`check_consent_text`), signed as a detached CMS. The
   service checks its *format* line by line with anchored, ASCII-only patterns; the portal
   checks its content (its own nonce, the citizen, the action, a fresh time).

Everything else is refused with :class:`FormatRefused` (``format_refused``), or
:class:`PinMalformed` (``pin_malformed``) for a PIN that is not 4–16 digits.
"""

from __future__ import annotations

import base64
import binascii
import re
import unicodedata
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

LOGIN_PREFIX = b"NES-PORTAL-LOGIN\0"
NONCE_BYTES = 32

CONSENT_HEADER = "NES-PORTAL-EONAY/1"
CONSENT_MAX_BYTES = 2048
STATEMENT_MAX_CHARS = 300
CONSENT_ACTIONS = ("consent.give", "consent.withdraw", "application.approve", "application.reject")
CONSENT_SCOPES = ("kurum_odemeli_ilk", "kurum_odemeli_yenileme")

_PIN = re.compile(r"[0-9]{4,16}", re.ASCII)
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.ASCII)
_SERIAL = re.compile(r"[\x21-\x7e]{1,64}", re.ASCII)
_HEX_ID = re.compile(r"(?:[0-9a-fA-F]{2}){1,64}", re.ASCII)
_B64_32 = re.compile(r"[A-Za-z0-9+/]{43}=", re.ASCII)

_ACTION = re.compile(
    r"action: (consent\.give|consent\.withdraw|application\.approve|application\.reject)", re.ASCII
)
_SCOPE = re.compile(r"scope: (kurum_odemeli_ilk|kurum_odemeli_yenileme)", re.ASCII)
_APPLICATION = re.compile(r"application: [A-Z0-9-]{1,40}", re.ASCII)
_CITIZEN = re.compile(r"citizen: (?:TC [0-9]{11}|PASAPORT [A-Z0-9]{5,20})", re.ASCII)
_TIME = re.compile(r"time: ([0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2})Z", re.ASCII)
_NONCE = re.compile(r"nonce: ([A-Za-z0-9_-]{43})", re.ASCII)
_STATEMENT = re.compile(r"statement: (.{1,300})", re.DOTALL)

# Unicode categories a statement may not contain: controls (C0, C1, DEL), format characters
# (bidi overrides, zero-width joiners: what the citizen sees must be what is signed), line and
# paragraph separators, surrogates, private use and unassigned code points.
_FORBIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})


class FormatRefused(ValueError):
    """The request or the text is not one of the two allowed formats."""


class PinMalformed(ValueError):
    """The PIN is not 4–16 ASCII digits (no attempt is counted, the card is not touched)."""


@dataclass(frozen=True)
class SignRequest:
    """A checked sign request: ``payload`` is exactly what the card will sign (the login
    message, or the consent text's UTF-8 bytes, which the CMS digests)."""

    kind: str
    token_serial: str
    certificate_id: bytes
    pin: str
    payload: bytes

    def __repr__(self) -> str:  # never show the PIN, not even in a traceback
        return (
            f"SignRequest(kind={self.kind!r}, token_serial={self.token_serial!r}, "
            f"certificate_id={self.certificate_id.hex()!r}, pin='***')"
        )


def login_message(challenge_id: uuid.UUID, nonce: bytes) -> bytes:
    """``b"NES-PORTAL-LOGIN\\0" + challenge_id.bytes + nonce`` (the portal's esign.protocol)."""
    if len(nonce) != NONCE_BYTES:
        raise FormatRefused("nonce must be 32 bytes")
    return LOGIN_PREFIX + challenge_id.bytes + nonce


def _statement_ok(statement: str) -> bool:
    if not 1 <= len(statement) <= STATEMENT_MAX_CHARS:
        return False
    return all(unicodedata.category(ch) not in _FORBIDDEN_CATEGORIES for ch in statement)


def _nonce_ok(value: str) -> bool:
    try:
        raw = base64.urlsafe_b64decode(value + "=")
    except (binascii.Error, ValueError):
        return False
    # Canonical only: 43 characters carry 258 bits, the last two must be zero.
    return len(raw) == NONCE_BYTES and base64.urlsafe_b64encode(raw).rstrip(b"=") == value.encode()


def _time_ok(value: str) -> bool:
    try:
        datetime.strptime(value, "%Y-%m-%dT%H:%M:%S")  # noqa: DTZ007 (a format check only)
    except ValueError:
        return False
    return True


def check_consent_text(text: object) -> str:
    """Return ``text`` if it is an E-Onay text exactly in format NES-PORTAL-EONAY/1, else raise
    :class:`FormatRefused`. UTF-8, ``\\n`` line ends, no trailing newline, ≤ 2048 bytes::

        NES-PORTAL-EONAY/1
        action: consent.give | consent.withdraw | application.approve | application.reject
        scope: kurum_odemeli_ilk | kurum_odemeli_yenileme     (consent.* only)
        application: [A-Z0-9-]{1,40}                          (application.* only)
        citizen: TC <11 digits> | PASAPORT [A-Z0-9]{5,20}
        time: YYYY-MM-DDTHH:MM:SSZ
        nonce: <43 characters of base64url without padding = 32 bytes>
        statement: <1–300 characters, no control or format characters>
    """
    if not isinstance(text, str):
        raise FormatRefused("text must be a string")
    try:
        encoded = text.encode("utf-8")
    except UnicodeEncodeError as exc:  # lone surrogates
        raise FormatRefused("text is not valid UTF-8") from exc
    if len(encoded) > CONSENT_MAX_BYTES:
        raise FormatRefused("text too long")
    lines = text.split("\n")
    if len(lines) != 7 or lines[0] != CONSENT_HEADER:
        raise FormatRefused("wrong number of lines or header")
    action = _ACTION.fullmatch(lines[1])
    if action is None:
        raise FormatRefused("action")
    second = _SCOPE if action.group(1).startswith("consent.") else _APPLICATION
    if second.fullmatch(lines[2]) is None:
        raise FormatRefused("scope/application")
    if _CITIZEN.fullmatch(lines[3]) is None:
        raise FormatRefused("citizen")
    time = _TIME.fullmatch(lines[4])
    if time is None or not _time_ok(time.group(1)):
        raise FormatRefused("time")
    nonce = _NONCE.fullmatch(lines[5])
    if nonce is None or not _nonce_ok(nonce.group(1)):
        raise FormatRefused("nonce")
    statement = _STATEMENT.fullmatch(lines[6])
    if statement is None or not _statement_ok(statement.group(1)):
        raise FormatRefused("statement")
    return text


_COMMON = ("kind", "token_serial", "certificate_id", "pin")
_FIELDS = {
    "login": frozenset((*_COMMON, "challenge_id", "nonce_b64")),
    "consent": frozenset((*_COMMON, "text")),
}


def parse_sign_request(body: Any) -> SignRequest:
    """Check a decoded JSON body of ``POST /v1/sign`` and build what the card will sign.

    Exactly the fields of its kind, all strings; any other kind, extra or missing field,
    wrong type or content → :class:`FormatRefused`; a PIN that is not 4–16 digits →
    :class:`PinMalformed` (checked after the shape, before the content)."""
    if not isinstance(body, dict):
        raise FormatRefused("body must be an object")
    kind = body.get("kind")
    if not isinstance(kind, str) or kind not in _FIELDS or set(body) != _FIELDS[kind]:
        raise FormatRefused("kind or fields")
    if not all(isinstance(value, str) for value in body.values()):
        raise FormatRefused("every field is a string")
    serial, certificate_id, pin = body["token_serial"], body["certificate_id"], body["pin"]
    if _SERIAL.fullmatch(serial) is None or _HEX_ID.fullmatch(certificate_id) is None:
        raise FormatRefused("token_serial or certificate_id")
    if _PIN.fullmatch(pin) is None:
        raise PinMalformed("PIN must be 4-16 digits")
    if kind == "login":
        challenge_id = body["challenge_id"]
        nonce_b64 = body["nonce_b64"]
        if _UUID.fullmatch(challenge_id.lower()) is None or _B64_32.fullmatch(nonce_b64) is None:
            raise FormatRefused("challenge_id or nonce_b64")
        nonce = base64.b64decode(nonce_b64, validate=True)
        if base64.b64encode(nonce).decode("ascii") != nonce_b64:
            raise FormatRefused("nonce_b64 not canonical")
        payload = login_message(uuid.UUID(challenge_id), nonce)
    else:
        payload = check_consent_text(body["text"]).encode("utf-8")
    return SignRequest(
        kind=kind,
        token_serial=serial,
        certificate_id=bytes.fromhex(certificate_id),
        pin=pin,
        payload=payload,
    )
