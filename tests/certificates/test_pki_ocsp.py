"""certificates.pki OCSP: parsing every CertID, one SingleResponse each, never a crash.

Multi-CertID requests are built with pyasn1 (or by openssl with several ``-serial``), responses
are checked by ``cryptography``'s loader, by the signer's public key, by ``openssl ocsp`` and by
pkilint's OCSP linter.
"""

# Test parameters named like the fixtures imported from pki_helpers are how pytest injects them.
# ruff: noqa: F811

from __future__ import annotations

import dataclasses
import logging
import os
import shutil
import subprocess
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509 import ocsp
from cryptography.x509.oid import NameOID
from pkilint.validation import ValidationFindingSeverity
from pyasn1.codec.der import decoder as der_decoder
from pyasn1.codec.der import encoder as der_encoder
from pyasn1.type import univ, useful
from pyasn1_alt_modules import rfc5280, rfc6960

from certificates import pki
from tests.certificates.pki_helpers import (  # noqa: F401 (fixtures)
    GOOD,
    HELD,
    NEVER_ISSUED,
    OPENSSL,
    REVOKED,
    ca,
    ca_without_signer,
    issue,
    needs_openssl,
    now,
    ocsp_findings,
    openssl,
    pki_dir,
    statuses,
    verify_signature,
    write_pem,
)

SHA1_OID = "1.3.14.3.2.26"
SHA256_OID = "2.16.840.1.101.3.4.2.1"
MD5_OID = "1.2.840.113549.2.5"
NONCE_OID = "1.3.6.1.5.5.7.48.1.2"
MALFORMED = ocsp.OCSPResponseStatus.MALFORMED_REQUEST


