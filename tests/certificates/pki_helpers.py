"""What the certificates.pki test modules share: the demo CA fixtures, issuing a qualified
certificate, the openssl binary, and pkilint's linters (ETSI, RFC 5280, CRL, OCSP).

Not a test module: import the fixtures by name (``# noqa: F401``) and pytest finds them. They
are module-scoped, so each test module gets its own demo CA. A module may set
``DEMO_PKI_OPTIONS`` (keyword arguments of :func:`certificates.pki.create_demo_pki`, such as
``arl_url``) to have its demo CA made with them.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509 import ocsp
from pkilint import etsi, loader
from pkilint.etsi.etsi_constants import CertificateType
from pkilint.pkix import certificate as pkix_certificate
from pkilint.pkix import create_attribute_decoder, create_extension_decoder, extension, name
from pkilint.pkix import crl as pkix_crl
from pkilint.pkix import ocsp as pkix_ocsp
from pkilint.validation import ValidationFindingSeverity

from certificates import pki

OPENSSL = "/usr/bin/openssl"
HOST = "http://portal.nes-demo.com.tr"
CRL_URL = f"{HOST}/crl/nes-portal-demo.crl"
OCSP_URL = f"{HOST}/ocsp"
CA_ISSUERS_URL = f"{HOST}/ca/issuing.crt"
PDS_URL = "https://portal.nes-demo.com.tr/pds/en.pdf"
POLICY_OID = "2.16.792.1.61.0.1.5070.1.1"  # the BTK's NES policy (Turkish e-signature law 5070)

GOOD, REVOKED, HELD, NEVER_ISSUED = 0x1001, 0x1002, 0x1003, 0x1004

needs_openssl = pytest.mark.skipif(shutil.which(OPENSSL) is None, reason="needs openssl")


# --- fixtures --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def now() -> datetime:
    # openssl checks validity periods against the real clock, so this is "now", passed in.
    return datetime.now(UTC).replace(microsecond=0)


@pytest.fixture(scope="module")
def pki_dir(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, now: datetime
) -> Path:
    """The demo CA's directory, with ``chain.pem`` (issuing CA after root) for openssl."""
    directory = tmp_path_factory.mktemp("pki")
    options = getattr(request.module, "DEMO_PKI_OPTIONS", {})
    pki.create_demo_pki(directory, now=now, **options)
    (directory / "chain.pem").write_bytes(
        (directory / "root.crt").read_bytes() + (directory / "issuing.crt").read_bytes()
    )
    return directory


@pytest.fixture(scope="module")
def ca(pki_dir: Path) -> pki.CaMaterial:
    return pki.load_ca(pki.demo_ca_paths(pki_dir))


@pytest.fixture(scope="module")
def ca_without_signer(pki_dir: Path) -> pki.CaMaterial:
    """The demo CA loaded without its delegated OCSP signer: the CA signs OCSP itself."""
    paths = pki.demo_ca_paths(pki_dir)
    return pki.load_ca(pki.CaPaths(certificate=paths.certificate, key=paths.key, chain=paths.chain))


@pytest.fixture(scope="module")
def statuses(now: datetime) -> dict[int, pki.CertStatusInfo]:
    return {
        GOOD: pki.CertStatusInfo("good"),
        REVOKED: pki.CertStatusInfo(
            "revoked", now - timedelta(hours=1), x509.ReasonFlags.key_compromise
        ),
        HELD: pki.CertStatusInfo(
            "revoked", now - timedelta(hours=2), x509.ReasonFlags.certificate_hold
        ),
    }


# --- issuing, files, openssl -----------------------------------------------------------------


def issue(ca: pki.CaMaterial, now: datetime, serial: int, **overrides: object) -> x509.Certificate:
    """A qualified certificate for AYŞE YILDIRIM (PNOTR-10000000146); ``overrides`` replace
    any argument of :func:`certificates.pki.issue_qualified_certificate`."""
    arguments: dict[str, object] = {
        "public_key": ec.generate_private_key(ec.SECP256R1()).public_key(),
        "serial_number": serial,
        "given_name": "AYŞE",
        "surname": "YILDIRIM",
        "identity": "PNOTR-10000000146",
        "not_before": now - timedelta(days=1),
        "not_after": now + timedelta(days=2 * 365),
        "crl_url": CRL_URL,
        "ocsp_url": OCSP_URL,
        "ca_issuers_url": CA_ISSUERS_URL,
        "policy_oid": POLICY_OID,
        "pds_url": PDS_URL,
    }
    arguments.update(overrides)
    return pki.issue_qualified_certificate(ca, **arguments)  # type: ignore[arg-type]


