"""certificates.pki: the demo CA, the qualified-certificate profile, CRLs and OCSP.

Profiles are checked by pkilint (ETSI EN 319 412 and RFC 5280 linters), signatures and revocation
by the real openssl binary, offline: ``openssl verify -crl_check`` and ``openssl ocsp -respin``.
"""

# Test parameters named like the fixtures imported from pki_helpers are how pytest injects them.
# ruff: noqa: F811

from __future__ import annotations

import base64
import os
import stat
import subprocess
import urllib.parse
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509 import ocsp
from cryptography.x509.oid import (
    AuthorityInformationAccessOID,
    ExtendedKeyUsageOID,
    ExtensionOID,
    NameOID,
)
from django.core.management import call_command
from pkilint.bin import lint_pkix_signer_signee_cert_chain
from pkilint.etsi.etsi_constants import CertificateType
from pkilint.validation import ValidationFindingSeverity
from pyasn1.codec.der import decoder as der_decoder
from pyasn1_alt_modules import rfc3739

from certificates import pki
from tests.certificates.pki_helpers import (  # noqa: F401 (fixtures)
    CA_ISSUERS_URL,
    CRL_URL,
    GOOD,
    HELD,
    NEVER_ISSUED,
    OCSP_URL,
    PDS_URL,
    POLICY_OID,
    REVOKED,
    ca,
    ca_without_signer,
    crl_findings,
    errors,
    etsi_findings,
    issue,
    now,
    ocsp_findings,
    openssl,
    pki_dir,
    rfc5280_findings,
    statuses,
    verify_signature,
    write_pem,
)

# --- fixtures --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def certs(ca: pki.CaMaterial, now: datetime) -> dict[int, x509.Certificate]:
    return {serial: issue(ca, now, serial) for serial in (GOOD, REVOKED, HELD, NEVER_ISSUED)}


@pytest.fixture(scope="module")
def cert(certs: dict[int, x509.Certificate]) -> x509.Certificate:
    return certs[GOOD]


# --- demo CA ---------------------------------------------------------------------------------


def test_it_writes_the_demo_ca_files_with_private_keys_0600(pki_dir: Path) -> None:
    for filename in ("root.crt", "issuing.crt", "ocsp.crt"):
        assert b"BEGIN CERTIFICATE" in (pki_dir / filename).read_bytes()
    for filename in ("root.key", "issuing.key", "ocsp.key"):
        assert b"BEGIN PRIVATE KEY" in (pki_dir / filename).read_bytes()  # PKCS#8
        assert stat.S_IMODE(os.stat(pki_dir / filename).st_mode) == 0o600
    # The (demo-only, offline) root key is kept for the ARL; no other key anywhere.
    keys = [p.name for p in pki_dir.iterdir() if b"PRIVATE KEY" in p.read_bytes()]
    assert sorted(keys) == ["issuing.key", "ocsp.key", "root.key"]
    root = pki.load_root(pki_dir / "root.crt", pki_dir / "root.key")
    assert root.certificate.subject == root.certificate.issuer


def test_it_builds_a_root_issuing_ocsp_hierarchy(ca: pki.CaMaterial, now: datetime) -> None:
    issuing, root = ca.chain
    assert issuing == ca.certificate
    assert root.subject == root.issuer
    root.verify_directly_issued_by(root)
    issuing.verify_directly_issued_by(root)
    assert isinstance(ca.private_key, ec.EllipticCurvePrivateKey)
    assert ca.private_key.curve.name == "secp256r1"

    def attr(cert: x509.Certificate, oid: x509.ObjectIdentifier) -> str:
        return str(cert.subject.get_attributes_for_oid(oid)[0].value)

    assert attr(root, NameOID.COUNTRY_NAME) == "TR"
    assert attr(root, NameOID.ORGANIZATION_NAME) == "NES Portal Demo"
    assert attr(root, NameOID.COMMON_NAME) == "NES Portal Demo Kök Sertifika Hizmet Sağlayıcı"
    assert attr(issuing, NameOID.COMMON_NAME) == (
        "Nitelikli Elektronik Sertifika Hizmet Sağlayıcı - Sürüm 1"
    )

    def years(cert: x509.Certificate) -> float:
        return (cert.not_valid_after_utc - cert.not_valid_before_utc).days / 365.25

    assert round(years(root)) == 20
    assert round(years(issuing)) == 12
    assert ca.ocsp_certificate is not None
    assert round(years(ca.ocsp_certificate)) == 2
    # Backdated, so that demo certificates that expired years ago (the oldest demo one: from
    # now - 3 years - 61 days) still start after their issuer; and still 5 years ahead.
    assert issuing.not_valid_before_utc <= now - timedelta(days=3 * 365 + 61)
    assert root.not_valid_before_utc <= issuing.not_valid_before_utc
    for cert in (root, issuing):
        assert cert.not_valid_after_utc >= now + timedelta(days=5 * 365 + 1)

    constraints = issuing.extensions.get_extension_for_class(x509.BasicConstraints)
    assert constraints.critical
    assert (constraints.value.ca, constraints.value.path_length) == (True, 0)
    usage = issuing.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.key_cert_sign and usage.crl_sign and usage.digital_signature


