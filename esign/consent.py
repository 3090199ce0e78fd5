"""E-Onay signed with the card: the canonical consent text and its detached CMS signature.

Pure functions on text, bytes and ``cryptography`` objects, with no Django, no database and no
clock (like :mod:`esign.protocol`), so that the card service's format check, the portal and
the tests read the same rules. Whose certificate is acceptable, which text the portal asked
for and what happens with a verified signature is ``esign.card_eonay``'s business.

The text (:func:`build_text`, :func:`parse_text`): UTF-8, ``\\n`` line ends, no trailing
newline, at most :data:`MAX_BYTES` bytes, exactly these lines in this order::

    NES-PORTAL-EONAY/1
    action: consent.give | consent.withdraw | application.approve | application.reject
    scope: kurum_odemeli_ilk | kurum_odemeli_yenileme        (consent.* only)
    application: <reference, [A-Z0-9-]{1,40}>                  (application.* only)
    citizen: TC <11 digits> | PASAPORT <[A-Z0-9]{5,20}>
    time: YYYY-MM-DDTHH:MM:SSZ
    nonce: <base64url, no padding, of 32 bytes = 43 chars>
    statement: <the Turkish sentence shown to the citizen, 1–300 chars, no control characters>

The signature (:func:`verify_cms`): a DER ``ContentInfo`` holding ``SignedData`` v1 with one
digest algorithm (SHA-256), ``encapContentInfo`` id-data *without* content (detached), exactly
one certificate (the signer's) and one ``SignerInfo`` v1 identified by issuer and serial
number, whose signed attributes are exactly contentType (id-data), signingTime, messageDigest
(SHA-256 of the text's UTF-8 bytes) and signingCertificateV2 (ESS, SHA-256 of the signer
certificate's DER) — CAdES-BES. The signature (ecdsa-with-SHA256, DER; or RSA PKCS#1 v1.5
with SHA-256) is over the DER of the signed attributes as a SET OF (tag 0x31).

Security contract: :func:`verify_cms` returns the signer's certificate and the signing time
only for a signature that satisfies every rule above over exactly the given text, and raises
:class:`ConsentSignatureError` (a ``ValueError``) — never anything else — for any other
input; :func:`parse_text` raises only :class:`ConsentTextError` (a ``ValueError``). Neither
says whether the certificate is trustworthy: the caller checks that it is ours, the citizen's
and live.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from asn1crypto import cms, core
from asn1crypto import tsp as _tsp  # noqa: F401  (registers signingCertificateV2 with cms)
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

HEADER = "NES-PORTAL-EONAY/1"
MAX_BYTES = 2048
STATEMENT_MAX = 300
NONCE_BYTES = 32

CONSENT_GIVE = "consent.give"
CONSENT_WITHDRAW = "consent.withdraw"
APPLICATION_APPROVE = "application.approve"
APPLICATION_REJECT = "application.reject"
CONSENT_ACTIONS = frozenset({CONSENT_GIVE, CONSENT_WITHDRAW})
APPLICATION_ACTIONS = frozenset({APPLICATION_APPROVE, APPLICATION_REJECT})
ACTIONS = CONSENT_ACTIONS | APPLICATION_ACTIONS
SCOPES = frozenset({"kurum_odemeli_ilk", "kurum_odemeli_yenileme"})

# ASCII only: ``\d`` would also take "١٢".
_REFERENCE = re.compile(r"[A-Z0-9-]{1,40}", re.ASCII)
_CITIZEN = re.compile(r"TC [0-9]{11}|PASAPORT [A-Z0-9]{5,20}", re.ASCII)
_TIME = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z", re.ASCII)
_NONCE = re.compile(r"[A-Za-z0-9_-]{43}", re.ASCII)
_TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"

# The signed attributes, each exactly once, and nothing else.
_REQUIRED_ATTRIBUTES = frozenset(
    {"content_type", "signing_time", "message_digest", "signing_certificate_v2"}
)
_SIGNATURE_ALGORITHMS = {
    "sha256_ecdsa": "ec",
    "sha256_rsa": "rsa",
    "rsassa_pkcs1v15": "rsa",  # rsaEncryption with the SHA-256 digest algorithm
}


class ConsentTextError(ValueError):
    """The text is not an E-Onay text of the format above."""


class ConsentSignatureError(ValueError):
    """The CMS is not a valid detached CAdES-BES signature over the text. ``reason`` is a short
    code for the audit log (never shown to the citizen as such)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class ConsentText:
    """The parsed fields of an E-Onay text (``subject`` is the scope or the reference)."""

    action: str
    subject: str
    citizen: str
    time: datetime
    nonce: bytes
    statement: str

    @property
    def scope(self) -> str | None:
        return self.subject if self.action in CONSENT_ACTIONS else None

    @property
    def application(self) -> str | None:
        return self.subject if self.action in APPLICATION_ACTIONS else None


