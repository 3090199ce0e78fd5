"""certificates.pki identity (ETSI EN 319 412-1 §5.1.3): PNOTR-/PASTR- with semanticsId-Natural,
the legacy TCKTR- still recognised, and pkilint's ETSI natural-person profiles satisfied."""

# Test parameters named like the fixtures imported from pki_helpers are how pytest injects them.
# ruff: noqa: F811

from __future__ import annotations

import re
from datetime import datetime, timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from pkilint.etsi.etsi_constants import CertificateType
from pkilint.validation import ValidationFindingSeverity

from certificates import pki
from tests.certificates.pki_helpers import (  # noqa: F401 (fixtures)
    ca,
    errors,
    etsi_findings,
    issue,
    now,
    pki_dir,
)

TCKN = "10000000146"
NON_EU = CertificateType.QCP_N_QSCD_NON_EIDAS_FINAL_CERTIFICATE
EU = CertificateType.QCP_N_QSCD_EIDAS_FINAL_CERTIFICATE


def _serial_number(cert: x509.Certificate) -> str:
    [attribute] = cert.subject.get_attributes_for_oid(NameOID.SERIAL_NUMBER)
    return str(attribute.value)


# --- natural_person_identity -----------------------------------------------------------------


def test_it_writes_pno_for_a_tckn_and_pas_for_a_passport() -> None:
    assert pki.natural_person_identity(TCKN, None) == "PNOTR-10000000146"
    assert pki.natural_person_identity(None, "U1234567") == "PASTR-U1234567"


@pytest.mark.parametrize(
    ("tckn", "passport_no"),
    [
        (None, None),
        (TCKN, "U1234567"),  # a citizen row has exactly one of them
        ("1000000014", None),  # 10 digits
        ("01000000146", None),  # leading zero
        ("1000000014a", None),
        ("", None),
        (None, ""),
        (None, "u1234567"),  # lower case
        (None, "U123-4567"),
        (None, "U" * 21),
    ],
)
def test_it_refuses_what_is_not_one_identity(tckn: str | None, passport_no: str | None) -> None:
    with pytest.raises(ValueError):
        pki.natural_person_identity(tckn, passport_no)


# --- identity_matches ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("serial_number", "tckn", "passport_no", "expected"),
    [
        ("PNOTR-10000000146", TCKN, None, True),
        ("TCKTR-10000000146", TCKN, None, True),  # legacy certificates, issued before the change
        ("PASTR-U1234567", None, "U1234567", True),
        ("PNOTR-10000000147", TCKN, None, False),  # someone else
        ("TCKTR-10000000147", TCKN, None, False),
        ("PNOTR-10000000146", None, "U1234567", False),
        ("PASTR-10000000146", TCKN, None, False),  # the number under the wrong type
        ("TCKTR-U1234567", None, "U1234567", False),  # the legacy form was never for passports
        ("PASTR-U1234568", None, "U1234567", False),
        ("pnotr-10000000146", TCKN, None, False),
        ("PNOTR-10000000146 ", TCKN, None, False),
        ("10000000146", TCKN, None, False),
        ("", TCKN, None, False),
        ("PNOTR-10000000146", None, None, False),
        ("PNOTR-1000000014İ", TCKN, None, False),  # non-ASCII: False, not TypeError
    ],
)
def test_identity_matches(
    serial_number: str, tckn: str | None, passport_no: str | None, expected: bool
) -> None:
    assert pki.identity_matches(serial_number, tckn=tckn, passport_no=passport_no) is expected