def test_it_makes_a_delegated_ocsp_signer(ca: pki.CaMaterial) -> None:
    signer = ca.ocsp_certificate
    assert signer is not None
    signer.verify_directly_issued_by(ca.certificate)
    eku = signer.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(eku) == [ExtendedKeyUsageOID.OCSP_SIGNING]
    assert signer.extensions.get_extension_for_oid(ExtensionOID.OCSP_NO_CHECK)
    assert signer.extensions.get_extension_for_class(x509.KeyUsage).value.digital_signature


def test_it_is_idempotent(pki_dir: Path) -> None:
    before = {p.name: p.read_bytes() for p in pki_dir.iterdir()}
    pki.create_demo_pki(pki_dir)
    assert {p.name: p.read_bytes() for p in pki_dir.iterdir()} == before


def test_it_refuses_a_partial_demo_ca(tmp_path: Path) -> None:
    pki.create_demo_pki(tmp_path)
    (tmp_path / "ocsp.key").unlink()
    with pytest.raises(pki.CaConfigurationError, match="ocsp.key|part of a demo CA"):
        pki.create_demo_pki(tmp_path)


def test_it_refuses_an_old_demo_directory_without_the_root_key(tmp_path: Path) -> None:
    # Written before the root's key was kept: five files, no root.key. Mixing in a new root
    # would orphan the issuing CA, so the user is told to start over.
    pki.create_demo_pki(tmp_path)
    (tmp_path / "root.key").unlink()
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    with pytest.raises(pki.CaConfigurationError, match="old format.*delete the directory"):
        pki.create_demo_pki(tmp_path)
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before  # nothing touched


def test_the_command_creates_and_lists_the_files(tmp_path: Path) -> None:
    from io import StringIO

    out = StringIO()
    call_command("create_demo_ca", "--dir", str(tmp_path / "pki"), stdout=out)
    assert "Demo CA created" in out.getvalue()
    for filename in ("root.crt", "issuing.crt", "issuing.key", "ocsp.crt", "ocsp.key"):
        assert str(tmp_path / "pki" / filename) in out.getvalue()
    out = StringIO()
    call_command("create_demo_ca", "--dir", str(tmp_path / "pki"), stdout=out)
    assert "already present" in out.getvalue()


# --- loading ---------------------------------------------------------------------------------


def test_load_ca_rejects_a_key_that_does_not_match(pki_dir: Path) -> None:
    paths = pki.demo_ca_paths(pki_dir)
    with pytest.raises(pki.CaConfigurationError, match="does not belong"):
        pki.load_ca(pki.CaPaths(certificate=paths.certificate, key=pki_dir / "ocsp.key"))


def test_load_ca_rejects_a_chain_that_does_not_link(pki_dir: Path, tmp_path: Path) -> None:
    pki.create_demo_pki(tmp_path)
    paths = pki.demo_ca_paths(pki_dir)
    with pytest.raises(pki.CaConfigurationError, match="is not signed by"):
        pki.load_ca(
            pki.CaPaths(certificate=paths.certificate, key=paths.key, chain=[tmp_path / "root.crt"])
        )


def test_load_ca_rejects_a_signer_without_the_ocsp_eku(pki_dir: Path) -> None:
    paths = pki.demo_ca_paths(pki_dir)
    with pytest.raises(pki.CaConfigurationError):
        pki.load_ca(
            pki.CaPaths(
                certificate=paths.certificate,
                key=paths.key,
                chain=paths.chain,
                ocsp_certificate=paths.certificate,
                ocsp_key=paths.key,
            )
        )


def test_load_ca_names_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(pki.CaConfigurationError, match="cannot read"):
        pki.load_ca(pki.CaPaths(certificate=tmp_path / "nope.crt", key=tmp_path / "nope.key"))


# --- the qualified certificate profile -------------------------------------------------------


def test_the_certificate_has_the_natural_person_subject(cert: x509.Certificate) -> None:
    assert [(a.oid, a.value) for a in cert.subject] == [
        (NameOID.COUNTRY_NAME, "TR"),
        (NameOID.SERIAL_NUMBER, "PNOTR-10000000146"),
        (NameOID.GIVEN_NAME, "AYŞE"),
        (NameOID.SURNAME, "YILDIRIM"),
        (NameOID.COMMON_NAME, "AYŞE YILDIRIM"),
    ]
    assert cert.serial_number == GOOD
    assert cert.version == x509.Version.v3
    assert isinstance(cert.signature_hash_algorithm, hashes.SHA256)


