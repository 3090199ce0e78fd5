"""The E-İmzalı Giriş signature protocol: what a signing tool signs and how we verify it.

Pure functions on bytes and ``cryptography`` objects, with no Django, no database and no clock,
so that a card tool, the reference client (``manage.py sign_login_challenge``) and the tests can
use exactly the code the portal checks with. Where a challenge comes from, whose certificate is
acceptable and what a failure costs is ``esign.services``' business, not this module's.

The signed message (:func:`signed_message`)::

    b"NES-PORTAL-LOGIN\\0" + challenge_id.bytes (16 octets, the UUID's binary form) + nonce

signed with SHA-256: ECDSA (DER-encoded signature, or raw r‖s as PKCS#11 returns it) or RSA
PKCS#1 v1.5. The fixed prefix keeps a login signature from being mistaken for a signature over
anything else (a document, an OCSP request); the challenge id ties it to one challenge.

Security contract: :func:`verify_signature` answers True only for a signature that verifies
over the exact message with the given public key, and answers False (never raises) for
anything else, including key types we do not accept, so that a caller cannot confuse "junk"
with "error". The parsers raise :class:`ProtocolError` subclasses (which are ``ValueError``),
and only those, for input that is not a certificate or not base64.
"""

from __future__ import annotations

import base64
import binascii
import uuid

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.types import (
    CertificatePublicKeyTypes,
    PrivateKeyTypes,
)
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

MESSAGE_PREFIX = b"NES-PORTAL-LOGIN\0"
# The nonce the portal draws for each challenge: 256 bits, so it is never guessed or reused.
NONCE_BYTES = 32


class ProtocolError(ValueError):
    """Input that the protocol cannot even read. A ``ValueError``, so that callers written
    against the plain ``ValueError`` these parsers raised before keep working."""


class CertificateFormatError(ProtocolError):
    """The certificate is neither PEM nor base64 DER (or its DER does not parse)."""


class SignatureFormatError(ProtocolError):
    """The signature is not base64 (standard or URL-safe)."""


def _as_uuid(challenge_id: uuid.UUID | str) -> uuid.UUID:
    return challenge_id if isinstance(challenge_id, uuid.UUID) else uuid.UUID(str(challenge_id))


def signed_message(challenge_id: uuid.UUID | str, nonce: bytes) -> bytes:
    """The exact bytes a signing tool signs for a challenge (see the module docstring)."""
    return MESSAGE_PREFIX + _as_uuid(challenge_id).bytes + bytes(nonce)


def sign_challenge(
    nonce: bytes, challenge_id: uuid.UUID | str, private_key: PrivateKeyTypes
) -> bytes:
    """Sign a challenge as a card's signing tool would: ECDSA-SHA256 (DER) or RSA PKCS#1 v1.5.

    For the reference client and the tests; the portal itself never holds a holder's key."""
    message = signed_message(challenge_id, nonce)
    if isinstance(private_key, ec.EllipticCurvePrivateKey):
        return private_key.sign(message, ec.ECDSA(hashes.SHA256()))
    if isinstance(private_key, rsa.RSAPrivateKey):
        return private_key.sign(message, padding.PKCS1v15(), hashes.SHA256())
    raise TypeError("private_key must be an EC or RSA private key")


def verify_signature(
    public_key: CertificatePublicKeyTypes, signature: bytes, message: bytes
) -> bool:
    """True if ``signature`` over ``message`` verifies (ECDSA-SHA256 DER or raw r‖s; RSA
    PKCS#1 v1.5 SHA-256). Any other key type is refused: a key type we never issue has no
    business logging anybody in."""
    try:
        if isinstance(public_key, ec.EllipticCurvePublicKey):
            return _verify_ecdsa(public_key, signature, message)
        if isinstance(public_key, rsa.RSAPublicKey):
            public_key.verify(signature, message, padding.PKCS1v15(), hashes.SHA256())
            return True
    except (InvalidSignature, ValueError, UnsupportedAlgorithm):
        return False
    return False


def _verify_ecdsa(public_key: ec.EllipticCurvePublicKey, signature: bytes, message: bytes) -> bool:
    """DER first; then raw r‖s (IEEE P1363, what PKCS#11's CKM_ECDSA returns), which cannot be
    told apart from DER by its first byte (r may start with 0x30)."""
    candidates = [signature]
    size = (public_key.curve.key_size + 7) // 8
    if len(signature) == 2 * size:
        r = int.from_bytes(signature[:size], "big")
        s = int.from_bytes(signature[size:], "big")
        candidates.append(encode_dss_signature(r, s))
    for candidate in candidates:
        try:
            public_key.verify(candidate, message, ec.ECDSA(hashes.SHA256()))
        except (InvalidSignature, ValueError):
            continue
        return True
    return False


def parse_certificate(text: str | bytes) -> x509.Certificate:
    """A certificate given as PEM or as base64 DER; :class:`CertificateFormatError` if it is
    neither, or if what it holds does not parse as a certificate."""
    data = text.encode("ascii", "replace") if isinstance(text, str) else bytes(text)
    try:
        if b"-----BEGIN CERTIFICATE-----" in data:
            return x509.load_pem_x509_certificate(data)
        der = base64.b64decode(b"".join(data.split()), validate=True)
        return x509.load_der_x509_certificate(der)
    except (binascii.Error, ValueError) as exc:
        raise CertificateFormatError("neither a PEM nor a base64 DER certificate") from exc


def decode_signature(text: str) -> bytes:
    """Standard or URL-safe base64, whitespace ignored; :class:`SignatureFormatError` if it is
    not base64."""
    compact = "".join(text.split()).replace("-", "+").replace("_", "/")
    compact += "=" * (-len(compact) % 4)
    try:
        return base64.b64decode(compact, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise SignatureFormatError("signature is not base64") from exc