def test_identity_matches_compares_every_form_in_constant_time(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[tuple[bytes, bytes]] = []
    real = pki.hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(pki.hmac, "compare_digest", spy)
    assert pki.identity_matches("PNOTR-10000000146", tckn=TCKN, passport_no=None)
    # Both TCKN forms were compared even though the first matched: no early exit.
    assert [b for _, b in calls] == [b"PNOTR-10000000146", b"TCKTR-10000000146"]


# --- in the issued certificate ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("identity", "key_size"),
    [
        (pki.natural_person_identity(TCKN, None), None),
        (pki.natural_person_identity(None, "U1234567"), 3072),
    ],
    ids=["PNOTR", "PASTR"],
)
@pytest.mark.parametrize(
    ("legislation", "cert_type"), [(("TR",), NON_EU), ((), EU)], ids=["non-EU", "EU"]
)
def test_issued_identities_carry_semantics_natural_and_pkilint_finds_no_error(
    ca: pki.CaMaterial,
    now: datetime,
    identity: str,
    key_size: int | None,
    legislation: tuple[str, ...],
    cert_type: CertificateType,
) -> None:
    overrides: dict[str, object] = {"identity": identity, "legislation_countries": legislation}
    if key_size is not None:
        overrides["public_key"] = rsa.generate_private_key(65537, key_size).public_key()
    cert = issue(ca, now, 0x5001, **overrides)
    assert _serial_number(cert) == identity
    assert pki.describe(cert)["qc_statements"][-1] == "QcSemanticsId: natural"
    assert pki.identity_matches(
        _serial_number(cert),
        tckn=TCKN if identity.startswith("PNO") else None,
        passport_no="U1234567" if identity.startswith("PAS") else None,
    )
    findings = etsi_findings(cert, cert_type)
    assert errors(findings) == []
    # What remains is informational: "SKI generated with RFC 5280 method 1" (SHA-1 of the key).
    assert {f.severity for f in findings} <= {ValidationFindingSeverity.INFO}


def test_pkilint_really_checks_the_identity_against_semantics_natural(
    ca: pki.CaMaterial, now: datetime, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The contrapositive, and why issue_qualified_certificate refuses TCKTR-: let one through
    # and pkilint's ETSI linter reports it under semanticsId-Natural.
    monkeypatch.setattr(pki, "_NATURAL_IDENTITY_RE", re.compile(r".+"))
    legacy = issue(ca, now, 0x5002, identity=f"TCKTR-{TCKN}")
    assert (
        "ERROR etsi.en_319_412_1.nat-5.1.3.invalid_identifier_scheme: Invalid natural person "
        'identifier scheme: "TCK"'
    ) in errors(etsi_findings(legacy, NON_EU))


@pytest.mark.parametrize(
    "identity",
    ["TCKTR-10000000146", "PNOTR10000000146", "PNOtr-10000000146", "XX:TR-1", "PNOTR-", "TAXTR-1"],
)
def test_issuing_refuses_identities_that_are_not_etsi(
    ca: pki.CaMaterial, now: datetime, identity: str
) -> None:
    with pytest.raises(ValueError, match="natural_person_identity") as caught:
        issue(ca, now, 0x5003, identity=identity)
    assert TCKN not in str(caught.value)  # the number stays out of messages (and logs)


def test_issuing_refuses_a_validity_starting_before_the_ca(
    ca: pki.CaMaterial, now: datetime
) -> None:
    ca_start = ca.certificate.not_valid_before_utc
    with pytest.raises(ValueError, match="start before the issuing CA"):
        issue(ca, now, 0x5004, not_before=ca_start - timedelta(seconds=1))
    cert = issue(ca, now, 0x5005, not_before=ca_start)  # exactly nested is fine
    assert cert.not_valid_before_utc == ca_start


def test_an_expired_demo_certificate_still_nests_inside_the_demo_ca(
    ca: pki.CaMaterial, now: datetime
) -> None:
    # The demo data's oldest certificate: from about now - 3 years - 61 days to now - 61 days.
    cert = issue(
        ca,
        now,
        0x5006,
        not_before=now - timedelta(days=3 * 365 + 61),
        not_after=now - timedelta(days=61),
    )
    assert cert.not_valid_before_utc >= ca.certificate.not_valid_before_utc