def test_the_certificate_has_every_extension_of_the_profile(
    ca: pki.CaMaterial, cert: x509.Certificate
) -> None:
    ext = cert.extensions
    assert {e.oid.dotted_string for e in ext} == {
        ExtensionOID.AUTHORITY_KEY_IDENTIFIER.dotted_string,
        ExtensionOID.SUBJECT_KEY_IDENTIFIER.dotted_string,
        ExtensionOID.KEY_USAGE.dotted_string,
        ExtensionOID.CERTIFICATE_POLICIES.dotted_string,
        ExtensionOID.CRL_DISTRIBUTION_POINTS.dotted_string,
        ExtensionOID.AUTHORITY_INFORMATION_ACCESS.dotted_string,
        "1.3.6.1.5.5.7.1.3",  # qcStatements
    }
    assert [e.oid for e in ext if e.critical] == [ExtensionOID.KEY_USAGE]

    usage = ext.get_extension_for_class(x509.KeyUsage).value
    assert usage.content_commitment
    assert not (
        usage.digital_signature
        or usage.key_encipherment
        or usage.data_encipherment
        or usage.key_agreement
        or usage.key_cert_sign
        or usage.crl_sign
    )

    ca_ski = ca.certificate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    aki = ext.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    assert aki.key_identifier == ca_ski.digest
    ski = ext.get_extension_for_class(x509.SubjectKeyIdentifier).value
    assert ski == x509.SubjectKeyIdentifier.from_public_key(cert.public_key())  # type: ignore[arg-type]

    policies = ext.get_extension_for_class(x509.CertificatePolicies).value
    assert [p.policy_identifier.dotted_string for p in policies] == [POLICY_OID, pki.QCP_N_QSCD]

    [point] = ext.get_extension_for_class(x509.CRLDistributionPoints).value
    assert point.full_name == [x509.UniformResourceIdentifier(CRL_URL)]

    aia = ext.get_extension_for_class(x509.AuthorityInformationAccess).value
    assert [(d.access_method, d.access_location.value) for d in aia] == [
        (AuthorityInformationAccessOID.OCSP, OCSP_URL),
        (AuthorityInformationAccessOID.CA_ISSUERS, CA_ISSUERS_URL),
    ]


def test_the_qc_statements_decode_as_rfc3739(cert: x509.Certificate, tmp_path: Path) -> None:
    raw = cert.extensions.get_extension_for_oid(pki.QC_STATEMENTS_OID).value.value  # type: ignore[attr-defined]
    statements, rest = der_decoder.decode(raw, asn1Spec=rfc3739.QCStatements())
    assert rest == b""
    assert [str(s["statementId"]) for s in statements] == [
        "0.4.0.1862.1.1",  # QcCompliance
        "0.4.0.1862.1.7",  # QcCClegislation
        "0.4.0.1862.1.4",  # QcSSCD
        "0.4.0.1862.1.6",  # QcType
        "0.4.0.1862.1.5",  # QcPDS
        "1.3.6.1.5.5.7.11.2",  # id-qcs-pkixQCSyntax-v2 (semanticsId-Natural)
    ]
    semantics, rest = der_decoder.decode(
        statements[-1]["statementInfo"], asn1Spec=rfc3739.SemanticsInformation()
    )
    assert rest == b""
    assert str(semantics["semanticsIdentifier"]) == "0.4.0.194121.1.1"
    assert not semantics["nameRegistrationAuthorities"].isValue
    assert pki.describe(cert)["qc_statements"] == [
        "QcCompliance",
        "QcCClegislation: TR",
        "QcSSCD",
        "QcType: esign",
        f"QcPDS: {PDS_URL}",
        "QcSemanticsId: natural",
    ]
    # openssl parses the statements too (it prints them as an opaque blob, but must not choke).
    text = openssl("x509", "-in", write_pem(tmp_path / "c.pem", cert), "-noout", "-text")
    assert text.returncode == 0
    assert "qcStatements" in text.stdout


def test_the_eidas_form_leaves_out_qc_cc_legislation(ca: pki.CaMaterial, now: datetime) -> None:
    cert = issue(ca, now, 0x2001, legislation_countries=())
    assert "QcCClegislation: TR" not in pki.describe(cert)["qc_statements"]
    assert "QcCompliance" in pki.describe(cert)["qc_statements"]


