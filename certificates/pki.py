"""The portal's certificate authority: pure cryptography, no Django, no database.

Contract
========

* **Keys.** The issuing CA's private key and the OCSP signer's key are loaded from PEM files
  (:func:`load_ca`) and live only in memory and on disk at the paths the operator configured;
  nothing here writes a private key anywhere except :func:`create_demo_pki`, which writes the
  *demo* root, issuing CA and OCSP keys (mode 0600). ``root.key`` is the demo's *offline* root
  key, kept only so that the demo can sign its ARL (:func:`build_arl`, :func:`load_root`): a
  real root key never sits on the portal's host, it lives offline (HSM, ceremony) and signs the
  ARL there. The citizen's key pair lives on the AKİS card:
  :func:`issue_qualified_certificate` takes a public key only.
* **Algorithms.** Demo keys are ECDSA P-256; every signature made here uses SHA-256. A production
  issuing CA may also be RSA (≥ 2048 bits); the signing code is the same.
* **Time.** No function reads the clock except :func:`create_demo_pki` (when no ``now`` is
  given). Callers pass timezone-aware datetimes; naive ones are rejected with ``ValueError``
  because a silent "local time or UTC?" guess in a validity period or a revocation time is a bug.
  One exception we cannot avoid: ``cryptography``'s OCSP builder (the single-CertID path of
  :func:`sign_ocsp_response`) writes producedAt from the real clock, it has no parameter for it;
  the pyasn1 path writes ``now``. Callers pass the current time, so the two agree.
* **Certificate profile.** :func:`issue_qualified_certificate` makes a qualified certificate for a
  natural person, key on a QSCD, per ETSI EN 319 412-1/-2/-5 and RFC 5280 (checked by pkilint in
  ``tests/certificates/test_pki*.py``). The subject serialNumber is an ETSI EN 319 412-1 §5.1.3
  identity (:func:`natural_person_identity`: ``PNOTR-<T.C. Kimlik No>`` or
  ``PASTR-<passport no>``) announced by the semanticsId-Natural qcStatement; certificates issued
  before carry the legacy ``TCKTR-<T.C. Kimlik No>``, which :func:`identity_matches` still
  accepts and which is never issued again. The validity nests inside the issuing CA's. The
  caller chooses the serial number (see :func:`random_serial`) and is responsible for its
  uniqueness.
* **Revocation.** :func:`build_crl` signs a full CRL (no deltas) in one pass over its entries
  (they may be a generator streaming database rows; only the list of encoded entries is held).
  A suspension is a ``certificateHold`` entry; lifting it means leaving the serial out of the
  next CRL. RFC 5280 §5.3.1 says the reasonCode extension SHOULD be absent rather than
  ``unspecified``, so an ``unspecified`` entry carries no reasonCode (openssl and every relying
  party read "absent" as unspecified); all other entries carry their reason. A partitioned
  ("shard") CRL names its URL in a critical issuingDistributionPoint, and may declare with
  expiredCertsOnCRL (ITU-T X.509, 2.5.29.60) that it keeps entries of certificates that expired
  after a date. :func:`build_arl` is the root's CRL about CA certificates (onlyContainsCACerts).
* **OCSP.** :func:`ocsp_response` never raises on client input, nor on a failure of its own:
  undecodable requests, more than :data:`MAX_CERT_IDS` CertIDs, bad nonces or serial numbers
  outside 1 ≤ serial < 2**159 get ``malformedRequest`` (:func:`parse_ocsp_request`); requests
  naming another issuer in any CertID, or a hash we cannot compute, get ``unauthorized`` (RFC
  5019 §2.2.3 and RFC 6960 §2.3: we are not authoritative for them, and a signed "unknown" would
  look like we were); an exception from the caller's ``lookup`` or while signing is logged and
  answered with ``internalError``. Every CertID of a request gets its own SingleResponse, in
  request order (RFC 6960 §4.2.2.3). The common request (one CertID, no archiveCutoff) is signed
  by ``cryptography``'s builder, which is fast; the others by a pyasn1 encoder of RFC 6960,
  because that builder holds a single SingleResponse and cannot write singleExtensions.
* **No global state** but one cache of pure derived values: the CertID hashes of a certificate's
  name and key, keyed by the certificate itself (its DER bytes) and the hash algorithm, bounded
  (:func:`issued_by`). Nothing else is cached here; the caller caches :class:`CaMaterial`.
"""

from __future__ import annotations

import base64
import binascii
import copy
import functools
import hmac
import itertools
import logging
import os
import re
import urllib.parse
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509 import ocsp
from cryptography.x509.oid import (
    AuthorityInformationAccessOID,
    CertificatePoliciesOID,
    ExtendedKeyUsageOID,
    NameOID,
    ObjectIdentifier,
)
from pyasn1.codec.der import decoder as der_decoder
from pyasn1.codec.der import encoder as der_encoder
from pyasn1.error import PyAsn1Error
from pyasn1.type import char, constraint, namedtype, tag, univ, useful
from pyasn1_alt_modules import rfc3739, rfc5280, rfc6960

logger = logging.getLogger(__name__)

CaPrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey
SubjectPublicKey = ec.EllipticCurvePublicKey | rsa.RSAPublicKey

# ETSI EN 319 411-2 / EN 319 412-5 object identifiers.
QCP_N_QSCD = "0.4.0.194112.1.2"
QC_STATEMENTS_OID = ObjectIdentifier("1.3.6.1.5.5.7.1.3")
QC_COMPLIANCE = "0.4.0.1862.1.1"
QC_SSCD = "0.4.0.1862.1.4"
QC_PDS = "0.4.0.1862.1.5"
QC_TYPE = "0.4.0.1862.1.6"
QC_TYPE_ESIGN = "0.4.0.1862.1.6.1"
QC_CC_LEGISLATION = "0.4.0.1862.1.7"
# RFC 3739 id-qcs-pkixQCSyntax-v2, whose SemanticsInformation names how to read the subject's
# identity attributes; ETSI EN 319 412-1 §5.1.3 defines semanticsId-Natural for serialNumber.
QC_PKIX_SYNTAX_V2 = "1.3.6.1.5.5.7.11.2"
SEMANTICS_ID_NATURAL = "0.4.0.194121.1.1"

_QC_TYPE_NAMES = {
    QC_TYPE_ESIGN: "esign",
    "0.4.0.1862.1.6.2": "eseal",
    "0.4.0.1862.1.6.3": "web",
}
_SEMANTICS_ID_NAMES = {
    SEMANTICS_ID_NATURAL: "natural",
    "0.4.0.194121.1.2": "legal",
    "0.4.0.194121.1.3": "eIDAS natural",
    "0.4.0.194121.1.4": "eIDAS legal",
}

# ITU-T X.509 id-ce-expiredCertsOnCRL; RFC 5280 does not define it (hence an
# UnrecognizedExtension). RFC 6960 §4.4.4 id-pkix-ocsp-archive-cutoff.
EXPIRED_CERTS_ON_CRL_OID = ObjectIdentifier("2.5.29.60")
OCSP_ARCHIVE_CUTOFF_OID = "1.3.6.1.5.5.7.48.1.6"

DEMO_ROOT_VALIDITY = timedelta(days=20 * 365 + 5)
# The demo CAs start DEMO_CA_BACKDATE before "now", so the demo data can hold certificates that
# were issued years ago and have already expired (the oldest: valid from about now - 3 years -
# 61 days) and still chain to a CA that was valid then. 12 years leave the issuing CA 7 years
# ahead, as the former 3-year backdate with 10 years did; the root has 15.
DEMO_CA_BACKDATE = timedelta(days=5 * 365 + 1)
DEMO_ISSUING_VALIDITY = timedelta(days=12 * 365 + 3)
DEMO_OCSP_VALIDITY = timedelta(days=2 * 365)
OCSP_RESPONSE_VALIDITY = timedelta(hours=1)
MAX_NONCE_LENGTH = 128  # octets, RFC 9654
# CertIDs answered in one request. openssl sends one per -cert/-serial; ten keep the pyasn1 path
# (roughly 0.1 ms per CertID to decode and 0.15 ms to sign for) cheap whatever a client sends.
MAX_CERT_IDS = 10

_DEMO_FILES = ("root.crt", "root.key", "issuing.crt", "issuing.key", "ocsp.crt", "ocsp.key")
# What create_demo_pki wrote before the root's key was kept.
_OLD_DEMO_FILES = frozenset(_DEMO_FILES) - {"root.key"}


class CaConfigurationError(ValueError):
    """The CA files are missing, unreadable or do not belong together."""


# --- data types ------------------------------------------------------------------------------


@dataclass(frozen=True)
class CaPaths:
    """Where :func:`load_ca` finds the issuing CA (settings ``NES_CA_*`` / ``NES_OCSP_*``).

    ``chain`` lists PEM files with the certificates above the issuing CA (usually just the
    root); a file may hold several certificates. The OCSP signer is optional: without it the
    responder signs with the issuing CA's key.
    """

    certificate: Path
    key: Path
    chain: Sequence[Path] = ()
    ocsp_certificate: Path | None = None
    ocsp_key: Path | None = None


@dataclass(frozen=True)
class CaMaterial:
    """A loaded issuing CA. ``chain`` is the issuing CA first, then up to the root."""

    certificate: x509.Certificate
    private_key: CaPrivateKey
    chain: list[x509.Certificate]
    ocsp_certificate: x509.Certificate | None = None
    ocsp_private_key: CaPrivateKey | None = None


