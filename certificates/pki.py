"""The portal's certificate authority: pure cryptography, no Django, no database.

Contract
========

* **Keys.** The issuing CA's private key and the OCSP signer's key are loaded from PEM files
  (:func:`load_ca`) and live only in memory and on disk at the paths the operator configured;
  nothing here writes a private key anywhere except :func:`create_demo_pki`, which writes the
  *demo* issuing CA and OCSP keys (mode 0600) and never writes the demo root's key at all. The
  citizen's key pair lives on the AKİS card: :func:`issue_qualified_certificate` takes a public
  key only.
* **Algorithms.** Demo keys are ECDSA P-256; every signature made here uses SHA-256. A production
  issuing CA may also be RSA (≥ 2048 bits); the signing code is the same.
* **Time.** No function reads the clock except :func:`create_demo_pki` (when no ``now`` is
  given). Callers pass timezone-aware datetimes; naive ones are rejected with ``ValueError``
  because a silent "local time or UTC?" guess in a validity period or a revocation time is a bug.
* **Certificate profile.** :func:`issue_qualified_certificate` makes a qualified certificate for a
  natural person, key on a QSCD, per ETSI EN 319 412-2/-5 and RFC 5280 (checked by pkilint in
  ``tests/certificates/test_pki.py``). The caller chooses the serial number (see
  :func:`random_serial`) and is responsible for its uniqueness.
* **Revocation.** :func:`build_crl` signs a full CRL (no deltas). A suspension is a
  ``certificateHold`` entry; lifting it means leaving the serial out of the next CRL. RFC 5280
  §5.3.1 says the reasonCode extension SHOULD be absent rather than ``unspecified``, so an
  ``unspecified`` entry carries no reasonCode (openssl and every relying party read "absent" as
  unspecified); all other entries carry their reason.
* **OCSP.** :func:`ocsp_response` never raises on client input: undecodable requests get
  ``malformedRequest``; requests about another issuer get ``unauthorized`` (RFC 5019 §2.2.3 and
  RFC 6960 §2.3: we are not authoritative for them, and a signed "unknown" would look like we
  were); an exception from the caller's ``lookup`` is logged and answered with
  ``internalError``. Only the first single request of a multi-certificate request is answered,
  because ``cryptography``'s response builder holds one SingleResponse (clients, openssl
  included, send one certificate per request in practice).
* **No global state.** Nothing is cached here; the caller caches :class:`CaMaterial`.
"""

from __future__ import annotations

import base64
import binascii
import logging
import os
import urllib.parse
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
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
from pyasn1.type import char, constraint, namedtype, univ
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

_QC_TYPE_NAMES = {
    QC_TYPE_ESIGN: "esign",
    "0.4.0.1862.1.6.2": "eseal",
    "0.4.0.1862.1.6.3": "web",
}

DEMO_ROOT_VALIDITY = timedelta(days=20 * 365 + 5)
DEMO_ISSUING_VALIDITY = timedelta(days=10 * 365 + 2)
DEMO_OCSP_VALIDITY = timedelta(days=2 * 365)
# The demo CAs start this long before "now", so demo data can hold certificates that were
# issued years ago and have already expired, and still chain to a CA that was valid then.
DEMO_CA_BACKDATE = timedelta(days=3 * 365)
OCSP_RESPONSE_VALIDITY = timedelta(hours=1)
MAX_NONCE_LENGTH = 128  # octets, RFC 9654