def test_it_accepts_an_rsa_card_key(ca: pki.CaMaterial, now: datetime) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    cert = issue(ca, now, 0x2002, public_key=key.public_key())
    cert.verify_directly_issued_by(ca.certificate)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"serial_number": 0}, "positive"),
        ({"serial_number": 2**160}, "20 octets"),
        ({"not_before": datetime(2026, 1, 1)}, "timezone-aware"),  # noqa: DTZ001
        ({"not_after": datetime(2099, 1, 1, tzinfo=UTC)}, "outlive"),
        ({"not_before": datetime(2000, 1, 1, tzinfo=UTC)}, "start before the issuing CA"),
        ({"identity": "TCKTR-10000000146"}, "natural_person_identity"),  # legacy form
        ({"identity": "PNOTR 10000000146"}, "natural_person_identity"),
        ({"surname": " "}, "surname"),
        (
            {"public_key": rsa.generate_private_key(65537, 1024).public_key()},  # noqa: S505
            "2048",
        ),
    ],
)
def test_it_refuses_bad_input(
    ca: pki.CaMaterial, now: datetime, overrides: dict[str, object], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        issue(ca, now, 0x3000, **overrides)


def test_describe_gives_the_detail_page_values(ca: pki.CaMaterial, cert: x509.Certificate) -> None:
    info = pki.describe(cert)
    assert info["subject"] == [
        ("countryName", "TR"),
        ("serialNumber", "PNOTR-10000000146"),
        ("givenName", "AYŞE"),
        ("surname", "YILDIRIM"),
        ("commonName", "AYŞE YILDIRIM"),
    ]
    assert ("organizationName", "NES Portal Demo") in info["issuer"]
    assert info["serial_number"] == GOOD
    assert info["serial_hex"] == "1001"
    assert info["not_before"] == cert.not_valid_before_utc
    assert info["not_after"] == cert.not_valid_after_utc
    assert info["key_usage"] == ["nonRepudiation"]
    assert info["policies"] == [POLICY_OID, "0.4.0.194112.1.2"]
    assert info["fingerprint_sha256"] == pki.fingerprint_sha256(cert)


def test_fingerprint_and_pem_match_openssl(cert: x509.Certificate, tmp_path: Path) -> None:
    pem = pki.certificate_to_pem(cert)
    assert pem.startswith("-----BEGIN CERTIFICATE-----\n")
    (tmp_path / "cert.pem").write_text(pem)
    result = openssl("x509", "-in", tmp_path / "cert.pem", "-noout", "-fingerprint", "-sha256")
    assert result.stdout.strip() == f"sha256 Fingerprint={pki.fingerprint_sha256(cert)}"


def test_serials_are_random_positive_and_at_most_20_octets() -> None:
    serials = {pki.random_serial() for _ in range(50)}
    assert len(serials) == 50
    assert all(0 < s < 2**159 for s in serials)
    assert pki.serial_hex(0xABC) == "0ABC"


# --- pkilint ---------------------------------------------------------------------------------


def test_pkilint_etsi_qcp_n_qscd_non_eu_has_no_errors(cert: x509.Certificate) -> None:
    findings = etsi_findings(cert, CertificateType.QCP_N_QSCD_NON_EIDAS_FINAL_CERTIFICATE)
    assert errors(findings) == []
    # What remains is informational: "SKI generated with RFC 5280 method 1" (SHA-1 of the key).
    assert {f.severity for f in findings} <= {ValidationFindingSeverity.INFO}


def test_pkilint_etsi_qcp_n_qscd_eidas_form_has_no_errors(
    ca: pki.CaMaterial, now: datetime
) -> None:
    cert = issue(ca, now, 0x2003, legislation_countries=())
    findings = etsi_findings(cert, CertificateType.QCP_N_QSCD_EIDAS_FINAL_CERTIFICATE)
    assert errors(findings) == []
    assert {f.severity for f in findings} <= {ValidationFindingSeverity.INFO}


def test_pkilint_etsi_accepts_a_passport_identity_and_an_rsa_key(
    ca: pki.CaMaterial, now: datetime
) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=3072)
    cert = issue(ca, now, 0x2004, identity="PASTR-U1234567", public_key=key.public_key())
    findings = etsi_findings(cert, CertificateType.QCP_N_QSCD_NON_EIDAS_FINAL_CERTIFICATE)
    assert errors(findings) == []


def test_pkilint_flags_internal_host_names(ca: pki.CaMaterial, now: datetime) -> None:
    # A reminder for the demo data: ETSI certificates must not point at localhost-style names.
    cert = issue(ca, now, 0x2005, crl_url="http://localhost/crl/demo.crl")
    findings = etsi_findings(cert, CertificateType.QCP_N_QSCD_NON_EIDAS_FINAL_CERTIFICATE)
    assert 'ERROR etsi.internal_domain_name: Internal domain name: "localhost"' in errors(findings)


def test_pkilint_rfc5280_has_no_errors_on_any_certificate(
    ca: pki.CaMaterial, cert: x509.Certificate
) -> None:
    assert ca.ocsp_certificate is not None
    for each in (cert, *ca.chain, ca.ocsp_certificate):
        findings = rfc5280_findings(each)
        assert errors(findings) == [], each.subject.rfc4514_string()
        assert {f.severity for f in findings} <= {ValidationFindingSeverity.INFO}