@dataclass(frozen=True)
class CrlEntry:
    serial_number: int
    revoked_at: datetime
    reason: x509.ReasonFlags


@dataclass(frozen=True)
class CertStatusInfo:
    """What :func:`ocsp_response`'s ``lookup`` returns for a serial we issued.

    A suspended certificate is ``status="revoked"`` with ``reason=certificateHold``.
    ``archive_cutoff``, when set, goes into the SingleResponse as archiveCutoff (RFC 6960
    §4.4.4): the responder keeps answering for certificates that expired after that date. ETSI
    EN 319 411-2 CSS-6.3.10-08 sets it to the issuing CA certificate's notBefore; like EJBCA, the
    caller sets it for expired certificates only.
    """

    status: Literal["good", "revoked"]
    revoked_at: datetime | None = None
    reason: x509.ReasonFlags | None = None
    archive_cutoff: datetime | None = None

    def __post_init__(self) -> None:
        if self.status == "revoked" and self.revoked_at is None:
            raise ValueError("a revoked status needs revoked_at")
        if self.status not in ("good", "revoked"):
            raise ValueError(f"status must be 'good' or 'revoked', not {self.status!r}")
        if self.archive_cutoff is not None:
            _require_aware(archive_cutoff=self.archive_cutoff)


@dataclass(frozen=True)
class OcspCertId:
    """One CertID of an OCSP request (RFC 6960 §4.1.1), as :func:`parse_ocsp_request` read it.

    The hashes are of the issuer's DN and of its subjectPublicKey bits, made with
    ``hash_algorithm`` (openssl uses SHA-1). ``1 <= serial_number < 2**159`` once parsed.
    """

    # HashAlgorithm instances compare equal but are not hashable: equality yes, hash no.
    hash_algorithm: hashes.HashAlgorithm = field(hash=False)
    issuer_name_hash: bytes
    issuer_key_hash: bytes
    serial_number: int


@dataclass(frozen=True)
class OcspRequestInfo:
    """A parsed OCSP request: its CertIDs in request order (1 to :data:`MAX_CERT_IDS`) and the
    nonce (1 to 128 octets) if it sent one."""

    cert_ids: tuple[OcspCertId, ...]
    nonce: bytes | None


class OcspRequestError(Exception):
    """The request cannot be answered; ``status`` is the unsuccessful OCSPResponseStatus to send
    (``malformedRequest`` or ``unauthorized``)."""

    def __init__(self, status: ocsp.OCSPResponseStatus, message: str = "") -> None:
        super().__init__(message or status.name)
        self.status = status


# --- small helpers ---------------------------------------------------------------------------


def random_serial() -> int:
    """A positive serial of at most 159 bits from the OS CSPRNG (RFC 5280 §4.1.2.2)."""
    return x509.random_serial_number()


def serial_hex(serial_number: int) -> str:
    """Upper-case hex with an even number of digits, as certificate viewers show serials."""
    text = f"{serial_number:X}"
    return text.zfill(len(text) + len(text) % 2)


def certificate_to_pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode("ascii")


def fingerprint_sha256(cert: x509.Certificate) -> str:
    """``AB:CD:…`` — the form browsers and ``openssl x509 -fingerprint -sha256`` print."""
    return cert.fingerprint(hashes.SHA256()).hex(":").upper()


def _require_aware(**values: datetime) -> None:
    for label, value in values.items():
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"{label} must be timezone-aware")


def _ski(cert: x509.Certificate) -> x509.SubjectKeyIdentifier:
    try:
        return cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    except x509.ExtensionNotFound:
        return x509.SubjectKeyIdentifier.from_public_key(cert.public_key())


def _key_usage(**enabled: bool) -> x509.KeyUsage:
    flags = dict.fromkeys(
        (
            "digital_signature",
            "content_commitment",
            "key_encipherment",
            "data_encipherment",
            "key_agreement",
            "key_cert_sign",
            "crl_sign",
            "encipher_only",
            "decipher_only",
        ),
        False,
    )
    flags.update(enabled)
    return x509.KeyUsage(**flags)


def _crl_distribution_point(url: str) -> x509.CRLDistributionPoints:
    """cRLDistributionPoints with one point: the full name ``url``, all reasons, no cRLIssuer."""
    return x509.CRLDistributionPoints(
        [
            x509.DistributionPoint(
                full_name=[x509.UniformResourceIdentifier(url)],
                relative_name=None,
                reasons=None,
                crl_issuer=None,
            )
        ]
    )


def _aki(issuer: x509.Certificate) -> x509.AuthorityKeyIdentifier:
    return x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(_ski(issuer))


# --- qcStatements (RFC 3739 / ETSI EN 319 412-5) ---------------------------------------------
# cryptography has no QCStatements type; pyasn1-alt-modules has the RFC 3739 frame and we add the
# ETSI statement bodies it does not define.


class _QcType(univ.SequenceOf):
    componentType = univ.ObjectIdentifier()
    subtypeSpec = constraint.ValueSizeConstraint(1, float("inf"))


class _PdsLocation(univ.Sequence):
    componentType = namedtype.NamedTypes(
        namedtype.NamedType("url", char.IA5String()),
        namedtype.NamedType(
            "language",
            char.PrintableString().subtype(subtypeSpec=constraint.ValueSizeConstraint(2, 2)),
        ),
    )


class _PdsLocations(univ.SequenceOf):
    componentType = _PdsLocation()
    subtypeSpec = constraint.ValueSizeConstraint(1, float("inf"))


class _QcCClegislation(univ.SequenceOf):
    componentType = char.PrintableString().subtype(subtypeSpec=constraint.ValueSizeConstraint(2, 2))


def _qc_statement(oid: str, info: Any = None) -> rfc3739.QCStatement:
    statement = rfc3739.QCStatement()
    statement["statementId"] = univ.ObjectIdentifier(oid)
    if info is not None:
        statement["statementInfo"] = univ.Any(der_encoder.encode(info))
    return statement


def _qc_statements_der(
    pds: Sequence[tuple[str, str]], legislation_countries: Sequence[str]
) -> bytes:
    qc_type = _QcType()
    qc_type.append(univ.ObjectIdentifier(QC_TYPE_ESIGN))
    locations = _PdsLocations()
    for url, language in pds:
        location = _PdsLocation()
        location["url"] = url
        location["language"] = language
        locations.append(location)

    statements = rfc3739.QCStatements()
    statements.append(_qc_statement(QC_COMPLIANCE))
    if legislation_countries:
        countries = _QcCClegislation()
        countries.extend(legislation_countries)
        statements.append(_qc_statement(QC_CC_LEGISLATION, countries))
    statements.append(_qc_statement(QC_SSCD))
    statements.append(_qc_statement(QC_TYPE, qc_type))
    statements.append(_qc_statement(QC_PDS, locations))
    # The subject serialNumber is an EN 319 412-1 §5.1.3 natural-person identity (PNOTR-…):
    # this is what tells a relying party (and pkilint) to read it that way.
    semantics = rfc3739.SemanticsInformation()
    semantics["semanticsIdentifier"] = univ.ObjectIdentifier(SEMANTICS_ID_NATURAL)
    statements.append(_qc_statement(QC_PKIX_SYNTAX_V2, semantics))
    return der_encoder.encode(statements)


def _decode_qc_statements(der: bytes) -> list[str]:
    statements, rest = der_decoder.decode(der, asn1Spec=rfc3739.QCStatements())
    if rest:
        raise ValueError("trailing data after qcStatements")
    names: list[str] = []
    for statement in statements:
        oid = str(statement["statementId"])
        info = statement["statementInfo"]
        info_der = bytes(info) if info.isValue else None
        if oid == QC_COMPLIANCE:
            names.append("QcCompliance")
        elif oid == QC_SSCD:
            names.append("QcSSCD")
        elif oid == QC_TYPE and info_der is not None:
            types, _ = der_decoder.decode(info_der, asn1Spec=_QcType())
            names.extend(f"QcType: {_QC_TYPE_NAMES.get(str(t), str(t))}" for t in types)
        elif oid == QC_PDS and info_der is not None:
            locations, _ = der_decoder.decode(info_der, asn1Spec=_PdsLocations())
            urls = dict.fromkeys(str(location["url"]) for location in locations)
            names.extend(f"QcPDS: {url}" for url in urls)
        elif oid == QC_CC_LEGISLATION and info_der is not None:
            countries, _ = der_decoder.decode(info_der, asn1Spec=_QcCClegislation())
            names.append("QcCClegislation: " + ", ".join(str(c) for c in countries))
        elif oid == QC_PKIX_SYNTAX_V2 and info_der is not None:
            semantics, _ = der_decoder.decode(info_der, asn1Spec=rfc3739.SemanticsInformation())
            semantics_id = semantics["semanticsIdentifier"]
            if semantics_id.isValue:
                label = _SEMANTICS_ID_NAMES.get(str(semantics_id), str(semantics_id))
                names.append(f"QcSemanticsId: {label}")
            else:
                names.append(oid)
        else:
            names.append(oid)
    return names


# --- identity (ETSI EN 319 412-1 §5.1.3) -----------------------------------------------------