_DEMO_FILES = ("root.crt", "issuing.crt", "issuing.key", "ocsp.crt", "ocsp.key")


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
    """

    status: Literal["good", "revoked"]
    revoked_at: datetime | None = None
    reason: x509.ReasonFlags | None = None

    def __post_init__(self) -> None:
        if self.status == "revoked" and self.revoked_at is None:
            raise ValueError("a revoked status needs revoked_at")
        if self.status not in ("good", "revoked"):
            raise ValueError(f"status must be 'good' or 'revoked', not {self.status!r}")


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
        return x509.SubjectKeyIdentifier.from_public_key(cert.public_key())  # type: ignore[arg-type]


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
        else:
            names.append(oid)
    return names


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
    directory: Path, *, name: str = "NES Portal Demo", now: datetime | None = None
) -> None:
    """Write a demo root CA, issuing CA and OCSP signer into ``directory`` unless present.

    Files: ``root.crt``, ``issuing.crt``, ``issuing.key``, ``ocsp.crt``, ``ocsp.key`` (PEM; keys
    unencrypted PKCS#8, mode 0600). The root's private key signs the issuing CA once and is then
    dropped, so the demo root can never sign anything else. Idempotent: if all files exist this
    does nothing; if only some exist it raises :class:`CaConfigurationError` rather than mix
    two CAs.
    """
    if not 0 < len(name) <= 64:
        raise ValueError("name (the CA's organizationName) must have 1 to 64 characters")
    directory = Path(directory)
    paths = [directory / filename for filename in _DEMO_FILES]
    present = [path for path in paths if path.exists()]
    if len(present) == len(paths):
        return
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

    root_name = _ca_name(name, "Kök Sertifika Hizmet Sağlayıcı")
    start = now - DEMO_CA_BACKDATE
    root = (
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
        .sign(root_key, hashes.SHA256())
    )

    issuing_name = _ca_name(name, "Nitelikli Elektronik Sertifika Hizmet Sağlayıcı - Sürüm 1")
    # digitalSignature as well as keyCertSign/cRLSign: without a delegated OCSP signer the
    # issuing CA signs OCSP responses itself (RFC 6960 §4.2.2.2, first option).
    issuing = (
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
        .sign(root_key, hashes.SHA256())
    )
    del root_key

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


def load_ca(paths: CaPaths) -> CaMaterial:
    """Load and cross-check the issuing CA, its chain and the optional OCSP signer.

    Raises :class:`CaConfigurationError` when a file is missing or unreadable, a key does not
    match its certificate, the chain does not link up, the CA certificate may not sign
    certificates and CRLs, or the OCSP signer lacks the OCSPSigning EKU or another CA issued it.
    """
    [certificate, *extra] = _load_certs(paths.certificate)
    private_key = _load_key(paths.key)
    if not _same_key(private_key, certificate):
        raise CaConfigurationError(f"{paths.key} does not belong to {paths.certificate}")
    try:
        constraints = certificate.extensions.get_extension_for_class(x509.BasicConstraints).value
        usage = certificate.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound as exc:
        raise CaConfigurationError(f"{paths.certificate} is not a CA certificate") from exc
    if not (constraints.ca and usage.key_cert_sign and usage.crl_sign):
        raise CaConfigurationError(
            f"{paths.certificate} may not sign certificates and CRLs (basicConstraints/keyUsage)"
        )

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
        ocsp_certificate = _load_certs(paths.ocsp_certificate)[0]
        ocsp_private_key = _load_key(paths.ocsp_key)
        if not _same_key(ocsp_private_key, ocsp_certificate):
            raise CaConfigurationError(
                f"{paths.ocsp_key} does not belong to {paths.ocsp_certificate}"
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

    Profile: ETSI EN 319 412-2 (natural person) and -5 (qcStatements) on top of RFC 5280.
    Subject C=TR, serialNumber=``identity`` (``TCKTR-…``/``PASTR-…``), givenName, surname and
    commonName "``given_name`` ``surname``"; keyUsage nonRepudiation (critical); certificate
    policies ``policy_oid`` and QCP-n-qscd; qcStatements QcCompliance, QcCClegislation TR,
    QcSSCD, QcType esign and QcPDS (``pds_url`` listed as English and as Turkish, so the PDS
    there should be bilingual; pkilint wants it on https); AKI/SKI; CRL
    distribution point; AIA with OCSP and caIssuers. No basicConstraints: RFC 5280 makes it
    optional for end entities and neither pkilint profile asks for it.

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
        .add_extension(
            x509.CRLDistributionPoints(
                [
                    x509.DistributionPoint(
                        full_name=[x509.UniformResourceIdentifier(crl_url)],
                        relative_name=None,
                        reasons=None,
                        crl_issuer=None,
                    )
                ]
            ),
            critical=False,
        )
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


def build_crl(
    ca: CaMaterial,
    *,
    entries: Iterable[CrlEntry],
    crl_number: int,
    this_update: datetime,
    next_update: datetime,
    idp_url: str | None = None,
) -> x509.CertificateRevocationList:
    """Sign a full CRL (v2) with the issuing CA's key.

    Extensions: authorityKeyIdentifier, cRLNumber and, with ``idp_url``, a critical
    issuingDistributionPoint naming that URL (it must equal the certificates' CRL distribution
    point, or strict relying parties reject the CRL). Each entry carries a reasonCode except
    ``unspecified`` (see the module docstring). ``removeFromCRL`` is refused: it only exists for
    delta CRLs; a lifted hold simply leaves the list.
    """
    _require_aware(this_update=this_update, next_update=next_update)
    if next_update <= this_update:
        raise ValueError("next_update must be later than this_update")
    if not 0 <= crl_number < 2**159:
        raise ValueError("crl_number must be a non-negative integer of at most 20 octets")
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(ca.certificate.subject)
        .last_update(this_update)
        .next_update(next_update)
        .add_extension(_aki(ca.certificate), critical=False)
        .add_extension(x509.CRLNumber(crl_number), critical=False)
    )
    if idp_url is not None:
        builder = builder.add_extension(
            x509.IssuingDistributionPoint(
                full_name=[x509.UniformResourceIdentifier(idp_url)],
                relative_name=None,
                only_contains_user_certs=False,
                only_contains_ca_certs=False,
                only_some_reasons=None,
                indirect_crl=False,
                only_contains_attribute_certs=False,
            ),
            critical=True,
        )
    seen: set[int] = set()
    for entry in entries:
        _require_aware(revoked_at=entry.revoked_at)
        if entry.reason == x509.ReasonFlags.remove_from_crl:
            raise ValueError("removeFromCRL belongs in delta CRLs; leave the serial out instead")
        if entry.serial_number in seen:
            raise ValueError(f"serial {entry.serial_number:X} listed twice")
        seen.add(entry.serial_number)
        revoked = (
            x509.RevokedCertificateBuilder()
            .serial_number(entry.serial_number)
            .revocation_date(entry.revoked_at)
        )
        if entry.reason != x509.ReasonFlags.unspecified:
            revoked = revoked.add_extension(x509.CRLReason(entry.reason), critical=False)
        builder = builder.add_revoked_certificate(revoked.build())
    return builder.sign(ca.private_key, hashes.SHA256())


# --- OCSP ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _SingleRequest:
    hash_algorithm: hashes.HashAlgorithm
    issuer_name_hash: bytes
    issuer_key_hash: bytes
    serial_number: int
    nonce: bytes | None


_HASHES_BY_OID: dict[str, type[hashes.HashAlgorithm]] = {
    "1.3.14.3.2.26": hashes.SHA1,
    "2.16.840.1.101.3.4.2.4": hashes.SHA224,
    "2.16.840.1.101.3.4.2.1": hashes.SHA256,
    "2.16.840.1.101.3.4.2.2": hashes.SHA384,
    "2.16.840.1.101.3.4.2.3": hashes.SHA512,
}
_NONCE_OID = "1.3.6.1.5.5.7.48.1.2"


def _parse_with_cryptography(request_der: bytes) -> _SingleRequest:
    request = ocsp.load_der_ocsp_request(request_der)
    try:
        nonce: bytes | None = request.extensions.get_extension_for_class(x509.OCSPNonce).value.nonce
    except x509.ExtensionNotFound:
        nonce = None
    return _SingleRequest(
        hash_algorithm=request.hash_algorithm,
        issuer_name_hash=request.issuer_name_hash,
        issuer_key_hash=request.issuer_key_hash,
        serial_number=request.serial_number,
        nonce=nonce,
    )


def _parse_first_of_many(request_der: bytes) -> _SingleRequest:
    # cryptography only loads requests for exactly one certificate; RFC 6960 allows a list, and
    # answering the first beats refusing the lot (the builder holds a single response anyway).
    request, rest = der_decoder.decode(request_der, asn1Spec=rfc6960.OCSPRequest())
    if rest:
        raise ValueError("trailing data after the OCSP request")
    tbs = request["tbsRequest"]
    if len(tbs["requestList"]) == 0:
        raise ValueError("empty requestList")
    cert_id = tbs["requestList"][0]["reqCert"]
    algorithm = _HASHES_BY_OID.get(str(cert_id["hashAlgorithm"]["algorithm"]))
    if algorithm is None:
        raise UnsupportedAlgorithm("unsupported CertID hash algorithm")
    nonce = None
    if tbs["requestExtensions"].isValue:
        for extension in tbs["requestExtensions"]:
            if str(extension["extnID"]) == _NONCE_OID:
                # RFC 9654: extnValue wraps an OCTET STRING holding the nonce; some old clients
                # put the raw bytes there. Echo what cryptography would: the inner octets.
                value = bytes(extension["extnValue"])
                try:
                    inner, tail = der_decoder.decode(value, asn1Spec=univ.OctetString())
                    nonce = bytes(inner) if not tail else value
                except PyAsn1Error:
                    nonce = value
    return _SingleRequest(
        hash_algorithm=algorithm(),
        issuer_name_hash=bytes(cert_id["issuerNameHash"]),
        issuer_key_hash=bytes(cert_id["issuerKeyHash"]),
        serial_number=int(cert_id["serialNumber"]),
        nonce=nonce,
    )


def _parse_request(request_der: bytes) -> _SingleRequest:
    try:
        return _parse_with_cryptography(request_der)
    except NotImplementedError:
        # cryptography: "OCSP request contains more than one request". Anything cryptography
        # finds undecodable (ValueError) stays malformed: no second, more lenient parser.
        return _parse_first_of_many(request_der)


def _issuer_hashes(cert: x509.Certificate, algorithm: hashes.HashAlgorithm) -> tuple[bytes, bytes]:
    """RFC 6960 §4.1.1 CertID hashes: of the issuer's DN and of its subjectPublicKey bits."""
    spki_der = cert.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    spki, _ = der_decoder.decode(spki_der, asn1Spec=rfc5280.SubjectPublicKeyInfo())
    key_bits = spki["subjectPublicKey"].asOctets()

    def digest(data: bytes) -> bytes:
        h = hashes.Hash(algorithm)
        h.update(data)
        return h.finalize()

    return digest(cert.subject.public_bytes()), digest(key_bits)


def _unsuccessful(status: ocsp.OCSPResponseStatus) -> bytes:
    return ocsp.OCSPResponseBuilder.build_unsuccessful(status).public_bytes(
        serialization.Encoding.DER
    )


def ocsp_response(
    ca: CaMaterial,
    request_der: bytes,
    lookup: Callable[[int], CertStatusInfo | None],
    *,
    now: datetime,
) -> bytes:
    """Answer an RFC 6960 OCSP request (DER in, DER out); never raises on client input.

    * undecodable request, or a nonce of 0 or more than 128 octets → ``malformedRequest``;
    * CertID names another issuer (or a hash algorithm we cannot compute) → ``unauthorized``;
    * ``lookup(serial)`` is ``None`` → ``unknown``; otherwise ``good``, or ``revoked`` with the
      revocation time and reason (``certificateHold`` for a suspension; no reason for
      ``unspecified``, as in the CRL);
    * ``lookup`` raises → logged, ``internalError``.

    thisUpdate is ``now``, nextUpdate ``now + 1 h``; the nonce is echoed when sent. Signed
    (SHA-256) by the delegated OCSP signer or else by the CA; the signer's certificate is included.
    The CertID is echoed with the request's own hash algorithm (openssl sends SHA-1).
    """
    _require_aware(now=now)
    try:
        single = _parse_request(request_der)
    except UnsupportedAlgorithm:
        return _unsuccessful(ocsp.OCSPResponseStatus.UNAUTHORIZED)
    except Exception:
        # Whatever the parsers choke on, it is the client's bytes: malformedRequest, never a 500.
        return _unsuccessful(ocsp.OCSPResponseStatus.MALFORMED_REQUEST)

    if single.nonce is not None and not 1 <= len(single.nonce) <= MAX_NONCE_LENGTH:
        # RFC 9654 §2.1 (which replaced RFC 8954's 32-octet cap): reject, don't echo.
        return _unsuccessful(ocsp.OCSPResponseStatus.MALFORMED_REQUEST)

    name_hash, key_hash = _issuer_hashes(ca.certificate, single.hash_algorithm)
    if (single.issuer_name_hash, single.issuer_key_hash) != (name_hash, key_hash):
        return _unsuccessful(ocsp.OCSPResponseStatus.UNAUTHORIZED)

    try:
        info = lookup(single.serial_number)
    except Exception:
        logger.exception("OCSP lookup failed for serial %X", single.serial_number)
        return _unsuccessful(ocsp.OCSPResponseStatus.INTERNAL_ERROR)

    revocation_time: datetime | None = None
    revocation_reason: x509.ReasonFlags | None = None
    if info is None:
        status = ocsp.OCSPCertStatus.UNKNOWN
    elif info.status == "good":
        status = ocsp.OCSPCertStatus.GOOD
    else:
        status = ocsp.OCSPCertStatus.REVOKED
        revocation_time = info.revoked_at
        if info.reason is not None and info.reason != x509.ReasonFlags.unspecified:
            revocation_reason = info.reason

    builder = ocsp.OCSPResponseBuilder().add_response_by_hash(
        issuer_name_hash=single.issuer_name_hash,
        issuer_key_hash=single.issuer_key_hash,
        serial_number=single.serial_number,
        algorithm=single.hash_algorithm,
        cert_status=status,
        this_update=now,
        next_update=now + OCSP_RESPONSE_VALIDITY,
        revocation_time=revocation_time,
        revocation_reason=revocation_reason,
    )
    if single.nonce is not None:
        builder = builder.add_extension(x509.OCSPNonce(single.nonce), critical=False)
    if ca.ocsp_certificate is not None and ca.ocsp_private_key is not None:
        builder = builder.responder_id(
            ocsp.OCSPResponderEncoding.HASH, ca.ocsp_certificate
        ).certificates([ca.ocsp_certificate])
        signer_key: CaPrivateKey = ca.ocsp_private_key
    else:
        # The CA's certificate goes along too: clients that were not handed it can still
        # find the signer (openssl: "signer certificate not found" otherwise).
        builder = builder.responder_id(
            ocsp.OCSPResponderEncoding.HASH, ca.certificate
        ).certificates([ca.certificate])
        signer_key = ca.private_key
    response = builder.sign(signer_key, hashes.SHA256())
    return response.public_bytes(serialization.Encoding.DER)


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


def describe(cert: x509.Certificate) -> dict[str, Any]:
    """What the certificate detail page shows, as plain Python values.

    Keys: ``subject`` and ``issuer`` (lists of ``(attribute name, value)``), ``serial_number``
    (int), ``serial_hex``, ``not_before``/``not_after`` (aware UTC datetimes), ``key_usage``
    (RFC 5280 names), ``policies`` (dotted OIDs), ``qc_statements`` (e.g. ``"QcCompliance"``,
    ``"QcSSCD"``, ``"QcType: esign"``, ``"QcPDS: https://…"``) and ``fingerprint_sha256``.
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
    "QCP_N_QSCD",
    "CaConfigurationError",
    "CaMaterial",
    "CaPaths",
    "CertStatusInfo",
    "CrlEntry",
    "build_crl",
    "certificate_to_pem",
    "create_demo_pki",
    "demo_ca_paths",
    "describe",
    "fingerprint_sha256",
    "issue_qualified_certificate",
    "load_ca",
    "ocsp_request_from_get_path",
    "ocsp_response",
    "random_serial",
    "serial_hex",
]
