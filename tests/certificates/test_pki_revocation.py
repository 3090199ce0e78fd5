"""certificates.pki revocation: one-pass CRLs, shard CRLs, the root's ARL, and a path that
``openssl verify -crl_check_all`` accepts end to end (root → issuing CA → citizen)."""

# Test parameters named like the fixtures imported from pki_helpers are how pytest injects them.
# ruff: noqa: F811

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import AuthorityInformationAccessOID
from pkilint.bin import lint_crl
from pkilint.validation import ValidationFindingSeverity
from pyasn1.codec.der import decoder as der_decoder
from pyasn1.type import useful

from certificates import pki
from tests.certificates.pki_helpers import (  # noqa: F401 (fixtures)
    ca,
    crl_findings,
    issue,
    needs_openssl,
    now,
    openssl,
    pki_dir,
    rfc5280_findings,
    write_pem,
)

PKI_HOST = "http://pki.example.gov.tr"
ARL_URL = f"{PKI_HOST}/crl/nes-portal-root.crl"
ROOT_URL = f"{PKI_HOST}/ca/nes-portal-root.crt"
SHARD_URL = f"{PKI_HOST}/crl/nes-portal/202911.crl"

# The demo CA of this module (pki_helpers.pki_dir) names its ARL and the root's certificate.
DEMO_PKI_OPTIONS = {"arl_url": ARL_URL, "root_certificate_url": ROOT_URL}


@pytest.fixture(scope="module")
def root(pki_dir: Path) -> pki.CaMaterial:
    return pki.load_root(pki_dir / "root.crt", pki_dir / "root.key")


class OnePass:
    """An iterable of CRL entries that refuses to be iterated a second time."""

    def __init__(self, count: int, now: datetime) -> None:
        self.count, self.now, self.iterations, self.yielded = count, now, 0, 0

    def __iter__(self) -> Iterator[pki.CrlEntry]:
        self.iterations += 1
        if self.iterations > 1:
            raise AssertionError("entries iterated twice")
        reasons = (
            x509.ReasonFlags.key_compromise,
            x509.ReasonFlags.certificate_hold,
            x509.ReasonFlags.unspecified,
        )
        for i in range(1, self.count + 1):
            self.yielded += 1
            yield pki.CrlEntry(2**64 + i, self.now - timedelta(seconds=i), reasons[i % 3])


def _shard_crl(
    ca: pki.CaMaterial, now: datetime, entries: list[pki.CrlEntry], number: int = 1
) -> x509.CertificateRevocationList:
    return pki.build_crl(
        ca,
        entries=iter(entries),
        crl_number=number,
        this_update=now,
        next_update=now + timedelta(hours=24),
        idp_url=SHARD_URL,
        expired_certs_on_crl=ca.certificate.not_valid_before_utc,
    )


def _arl(
    root: pki.CaMaterial, now: datetime, revoked: list[pki.CrlEntry] | None = None
) -> x509.CertificateRevocationList:
    return pki.build_arl(
        root,
        revoked=revoked or (),
        crl_number=1,
        this_update=now,
        next_update=now + timedelta(days=30),
        idp_url=ARL_URL,
    )


# --- one pass --------------------------------------------------------------------------------


def test_it_builds_the_crl_in_one_pass_without_add_revoked_certificate(
    ca: pki.CaMaterial, now: datetime, monkeypatch: pytest.MonkeyPatch
) -> None:
    def quadratic(self: object, revoked: object) -> None:
        raise AssertionError("add_revoked_certificate copies the whole list on every call")

    monkeypatch.setattr(x509.CertificateRevocationListBuilder, "add_revoked_certificate", quadratic)
    entries = OnePass(10_000, now)
    started = time.perf_counter()
    crl = pki.build_crl(
        ca, entries=entries, crl_number=3, this_update=now, next_update=now + timedelta(hours=24)
    )
    elapsed = time.perf_counter() - started
    assert (entries.iterations, entries.yielded) == (1, 10_000)
    assert len(crl) == 10_000
    assert crl.is_signature_valid(ca.certificate.public_key())  # type: ignore[arg-type]
    assert crl.get_revoked_certificate_by_serial_number(2**64 + 3).revocation_date_utc == (
        now - timedelta(seconds=3)
    )
    held = crl.get_revoked_certificate_by_serial_number(2**64 + 1)
    assert held is not None
    assert held.extensions.get_extension_for_class(x509.CRLReason).value.reason == (
        x509.ReasonFlags.certificate_hold
    )
    unspecified = crl.get_revoked_certificate_by_serial_number(2**64 + 2)
    assert unspecified is not None and len(unspecified.extensions) == 0
    assert elapsed < 5  # about 0.1 s here; generous for a loaded CI runner