def test_pkilint_issuer_subject_chain_is_consistent(
    ca: pki.CaMaterial, cert: x509.Certificate, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert ca.ocsp_certificate is not None
    issuer, root = ca.chain
    for parent, child in ((root, issuer), (issuer, cert), (issuer, ca.ocsp_certificate)):
        parent_path = write_pem(tmp_path / "issuer.pem", parent)
        child_path = write_pem(tmp_path / "subject.pem", child)
        code = lint_pkix_signer_signee_cert_chain.main(
            ["lint", "-s", "WARNING", str(parent_path), str(child_path)]
        )
        assert code == 0, capsys.readouterr().out


# --- CRL -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def crl(
    ca: pki.CaMaterial, now: datetime, statuses: dict[int, pki.CertStatusInfo]
) -> x509.CertificateRevocationList:
    entries = [
        pki.CrlEntry(serial, info.revoked_at, info.reason)  # type: ignore[arg-type]
        for serial, info in statuses.items()
        if info.status == "revoked"
    ]
    return pki.build_crl(
        ca,
        entries=entries,
        crl_number=7,
        this_update=now,
        next_update=now + timedelta(hours=24),
        idp_url=CRL_URL,
    )


def test_the_crl_is_signed_by_the_issuing_ca(
    ca: pki.CaMaterial, crl: x509.CertificateRevocationList, now: datetime
) -> None:
    assert crl.is_signature_valid(ca.certificate.public_key())  # type: ignore[arg-type]
    assert crl.issuer == ca.certificate.subject
    assert crl.last_update_utc == now
    assert crl.next_update_utc == now + timedelta(hours=24)
    assert crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number == 7
    aki = crl.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    ski = ca.certificate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    assert aki.key_identifier == ski.digest
    idp = crl.extensions.get_extension_for_class(x509.IssuingDistributionPoint)
    assert idp.critical
    assert idp.value.full_name == [x509.UniformResourceIdentifier(CRL_URL)]

    reasons = {
        entry.serial_number: entry.extensions.get_extension_for_class(x509.CRLReason).value.reason
        for entry in crl
    }
    assert reasons == {
        REVOKED: x509.ReasonFlags.key_compromise,
        HELD: x509.ReasonFlags.certificate_hold,
    }


def test_openssl_reads_the_crl_reasons_and_number(
    crl: x509.CertificateRevocationList, tmp_path: Path
) -> None:
    (tmp_path / "crl.der").write_bytes(crl.public_bytes(serialization.Encoding.DER))
    text = openssl("crl", "-inform", "DER", "-in", tmp_path / "crl.der", "-noout", "-text").stdout
    assert "X509v3 CRL Number: \n                7\n" in text
    assert "Key Compromise" in text
    assert "Certificate Hold" in text
    assert f"Serial Number: {REVOKED:04X}" in text
    assert f"Serial Number: {HELD:04X}" in text


def test_pkilint_crl_has_no_errors(crl: x509.CertificateRevocationList) -> None:
    findings = crl_findings(crl)
    assert errors(findings) == []
    assert [f for f in findings if f.severity <= ValidationFindingSeverity.WARNING] == []


def test_unspecified_gets_no_reason_code_and_remove_from_crl_is_refused(
    ca: pki.CaMaterial, now: datetime
) -> None:
    crl = pki.build_crl(
        ca,
        entries=[pki.CrlEntry(0x42, now, x509.ReasonFlags.unspecified)],
        crl_number=8,
        this_update=now,
        next_update=now + timedelta(hours=24),
    )
    [entry] = list(crl)
    assert len(entry.extensions) == 0  # RFC 5280 §5.3.1: absent rather than unspecified
    with pytest.raises(ValueError, match="delta"):
        pki.build_crl(
            ca,
            entries=[pki.CrlEntry(0x42, now, x509.ReasonFlags.remove_from_crl)],
            crl_number=9,
            this_update=now,
            next_update=now + timedelta(hours=24),
        )


@pytest.mark.parametrize(
    ("serial", "verdict"),
    [(GOOD, "OK"), (REVOKED, "certificate revoked"), (HELD, "certificate revoked")],
)
def test_openssl_verify_with_the_crl(
    pki_dir: Path,
    certs: dict[int, x509.Certificate],
    crl: x509.CertificateRevocationList,
    tmp_path: Path,
    serial: int,
    verdict: str,
) -> None:
    (tmp_path / "crl.pem").write_bytes(crl.public_bytes(serialization.Encoding.PEM))
    cert_path = write_pem(tmp_path / "cert.pem", certs[serial])
    result = openssl(
        "verify",
        "-CAfile",
        pki_dir / "chain.pem",
        "-crl_check",
        "-CRLfile",
        tmp_path / "crl.pem",
        cert_path,
    )
    assert verdict in result.stdout + result.stderr
    assert (result.returncode == 0) is (verdict == "OK")


# --- OCSP ------------------------------------------------------------------------------------


def _request(
    ca: pki.CaMaterial,
    cert: x509.Certificate,
    *,
    nonce: bytes | None = None,
    algorithm: hashes.HashAlgorithm | None = None,
) -> bytes:
    builder = ocsp.OCSPRequestBuilder().add_certificate(
        cert,
        ca.certificate,
        algorithm or hashes.SHA1(),  # noqa: S303 (openssl's CertID default)
    )
    if nonce is not None:
        builder = builder.add_extension(x509.OCSPNonce(nonce), critical=False)
    return builder.build().public_bytes(serialization.Encoding.DER)