def write_pem(path: Path, cert: x509.Certificate) -> Path:
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return path


def openssl(*args: str | Path, check: bool = False) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [OPENSSL, *map(str, args)], capture_output=True, text=True, check=check, timeout=30
    )


def verify_signature(response: ocsp.OCSPResponse, signer: x509.Certificate) -> None:
    """Raises unless ``signer``'s key (EC or RSA) made the response's SHA-256 signature."""
    public_key = signer.public_key()
    if isinstance(public_key, ec.EllipticCurvePublicKey):
        public_key.verify(
            response.signature, response.tbs_response_bytes, ec.ECDSA(hashes.SHA256())
        )
    else:
        assert isinstance(public_key, rsa.RSAPublicKey)
        public_key.verify(
            response.signature, response.tbs_response_bytes, padding.PKCS1v15(), hashes.SHA256()
        )


# --- pkilint ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Finding:
    severity: ValidationFindingSeverity
    code: str
    message: str | None

    def __str__(self) -> str:
        return f"{self.severity.name} {self.code}" + (f": {self.message}" if self.message else "")


def findings_of(results: list) -> list[Finding]:  # type: ignore[type-arg]
    """Every finding of pkilint's validation ``results``, unfiltered."""
    return [
        Finding(d.finding.severity, d.finding.code, d.message)
        for result in results
        for d in result.finding_descriptions
    ]


def errors(findings: list[Finding]) -> list[str]:
    return [str(f) for f in findings if f.severity <= ValidationFindingSeverity.ERROR]


def etsi_findings(cert: x509.Certificate, cert_type: CertificateType) -> list[Finding]:
    document = loader.RFC5280CertificateDocumentLoader().load_der_document(
        cert.public_bytes(serialization.Encoding.DER), "qualified certificate"
    )
    assert etsi.determine_certificate_type(document) == cert_type
    validator = pkix_certificate.create_pkix_certificate_validator_container(
        etsi.create_decoding_validators(cert_type), etsi.create_validators(cert_type)
    )
    # Unfiltered: the CLI's default hides findings superseded by stricter ones; we want all.
    return findings_of(validator.validate(document.root))


def rfc5280_findings(cert: x509.Certificate) -> list[Finding]:
    # What pkilint's lint_pkix_cert runs.
    document = loader.RFC5280CertificateDocumentLoader().load_der_document(
        cert.public_bytes(serialization.Encoding.DER), "certificate"
    )
    validator = pkix_certificate.create_pkix_certificate_validator_container(
        pkix_certificate.create_decoding_validators(
            name.ATTRIBUTE_TYPE_MAPPINGS, extension.EXTENSION_MAPPINGS
        ),
        [
            pkix_certificate.create_issuer_validator_container([]),
            pkix_certificate.create_validity_validator_container(),
            pkix_certificate.create_subject_validator_container([]),
            pkix_certificate.create_extensions_validator_container([]),
            pkix_certificate.create_spki_validator_container([]),
        ],
    )
    return findings_of(validator.validate(document.root))


def crl_findings(crl: x509.CertificateRevocationList) -> list[Finding]:
    document = loader.RFC5280CertificateListDocumentLoader().load_der_document(
        crl.public_bytes(serialization.Encoding.DER), "crl"
    )
    validator = pkix_crl.create_pkix_crl_validator_container(
        [
            create_attribute_decoder(name.ATTRIBUTE_TYPE_MAPPINGS),
            create_extension_decoder(extension.EXTENSION_MAPPINGS),
        ],
        [
            pkix_crl.create_issuer_validator_container([]),
            pkix_crl.create_validity_validator_container([]),
            pkix_crl.create_extensions_validator_container([]),
        ],
    )
    return findings_of(validator.validate(document.root))


def ocsp_findings(der: bytes) -> list[Finding]:
    validator = pkix_ocsp.create_pkix_ocsp_response_validator_container(
        [
            pkix_ocsp.create_response_decoder(),
            create_attribute_decoder(name.ATTRIBUTE_TYPE_MAPPINGS),
            create_extension_decoder(extension.EXTENSION_MAPPINGS),
        ],
        [],
    )
    document = loader.RFC6960OCSPResponseDocumentLoader().load_der_document(der, "ocsp")
    return findings_of(validator.validate(document.root))