@dataclass(frozen=True)
class SignedConsent:
    """What a verified CMS says: who signed (the certificate in the CMS) and when."""

    certificate: x509.Certificate
    signing_time: datetime


# --- the text ----------------------------------------------------------------------------------


def citizen_identifier(*, tckn: str | None = None, passport_no: str | None = None) -> str:
    """The ``citizen:`` value: ``TC <tckn>`` or ``PASAPORT <passport number>``.

    Raises :class:`ConsentTextError` if neither fits the format (e.g. a passport number with
    characters the format does not allow): such a holder signs with the SMS code instead."""
    value = f"TC {tckn}" if tckn else f"PASAPORT {passport_no or ''}"
    if not _CITIZEN.fullmatch(value):
        raise ConsentTextError("citizen identifier does not fit the format")
    return value


def nonce_text(nonce: bytes) -> str:
    return base64.urlsafe_b64encode(bytes(nonce)).decode("ascii").rstrip("=")


def format_time(at: datetime) -> str:
    if at.tzinfo is None:
        raise ConsentTextError("time must be timezone-aware")
    return at.astimezone(UTC).strftime(_TIME_FORMAT)


def _statement_ok(statement: str) -> bool:
    if not 1 <= len(statement) <= STATEMENT_MAX:
        return False
    # No control, format (bidi overrides), surrogate, private-use or unassigned characters and
    # no line or paragraph separators: what the citizen reads is what the text says.
    return not any(
        unicodedata.category(ch)[0] == "C" or unicodedata.category(ch) in ("Zl", "Zp")
        for ch in statement
    )


def build_text(
    action: str,
    *,
    citizen: str,
    time: datetime,
    nonce: bytes,
    statement: str,
    scope: str | None = None,
    application: str | None = None,
) -> str:
    """The canonical text; :class:`ConsentTextError` if a field does not fit the format.

    ``scope`` for ``consent.*``, ``application`` (the reference) for ``application.*``; the
    time is cut to the second (UTC)."""
    if action in CONSENT_ACTIONS:
        if application is not None or scope not in SCOPES:
            raise ConsentTextError("a consent names one known scope")
        subject_line = f"scope: {scope}"
    elif action in APPLICATION_ACTIONS:
        if scope is not None or application is None or not _REFERENCE.fullmatch(application):
            raise ConsentTextError("an application decision names its reference")
        subject_line = f"application: {application}"
    else:
        raise ConsentTextError("unknown action")
    if not _CITIZEN.fullmatch(citizen):
        raise ConsentTextError("citizen identifier does not fit the format")
    if len(nonce) != NONCE_BYTES:
        raise ConsentTextError("the nonce is 32 bytes")
    if not _statement_ok(statement):
        raise ConsentTextError("statement is empty, too long or holds control characters")
    text = "\n".join(
        [
            HEADER,
            f"action: {action}",
            subject_line,
            f"citizen: {citizen}",
            f"time: {format_time(time)}",
            f"nonce: {nonce_text(nonce)}",
            f"statement: {statement}",
        ]
    )
    if len(text.encode("utf-8")) > MAX_BYTES:
        raise ConsentTextError("text too long")
    return text


def _field(line: str, key: str) -> str:
    prefix = f"{key}: "
    if not line.startswith(prefix):
        raise ConsentTextError(f"expected the {key} line")
    return line[len(prefix) :]