@pytest.fixture
def respond(
    ca: pki.CaMaterial, statuses: dict[int, pki.CertStatusInfo], now: datetime
) -> Callable[[bytes], ocsp.OCSPResponse]:
    def respond(request_der: bytes) -> ocsp.OCSPResponse:
        return ocsp.load_der_ocsp_response(
            pki.ocsp_response(ca, request_der, statuses.get, now=now)
        )

    return respond


def test_ocsp_good(
    respond: Callable[[bytes], ocsp.OCSPResponse],
    ca: pki.CaMaterial,
    certs: dict[int, x509.Certificate],
    now: datetime,
) -> None:
    response = respond(_request(ca, certs[GOOD]))
    assert response.response_status == ocsp.OCSPResponseStatus.SUCCESSFUL
    assert response.certificate_status == ocsp.OCSPCertStatus.GOOD
    assert response.serial_number == GOOD
    assert response.this_update_utc == now
    assert response.next_update_utc == now + timedelta(hours=1)
    assert isinstance(response.hash_algorithm, hashes.SHA1)  # echoes the request's CertID
    assert isinstance(response.signature_hash_algorithm, hashes.SHA256)
    assert response.certificates == [ca.ocsp_certificate]
    assert ca.ocsp_certificate is not None
    verify_signature(response, ca.ocsp_certificate)


def test_ocsp_revoked_has_time_and_reason(
    respond: Callable[[bytes], ocsp.OCSPResponse],
    ca: pki.CaMaterial,
    certs: dict[int, x509.Certificate],
    now: datetime,
) -> None:
    response = respond(_request(ca, certs[REVOKED]))
    assert response.certificate_status == ocsp.OCSPCertStatus.REVOKED
    assert response.revocation_time_utc == now - timedelta(hours=1)
    assert response.revocation_reason == x509.ReasonFlags.key_compromise


def test_ocsp_hold_is_revoked_with_certificate_hold(
    respond: Callable[[bytes], ocsp.OCSPResponse],
    ca: pki.CaMaterial,
    certs: dict[int, x509.Certificate],
    now: datetime,
) -> None:
    response = respond(_request(ca, certs[HELD]))
    assert response.certificate_status == ocsp.OCSPCertStatus.REVOKED
    assert response.revocation_time_utc == now - timedelta(hours=2)
    assert response.revocation_reason == x509.ReasonFlags.certificate_hold


def test_ocsp_unknown_for_a_serial_we_never_issued(
    respond: Callable[[bytes], ocsp.OCSPResponse],
    ca: pki.CaMaterial,
    certs: dict[int, x509.Certificate],
) -> None:
    response = respond(_request(ca, certs[NEVER_ISSUED]))
    assert response.response_status == ocsp.OCSPResponseStatus.SUCCESSFUL
    assert response.certificate_status == ocsp.OCSPCertStatus.UNKNOWN


@pytest.mark.parametrize(
    "garbage",
    [b"", b"not an OCSP request", b"\x30\x03\x02\x01\x01", b"\x30\x80" + b"\x00" * 40],
)
def test_ocsp_malformed_request(
    respond: Callable[[bytes], ocsp.OCSPResponse], garbage: bytes
) -> None:
    response = respond(garbage)
    assert response.response_status == ocsp.OCSPResponseStatus.MALFORMED_REQUEST


def test_ocsp_truncated_request_is_malformed(
    respond: Callable[[bytes], ocsp.OCSPResponse],
    ca: pki.CaMaterial,
    certs: dict[int, x509.Certificate],
) -> None:
    request = _request(ca, certs[GOOD])
    assert respond(request[:-3]).response_status == ocsp.OCSPResponseStatus.MALFORMED_REQUEST


def test_ocsp_echoes_the_nonce(
    respond: Callable[[bytes], ocsp.OCSPResponse],
    ca: pki.CaMaterial,
    certs: dict[int, x509.Certificate],
) -> None:
    nonce = os.urandom(16)
    response = respond(_request(ca, certs[GOOD], nonce=nonce))
    assert response.extensions.get_extension_for_class(x509.OCSPNonce).value.nonce == nonce
    without = respond(_request(ca, certs[GOOD]))
    assert len(without.extensions) == 0


@pytest.mark.parametrize(
    ("length", "echoed"), [(0, False), (1, True), (32, True), (128, True), (129, False)]
)
def test_ocsp_nonce_lengths_follow_rfc_9654(
    respond: Callable[[bytes], ocsp.OCSPResponse],
    ca: pki.CaMaterial,
    certs: dict[int, x509.Certificate],
    length: int,
    echoed: bool,
) -> None:
    nonce = os.urandom(length)
    response = respond(_request(ca, certs[GOOD], nonce=nonce))
    if echoed:
        assert response.extensions.get_extension_for_class(x509.OCSPNonce).value.nonce == nonce
    else:
        assert response.response_status == ocsp.OCSPResponseStatus.MALFORMED_REQUEST