_TCKN_RE = re.compile(r"[1-9][0-9]{10}")
_PASSPORT_RE = re.compile(r"[A-Z0-9]{1,20}")
# What issue_qualified_certificate accepts as serialNumber: an EN 319 412-1 §5.1.3 identity type
# (passport, identity card, national personal number, tax id), the ISO 3166 country, "-", the
# number. Not the "XX:" national form: it needs nameRegistrationAuthorities, which we don't write.
_NATURAL_IDENTITY_RE = re.compile(r"(PAS|IDC|PNO|TIN)[A-Z]{2}-[0-9A-Z]{1,58}")


def natural_person_identity(tckn: str | None, passport_no: str | None) -> str:
    """The subject serialNumber of a natural person's certificate (ETSI EN 319 412-1 §5.1.3).

    ``PNOTR-<T.C. Kimlik No>`` (national personal number) for a citizen with a T.C. Kimlik No,
    else ``PASTR-<passport no>``. Exactly one of the two must be given (as on the citizen row);
    ``ValueError`` otherwise, or when the T.C. Kimlik No is not 11 digits or the passport number
    not 1 to 20 capital letters and digits. The check digits are the accounts app's business.
    """
    if tckn is not None and passport_no is None:
        if not _TCKN_RE.fullmatch(tckn):
            raise ValueError("a T.C. Kimlik No has 11 digits and does not start with 0")
        return f"PNOTR-{tckn}"
    if passport_no is not None and tckn is None:
        if not _PASSPORT_RE.fullmatch(passport_no):
            raise ValueError("a passport number has 1 to 20 capital letters and digits")
        return f"PASTR-{passport_no}"
    raise ValueError("give exactly one of a T.C. Kimlik No and a passport number")


def identity_matches(
    subject_serial_number: str, *, tckn: str | None, passport_no: str | None
) -> bool:
    """Whether a certificate's subject serialNumber names this person.

    Accepts :func:`natural_person_identity`'s forms and, for a T.C. Kimlik No, the legacy
    ``TCKTR-<tckn>``: certificates issued before the ETSI form carry it and cannot be re-signed,
    so they must keep working (e.g. for E-İmzalı Giriş) until they expire. Nothing new is ever
    issued with it. Compared with :func:`hmac.compare_digest`, every candidate form every time,
    so the time taken says nothing about how close a guess was or which form matched.
    """
    candidates: list[str] = []
    if tckn:
        candidates += [f"PNOTR-{tckn}", f"TCKTR-{tckn}"]
    if passport_no:
        candidates.append(f"PASTR-{passport_no}")
    given = subject_serial_number.encode("utf-8")
    matched = False
    for candidate in candidates:
        # compare_digest on str refuses non-ASCII; bytes take any serialNumber.
        matched |= hmac.compare_digest(given, candidate.encode("utf-8"))
    return matched


# --- demo PKI --------------------------------------------------------------------------------


def demo_ca_paths(directory: Path) -> CaPaths:
    """The :class:`CaPaths` of the files :func:`create_demo_pki` writes into ``directory``."""
    return CaPaths(
        certificate=directory / "issuing.crt",
        key=directory / "issuing.key",
        chain=(directory / "root.crt",),
        ocsp_certificate=directory / "ocsp.crt",
        ocsp_key=directory / "ocsp.key",
    )


def _ca_name(org: str, role: str) -> x509.Name:
    # X.520 caps commonName at 64 characters; the organization is in O= anyway, so it is the
    # part of the CN that gives way.
    common_name = f"{org} {role}" if len(org) + 1 + len(role) <= 64 else role
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "TR"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, org),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _write_new_file(path: Path, data: bytes, mode: int) -> None:
    # O_EXCL: never overwrite a key or certificate, even if another process raced us here.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)


def _key_pem(key: CaPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def create_demo_pki(
    directory: Path,
    *,
    name: str = "NES Portal Demo",
    now: datetime | None = None,
    arl_url: str | None = None,
    root_certificate_url: str | None = None,
) -> None:
    """Write a demo root CA, issuing CA and OCSP signer into ``directory`` unless present.

    Files: ``root.crt``, ``root.key``, ``issuing.crt``, ``issuing.key``, ``ocsp.crt``,
    ``ocsp.key`` (PEM; keys unencrypted PKCS#8, mode 0600). ``root.key`` is the *offline* root's
    key, kept for the demo only (it signs the demo's ARL, see :func:`load_root` and
    :func:`build_arl`): a real root key never sits on the portal's host. Both CAs start
    :data:`DEMO_CA_BACKDATE` before ``now``; the OCSP signer five minutes before ``now``.

    With ``arl_url`` the issuing CA certificate names that CRL distribution point (the root's
    ARL, :func:`build_arl` with ``idp_url=arl_url``), and so does the root's own certificate
    (``openssl verify -crl_check_all`` checks the trust anchor as well, and that ARL covers only
    certificates naming its URL). With ``root_certificate_url`` the issuing CA certificate gets
    an AIA caIssuers pointing at the root's certificate. Together they let a strict validator
    check the whole path. No OCSP in the issuing CA's AIA: the root does not answer OCSP.

    Idempotent: if all files exist this does nothing; if only some exist it raises
    :class:`CaConfigurationError` rather than mix two CAs (also for a directory written before
    ``root.key`` was kept: the demo CA format changed, delete the directory).
    """
    if not 0 < len(name) <= 64:
        raise ValueError("name (the CA's organizationName) must have 1 to 64 characters")
    directory = Path(directory)
    paths = [directory / filename for filename in _DEMO_FILES]
    present = [path for path in paths if path.exists()]
    if len(present) == len(paths):
        return
    if {p.name for p in present} == _OLD_DEMO_FILES:
        raise CaConfigurationError(
            f"{directory} holds a demo CA in the old format, without root.key (the demo CA "
            "format changed: the demo root's key is now kept to sign the ARL); delete the "
            "directory to create a new demo CA"
        )
    if present:
        raise CaConfigurationError(
            f"{directory} holds only part of a demo CA ({', '.join(p.name for p in present)}); "
            "remove those files to create a new one"
        )
    now = now or datetime.now().astimezone()
    _require_aware(now=now)
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)

    root_key = ec.generate_private_key(ec.SECP256R1())
    issuing_key = ec.generate_private_key(ec.SECP256R1())
    ocsp_key = ec.generate_private_key(ec.SECP256R1())
    ca_usage = _key_usage(key_cert_sign=True, crl_sign=True)

    arl_point = _crl_distribution_point(arl_url) if arl_url is not None else None

    root_name = _ca_name(name, "Kök Sertifika Hizmet Sağlayıcı")
    start = now - DEMO_CA_BACKDATE
    root_builder = (
        x509.CertificateBuilder()
        .subject_name(root_name)
        .issuer_name(root_name)
        .public_key(root_key.public_key())
        .serial_number(random_serial())
        .not_valid_before(start)
        .not_valid_after(start + DEMO_ROOT_VALIDITY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(ca_usage, critical=True)
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(root_key.public_key()), critical=False
        )
    )
    if arl_point is not None:
        # The root names its ARL too. RFC 5280 path validation never checks the trust anchor,
        # but openssl -crl_check_all does, and an ARL whose issuingDistributionPoint names a URL
        # covers only certificates naming that URL (RFC 5280 §6.3.3 (b)(2); openssl: "different
        # CRL scope").
        root_builder = root_builder.add_extension(arl_point, critical=False)
    root = root_builder.sign(root_key, hashes.SHA256())

    issuing_name = _ca_name(name, "Nitelikli Elektronik Sertifika Hizmet Sağlayıcı - Sürüm 1")
    # digitalSignature as well as keyCertSign/cRLSign: without a delegated OCSP signer the
    # issuing CA signs OCSP responses itself (RFC 6960 §4.2.2.2, first option).
    issuing_builder = (
        x509.CertificateBuilder()
        .subject_name(issuing_name)
        .issuer_name(root_name)
        .public_key(issuing_key.public_key())
        .serial_number(random_serial())
        .not_valid_before(start + timedelta(minutes=1))
        .not_valid_after(start + DEMO_ISSUING_VALIDITY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            _key_usage(digital_signature=True, key_cert_sign=True, crl_sign=True),
            critical=True,
        )
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(issuing_key.public_key()), critical=False
        )
        .add_extension(_aki(root), critical=False)
        .add_extension(
            x509.CertificatePolicies(
                [x509.PolicyInformation(CertificatePoliciesOID.ANY_POLICY, None)]
            ),
            critical=False,
        )
    )
    if arl_point is not None:
        issuing_builder = issuing_builder.add_extension(arl_point, critical=False)
    if root_certificate_url is not None:
        issuing_builder = issuing_builder.add_extension(
            x509.AuthorityInformationAccess(
                [
                    x509.AccessDescription(
                        AuthorityInformationAccessOID.CA_ISSUERS,
                        x509.UniformResourceIdentifier(root_certificate_url),
                    )
                ]
            ),
            critical=False,
        )
    issuing = issuing_builder.sign(root_key, hashes.SHA256())

    ocsp_cert = (
        x509.CertificateBuilder()
        .subject_name(_ca_name(name, "OCSP Yanıtlayıcı - Sürüm 1"))
        .issuer_name(issuing_name)
        .public_key(ocsp_key.public_key())
        .serial_number(random_serial())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + DEMO_OCSP_VALIDITY)
        .add_extension(_key_usage(digital_signature=True), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.OCSP_SIGNING]), critical=False)
        # id-pkix-ocsp-nocheck: clients need not check the signer's own revocation (RFC 6960
        # §4.2.2.2.1); the short lifetime is what limits the damage of a lost signer key.
        .add_extension(x509.OCSPNoCheck(), critical=False)
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(ocsp_key.public_key()), critical=False
        )
        .add_extension(_aki(issuing), critical=False)
        .sign(issuing_key, hashes.SHA256())
    )

    _write_new_file(directory / "root.crt", root.public_bytes(serialization.Encoding.PEM), 0o644)
    _write_new_file(directory / "root.key", _key_pem(root_key), 0o600)
    _write_new_file(
        directory / "issuing.crt", issuing.public_bytes(serialization.Encoding.PEM), 0o644
    )
    _write_new_file(directory / "issuing.key", _key_pem(issuing_key), 0o600)
    _write_new_file(
        directory / "ocsp.crt", ocsp_cert.public_bytes(serialization.Encoding.PEM), 0o644
    )
    _write_new_file(directory / "ocsp.key", _key_pem(ocsp_key), 0o600)