def parse_text(text: str | bytes) -> ConsentText:
    """The fields of an E-Onay text; :class:`ConsentTextError` (only) for anything else."""
    try:
        raw = text if isinstance(text, bytes) else str(text).encode("utf-8")
        decoded = raw.decode("utf-8")
    except (UnicodeError, TypeError) as exc:
        raise ConsentTextError("not UTF-8") from exc
    if len(raw) > MAX_BYTES:
        raise ConsentTextError("text too long")
    lines = decoded.split("\n")
    if len(lines) != 7 or lines[0] != HEADER:
        raise ConsentTextError("not an E-Onay text")
    action = _field(lines[1], "action")
    if action in CONSENT_ACTIONS:
        subject = _field(lines[2], "scope")
        if subject not in SCOPES:
            raise ConsentTextError("unknown scope")
    elif action in APPLICATION_ACTIONS:
        subject = _field(lines[2], "application")
        if not _REFERENCE.fullmatch(subject):
            raise ConsentTextError("malformed application reference")
    else:
        raise ConsentTextError("unknown action")
    citizen = _field(lines[3], "citizen")
    if not _CITIZEN.fullmatch(citizen):
        raise ConsentTextError("malformed citizen")
    time_text = _field(lines[4], "time")
    if not _TIME.fullmatch(time_text):
        raise ConsentTextError("malformed time")
    try:
        at = datetime.strptime(time_text, _TIME_FORMAT).replace(tzinfo=UTC)
    except ValueError as exc:
        raise ConsentTextError("impossible time") from exc
    nonce_field = _field(lines[5], "nonce")
    if not _NONCE.fullmatch(nonce_field):
        raise ConsentTextError("malformed nonce")
    try:
        nonce = base64.urlsafe_b64decode(nonce_field + "=")
    except (binascii.Error, ValueError) as exc:  # pragma: no cover - the regex admits only b64
        raise ConsentTextError("malformed nonce") from exc
    if len(nonce) != NONCE_BYTES or nonce_text(nonce) != nonce_field:
        raise ConsentTextError("non-canonical nonce")
    statement = _field(lines[6], "statement")
    if not _statement_ok(statement):
        raise ConsentTextError("malformed statement")
    return ConsentText(action, subject, citizen, at, nonce, statement)


# --- the signature -----------------------------------------------------------------------------


def _fail(reason: str) -> ConsentSignatureError:
    return ConsentSignatureError(reason)


def _digest_is_sha256(algorithm: Any) -> bool:
    # Parameters absent or NULL (both are seen for SHA-2 in the wild).
    params = algorithm["parameters"]
    return bool(
        algorithm["algorithm"].native == "sha256" and isinstance(params, core.Void | core.Null)
    )


def _one_attribute(attributes: Any) -> dict[str, Any]:
    """Each signed attribute by name: exactly the required ones, each with exactly one value."""
    found: dict[str, Any] = {}
    for attribute in attributes:
        name = attribute["type"].native
        values = attribute["values"]
        if name in found or name not in _REQUIRED_ATTRIBUTES or len(values) != 1:
            raise _fail("signed_attributes_invalid")
        found[name] = values[0]
    if set(found) != _REQUIRED_ATTRIBUTES:
        raise _fail("signed_attributes_missing")
    return found


def _signer_certificate(signed_data: Any) -> tuple[Any, bytes]:
    certificates = signed_data["certificates"]
    if isinstance(certificates, core.Void) or len(certificates) != 1:
        raise _fail("certificates_invalid")
    choice = certificates[0]
    if choice.name != "certificate":
        raise _fail("certificates_invalid")
    certificate = choice.chosen
    return certificate, certificate.dump()


def _check_sid(signer_info: Any, certificate: asn1_x509.Certificate) -> None:
    sid = signer_info["sid"]
    if sid.name != "issuer_and_serial_number":
        raise _fail("sid_invalid")
    issuer_serial = sid.chosen
    tbs = certificate["tbs_certificate"]
    if (
        issuer_serial["serial_number"].native != tbs["serial_number"].native
        or issuer_serial["issuer"].dump() != tbs["issuer"].dump()
    ):
        raise _fail("sid_mismatch")


def _check_signing_certificate(value: Any, certificate_der: bytes, serial_number: int) -> None:
    certs = value["certs"]
    if len(certs) < 1:
        raise _fail("signing_certificate_invalid")
    first = certs[0]
    if not _digest_is_sha256(first["hash_algorithm"]):
        raise _fail("signing_certificate_invalid")
    expected = hashlib.sha256(certificate_der).digest()
    if not hmac.compare_digest(bytes(first["cert_hash"].native), expected):
        raise _fail("signing_certificate_mismatch")
    issuer_serial = first["issuer_serial"]
    if not isinstance(issuer_serial, core.Void) and (
        issuer_serial["serial_number"].native != serial_number
    ):
        raise _fail("signing_certificate_mismatch")


def _verify_signature(
    certificate: x509.Certificate, algorithm: Any, signature: bytes, signed: bytes
) -> None:
    name = algorithm["algorithm"].native
    kind = _SIGNATURE_ALGORITHMS.get(name)
    params = algorithm["parameters"]
    try:
        public_key = certificate.public_key()
    except (ValueError, UnsupportedAlgorithm):
        raise _fail("certificate_key_unsupported") from None
    try:
        if kind == "ec" and isinstance(public_key, ec.EllipticCurvePublicKey):
            if not isinstance(params, core.Void):
                raise _fail("signature_algorithm_invalid")
            public_key.verify(signature, signed, ec.ECDSA(hashes.SHA256()))
            return
        if kind == "rsa" and isinstance(public_key, rsa.RSAPublicKey):
            if not isinstance(params, core.Void | core.Null):
                raise _fail("signature_algorithm_invalid")
            public_key.verify(signature, signed, padding.PKCS1v15(), hashes.SHA256())
            return
    except (InvalidSignature, ValueError, TypeError, UnsupportedAlgorithm):
        raise _fail("signature_invalid") from None
    raise _fail("signature_algorithm_invalid")