def test_ocsp_answers_sha256_cert_ids(
    respond: Callable[[bytes], ocsp.OCSPResponse],
    ca: pki.CaMaterial,
    certs: dict[int, x509.Certificate],
) -> None:
    response = respond(_request(ca, certs[REVOKED], algorithm=hashes.SHA256()))
    assert response.certificate_status == ocsp.OCSPCertStatus.REVOKED
    assert isinstance(response.hash_algorithm, hashes.SHA256)


def test_ocsp_another_issuer_is_unauthorized(
    respond: Callable[[bytes], ocsp.OCSPResponse], tmp_path: Path, now: datetime
) -> None:
    pki.create_demo_pki(tmp_path, name="Başka CA", now=now)
    other = pki.load_ca(pki.demo_ca_paths(tmp_path))
    foreign = issue(other, now, GOOD)  # same serial, different issuer
    response = respond(_request(other, foreign))
    assert response.response_status == ocsp.OCSPResponseStatus.UNAUTHORIZED


def test_ocsp_answers_every_cert_id_of_an_openssl_request(
    respond: Callable[[bytes], ocsp.OCSPResponse],
    pki_dir: Path,
    certs: dict[int, x509.Certificate],
    tmp_path: Path,
) -> None:
    request = tmp_path / "req.der"
    openssl(
        "ocsp",
        "-issuer",
        pki_dir / "issuing.crt",
        "-cert",
        write_pem(tmp_path / "revoked.pem", certs[REVOKED]),
        "-cert",
        write_pem(tmp_path / "good.pem", certs[GOOD]),
        "-reqout",
        request,
        check=True,
    )
    with pytest.raises(NotImplementedError):  # why pki falls back to pyasn1 for these
        ocsp.load_der_ocsp_request(request.read_bytes())
    response = respond(request.read_bytes())
    assert response.response_status == ocsp.OCSPResponseStatus.SUCCESSFUL
    # RFC 6960 §4.2.2.3: one SingleResponse per CertID, in the request's order.
    assert [(r.serial_number, r.certificate_status) for r in response.responses] == [
        (REVOKED, ocsp.OCSPCertStatus.REVOKED),
        (GOOD, ocsp.OCSPCertStatus.GOOD),
    ]
    # The nonce came through the pyasn1 path intact: openssl matches it against its request.
    (tmp_path / "resp.der").write_bytes(response.public_bytes(serialization.Encoding.DER))
    checked = openssl("ocsp", "-reqin", request, "-respin", tmp_path / "resp.der",
                      "-CAfile", pki_dir / "chain.pem")  # fmt: skip
    assert "Response verify OK" in checked.stderr
    assert "Nonce Verify error" not in checked.stderr


def test_ocsp_lookup_failure_is_an_internal_error(
    ca: pki.CaMaterial, certs: dict[int, x509.Certificate], now: datetime
) -> None:
    def broken(serial: int) -> pki.CertStatusInfo | None:
        raise RuntimeError("database is down")

    der = pki.ocsp_response(ca, _request(ca, certs[GOOD]), broken, now=now)
    response = ocsp.load_der_ocsp_response(der)
    assert response.response_status == ocsp.OCSPResponseStatus.INTERNAL_ERROR


def test_ocsp_without_a_delegated_signer_is_signed_by_the_ca(
    ca_without_signer: pki.CaMaterial,
    certs: dict[int, x509.Certificate],
    statuses: dict[int, pki.CertStatusInfo],
    now: datetime,
) -> None:
    der = pki.ocsp_response(
        ca_without_signer, _request(ca_without_signer, certs[GOOD]), statuses.get, now=now
    )
    response = ocsp.load_der_ocsp_response(der)
    assert response.certificates == [ca_without_signer.certificate]
    assert response.responder_key_hash == (
        ca_without_signer.certificate.extensions.get_extension_for_class(
            x509.SubjectKeyIdentifier
        ).value.digest
    )
    verify_signature(response, ca_without_signer.certificate)


def test_ocsp_get_path_round_trip(ca: pki.CaMaterial, certs: dict[int, x509.Certificate]) -> None:
    request = _request(ca, certs[GOOD], nonce=os.urandom(32))
    encoded = base64.b64encode(request).decode()
    assert pki.ocsp_request_from_get_path(urllib.parse.quote(encoded, safe="")) == request
    assert pki.ocsp_request_from_get_path(encoded) == request  # already percent-decoded
    assert pki.ocsp_request_from_get_path("/" + urllib.parse.quote(encoded)) == request
    urlsafe = base64.urlsafe_b64encode(request).decode().rstrip("=")
    assert pki.ocsp_request_from_get_path(urlsafe) == request
    with pytest.raises(ValueError, match="base64"):
        pki.ocsp_request_from_get_path("***")