# --- loading ---------------------------------------------------------------------------------


def _read(path: Path) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise CaConfigurationError(f"cannot read {path}: {exc.strerror}") from exc


def _load_key(path: Path) -> CaPrivateKey:
    # The PEM is never bound to a local, so an error page's frame variables cannot show it.
    try:
        key = serialization.load_pem_private_key(_read(path), password=None)
    except CaConfigurationError:
        raise  # "cannot read …" (a ValueError too): keep that message
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise CaConfigurationError(f"{path} is not an unencrypted PEM private key") from exc
    if not isinstance(key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey):
        raise CaConfigurationError(f"{path}: only EC and RSA keys are supported")
    return key


def _load_certs(path: Path) -> list[x509.Certificate]:
    data = _read(path)
    try:
        return x509.load_pem_x509_certificates(data)
    except ValueError as exc:
        raise CaConfigurationError(f"{path} holds no PEM certificate") from exc


def _same_key(key: CaPrivateKey, cert: x509.Certificate) -> bool:
    spki = serialization.PublicFormat.SubjectPublicKeyInfo
    der = serialization.Encoding.DER
    return key.public_key().public_bytes(der, spki) == cert.public_key().public_bytes(der, spki)


def _check_issued_by(cert: x509.Certificate, issuer: x509.Certificate) -> None:
    try:
        cert.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, InvalidSignature) as exc:
        raise CaConfigurationError(
            f"{cert.subject.rfc4514_string()} is not signed by {issuer.subject.rfc4514_string()}"
        ) from exc


def _load_with_key(certificate: Path, key: Path) -> tuple[list[x509.Certificate], CaPrivateKey]:
    """The certificates in ``certificate`` and the private key in ``key``, which must belong to
    the first of them."""
    certs = _load_certs(certificate)
    private_key = _load_key(key)
    if not _same_key(private_key, certs[0]):
        raise CaConfigurationError(f"{key} does not belong to {certificate}")
    return certs, private_key


def _check_ca_certificate(cert: x509.Certificate, path: Path) -> None:
    """A CA certificate (basicConstraints cA) whose keyUsage allows keyCertSign and cRLSign."""
    try:
        constraints = cert.extensions.get_extension_for_class(x509.BasicConstraints).value
        usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound as exc:
        raise CaConfigurationError(f"{path} is not a CA certificate") from exc
    if not (constraints.ca and usage.key_cert_sign and usage.crl_sign):
        raise CaConfigurationError(
            f"{path} may not sign certificates and CRLs (basicConstraints/keyUsage)"
        )


def load_ca_certificate(path: Path) -> x509.Certificate:
    """The issuing CA's certificate alone (the first in ``path``), checked to be a CA's; no key.

    What serving already signed CRLs needs, so that they outlive an unreadable key file.
    """
    certificate = _load_certs(path)[0]
    _check_ca_certificate(certificate, path)
    return certificate


def load_ca(paths: CaPaths) -> CaMaterial:
    """Load and cross-check the issuing CA, its chain and the optional OCSP signer.

    Raises :class:`CaConfigurationError` when a file is missing or unreadable, a key does not
    match its certificate, the chain does not link up, the CA certificate may not sign
    certificates and CRLs, or the OCSP signer lacks the OCSPSigning EKU or another CA issued it.
    """
    [certificate, *extra], private_key = _load_with_key(paths.certificate, paths.key)
    _check_ca_certificate(certificate, paths.certificate)

    chain = [certificate]
    for cert in [*extra, *(c for path in paths.chain for c in _load_certs(path))]:
        if cert != certificate and cert not in chain:
            chain.append(cert)
    for cert, issuer in zip(chain, chain[1:], strict=False):
        _check_issued_by(cert, issuer)

    if (paths.ocsp_certificate is None) != (paths.ocsp_key is None):
        raise CaConfigurationError("give both the OCSP signer's certificate and key, or neither")
    ocsp_certificate = ocsp_private_key = None
    if paths.ocsp_certificate is not None and paths.ocsp_key is not None:
        [ocsp_certificate, *_], ocsp_private_key = _load_with_key(
            paths.ocsp_certificate, paths.ocsp_key
        )
        _check_issued_by(ocsp_certificate, certificate)
        try:
            eku = ocsp_certificate.extensions.get_extension_for_class(x509.ExtendedKeyUsage)
        except x509.ExtensionNotFound:
            eku = None
        if eku is None or ExtendedKeyUsageOID.OCSP_SIGNING not in eku.value:
            raise CaConfigurationError(f"{paths.ocsp_certificate} lacks the OCSPSigning EKU")
    return CaMaterial(
        certificate=certificate,
        private_key=private_key,
        chain=chain,
        ocsp_certificate=ocsp_certificate,
        ocsp_private_key=ocsp_private_key,
    )


def load_root(certificate: Path, key: Path) -> CaMaterial:
    """Load a root CA certificate with its private key, to sign the ARL (:func:`build_arl`).

    For the demo (``root.crt``/``root.key`` of :func:`create_demo_pki`): a production root signs
    offline and the portal never loads its key. Raises :class:`CaConfigurationError` when a file
    is missing or unreadable, the key does not match, or the certificate is not a self-signed CA
    that may sign certificates and CRLs.
    """
    [root, *_], private_key = _load_with_key(certificate, key)
    if root.subject != root.issuer:
        raise CaConfigurationError(f"{certificate} is not self-signed (issuer ≠ subject)")
    _check_issued_by(root, root)
    _check_ca_certificate(root, certificate)
    return CaMaterial(certificate=root, private_key=private_key, chain=[root])


# --- issuing ---------------------------------------------------------------------------------


def issue_qualified_certificate(
    ca: CaMaterial,
    *,
    public_key: SubjectPublicKey,
    serial_number: int,
    given_name: str,
    surname: str,
    identity: str,
    not_before: datetime,
    not_after: datetime,
    crl_url: str,
    ocsp_url: str,
    ca_issuers_url: str,
    policy_oid: str,
    pds_url: str,
    legislation_countries: Sequence[str] = ("TR",),
) -> x509.Certificate:
    """Issue a qualified e-signature certificate for a natural person (key on a QSCD).

    Profile: ETSI EN 319 412-2 (natural person), -1 (identity) and -5 (qcStatements) on top of
    RFC 5280. Subject C=TR, serialNumber=``identity``, givenName, surname and commonName
    "``given_name`` ``surname``"; keyUsage nonRepudiation (critical); certificate policies
    ``policy_oid`` and QCP-n-qscd; qcStatements QcCompliance, QcCClegislation TR, QcSSCD, QcType
    esign, QcPDS (``pds_url`` listed as English and as Turkish, so the PDS there should be
    bilingual; pkilint wants it on https) and pkixQCSyntax-v2 with semanticsId-Natural; AKI/SKI;
    CRL distribution point; AIA with OCSP and caIssuers. No basicConstraints: RFC 5280 makes it
    optional for end entities and neither pkilint profile asks for it.

    ``identity`` must be an EN 319 412-1 §5.1.3 identity (``PNOTR-…``/``PASTR-…`` from
    :func:`natural_person_identity`; also ``IDC``/``TIN`` types): semanticsId-Natural announces
    that form, so the legacy ``TCKTR-…`` is refused with ``ValueError``. So is a validity that
    does not nest inside the issuing CA's (starting before it or ending after it).

    QcCClegislation: QcCompliance on its own claims an *EU* qualified certificate
    (eIDAS); a certificate qualified under Turkish law 5070 must name the country instead
    (EN 319 412-5 §4.2.1, §4.2.4), which is what the default ``("TR",)`` does. Pass ``()`` for
    the eIDAS form. pkilint accepts both (QCP-n-qscd non-EU / EU).
    """
    _require_aware(not_before=not_before, not_after=not_after)
    if not 0 < serial_number < 2**159:
        raise ValueError("serial_number must be positive and fit in 20 octets")
    if not_after <= not_before:
        raise ValueError("not_after must be later than not_before")
    if not_after > ca.certificate.not_valid_after_utc:
        raise ValueError("the certificate would outlive the issuing CA")
    if not_before < ca.certificate.not_valid_before_utc:
        raise ValueError("the certificate would start before the issuing CA")
    if isinstance(public_key, rsa.RSAPublicKey):
        if public_key.key_size < 2048:
            raise ValueError("RSA keys must have at least 2048 bits")
    elif isinstance(public_key, ec.EllipticCurvePublicKey):
        if not isinstance(public_key.curve, ec.SECP256R1 | ec.SECP384R1 | ec.SECP521R1):
            raise ValueError(f"unsupported curve {public_key.curve.name}")
    else:
        raise ValueError("public_key must be an RSA or EC public key")
    for label, value in (("given_name", given_name), ("surname", surname), ("identity", identity)):
        if not value.strip():
            raise ValueError(f"{label} must not be empty")
    if not _NATURAL_IDENTITY_RE.fullmatch(identity):
        # Only the prefix in the message: the rest is a T.C. Kimlik No, which stays out of logs.
        raise ValueError(
            f"identity {identity[:6]!r}… is not an ETSI EN 319 412-1 natural-person identity "
            "(PNOTR-…, PASTR-…): use natural_person_identity()"
        )

    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "TR"),
            x509.NameAttribute(NameOID.SERIAL_NUMBER, identity),
            x509.NameAttribute(NameOID.GIVEN_NAME, given_name),
            x509.NameAttribute(NameOID.SURNAME, surname),
            x509.NameAttribute(NameOID.COMMON_NAME, f"{given_name} {surname}"),
        ]
    )
    qc_statements = _qc_statements_der(
        [(pds_url, "en"), (pds_url, "tr")], tuple(legislation_countries)
    )
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(ca.certificate.subject)
        .public_key(public_key)
        .serial_number(serial_number)
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(_aki(ca.certificate), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .add_extension(
            _key_usage(content_commitment=True),
            critical=True,
        )
        .add_extension(
            x509.CertificatePolicies(
                [
                    x509.PolicyInformation(x509.ObjectIdentifier(policy_oid), None),
                    x509.PolicyInformation(x509.ObjectIdentifier(QCP_N_QSCD), None),
                ]
            ),
            critical=False,
        )
        .add_extension(_crl_distribution_point(crl_url), critical=False)
        .add_extension(
            x509.AuthorityInformationAccess(
                [
                    x509.AccessDescription(
                        AuthorityInformationAccessOID.OCSP,
                        x509.UniformResourceIdentifier(ocsp_url),
                    ),
                    x509.AccessDescription(
                        AuthorityInformationAccessOID.CA_ISSUERS,
                        x509.UniformResourceIdentifier(ca_issuers_url),
                    ),
                ]
            ),
            critical=False,
        )
        .add_extension(x509.UnrecognizedExtension(QC_STATEMENTS_OID, qc_statements), critical=False)
    )
    return builder.sign(ca.private_key, hashes.SHA256())