def _verify(cms_der: bytes, text_bytes: bytes) -> SignedConsent:
    content_info = cms.ContentInfo.load(cms_der, strict=True)
    if content_info["content_type"].native != "signed_data":
        raise _fail("not_signed_data")
    signed_data = content_info["content"]
    if signed_data["version"].native != "v1":
        raise _fail("version_invalid")
    digest_algorithms = signed_data["digest_algorithms"]
    if len(digest_algorithms) != 1 or not _digest_is_sha256(digest_algorithms[0]):
        raise _fail("digest_algorithm_invalid")
    encap = signed_data["encap_content_info"]
    if encap["content_type"].native != "data":
        raise _fail("content_type_invalid")
    if not isinstance(encap["content"], core.Void):
        raise _fail("content_not_detached")
    if not isinstance(signed_data["crls"], core.Void):
        raise _fail("crls_present")
    certificate_asn1, certificate_der = _signer_certificate(signed_data)
    signer_infos = signed_data["signer_infos"]
    if len(signer_infos) != 1:
        raise _fail("signer_infos_invalid")
    signer_info = signer_infos[0]
    if signer_info["version"].native != "v1":
        raise _fail("signer_version_invalid")
    _check_sid(signer_info, certificate_asn1)
    if not _digest_is_sha256(signer_info["digest_algorithm"]):
        raise _fail("digest_algorithm_invalid")
    if not isinstance(signer_info["unsigned_attrs"], core.Void):
        raise _fail("unsigned_attributes_present")
    signed_attrs = signer_info["signed_attrs"]
    if isinstance(signed_attrs, core.Void):
        raise _fail("signed_attributes_missing")
    attributes = _one_attribute(signed_attrs)
    if attributes["content_type"].native != "data":
        raise _fail("content_type_invalid")
    digest = bytes(attributes["message_digest"].native)
    if not hmac.compare_digest(digest, hashlib.sha256(text_bytes).digest()):
        raise _fail("message_digest_mismatch")
    signing_time = attributes["signing_time"].native
    if not isinstance(signing_time, datetime) or signing_time.tzinfo is None:
        raise _fail("signing_time_invalid")
    _check_signing_certificate(
        attributes["signing_certificate_v2"],
        certificate_der,
        certificate_asn1["tbs_certificate"]["serial_number"].native,
    )
    try:
        certificate = x509.load_der_x509_certificate(certificate_der)
    except ValueError:
        raise _fail("certificate_unparsable") from None
    # The signature covers the DER of the attributes as a SET OF: the [0] IMPLICIT tag of
    # the SignerInfo replaced by the universal SET tag, the contents unchanged.
    encoded = signed_attrs.dump()
    if not encoded or encoded[0] != 0xA0:
        raise _fail("signed_attributes_invalid")
    signed = b"\x31" + encoded[1:]
    _verify_signature(
        certificate,
        signer_info["signature_algorithm"],
        bytes(signer_info["signature"].native),
        signed,
    )
    return SignedConsent(certificate, signing_time.astimezone(UTC))


def verify_cms(cms_der: bytes, text: str | bytes) -> SignedConsent:
    """Verify a detached CAdES-BES signature over ``text`` (see the module docstring).

    Returns the certificate in the CMS (the signer's) and the signed signingTime; raises
    :class:`ConsentSignatureError`, and nothing else, for anything that is not exactly such a
    signature over exactly these bytes."""
    try:
        text_bytes = text if isinstance(text, bytes) else str(text).encode("utf-8")
        if not isinstance(cms_der, bytes | bytearray | memoryview):
            raise _fail("cms_malformed")
        return _verify(bytes(cms_der), text_bytes)
    except ConsentSignatureError:
        raise
    except Exception:  # asn1crypto raises many kinds of errors on junk: all mean "malformed"
        raise _fail("cms_malformed") from None


def decode_cms(text: str) -> bytes:
    """Standard or URL-safe base64 of the CMS, whitespace ignored; :class:`ConsentSignatureError`
    if it is not base64."""
    compact = "".join(str(text).split()).replace("-", "+").replace("_", "/")
    compact += "=" * (-len(compact) % 4)
    try:
        return base64.b64decode(compact, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise _fail("cms_not_base64") from exc