def test_it_takes_a_generator_and_still_refuses_duplicates(
    ca: pki.CaMaterial, now: datetime
) -> None:
    def entries() -> Iterator[pki.CrlEntry]:
        yield pki.CrlEntry(0x42, now, x509.ReasonFlags.key_compromise)
        yield pki.CrlEntry(0x43, now, x509.ReasonFlags.superseded)
        yield pki.CrlEntry(0x42, now, x509.ReasonFlags.certificate_hold)

    with pytest.raises(ValueError, match="42 listed twice"):
        pki.build_crl(
            ca, entries=entries(), crl_number=1, this_update=now, next_update=now + timedelta(1)
        )
    with pytest.raises(ValueError, match="delta"):
        pki.build_crl(
            ca,
            entries=(pki.CrlEntry(s, now, x509.ReasonFlags.remove_from_crl) for s in (1, 2)),
            crl_number=1,
            this_update=now,
            next_update=now + timedelta(1),
        )


def test_bad_arguments_are_refused_before_any_entry_is_read(
    ca: pki.CaMaterial, now: datetime
) -> None:
    entries = OnePass(5, now)
    for arguments, message in (
        ({"next_update": now}, "later than this_update"),
        ({"crl_number": -1}, "crl_number"),
        ({"expired_certs_on_crl": now + timedelta(seconds=1)}, "not be later"),
        ({"expired_certs_on_crl": datetime(2020, 1, 1)}, "timezone-aware"),  # noqa: DTZ001
    ):
        kwargs: dict[str, object] = {
            "crl_number": 1,
            "this_update": now,
            "next_update": now + timedelta(hours=1),
            **arguments,
        }
        with pytest.raises(ValueError, match=message):
            pki.build_crl(ca, entries=entries, **kwargs)  # type: ignore[arg-type]
    assert entries.iterations == 0


# --- shard CRL: IDP and expiredCertsOnCRL ----------------------------------------------------


def test_a_shard_crl_has_its_idp_and_expired_certs_on_crl(
    ca: pki.CaMaterial, now: datetime
) -> None:
    crl = _shard_crl(ca, now, [pki.CrlEntry(0x77, now, x509.ReasonFlags.key_compromise)])
    idp = crl.extensions.get_extension_for_class(x509.IssuingDistributionPoint)
    assert idp.critical
    assert idp.value.full_name == [x509.UniformResourceIdentifier(SHARD_URL)]
    assert not idp.value.only_contains_ca_certs and not idp.value.only_contains_user_certs

    expired = crl.extensions.get_extension_for_oid(pki.EXPIRED_CERTS_ON_CRL_OID)
    assert not expired.critical
    value, rest = der_decoder.decode(
        expired.value.value,  # type: ignore[attr-defined]
        asn1Spec=useful.GeneralizedTime(),
    )
    assert rest == b""
    assert expired.value.value[0] == 0x18  # type: ignore[attr-defined]  # GeneralizedTime
    assert value.asDateTime == ca.certificate.not_valid_before_utc
    assert str(value).endswith("Z") and "." not in str(value)  # DER: UTC, whole seconds


def test_expired_certs_on_crl_rounds_a_fraction_up(ca: pki.CaMaterial, now: datetime) -> None:
    # Never claim to keep more than the caller said: …:59.3 becomes the next whole second.
    cutoff = now - timedelta(days=10, microseconds=700_000)
    crl = pki.build_crl(
        ca,
        entries=(),
        crl_number=1,
        this_update=now,
        next_update=now + timedelta(hours=1),
        expired_certs_on_crl=cutoff,
    )
    raw = crl.extensions.get_extension_for_oid(pki.EXPIRED_CERTS_ON_CRL_OID).value.value  # type: ignore[attr-defined]
    value, _ = der_decoder.decode(raw, asn1Spec=useful.GeneralizedTime())
    assert value.asDateTime == now - timedelta(days=10)
    assert crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number == 1
    with pytest.raises(x509.ExtensionNotFound):
        crl.extensions.get_extension_for_class(x509.IssuingDistributionPoint)