# --- fixtures --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def rsa_ca(now: datetime) -> pki.CaMaterial:
    """A self-signed RSA issuing CA (no delegated signer): the sha256WithRSAEncryption path."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "RSA Test CA")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(pki.random_serial())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return pki.CaMaterial(certificate=cert, private_key=key, chain=[cert])


# --- helpers ---------------------------------------------------------------------------------


def _digest(algorithm: hashes.HashAlgorithm, data: bytes) -> bytes:
    h = hashes.Hash(algorithm)
    h.update(data)
    return h.finalize()


def _cert_id(
    issuer: x509.Certificate, serial: int, algorithm: hashes.HashAlgorithm | None = None
) -> tuple[str, bytes, bytes, int]:
    """A CertID computed here, independently of pki: (hash OID, name hash, key hash, serial)."""
    algorithm = algorithm or hashes.SHA1()  # noqa: S303 (openssl's CertID default)
    public_key = issuer.public_key()
    if isinstance(public_key, ec.EllipticCurvePublicKey):
        key_bits = public_key.public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
    else:
        assert isinstance(public_key, rsa.RSAPublicKey)
        key_bits = public_key.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.PKCS1
        )
    oid = {"sha1": SHA1_OID, "sha256": SHA256_OID}[algorithm.name]
    return (
        oid,
        _digest(algorithm, issuer.subject.public_bytes()),
        _digest(algorithm, key_bits),
        serial,
    )


def _request(
    cert_ids: Sequence[tuple[str, bytes, bytes, int]],
    *,
    nonce: bytes | None = None,
    trailing: bytes = b"",
) -> bytes:
    """An OCSPRequest built with pyasn1 (cryptography's builder takes exactly one CertID)."""
    request = rfc6960.OCSPRequest()
    tbs = request["tbsRequest"]
    tbs["requestList"].clear()  # present even when empty
    for oid, name_hash, key_hash, serial in cert_ids:
        single = rfc6960.Request()
        cert_id = single["reqCert"]
        cert_id["hashAlgorithm"]["algorithm"] = univ.ObjectIdentifier(oid)
        cert_id["hashAlgorithm"]["parameters"] = b"\x05\x00"
        cert_id["issuerNameHash"] = name_hash
        cert_id["issuerKeyHash"] = key_hash
        cert_id["serialNumber"] = serial
        tbs["requestList"].append(single)
    if nonce is not None:
        nonce_extension = rfc5280.Extension()
        nonce_extension["extnID"] = univ.ObjectIdentifier(NONCE_OID)
        nonce_extension["extnValue"] = der_encoder.encode(univ.OctetString(nonce))
        tbs["requestExtensions"].append(nonce_extension)
    return der_encoder.encode(request) + trailing


def _status_of(der: bytes) -> ocsp.OCSPResponseStatus:
    return ocsp.load_der_ocsp_response(der).response_status


def _basic(der: bytes) -> rfc6960.BasicOCSPResponse:
    response, _ = der_decoder.decode(der, asn1Spec=rfc6960.OCSPResponse())
    basic, _ = der_decoder.decode(
        bytes(response["responseBytes"]["response"]), asn1Spec=rfc6960.BasicOCSPResponse()
    )
    return basic


def _single_responses(der: bytes) -> list[rfc6960.SingleResponse]:
    return list(_basic(der)["tbsResponseData"]["responses"])


def _archive_cutoffs(der: bytes) -> list[datetime | None]:
    """The archiveCutoff of each SingleResponse, decoded with pyasn1 (cryptography reads only
    the first SingleResponse's extensions)."""
    cutoffs: list[datetime | None] = []
    for single in _single_responses(der):
        found = None
        if single["singleExtensions"].isValue:
            for ext in single["singleExtensions"]:
                if str(ext["extnID"]) == "1.3.6.1.5.5.7.48.1.6":
                    assert not ext["critical"]
                    value, rest = der_decoder.decode(
                        bytes(ext["extnValue"]), asn1Spec=useful.GeneralizedTime()
                    )
                    assert rest == b""
                    found = value.asDateTime
        cutoffs.append(found)
    return cutoffs


def _openssl_check(
    tmp_path: Path, request: bytes, response: bytes, trust: Sequence[str | Path]
) -> subprocess.CompletedProcess[str]:
    (tmp_path / "req.der").write_bytes(request)
    (tmp_path / "resp.der").write_bytes(response)
    return openssl("ocsp", "-reqin", tmp_path / "req.der", "-respin", tmp_path / "resp.der",
                   "-resp_text", *trust)  # fmt: skip


# --- parse_ocsp_request ----------------------------------------------------------------------


def test_it_parses_a_single_cert_id_request(ca: pki.CaMaterial, now: datetime) -> None:
    cert = issue(ca, now, GOOD)
    der = (
        ocsp.OCSPRequestBuilder()
        .add_certificate(cert, ca.certificate, hashes.SHA256())
        .add_extension(x509.OCSPNonce(b"n" * 16), critical=False)
        .build()
        .public_bytes(serialization.Encoding.DER)
    )
    _, name_hash, key_hash, _ = _cert_id(ca.certificate, GOOD, hashes.SHA256())
    assert pki.parse_ocsp_request(der) == pki.OcspRequestInfo(
        cert_ids=(pki.OcspCertId(hashes.SHA256(), name_hash, key_hash, GOOD),), nonce=b"n" * 16
    )


def test_it_parses_every_cert_id_of_a_multi_request_in_order(ca: pki.CaMaterial) -> None:
    ids = [_cert_id(ca.certificate, serial) for serial in (REVOKED, GOOD, NEVER_ISSUED)]
    info = pki.parse_ocsp_request(_request(ids, nonce=b"x" * 32))
    assert [c.serial_number for c in info.cert_ids] == [REVOKED, GOOD, NEVER_ISSUED]
    assert all(isinstance(c.hash_algorithm, hashes.SHA1) for c in info.cert_ids)
    assert all(pki.issued_by(ca, c) for c in info.cert_ids)
    assert info.nonce == b"x" * 32


def test_cryptography_hands_over_a_negative_serial_as_is(ca: pki.CaMaterial) -> None:
    # Why parse_ocsp_request checks the range itself: the fast parser does not.
    der = _request([_cert_id(ca.certificate, -5)])
    assert ocsp.load_der_ocsp_request(der).serial_number == -5


@pytest.mark.parametrize(
    "serial",
    [0, -5, -(2**100), 2**159, 2**160 + 1, 2**167],
    ids=["zero", "negative", "very negative", "2**159", "21 octets", "22 octets"],
)
@pytest.mark.parametrize("count", [1, 3], ids=["cryptography path", "pyasn1 path"])
def test_serials_outside_1_to_2_159_are_malformed(
    ca: pki.CaMaterial, serial: int, count: int
) -> None:
    ids = [_cert_id(ca.certificate, GOOD) for _ in range(count - 1)]
    ids.append(_cert_id(ca.certificate, serial))
    with pytest.raises(pki.OcspRequestError) as caught:
        pki.parse_ocsp_request(_request(ids))
    assert caught.value.status == MALFORMED


def test_the_largest_20_octet_serial_is_accepted(ca: pki.CaMaterial) -> None:
    for count in (1, 2):
        info = pki.parse_ocsp_request(_request([_cert_id(ca.certificate, 2**159 - 1)] * count))
        assert [c.serial_number for c in info.cert_ids] == [2**159 - 1] * count


@pytest.mark.parametrize("count", [0, 11, 1000])
def test_it_refuses_an_empty_or_too_long_request_list(ca: pki.CaMaterial, count: int) -> None:
    der = _request([_cert_id(ca.certificate, GOOD + i) for i in range(count)])
    with pytest.raises(pki.OcspRequestError) as caught:
        pki.parse_ocsp_request(der)
    assert caught.value.status == MALFORMED


def test_it_accepts_up_to_max_cert_ids(ca: pki.CaMaterial) -> None:
    der = _request([_cert_id(ca.certificate, GOOD + i) for i in range(pki.MAX_CERT_IDS)])
    assert len(pki.parse_ocsp_request(der).cert_ids) == pki.MAX_CERT_IDS == 10


@pytest.mark.parametrize(("length", "ok"), [(0, False), (1, True), (128, True), (129, False)])
@pytest.mark.parametrize("count", [1, 2], ids=["cryptography path", "pyasn1 path"])
def test_nonce_lengths_follow_rfc_9654(
    ca: pki.CaMaterial, length: int, ok: bool, count: int
) -> None:
    nonce = os.urandom(length)
    der = _request([_cert_id(ca.certificate, GOOD)] * count, nonce=nonce)
    if ok:
        assert pki.parse_ocsp_request(der).nonce == nonce
    else:
        with pytest.raises(pki.OcspRequestError) as caught:
            pki.parse_ocsp_request(der)
        assert caught.value.status == MALFORMED


@pytest.mark.parametrize("count", [1, 2], ids=["cryptography path", "pyasn1 path"])
def test_an_unsupported_hash_is_unauthorized(ca: pki.CaMaterial, count: int) -> None:
    _, name_hash, key_hash, _ = _cert_id(ca.certificate, GOOD)
    ids = [_cert_id(ca.certificate, GOOD)] * (count - 1) + [(MD5_OID, name_hash, key_hash, GOOD)]
    with pytest.raises(pki.OcspRequestError) as caught:
        pki.parse_ocsp_request(_request(ids))
    assert caught.value.status == ocsp.OCSPResponseStatus.UNAUTHORIZED


@pytest.mark.parametrize(
    "der",
    [b"", b"\x30\x00", b"\x30\x80\x00\x00", b"\x30\x03\x02\x01\x01", b"\xff" * 50, "not bytes"],
)
def test_garbage_is_malformed(der: object) -> None:
    with pytest.raises(pki.OcspRequestError) as caught:
        pki.parse_ocsp_request(der)
    assert caught.value.status == MALFORMED


@pytest.mark.parametrize("count", [1, 2], ids=["cryptography path", "pyasn1 path"])
def test_trailing_data_is_malformed(ca: pki.CaMaterial, count: int) -> None:
    der = _request([_cert_id(ca.certificate, GOOD)] * count, trailing=b"\x00\x00")
    with pytest.raises(pki.OcspRequestError) as caught:
        pki.parse_ocsp_request(der)
    assert caught.value.status == MALFORMED


def test_issued_by_compares_with_our_ca_and_caches_the_hashes(
    ca: pki.CaMaterial, tmp_path: Path, now: datetime
) -> None:
    info = pki.parse_ocsp_request(_request([_cert_id(ca.certificate, GOOD, hashes.SHA256())]))
    pki.issued_by(ca, info.cert_ids[0])
    before = pki._cert_id_hashes.cache_info()
    assert pki.issued_by(ca, info.cert_ids[0])
    # A reloaded CaMaterial (same certificate bytes) finds the same cache entry.
    reloaded = dataclasses.replace(ca, certificate=x509.load_der_x509_certificate(
        ca.certificate.public_bytes(serialization.Encoding.DER)))  # fmt: skip
    assert pki.issued_by(reloaded, info.cert_ids[0])
    after = pki._cert_id_hashes.cache_info()
    assert (after.hits - before.hits, after.misses - before.misses) == (2, 0)

    pki.create_demo_pki(tmp_path, name="Başka CA", now=now)
    other = pki.load_ca(pki.demo_ca_paths(tmp_path))
    assert not pki.issued_by(other, info.cert_ids[0])


# --- ocsp_response: every CertID -------------------------------------------------------------


@pytest.mark.parametrize("signed_by", ["delegated signer", "CA"])
@pytest.mark.parametrize(
    "serials", [(REVOKED, GOOD), (GOOD, NEVER_ISSUED, HELD)], ids=["two", "three"]
)
def test_it_answers_every_cert_id_in_order(
    ca: pki.CaMaterial,
    ca_without_signer: pki.CaMaterial,
    pki_dir: Path,
    statuses: dict[int, pki.CertStatusInfo],
    now: datetime,
    tmp_path: Path,
    signed_by: str,
    serials: tuple[int, ...],
) -> None:
    material = ca if signed_by == "delegated signer" else ca_without_signer
    nonce = os.urandom(16)
    request = _request([_cert_id(ca.certificate, s) for s in serials], nonce=nonce)
    der = pki.ocsp_response(material, request, statuses.get, now=now)
    response = ocsp.load_der_ocsp_response(der)
    assert response.response_status == ocsp.OCSPResponseStatus.SUCCESSFUL

    expected = {
        GOOD: (ocsp.OCSPCertStatus.GOOD, None, None),
        REVOKED: (
            ocsp.OCSPCertStatus.REVOKED,
            now - timedelta(hours=1),
            x509.ReasonFlags.key_compromise,
        ),
        HELD: (
            ocsp.OCSPCertStatus.REVOKED,
            now - timedelta(hours=2),
            x509.ReasonFlags.certificate_hold,
        ),
        NEVER_ISSUED: (ocsp.OCSPCertStatus.UNKNOWN, None, None),
    }
    singles = list(response.responses)
    assert [s.serial_number for s in singles] == list(serials)
    for single in singles:
        assert (
            single.certificate_status,
            single.revocation_time_utc,
            single.revocation_reason,
        ) == expected[single.serial_number]
        assert single.this_update_utc == now
        assert single.next_update_utc == now + pki.OCSP_RESPONSE_VALIDITY
        assert isinstance(single.hash_algorithm, hashes.SHA1)  # the request's own
        assert (single.issuer_name_hash, single.issuer_key_hash) == _cert_id(
            ca.certificate, single.serial_number
        )[1:3]
    assert response.extensions.get_extension_for_class(x509.OCSPNonce).value.nonce == nonce
    assert response.produced_at_utc == now

    signer, _ = pki._ocsp_signer(material)
    assert response.certificates == [signer]
    assert response.responder_key_hash == (
        signer.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
    )
    assert isinstance(response.signature_hash_algorithm, hashes.SHA256)
    verify_signature(response, signer)
    # RFC 5758 §3.2: ecdsa-with-SHA256 without parameters.
    assert not _basic(der)["signatureAlgorithm"]["parameters"].isValue

    findings = ocsp_findings(der)
    assert [str(f) for f in findings if f.severity <= ValidationFindingSeverity.WARNING] == []

    if shutil.which(OPENSSL):
        checked = _openssl_check(tmp_path, request, der, ["-CAfile", pki_dir / "chain.pem"])
        assert checked.returncode == 0, checked.stderr
        assert "Response verify OK" in checked.stderr
        assert "Nonce Verify error" not in checked.stderr
        assert checked.stdout.count("Certificate ID:") == len(serials)


@needs_openssl
def test_openssl_requests_with_several_serials_are_answered_and_verified(
    ca: pki.CaMaterial,
    pki_dir: Path,
    statuses: dict[int, pki.CertStatusInfo],
    now: datetime,
    tmp_path: Path,
) -> None:
    request = tmp_path / "req.der"
    openssl("ocsp", "-issuer", pki_dir / "issuing.crt", "-serial", hex(HELD), "-serial",
            hex(GOOD), "-serial", hex(REVOKED), "-reqout", request, check=True)  # fmt: skip
    der = pki.ocsp_response(ca, request.read_bytes(), statuses.get, now=now)
    response = ocsp.load_der_ocsp_response(der)
    assert [(s.serial_number, s.certificate_status) for s in response.responses] == [
        (HELD, ocsp.OCSPCertStatus.REVOKED),
        (GOOD, ocsp.OCSPCertStatus.GOOD),
        (REVOKED, ocsp.OCSPCertStatus.REVOKED),
    ]
    assert ca.ocsp_certificate is not None
    # -VAfile: trust the signer directly (as a relying party configured with it would).
    write_pem(tmp_path / "signer.pem", ca.ocsp_certificate)
    checked = _openssl_check(tmp_path, request.read_bytes(), der,
                             ["-VAfile", tmp_path / "signer.pem"])  # fmt: skip
    assert checked.returncode == 0, checked.stderr
    assert "Response verify OK" in checked.stderr
    assert "Reason: certificateHold" in checked.stdout.replace("Revocation Reason", "Reason")


def test_the_rsa_path_signs_with_sha256_rsa_and_null_parameters(
    rsa_ca: pki.CaMaterial, now: datetime, tmp_path: Path
) -> None:
    request = _request([_cert_id(rsa_ca.certificate, s) for s in (7, 8)], nonce=b"r" * 20)
    lookup = {7: pki.CertStatusInfo("good")}.get
    der = pki.ocsp_response(rsa_ca, request, lookup, now=now)
    response = ocsp.load_der_ocsp_response(der)
    assert [(s.serial_number, s.certificate_status) for s in response.responses] == [
        (7, ocsp.OCSPCertStatus.GOOD),
        (8, ocsp.OCSPCertStatus.UNKNOWN),
    ]
    assert response.signature_algorithm_oid.dotted_string == "1.2.840.113549.1.1.11"
    verify_signature(response, rsa_ca.certificate)
    # RFC 4055 §5: sha256WithRSAEncryption carries NULL parameters.
    assert bytes(_basic(der)["signatureAlgorithm"]["parameters"]) == b"\x05\x00"
    assert [f for f in ocsp_findings(der) if f.severity <= ValidationFindingSeverity.WARNING] == []
    if shutil.which(OPENSSL):
        write_pem(tmp_path / "rsa-ca.pem", rsa_ca.certificate)
        checked = _openssl_check(tmp_path, request, der, ["-CAfile", tmp_path / "rsa-ca.pem"])
        assert "Response verify OK" in checked.stderr, checked.stderr


def test_any_cert_id_of_another_issuer_makes_the_whole_request_unauthorized(
    ca: pki.CaMaterial, statuses: dict[int, pki.CertStatusInfo], now: datetime, tmp_path: Path
) -> None:
    pki.create_demo_pki(tmp_path, name="Başka CA", now=now)
    other = pki.load_ca(pki.demo_ca_paths(tmp_path))
    asked: list[int] = []

    def lookup(serial: int) -> pki.CertStatusInfo | None:
        asked.append(serial)
        return statuses.get(serial)

    request = _request([_cert_id(ca.certificate, GOOD), _cert_id(other.certificate, REVOKED)])
    der = pki.ocsp_response(ca, request, lookup, now=now)
    assert _status_of(der) == ocsp.OCSPResponseStatus.UNAUTHORIZED
    assert asked == []


# --- archiveCutoff ---------------------------------------------------------------------------


def test_archive_cutoff_goes_exactly_into_the_responses_whose_status_has_it(
    ca: pki.CaMaterial, pki_dir: Path, now: datetime, tmp_path: Path
) -> None:
    cutoff = ca.certificate.not_valid_before_utc  # ETSI EN 319 411-2 CSS-6.3.10-08
    expired = pki.CertStatusInfo("good", archive_cutoff=cutoff)
    expired_revoked = pki.CertStatusInfo(
        "revoked", now - timedelta(days=400), x509.ReasonFlags.superseded, archive_cutoff=cutoff
    )
    lookup = {1: pki.CertStatusInfo("good"), 2: expired, 3: expired_revoked}.get
    request = _request([_cert_id(ca.certificate, s) for s in (1, 2, 3, 4)])
    der = pki.ocsp_response(ca, request, lookup, now=now)
    assert _archive_cutoffs(der) == [None, cutoff, cutoff, None]
    response = ocsp.load_der_ocsp_response(der)
    assert [s.certificate_status for s in response.responses] == [
        ocsp.OCSPCertStatus.GOOD,
        ocsp.OCSPCertStatus.GOOD,
        ocsp.OCSPCertStatus.REVOKED,
        ocsp.OCSPCertStatus.UNKNOWN,
    ]
    assert [f for f in ocsp_findings(der) if f.severity <= ValidationFindingSeverity.WARNING] == []
    if shutil.which(OPENSSL):
        checked = _openssl_check(tmp_path, request, der, ["-CAfile", pki_dir / "chain.pem"])
        assert "Response verify OK" in checked.stderr, checked.stderr
        assert checked.stdout.count("OCSP Archive Cutoff") == 2


def test_a_single_cert_id_with_archive_cutoff_takes_the_pyasn1_path(
    ca: pki.CaMaterial, now: datetime
) -> None:
    cutoff = ca.certificate.not_valid_before_utc
    request = _request([_cert_id(ca.certificate, GOOD)], nonce=b"c" * 16)
    with_cutoff = pki.ocsp_response(
        ca, request, lambda _: pki.CertStatusInfo("good", archive_cutoff=cutoff), now=now
    )
    assert _archive_cutoffs(with_cutoff) == [cutoff]
    response = ocsp.load_der_ocsp_response(with_cutoff)
    assert response.certificate_status == ocsp.OCSPCertStatus.GOOD
    assert response.extensions.get_extension_for_class(x509.OCSPNonce).value.nonce == b"c" * 16
    assert ca.ocsp_certificate is not None
    verify_signature(response, ca.ocsp_certificate)

    without = pki.ocsp_response(ca, request, lambda _: pki.CertStatusInfo("good"), now=now)
    assert _archive_cutoffs(without) == [None]
    assert len(ocsp.load_der_ocsp_response(without).single_extensions) == 0


def test_archive_cutoff_must_be_timezone_aware() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        pki.CertStatusInfo("good", archive_cutoff=datetime(2020, 1, 1))  # noqa: DTZ001


# --- never a crash ---------------------------------------------------------------------------


@pytest.mark.parametrize("serial", [-5, 0, 2**159])
def test_a_bad_serial_through_ocsp_response_is_malformed_and_never_looked_up(
    ca: pki.CaMaterial, now: datetime, serial: int
) -> None:
    def lookup(serial: int) -> pki.CertStatusInfo | None:
        raise AssertionError("must not be looked up")

    for count in (1, 2):
        ids = [_cert_id(ca.certificate, GOOD)] * (count - 1) + [_cert_id(ca.certificate, serial)]
        assert _status_of(pki.ocsp_response(ca, _request(ids), lookup, now=now)) == MALFORMED


@needs_openssl
def test_openssl_serial_minus_5_gets_malformed_request_not_a_crash(
    ca: pki.CaMaterial, pki_dir: Path, now: datetime, tmp_path: Path
) -> None:
    request = tmp_path / "req.der"
    openssl("ocsp", "-issuer", pki_dir / "issuing.crt", "-serial", "-5", "-reqout", request,
            check=True)  # fmt: skip
    der = pki.ocsp_response(ca, request.read_bytes(), lambda _: None, now=now)
    assert _status_of(der) == MALFORMED


@pytest.mark.parametrize("count", [1, 2], ids=["cryptography path", "pyasn1 path"])
def test_a_signing_failure_is_an_internal_error(
    ca: pki.CaMaterial, now: datetime, count: int, caplog: pytest.LogCaptureFixture
) -> None:
    # An Ed25519 key cannot sign "with SHA-256": both signing paths raise, neither escapes.
    broken = dataclasses.replace(ca, ocsp_private_key=ed25519.Ed25519PrivateKey.generate())
    request = _request([_cert_id(ca.certificate, GOOD)] * count)
    with caplog.at_level(logging.ERROR, logger="certificates.pki"):
        der = pki.ocsp_response(broken, request, lambda _: pki.CertStatusInfo("good"), now=now)
    assert _status_of(der) == ocsp.OCSPResponseStatus.INTERNAL_ERROR
    assert "OCSP response signing failed" in caplog.text


def test_a_lookup_failure_on_any_cert_id_is_an_internal_error(
    ca: pki.CaMaterial, now: datetime, caplog: pytest.LogCaptureFixture
) -> None:
    def lookup(serial: int) -> pki.CertStatusInfo | None:
        if serial == REVOKED:
            raise RuntimeError("database is down")
        return pki.CertStatusInfo("good")

    request = _request([_cert_id(ca.certificate, s) for s in (GOOD, REVOKED)])
    with caplog.at_level(logging.ERROR, logger="certificates.pki"):
        der = pki.ocsp_response(ca, request, lookup, now=now)
    assert _status_of(der) == ocsp.OCSPResponseStatus.INTERNAL_ERROR
    assert f"OCSP lookup failed for serial {REVOKED:X}" in caplog.text


def test_a_lookup_returning_garbage_is_an_internal_error(ca: pki.CaMaterial, now: datetime) -> None:
    request = _request([_cert_id(ca.certificate, GOOD)])
    der = pki.ocsp_response(ca, request, lambda _: "good", now=now)  # type: ignore[arg-type, return-value]
    assert _status_of(der) == ocsp.OCSPResponseStatus.INTERNAL_ERROR


# --- the parts -------------------------------------------------------------------------------


@pytest.mark.parametrize("count", [1, 2], ids=["cryptography path", "pyasn1 path"])
def test_sign_ocsp_response_honours_validity(ca: pki.CaMaterial, now: datetime, count: int) -> None:
    info = pki.parse_ocsp_request(_request([_cert_id(ca.certificate, GOOD)] * count))
    der = pki.sign_ocsp_response(ca, info, [None] * count, now=now, validity=timedelta(minutes=5))
    for single in ocsp.load_der_ocsp_response(der).responses:
        assert single.next_update_utc == now + timedelta(minutes=5)
        assert single.certificate_status == ocsp.OCSPCertStatus.UNKNOWN


def test_sign_ocsp_response_wants_one_status_per_cert_id(ca: pki.CaMaterial, now: datetime) -> None:
    info = pki.parse_ocsp_request(_request([_cert_id(ca.certificate, GOOD)] * 2))
    with pytest.raises(ValueError, match="one status per CertID"):
        pki.sign_ocsp_response(ca, info, [None], now=now)
    with pytest.raises(ValueError, match="timezone-aware"):
        pki.sign_ocsp_response(ca, info, [None, None], now=datetime(2026, 1, 1))  # noqa: DTZ001


@pytest.mark.parametrize(
    "status",
    [
        ocsp.OCSPResponseStatus.MALFORMED_REQUEST,
        ocsp.OCSPResponseStatus.INTERNAL_ERROR,
        ocsp.OCSPResponseStatus.TRY_LATER,
        ocsp.OCSPResponseStatus.UNAUTHORIZED,
    ],
)
def test_unsuccessful_ocsp_response_round_trips(status: ocsp.OCSPResponseStatus) -> None:
    assert _status_of(pki.unsuccessful_ocsp_response(status)) == status


def test_unsuccessful_ocsp_response_refuses_successful() -> None:
    with pytest.raises(ValueError):
        pki.unsuccessful_ocsp_response(ocsp.OCSPResponseStatus.SUCCESSFUL)