# --- CRL -------------------------------------------------------------------------------------


def _generalized_time(value: datetime) -> str:
    # DER and RFC 5280 §4.1.2.5.2: UTC, seconds, "Z", no fraction (dropped, as cryptography does).
    return value.astimezone(UTC).strftime("%Y%m%d%H%M%SZ")


def _revoked_certificates(entries: Iterable[CrlEntry]) -> list[x509.RevokedCertificate]:
    # One pass: ``entries`` may be a generator over database rows; what is kept is the list the
    # CRL builder needs anyway (cryptography's add_revoked_certificate copies the whole list on
    # every call, which made 100,000 entries take half a minute).
    revoked: list[x509.RevokedCertificate] = []
    seen: set[int] = set()
    for entry in entries:
        _require_aware(revoked_at=entry.revoked_at)
        if entry.reason == x509.ReasonFlags.remove_from_crl:
            raise ValueError("removeFromCRL belongs in delta CRLs; leave the serial out instead")
        if entry.serial_number in seen:
            raise ValueError(f"serial {entry.serial_number:X} listed twice")
        seen.add(entry.serial_number)
        builder = (
            x509.RevokedCertificateBuilder()
            .serial_number(entry.serial_number)
            .revocation_date(entry.revoked_at)
        )
        if entry.reason != x509.ReasonFlags.unspecified:
            builder = builder.add_extension(x509.CRLReason(entry.reason), critical=False)
        revoked.append(builder.build())
    return revoked


def build_crl(
    ca: CaMaterial,
    *,
    entries: Iterable[CrlEntry],
    crl_number: int,
    this_update: datetime,
    next_update: datetime,
    idp_url: str | None = None,
    idp_only_ca_certs: bool = False,
    expired_certs_on_crl: datetime | None = None,
) -> x509.CertificateRevocationList:
    """Sign a full CRL (v2) with the key of ``ca`` (the issuing CA; the root for an ARL).

    Extensions: authorityKeyIdentifier, cRLNumber and:

    * with ``idp_url`` and/or ``idp_only_ca_certs``, a critical issuingDistributionPoint naming
      that URL (it must equal the CRL distribution point of the certificates it covers, or
      strict relying parties reject the CRL) and, for an ARL, onlyContainsCACerts;
    * with ``expired_certs_on_crl``, the non-critical expiredCertsOnCRL (ITU-T X.509, OID
      2.5.29.60, a GeneralizedTime): this CRL keeps the entries of certificates that expired
      at or after that date (so it must not be later than ``this_update``). A fraction of a
      second is rounded up, so the claim never covers more than the caller said.

    ``entries`` is consumed once, in a single pass, and may be any iterable (a generator over
    database rows); no serial may appear twice. Each entry carries a reasonCode except
    ``unspecified`` (see the module docstring). ``removeFromCRL`` is refused: it only exists for
    delta CRLs; a lifted hold simply leaves the list. The arguments are checked before
    ``entries`` is touched.
    """
    _require_aware(this_update=this_update, next_update=next_update)
    if next_update <= this_update:
        raise ValueError("next_update must be later than this_update")
    if not 0 <= crl_number < 2**159:
        raise ValueError("crl_number must be a non-negative integer of at most 20 octets")
    extensions: list[x509.ExtensionType] = [_aki(ca.certificate), x509.CRLNumber(crl_number)]
    if expired_certs_on_crl is not None:
        _require_aware(expired_certs_on_crl=expired_certs_on_crl)
        if expired_certs_on_crl > this_update:
            raise ValueError("expired_certs_on_crl must not be later than this_update")
        if expired_certs_on_crl.microsecond:
            expired_certs_on_crl = expired_certs_on_crl.replace(microsecond=0) + timedelta(
                seconds=1
            )
        value = der_encoder.encode(useful.GeneralizedTime(_generalized_time(expired_certs_on_crl)))
        extensions.append(x509.UnrecognizedExtension(EXPIRED_CERTS_ON_CRL_OID, value))
    idp: x509.IssuingDistributionPoint | None = None
    if idp_url is not None or idp_only_ca_certs:
        idp = x509.IssuingDistributionPoint(
            full_name=[x509.UniformResourceIdentifier(idp_url)] if idp_url is not None else None,
            relative_name=None,
            only_contains_user_certs=False,
            only_contains_ca_certs=idp_only_ca_certs,
            only_some_reasons=None,
            indirect_crl=False,
            only_contains_attribute_certs=False,
        )

    builder = (
        x509.CertificateRevocationListBuilder(revoked_certificates=_revoked_certificates(entries))
        .issuer_name(ca.certificate.subject)
        .last_update(this_update)
        .next_update(next_update)
    )
    for extension in extensions:
        builder = builder.add_extension(extension, critical=False)
    if idp is not None:
        builder = builder.add_extension(idp, critical=True)
    return builder.sign(ca.private_key, hashes.SHA256())


def build_arl(
    root: CaMaterial,
    *,
    revoked: Iterable[CrlEntry] = (),
    crl_number: int,
    this_update: datetime,
    next_update: datetime,
    idp_url: str | None,
) -> x509.CertificateRevocationList:
    """The root's authority revocation list: a CRL about the CA certificates it issued.

    Signed by ``root`` (see :func:`load_root`; a self-signed CA, else ``ValueError``). With
    ``idp_url`` (the issuing CA certificate's CRL distribution point) the critical
    issuingDistributionPoint names it and says onlyContainsCACerts. Otherwise as
    :func:`build_crl`.
    """
    if root.certificate.subject != root.certificate.issuer:
        raise ValueError("an ARL is signed by the root, and this CA is not self-signed")
    return build_crl(
        root,
        entries=revoked,
        crl_number=crl_number,
        this_update=this_update,
        next_update=next_update,
        idp_url=idp_url,
        idp_only_ca_certs=idp_url is not None,
    )


# --- OCSP: parsing requests ------------------------------------------------------------------


_HASHES_BY_OID: dict[str, type[hashes.HashAlgorithm]] = {
    "1.3.14.3.2.26": hashes.SHA1,
    "2.16.840.1.101.3.4.2.4": hashes.SHA224,
    "2.16.840.1.101.3.4.2.1": hashes.SHA256,
    "2.16.840.1.101.3.4.2.2": hashes.SHA384,
    "2.16.840.1.101.3.4.2.3": hashes.SHA512,
}
_OIDS_BY_HASH = {algorithm: oid for oid, algorithm in _HASHES_BY_OID.items()}
_NONCE_OID = "1.3.6.1.5.5.7.48.1.2"
_ECDSA_WITH_SHA256 = "1.2.840.10045.4.3.2"
_SHA256_WITH_RSA_ENCRYPTION = "1.2.840.113549.1.1.11"
_DER_NULL = b"\x05\x00"