def test_pkilint_ocsp_response_has_no_errors(
    ca: pki.CaMaterial,
    certs: dict[int, x509.Certificate],
    statuses: dict[int, pki.CertStatusInfo],
    now: datetime,
) -> None:
    for serial in (GOOD, REVOKED, HELD, NEVER_ISSUED):
        der = pki.ocsp_response(
            ca, _request(ca, certs[serial], nonce=b"0123456789abcdef"), statuses.get, now=now
        )
        findings = ocsp_findings(der)
        assert errors(findings) == [], serial
        assert [f for f in findings if f.severity <= ValidationFindingSeverity.WARNING] == []


# --- OCSP through openssl --------------------------------------------------------------------


@pytest.fixture
def openssl_ocsp(
    ca: pki.CaMaterial,
    pki_dir: Path,
    certs: dict[int, x509.Certificate],
    statuses: dict[int, pki.CertStatusInfo],
    now: datetime,
    tmp_path: Path,
) -> Iterator[Callable[..., subprocess.CompletedProcess[str]]]:
    """openssl makes the request, we answer it, openssl checks the answer (no server needed)."""

    def run(serial: int, *, ca_material: pki.CaMaterial = ca) -> subprocess.CompletedProcess[str]:
        cert_path = write_pem(tmp_path / f"{serial:X}.pem", certs[serial])
        request, response = tmp_path / "req.der", tmp_path / "resp.der"
        openssl(
            "ocsp", "-issuer", pki_dir / "issuing.crt", "-cert", cert_path, "-reqout", request,
            check=True,
        )  # fmt: skip
        response.write_bytes(
            pki.ocsp_response(ca_material, request.read_bytes(), statuses.get, now=now)
        )
        # First: the signature chains to our root and the nonce matches the request's.
        checked = openssl("ocsp", "-reqin", request, "-respin", response,
                          "-CAfile", pki_dir / "chain.pem")  # fmt: skip
        assert checked.returncode == 0, checked.stderr
        assert "Response verify OK" in checked.stderr
        assert "Nonce Verify error" not in checked.stderr
        # Then: the status line (-no_nonce: openssl would compare with a request of its own).
        return openssl(
            "ocsp", "-respin", response, "-CAfile", pki_dir / "chain.pem",
            "-issuer", pki_dir / "issuing.crt", "-cert", cert_path, "-no_nonce",
        )  # fmt: skip

    yield run


def test_openssl_ocsp_good(openssl_ocsp: Callable[..., subprocess.CompletedProcess[str]]) -> None:
    result = openssl_ocsp(GOOD)
    assert result.returncode == 0
    assert "Response verify OK" in result.stderr
    assert ": good" in result.stdout


def test_openssl_ocsp_revoked(
    openssl_ocsp: Callable[..., subprocess.CompletedProcess[str]],
) -> None:
    result = openssl_ocsp(REVOKED)
    assert ": revoked" in result.stdout
    assert "Reason: keyCompromise" in result.stdout
    assert "Revocation Time:" in result.stdout


def test_openssl_ocsp_hold(openssl_ocsp: Callable[..., subprocess.CompletedProcess[str]]) -> None:
    result = openssl_ocsp(HELD)
    assert ": revoked" in result.stdout
    assert "Reason: certificateHold" in result.stdout


def test_openssl_ocsp_unknown(
    openssl_ocsp: Callable[..., subprocess.CompletedProcess[str]],
) -> None:
    assert ": unknown" in openssl_ocsp(NEVER_ISSUED).stdout


def test_openssl_ocsp_signed_by_the_ca_itself(
    openssl_ocsp: Callable[..., subprocess.CompletedProcess[str]],
    ca_without_signer: pki.CaMaterial,
) -> None:
    result = openssl_ocsp(REVOKED, ca_material=ca_without_signer)
    assert "Response verify OK" in result.stderr
    assert "Reason: keyCompromise" in result.stdout


def test_openssl_rejects_a_response_to_another_nonce(
    ca: pki.CaMaterial,
    pki_dir: Path,
    certs: dict[int, x509.Certificate],
    statuses: dict[int, pki.CertStatusInfo],
    now: datetime,
    tmp_path: Path,
) -> None:
    # The contrapositive of the nonce check above, so we know openssl really compares them.
    (tmp_path / "req.der").write_bytes(_request(ca, certs[GOOD], nonce=b"A" * 16))
    (tmp_path / "resp.der").write_bytes(
        pki.ocsp_response(ca, _request(ca, certs[GOOD], nonce=b"B" * 16), statuses.get, now=now)
    )
    result = openssl("ocsp", "-reqin", tmp_path / "req.der", "-respin", tmp_path / "resp.der",
                     "-CAfile", pki_dir / "chain.pem")  # fmt: skip
    assert "Nonce Verify error" in result.stderr