def test_pkilint_finds_nothing_in_a_shard_crl_or_the_arl(
    ca: pki.CaMaterial, root: pki.CaMaterial, now: datetime, tmp_path: Path
) -> None:
    shard = _shard_crl(ca, now, [pki.CrlEntry(0x77, now, x509.ReasonFlags.key_compromise)])
    arl = _arl(root, now)
    for crl in (shard, arl):
        findings = crl_findings(crl)
        assert [str(f) for f in findings if f.severity <= ValidationFindingSeverity.ERROR] == []
        # Not even the unknown expiredCertsOnCRL: pkilint's CRL linter has no such check.
        assert findings == []
    # The CLI with its CRL/ARL types (PKIX profile), at every severity.
    for crl, kind in ((shard, "CRL"), (arl, "ARL")):
        path = tmp_path / f"{kind}.der"
        path.write_bytes(crl.public_bytes(serialization.Encoding.DER))
        assert lint_crl.main(["lint", "-t", kind, "-p", "PKIX", "-s", "DEBUG", str(path)]) == 0


# --- the root's ARL --------------------------------------------------------------------------


def test_the_arl_is_signed_by_the_root_and_only_covers_ca_certificates(
    root: pki.CaMaterial, ca: pki.CaMaterial, now: datetime
) -> None:
    arl = _arl(root, now)
    assert arl.issuer == root.certificate.subject
    assert arl.is_signature_valid(root.certificate.public_key())  # type: ignore[arg-type]
    assert not arl.is_signature_valid(ca.certificate.public_key())  # type: ignore[arg-type]
    idp = arl.extensions.get_extension_for_class(x509.IssuingDistributionPoint)
    assert idp.critical
    assert idp.value.only_contains_ca_certs
    assert idp.value.full_name == [x509.UniformResourceIdentifier(ARL_URL)]
    aki = arl.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    ski = root.certificate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    assert aki.key_identifier == ski.digest
    assert len(arl) == 0

    plain = pki.build_arl(
        root, crl_number=2, this_update=now, next_update=now + timedelta(days=1), idp_url=None
    )
    with pytest.raises(x509.ExtensionNotFound):
        plain.extensions.get_extension_for_class(x509.IssuingDistributionPoint)


def test_build_arl_wants_the_root(ca: pki.CaMaterial, now: datetime) -> None:
    with pytest.raises(ValueError, match="not self-signed"):
        pki.build_arl(
            ca, crl_number=1, this_update=now, next_update=now + timedelta(1), idp_url=ARL_URL
        )


def test_load_root_checks_the_key_and_that_it_is_a_self_signed_ca(pki_dir: Path) -> None:
    with pytest.raises(pki.CaConfigurationError, match="does not belong"):
        pki.load_root(pki_dir / "root.crt", pki_dir / "issuing.key")
    with pytest.raises(pki.CaConfigurationError, match="not self-signed"):
        pki.load_root(pki_dir / "issuing.crt", pki_dir / "issuing.key")
    with pytest.raises(pki.CaConfigurationError, match="cannot read"):
        pki.load_root(pki_dir / "root.crt", pki_dir / "missing.key")


# --- the demo CA certificates point at the ARL and the root ----------------------------------


def test_the_issuing_ca_names_the_arl_and_the_root_certificate(
    ca: pki.CaMaterial, root: pki.CaMaterial
) -> None:
    [point] = ca.certificate.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
    assert point.full_name == [x509.UniformResourceIdentifier(ARL_URL)]
    aia = ca.certificate.extensions.get_extension_for_class(x509.AuthorityInformationAccess)
    assert not aia.critical
    # caIssuers only: the root answers no OCSP.
    assert [(d.access_method, d.access_location.value) for d in aia.value] == [
        (AuthorityInformationAccessOID.CA_ISSUERS, ROOT_URL)
    ]
    # The root names its ARL as well, or -crl_check_all finds it outside the ARL's scope.
    [root_point] = root.certificate.extensions.get_extension_for_class(
        x509.CRLDistributionPoints
    ).value
    assert root_point.full_name == [x509.UniformResourceIdentifier(ARL_URL)]
    for cert in (root.certificate, ca.certificate):
        findings = rfc5280_findings(cert)
        assert {f.severity for f in findings} <= {ValidationFindingSeverity.INFO}, findings