# A CertID as read, before _validated: the hash algorithm is None when we do not know it.
_RawCertId = tuple[type[hashes.HashAlgorithm] | None, bytes, bytes, int]


def _read_with_cryptography(der: bytes) -> tuple[list[_RawCertId], bytes | None]:
    # NotImplementedError when the request does not hold exactly one CertID.
    request = ocsp.load_der_ocsp_request(der)
    try:
        algorithm: type[hashes.HashAlgorithm] | None = type(request.hash_algorithm)
    except UnsupportedAlgorithm:
        algorithm = None
    if algorithm not in _OIDS_BY_HASH:
        algorithm = None
    try:
        nonce: bytes | None = request.extensions.get_extension_for_class(x509.OCSPNonce).value.nonce
    except x509.ExtensionNotFound:
        nonce = None
    cert_id = (algorithm, request.issuer_name_hash, request.issuer_key_hash, request.serial_number)
    return [cert_id], nonce


def _der_elements(data: bytes, start: int, end: int) -> Iterator[tuple[int, int, int]]:
    """``(tag, content start, content end)`` of each DER TLV in ``data[start:end]``."""
    offset = start
    while offset < end:
        if end - offset < 2:
            raise ValueError("truncated DER")
        tag_byte, length = data[offset], data[offset + 1]
        if tag_byte & 0x1F == 0x1F:
            raise ValueError("multi-octet tags do not occur in OCSP requests")
        content = offset + 2
        if length & 0x80:
            size = length & 0x7F
            if not 1 <= size <= 4:  # 0x80 is BER's indefinite length, not DER
                raise ValueError("unsupported DER length")
            length = int.from_bytes(data[content : content + size], "big")
            content += size
        if content + length > end:
            raise ValueError("truncated DER")
        yield tag_byte, content, content + length
        offset = content + length


def _first_sequence(data: bytes, start: int, end: int) -> tuple[int, int]:
    element = next(_der_elements(data, start, end), None)
    if element is None or element[0] != 0x30:
        raise ValueError("expected a SEQUENCE")
    return element[1], element[2]


def _count_cert_ids(der: bytes, limit: int) -> int:
    """How many CertIDs the requestList holds, counting no further than ``limit``.

    A look at the TLV headers only, so that a request with thousands of CertIDs is refused
    before pyasn1 spends milliseconds decoding each of them.
    """
    start, end = _first_sequence(der, 0, len(der))  # OCSPRequest
    start, end = _first_sequence(der, start, end)  # tbsRequest
    for tag_byte, content, content_end in _der_elements(der, start, end):
        if tag_byte in (0xA0, 0xA1):  # [0] version, [1] requestorName
            continue
        if tag_byte != 0x30:
            break
        return sum(1 for _ in itertools.islice(_der_elements(der, content, content_end), limit))
    raise ValueError("no requestList")


def _nonce_value(extn_value: bytes) -> bytes:
    # RFC 9654: extnValue wraps an OCTET STRING holding the nonce; some old clients put the raw
    # bytes there. Read what cryptography would: the inner octets.
    try:
        inner, tail = der_decoder.decode(extn_value, asn1Spec=univ.OctetString())
    except PyAsn1Error:
        return extn_value
    return bytes(inner) if not tail else extn_value


def _read_with_pyasn1(der: bytes) -> tuple[list[_RawCertId], bytes | None]:
    # cryptography only loads requests for exactly one certificate; RFC 6960 allows a list.
    count = _count_cert_ids(der, MAX_CERT_IDS + 1)
    if not 1 <= count <= MAX_CERT_IDS:
        raise OcspRequestError(
            ocsp.OCSPResponseStatus.MALFORMED_REQUEST,
            f"an OCSP request must hold 1 to {MAX_CERT_IDS} CertIDs",
        )
    request, rest = der_decoder.decode(der, asn1Spec=rfc6960.OCSPRequest())
    if rest:
        raise ValueError("trailing data after the OCSP request")
    tbs = request["tbsRequest"]
    cert_ids: list[_RawCertId] = []
    for single in tbs["requestList"]:
        cert_id = single["reqCert"]
        cert_ids.append(
            (
                _HASHES_BY_OID.get(str(cert_id["hashAlgorithm"]["algorithm"])),
                bytes(cert_id["issuerNameHash"]),
                bytes(cert_id["issuerKeyHash"]),
                int(cert_id["serialNumber"]),
            )
        )
    nonce = None
    if tbs["requestExtensions"].isValue:
        seen: set[str] = set()
        for extension in tbs["requestExtensions"]:
            oid = str(extension["extnID"])
            if oid in seen:  # RFC 5280 §4.2; cryptography refuses these too
                raise ValueError(f"extension {oid} listed twice")
            seen.add(oid)
            if oid == _NONCE_OID:
                nonce = _nonce_value(bytes(extension["extnValue"]))
    return cert_ids, nonce


def _validated(cert_ids: list[_RawCertId], nonce: bytes | None) -> OcspRequestInfo:
    malformed = ocsp.OCSPResponseStatus.MALFORMED_REQUEST
    if not 1 <= len(cert_ids) <= MAX_CERT_IDS:
        raise OcspRequestError(malformed, f"an OCSP request must hold 1 to {MAX_CERT_IDS} CertIDs")
    if nonce is not None and not 1 <= len(nonce) <= MAX_NONCE_LENGTH:
        # RFC 9654 §2.1 (which replaced RFC 8954's 32-octet cap): reject, don't echo.
        raise OcspRequestError(malformed, f"a nonce has 1 to {MAX_NONCE_LENGTH} octets")
    for _, _, _, serial in cert_ids:
        # RFC 5280 §4.1.2.2: positive, at most 20 octets. A DER INTEGER can be negative and
        # cryptography hands it over as a negative int; its response builder would refuse it
        # only when signing (openssl ocsp -serial -5 used to get an HTTP 500).
        if not 1 <= serial < 2**159:
            raise OcspRequestError(malformed, "serial number outside 1 ≤ serial < 2**159")
    known: list[tuple[type[hashes.HashAlgorithm], bytes, bytes, int]] = []
    for algorithm, name_hash, key_hash, serial in cert_ids:
        if algorithm is None:
            # We cannot tell whether it names our CA, so we are not the authority to answer.
            raise OcspRequestError(
                ocsp.OCSPResponseStatus.UNAUTHORIZED, "unsupported CertID hash algorithm"
            )
        known.append((algorithm, name_hash, key_hash, serial))
    return OcspRequestInfo(
        cert_ids=tuple(
            OcspCertId(algorithm(), name_hash, key_hash, serial)
            for algorithm, name_hash, key_hash, serial in known
        ),
        nonce=nonce,
    )


def parse_ocsp_request(der: bytes) -> OcspRequestInfo:
    """Read an RFC 6960 OCSP request (DER); raises :class:`OcspRequestError` only.

    ``malformedRequest``: undecodable, trailing data, no CertID or more than
    :data:`MAX_CERT_IDS`, a nonce of 0 or more than 128 octets, a serial number outside
    ``1 ≤ serial < 2**159`` (zero, negative, more than 20 octets). ``unauthorized``: a CertID
    hash algorithm other than SHA-1/-224/-256/-384/-512. The request's own signature, if any, is
    not checked (RFC 6960 §4.1.2: optional, and we answer anyone).

    The single-CertID request (what openssl and browsers send) goes through ``cryptography``'s
    parser; others through pyasn1, after a look at the TLV headers has counted the CertIDs.
    """
    try:
        try:
            cert_ids, nonce = _read_with_cryptography(der)
        except NotImplementedError:
            # cryptography: "OCSP request contains more than one request" (also said of none).
            # Anything it finds undecodable (ValueError) stays malformed: no second, more
            # lenient parser for those.
            cert_ids, nonce = _read_with_pyasn1(der)
    except OcspRequestError:
        raise
    except Exception as exc:
        # Whatever the parsers choke on, it is the client's bytes: malformedRequest, never a 500.
        raise OcspRequestError(
            ocsp.OCSPResponseStatus.MALFORMED_REQUEST, "undecodable OCSP request"
        ) from exc
    return _validated(cert_ids, nonce)


# --- OCSP: answering -------------------------------------------------------------------------


@functools.lru_cache(maxsize=64)
def _cert_id_hashes(
    cert: x509.Certificate, algorithm: type[hashes.HashAlgorithm]
) -> tuple[bytes, bytes]:
    """RFC 6960 §4.1.1 CertID hashes of ``cert`` as an issuer: of its DN and of its
    subjectPublicKey bits.

    Cached (the module's one cache): pure values of the certificate, which hashes and compares
    by its DER bytes, so a reloaded CaMaterial finds the same entry and a new CA certificate a
    new one. Decoding the key with pyasn1 on every request cost about 90 µs.
    """
    spki_der = cert.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    spki, _ = der_decoder.decode(spki_der, asn1Spec=rfc5280.SubjectPublicKeyInfo())
    key_bits = spki["subjectPublicKey"].asOctets()

    def digest(data: bytes) -> bytes:
        h = hashes.Hash(algorithm())
        h.update(data)
        return h.finalize()

    return digest(cert.subject.public_bytes()), digest(key_bits)


def issued_by(ca: CaMaterial, cert_id: OcspCertId) -> bool:
    """Whether ``cert_id`` names our issuing CA: its DN and key hashes, made with the CertID's
    own hash algorithm, are those of ``ca.certificate``. (The hashes are public values; no need
    for a constant-time comparison.)"""
    algorithm = type(cert_id.hash_algorithm)
    if algorithm not in _OIDS_BY_HASH:
        return False
    name_hash, key_hash = _cert_id_hashes(ca.certificate, algorithm)
    return cert_id.issuer_name_hash == name_hash and cert_id.issuer_key_hash == key_hash


def unsuccessful_ocsp_response(status: ocsp.OCSPResponseStatus) -> bytes:
    """DER of an OCSPResponse with ``status`` and no responseBytes (unsigned, as RFC 6960 §2.3
    has it). ``ValueError`` for ``successful``."""
    return ocsp.OCSPResponseBuilder.build_unsuccessful(status).public_bytes(
        serialization.Encoding.DER
    )


def _ocsp_signer(ca: CaMaterial) -> tuple[x509.Certificate, CaPrivateKey]:
    if ca.ocsp_certificate is not None and ca.ocsp_private_key is not None:
        return ca.ocsp_certificate, ca.ocsp_private_key
    # Without a delegated signer the CA signs (RFC 6960 §4.2.2.2, first option); its certificate
    # goes along too, so that clients that were not handed it can still find the signer
    # (openssl: "signer certificate not found" otherwise).
    return ca.certificate, ca.private_key


def _cert_status(
    info: CertStatusInfo | None,
) -> tuple[ocsp.OCSPCertStatus, datetime | None, x509.ReasonFlags | None]:
    if info is None:
        return ocsp.OCSPCertStatus.UNKNOWN, None, None
    if not isinstance(info, CertStatusInfo):
        raise TypeError(f"a status is a CertStatusInfo or None, not {type(info).__name__}")
    if info.status == "good":
        return ocsp.OCSPCertStatus.GOOD, None, None
    assert info.revoked_at is not None  # CertStatusInfo.__post_init__
    _require_aware(revoked_at=info.revoked_at)
    # No reason for unspecified, as in the CRL.
    reason = info.reason if info.reason != x509.ReasonFlags.unspecified else None
    return ocsp.OCSPCertStatus.REVOKED, info.revoked_at, reason


def _sign_with_cryptography(
    signer: tuple[x509.Certificate, CaPrivateKey],
    cert_id: OcspCertId,
    info: CertStatusInfo | None,
    nonce: bytes | None,
    this_update: datetime,
    next_update: datetime,
) -> bytes:
    signer_certificate, signer_key = signer
    status, revocation_time, revocation_reason = _cert_status(info)
    builder = ocsp.OCSPResponseBuilder().add_response_by_hash(
        issuer_name_hash=cert_id.issuer_name_hash,
        issuer_key_hash=cert_id.issuer_key_hash,
        serial_number=cert_id.serial_number,
        algorithm=cert_id.hash_algorithm,
        cert_status=status,
        this_update=this_update,
        next_update=next_update,
        revocation_time=revocation_time,
        revocation_reason=revocation_reason,
    )
    if nonce is not None:
        builder = builder.add_extension(x509.OCSPNonce(nonce), critical=False)
    builder = builder.responder_id(ocsp.OCSPResponderEncoding.HASH, signer_certificate)
    response = builder.certificates([signer_certificate]).sign(signer_key, hashes.SHA256())
    return response.public_bytes(serialization.Encoding.DER)


class _RawCertificates(univ.SequenceOf):
    componentType = univ.Any()


class _BasicOcspResponseFromParts(univ.Sequence):
    """RFC 6960 §4.2.1 BasicOCSPResponse over encoded parts: the signed bytes go in exactly as
    signed, and the certificates need no decoding into pyasn1 objects."""

    componentType = namedtype.NamedTypes(
        namedtype.NamedType("tbsResponseData", univ.Any()),
        namedtype.NamedType("signatureAlgorithm", rfc5280.AlgorithmIdentifier()),
        namedtype.NamedType("signature", univ.BitString()),
        namedtype.OptionalNamedType(
            "certs",
            _RawCertificates().subtype(
                explicitTag=tag.Tag(tag.tagClassContext, tag.tagFormatConstructed, 0)
            ),
        ),
    )


def _extension(oid: str, value_der: bytes) -> rfc5280.Extension:
    extension = rfc5280.Extension()
    extension["extnID"] = univ.ObjectIdentifier(oid)
    extension["extnValue"] = value_der  # critical: DEFAULT FALSE, so left out
    return extension


def _sign_with_pyasn1(
    signer: tuple[x509.Certificate, CaPrivateKey],
    request: OcspRequestInfo,
    statuses: Sequence[CertStatusInfo | None],
    this_update: datetime,
    next_update: datetime,
) -> bytes:
    signer_certificate, signer_key = signer
    data = rfc6960.ResponseData()  # version: DEFAULT v1, left out
    # byKey: SHA-1 of the signer's subjectPublicKey bits (RFC 6960 §4.2.2.3), as cryptography does.
    data["responderID"]["byKey"] = _cert_id_hashes(signer_certificate, hashes.SHA1)[1]
    data["producedAt"] = _generalized_time(this_update)
    for cert_id, info in zip(request.cert_ids, statuses, strict=True):
        single = rfc6960.SingleResponse()
        # The CertID as the request sent it (parameters NULL, as openssl and cryptography write
        # SHA-x AlgorithmIdentifiers here; clients compare the OID).
        single["certID"]["hashAlgorithm"]["algorithm"] = univ.ObjectIdentifier(
            _OIDS_BY_HASH[type(cert_id.hash_algorithm)]
        )
        single["certID"]["hashAlgorithm"]["parameters"] = _DER_NULL
        single["certID"]["issuerNameHash"] = cert_id.issuer_name_hash
        single["certID"]["issuerKeyHash"] = cert_id.issuer_key_hash
        single["certID"]["serialNumber"] = cert_id.serial_number
        status, revocation_time, revocation_reason = _cert_status(info)
        if status == ocsp.OCSPCertStatus.GOOD:
            single["certStatus"]["good"] = ""
        elif status == ocsp.OCSPCertStatus.REVOKED:
            assert revocation_time is not None
            revoked = single["certStatus"]["revoked"]
            revoked["revocationTime"] = _generalized_time(revocation_time)
            if revocation_reason is not None:
                # ReasonFlags values are the ASN.1 names of CRLReason ("keyCompromise", …).
                revoked["revocationReason"] = revocation_reason.value
        else:
            single["certStatus"]["unknown"] = ""
        single["thisUpdate"] = _generalized_time(this_update)
        single["nextUpdate"] = _generalized_time(next_update)
        if info is not None and info.archive_cutoff is not None:
            cutoff = useful.GeneralizedTime(_generalized_time(info.archive_cutoff))
            single["singleExtensions"].append(
                _extension(OCSP_ARCHIVE_CUTOFF_OID, der_encoder.encode(cutoff))
            )
        data["responses"].append(single)
    if request.nonce is not None:
        nonce = der_encoder.encode(univ.OctetString(request.nonce))
        data["responseExtensions"].append(_extension(_NONCE_OID, nonce))
    tbs_der = der_encoder.encode(data)

    algorithm = rfc5280.AlgorithmIdentifier()
    if isinstance(signer_key, ec.EllipticCurvePrivateKey):
        signature = signer_key.sign(tbs_der, ec.ECDSA(hashes.SHA256()))
        # RFC 5758 §3.2: ecdsa-with-SHA256 has its parameters absent, not NULL.
        algorithm["algorithm"] = univ.ObjectIdentifier(_ECDSA_WITH_SHA256)
    elif isinstance(signer_key, rsa.RSAPrivateKey):
        signature = signer_key.sign(tbs_der, padding.PKCS1v15(), hashes.SHA256())
        # RFC 4055 §5: sha256WithRSAEncryption has NULL parameters.
        algorithm["algorithm"] = univ.ObjectIdentifier(_SHA256_WITH_RSA_ENCRYPTION)
        algorithm["parameters"] = _DER_NULL
    else:
        raise TypeError(f"cannot sign OCSP responses with a {type(signer_key).__name__}")

    basic = _BasicOcspResponseFromParts()
    basic["tbsResponseData"] = tbs_der
    basic["signatureAlgorithm"] = algorithm
    basic["signature"] = univ.BitString.fromOctetString(signature)
    basic["certs"].append(signer_certificate.public_bytes(serialization.Encoding.DER))
    response = rfc6960.OCSPResponse()
    response["responseStatus"] = "successful"
    response["responseBytes"]["responseType"] = rfc6960.id_pkix_ocsp_basic
    response["responseBytes"]["response"] = der_encoder.encode(basic)
    return der_encoder.encode(response)