def test_without_urls_the_ca_certificates_have_no_distribution_point_or_aia(
    tmp_path: Path, now: datetime
) -> None:
    pki.create_demo_pki(tmp_path, now=now)
    material = pki.load_ca(pki.demo_ca_paths(tmp_path))
    for cert in material.chain:
        for extension_type in (x509.CRLDistributionPoints, x509.AuthorityInformationAccess):
            with pytest.raises(x509.ExtensionNotFound):
                cert.extensions.get_extension_for_class(extension_type)


# --- the strict path -------------------------------------------------------------------------


@needs_openssl
def test_openssl_crl_check_all_accepts_the_whole_path_and_sees_revocations(
    ca: pki.CaMaterial, root: pki.CaMaterial, pki_dir: Path, now: datetime, tmp_path: Path
) -> None:
    cert = issue(ca, now, 0x7701, crl_url=SHARD_URL)
    cert_path = write_pem(tmp_path / "cert.pem", cert)

    def verify(
        shard: x509.CertificateRevocationList, arl: x509.CertificateRevocationList
    ) -> tuple[int, str]:
        (tmp_path / "shard.pem").write_bytes(shard.public_bytes(serialization.Encoding.PEM))
        (tmp_path / "arl.pem").write_bytes(arl.public_bytes(serialization.Encoding.PEM))
        result = openssl("verify", "-crl_check_all", "-CAfile", pki_dir / "root.crt",
                         "-untrusted", pki_dir / "issuing.crt", "-CRLfile", tmp_path / "arl.pem",
                         "-CRLfile", tmp_path / "shard.pem", cert_path)  # fmt: skip
        return result.returncode, result.stdout + result.stderr

    others = [pki.CrlEntry(0x7702, now - timedelta(hours=3), x509.ReasonFlags.superseded)]
    code, output = verify(_shard_crl(ca, now, others), _arl(root, now))
    assert (code, output.strip()) == (0, f"{cert_path}: OK")

    revoked = [
        *others,
        pki.CrlEntry(0x7701, now - timedelta(minutes=5), x509.ReasonFlags.key_compromise),
    ]
    code, output = verify(_shard_crl(ca, now, revoked, number=2), _arl(root, now))
    assert code != 0
    assert "certificate revoked" in output
    assert "at 0 depth" in output  # the citizen's certificate, not a CA

    # And the ARL is not decoration: revoke the issuing CA there and the path fails one up.
    issuing_revoked = [
        pki.CrlEntry(
            ca.certificate.serial_number, now - timedelta(minutes=1), x509.ReasonFlags.ca_compromise
        )
    ]
    code, output = verify(_shard_crl(ca, now, others), _arl(root, now, issuing_revoked))
    assert code != 0
    assert "certificate revoked" in output
    assert "at 1 depth" in output


@needs_openssl
def test_openssl_refuses_the_shard_crl_for_a_certificate_of_another_shard(
    ca: pki.CaMaterial, root: pki.CaMaterial, pki_dir: Path, now: datetime, tmp_path: Path
) -> None:
    # Why idp_url must equal the certificate's distribution point: a CRL of another scope
    # does not vouch for it.
    cert = issue(ca, now, 0x7703, crl_url=f"{PKI_HOST}/crl/nes-portal/202912.crl")
    (tmp_path / "shard.pem").write_bytes(
        _shard_crl(ca, now, []).public_bytes(serialization.Encoding.PEM)
    )
    (tmp_path / "arl.pem").write_bytes(_arl(root, now).public_bytes(serialization.Encoding.PEM))
    result = openssl("verify", "-crl_check_all", "-CAfile", pki_dir / "root.crt",
                     "-untrusted", pki_dir / "issuing.crt", "-CRLfile", tmp_path / "arl.pem",
                     "-CRLfile", tmp_path / "shard.pem",
                     write_pem(tmp_path / "cert.pem", cert))  # fmt: skip
    assert result.returncode != 0
    assert "different CRL scope" in result.stdout + result.stderr