def sign_ocsp_response(
    ca: CaMaterial,
    request: OcspRequestInfo,
    statuses: Sequence[CertStatusInfo | None],
    *,
    now: datetime,
    validity: timedelta = OCSP_RESPONSE_VALIDITY,
) -> bytes:
    """A successful, signed BasicOCSPResponse (DER) answering every CertID of ``request``.

    ``statuses[i]`` answers ``request.cert_ids[i]``: ``None`` is ``unknown``; otherwise
    ``good``, or ``revoked`` with the revocation time and reason (``certificateHold`` for a
    suspension; no reason for ``unspecified``, as in the CRL). One SingleResponse per CertID, in
    request order (RFC 6960 §4.2.2.3), each echoing its CertID with the request's own hash
    algorithm (openssl sends SHA-1), thisUpdate ``now``, nextUpdate ``now + validity``, and
    archiveCutoff when the status has ``archive_cutoff``. The nonce is echoed if the request
    had one. Signed with SHA-256 by the delegated OCSP signer if ``ca`` has one, else by the CA;
    the signer's certificate is included and the responder is identified by key hash.

    It does not check that the CertIDs name ``ca`` (:func:`issued_by` does, in
    :func:`ocsp_response`). Raises ``ValueError``/``TypeError`` for statuses that do not match
    the request, a naive time, or a key that cannot sign, and whatever the key raises.
    """
    _require_aware(now=now)
    if validity <= timedelta(0):
        raise ValueError("validity must be positive")
    if len(statuses) != len(request.cert_ids) or not statuses:
        raise ValueError("give one status per CertID of the request")
    signer = _ocsp_signer(ca)
    [first, *others] = statuses
    if not others and (first is None or first.archive_cutoff is None):
        # The common case, through cryptography's builder: several times faster than pyasn1.
        return _sign_with_cryptography(
            signer, request.cert_ids[0], first, request.nonce, now, now + validity
        )
    return _sign_with_pyasn1(signer, request, statuses, now, now + validity)


def ocsp_response(
    ca: CaMaterial,
    request_der: bytes,
    lookup: Callable[[int], CertStatusInfo | None],
    *,
    now: datetime,
) -> bytes:
    """Answer an RFC 6960 OCSP request (DER in, DER out); never raises on client input.

    * the request is refused by :func:`parse_ocsp_request` → its ``malformedRequest`` or
      ``unauthorized``;
    * any CertID names another issuer → ``unauthorized`` for the whole request;
    * ``lookup(serial)`` for each CertID: ``None`` → ``unknown``; otherwise ``good`` or
      ``revoked`` (see :func:`sign_ocsp_response`);
    * ``lookup`` raises, or signing fails (a key that cannot sign…) → logged, ``internalError``.

    The response is :func:`sign_ocsp_response`'s: one SingleResponse per CertID in request
    order, valid for :data:`OCSP_RESPONSE_VALIDITY`, the nonce echoed. Only a naive ``now`` (the
    caller's bug, not the client's) raises ``ValueError``.
    """
    _require_aware(now=now)
    try:
        request = parse_ocsp_request(request_der)
    except OcspRequestError as exc:
        return unsuccessful_ocsp_response(exc.status)

    try:
        ours = all(issued_by(ca, cert_id) for cert_id in request.cert_ids)
    except Exception:
        logger.exception("OCSP: cannot compute the issuing CA's CertID hashes")
        return unsuccessful_ocsp_response(ocsp.OCSPResponseStatus.INTERNAL_ERROR)
    if not ours:
        return unsuccessful_ocsp_response(ocsp.OCSPResponseStatus.UNAUTHORIZED)

    statuses: list[CertStatusInfo | None] = []
    for cert_id in request.cert_ids:
        try:
            statuses.append(lookup(cert_id.serial_number))
        except Exception:
            logger.exception("OCSP lookup failed for serial %X", cert_id.serial_number)
            return unsuccessful_ocsp_response(ocsp.OCSPResponseStatus.INTERNAL_ERROR)

    try:
        return sign_ocsp_response(ca, request, statuses, now=now)
    except Exception:
        logger.exception("OCSP response signing failed")
        return unsuccessful_ocsp_response(ocsp.OCSPResponseStatus.INTERNAL_ERROR)


def ocsp_request_from_get_path(path_segment: str) -> bytes:
    """Decode the RFC 6960 Appendix A.1 GET form: URL-encoded base64 of the DER request.

    Accepts the segment with or without percent-decoding already applied (base64 has no ``%``),
    a leading ``/``, missing padding and the URL-safe alphabet. Raises ``ValueError`` if it is
    not base64; a view then answers ``ocsp_response(ca, b"", …)``, i.e. malformedRequest.
    """
    text = urllib.parse.unquote(path_segment).strip().lstrip("/")
    text = text.replace("-", "+").replace("_", "/").replace(" ", "+")
    text += "=" * (-len(text) % 4)
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError("OCSP GET request is not base64") from exc


# --- description for the detail page --------------------------------------------------------

_ATTRIBUTE_LABELS = {
    NameOID.COUNTRY_NAME: "countryName",
    NameOID.ORGANIZATION_NAME: "organizationName",
    NameOID.ORGANIZATIONAL_UNIT_NAME: "organizationalUnitName",
    NameOID.COMMON_NAME: "commonName",
    NameOID.GIVEN_NAME: "givenName",
    NameOID.SURNAME: "surname",
    NameOID.SERIAL_NUMBER: "serialNumber",
    NameOID.ORGANIZATION_IDENTIFIER: "organizationIdentifier",
    NameOID.LOCALITY_NAME: "localityName",
    NameOID.STATE_OR_PROVINCE_NAME: "stateOrProvinceName",
    NameOID.EMAIL_ADDRESS: "emailAddress",
    NameOID.PSEUDONYM: "pseudonym",
}

_KEY_USAGE_NAMES = (
    ("digital_signature", "digitalSignature"),
    ("content_commitment", "nonRepudiation"),
    ("key_encipherment", "keyEncipherment"),
    ("data_encipherment", "dataEncipherment"),
    ("key_agreement", "keyAgreement"),
    ("key_cert_sign", "keyCertSign"),
    ("crl_sign", "cRLSign"),
)


def _name_pairs(name: x509.Name) -> list[tuple[str, str]]:
    return [
        (_ATTRIBUTE_LABELS.get(attribute.oid, attribute.oid.dotted_string), str(attribute.value))
        for attribute in name
    ]


def describe_der(der: bytes) -> dict[str, Any]:
    """``describe`` of a certificate given as DER, remembered per process (a certificate's DER
    never changes): the detail page parses and decodes its qcStatements once per worker, not on
    every request. A fresh copy each time, so no caller can change the remembered one."""
    return copy.deepcopy(_describe_der(der))


@functools.lru_cache(maxsize=1024)  # ~2 KB each: a few MB per worker at most
def _describe_der(der: bytes) -> dict[str, Any]:
    return describe(x509.load_der_x509_certificate(der))


def describe(cert: x509.Certificate) -> dict[str, Any]:
    """What the certificate detail page shows, as plain Python values.

    Keys: ``subject`` and ``issuer`` (lists of ``(attribute name, value)``), ``serial_number``
    (int), ``serial_hex``, ``not_before``/``not_after`` (aware UTC datetimes), ``key_usage``
    (RFC 5280 names), ``policies`` (dotted OIDs), ``qc_statements`` (e.g. ``"QcCompliance"``,
    ``"QcSSCD"``, ``"QcType: esign"``, ``"QcPDS: https://…"``, ``"QcSemanticsId: natural"``)
    and ``fingerprint_sha256``.
    """
    extensions = cert.extensions
    key_usage: list[str] = []
    try:
        usage = extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        pass
    else:
        key_usage = [label for attr, label in _KEY_USAGE_NAMES if getattr(usage, attr)]
        if usage.key_agreement:
            key_usage += [
                label
                for attr, label in (
                    ("encipher_only", "encipherOnly"),
                    ("decipher_only", "decipherOnly"),
                )
                if getattr(usage, attr)
            ]
    try:
        policies = [
            info.policy_identifier.dotted_string
            for info in extensions.get_extension_for_class(x509.CertificatePolicies).value
        ]
    except x509.ExtensionNotFound:
        policies = []
    try:
        qc_value = extensions.get_extension_for_oid(QC_STATEMENTS_OID).value
    except x509.ExtensionNotFound:
        qc_statements: list[str] = []
    else:
        try:
            qc_statements = _decode_qc_statements(qc_value.value)  # type: ignore[attr-defined]
        except (PyAsn1Error, ValueError):
            # Not one of ours: show that it is there rather than break the page.
            qc_statements = ["qcStatements (undecodable)"]
    return {
        "subject": _name_pairs(cert.subject),
        "issuer": _name_pairs(cert.issuer),
        "serial_number": cert.serial_number,
        "serial_hex": serial_hex(cert.serial_number),
        "not_before": cert.not_valid_before_utc,
        "not_after": cert.not_valid_after_utc,
        "key_usage": key_usage,
        "policies": policies,
        "qc_statements": qc_statements,
        "fingerprint_sha256": fingerprint_sha256(cert),
    }


__all__ = [
    "MAX_CERT_IDS",
    "QCP_N_QSCD",
    "CaConfigurationError",
    "CaMaterial",
    "CaPaths",
    "CertStatusInfo",
    "CrlEntry",
    "OcspCertId",
    "OcspRequestError",
    "OcspRequestInfo",
    "build_arl",
    "build_crl",
    "certificate_to_pem",
    "create_demo_pki",
    "demo_ca_paths",
    "describe",
    "fingerprint_sha256",
    "identity_matches",
    "issue_qualified_certificate",
    "issued_by",
    "load_ca",
    "load_root",
    "natural_person_identity",
    "ocsp_request_from_get_path",
    "ocsp_response",
    "parse_ocsp_request",
    "random_serial",
    "serial_hex",
    "sign_ocsp_response",
    "unsuccessful_ocsp_response",
]
