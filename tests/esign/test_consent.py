"""The E-Onay text and its detached CMS signature (esign/consent.py): pure, no database.

``build_cms`` below makes a CAdES-BES detached signature to the contract's rules with
asn1crypto, independently of the verifier, with a knob for every field a tamper test breaks;
tests/eonay/test_card_signing.py signs with it too.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import hashlib
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from asn1crypto import algos, cms, core
from asn1crypto import tsp as _tsp  # noqa: F401  (signingCertificateV2)
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from esign.consent import (
    ConsentSignatureError,
    ConsentTextError,
    build_text,
    citizen_identifier,
    decode_cms,
    parse_text,
    verify_cms,
)

NOW = dt.datetime(2026, 3, 14, 9, 26, 53, tzinfo=dt.UTC)
NONCE = bytes(range(32))
STATEMENT = "Kurum ödemeli ilk başvuru kapsamında sürekli onay veriyorum."


# --- a CMS to the contract, with knobs ---------------------------------------------------------


def self_signed(key: Any | None = None, name: str = "E-Onay test") -> tuple[x509.Certificate, Any]:
    key = key or ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, name)])
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - dt.timedelta(days=1))
        .not_valid_after(NOW + dt.timedelta(days=365))
        .sign(key, hashes.SHA256())
    )
    return cert, key


def _attr(name: str, value: Any) -> cms.CMSAttribute:
    return cms.CMSAttribute({"type": name, "values": [value]})


def build_cms(
    text: str | bytes,
    key: Any,
    certificate: x509.Certificate,
    *,
    signing_time: dt.datetime | None = None,
    digest: bytes | None = None,
    content_type: str = "data",
    cert_hash: bytes | None = None,
    omit: tuple[str, ...] = (),
    extra_attrs: tuple[cms.CMSAttribute, ...] = (),
    digest_algorithm: str = "sha256",
    encapsulate: bool = False,
    certificates: list[x509.Certificate] | None = None,
    sid_serial: int | None = None,
    signature_algorithm: str | None = None,
    signer_infos: int = 1,
    sign_key: Any | None = None,
    mutate: Callable[[bytes], bytes] | None = None,
) -> bytes:
    """A DER ContentInfo(SignedData) detached signature over ``text``, as the card service
    makes it; every keyword breaks one rule of the contract for the tamper tests."""
    data = text.encode("utf-8") if isinstance(text, str) else text
    cert_der = certificate.public_bytes(serialization.Encoding.DER)
    asn1_cert = asn1_x509.Certificate.load(cert_der)
    attributes = {
        "content_type": _attr("content_type", content_type),
        "signing_time": _attr("signing_time", cms.Time({"utc_time": signing_time or NOW})),
        "message_digest": _attr(
            "message_digest", digest if digest is not None else hashlib.sha256(data).digest()
        ),
        "signing_certificate_v2": _attr(
            "signing_certificate_v2",
            {
                "certs": [
                    {
                        "cert_hash": cert_hash
                        if cert_hash is not None
                        else hashlib.sha256(cert_der).digest()
                    }
                ]
            },
        ),
    }
    signed_attrs = cms.CMSAttributes(
        [value for name, value in attributes.items() if name not in omit] + list(extra_attrs)
    )
    to_sign = signed_attrs.dump()  # a SET OF (tag 0x31)
    signer = sign_key or key
    if isinstance(signer, ec.EllipticCurvePrivateKey):
        signature = signer.sign(to_sign, ec.ECDSA(hashes.SHA256()))
        algorithm = signature_algorithm or "sha256_ecdsa"
    else:
        signature = signer.sign(to_sign, padding.PKCS1v15(), hashes.SHA256())
        algorithm = signature_algorithm or "sha256_rsa"
    signer_info = cms.SignerInfo(
        {
            "version": "v1",
            "sid": cms.SignerIdentifier(
                {
                    "issuer_and_serial_number": {
                        "issuer": asn1_cert.issuer,
                        "serial_number": sid_serial
                        if sid_serial is not None
                        else asn1_cert.serial_number,
                    }
                }
            ),
            "digest_algorithm": algos.DigestAlgorithm({"algorithm": digest_algorithm}),
            "signed_attrs": signed_attrs,
            "signature_algorithm": algos.SignedDigestAlgorithm({"algorithm": algorithm}),
            "signature": signature,
        }
    )
    included = certificates if certificates is not None else [certificate]
    encap: dict[str, Any] = {"content_type": "data"}
    if encapsulate:
        encap["content"] = data
    signed_data = cms.SignedData(
        {
            "version": "v1",
            "digest_algorithms": [algos.DigestAlgorithm({"algorithm": digest_algorithm})],
            "encap_content_info": encap,
            "certificates": [
                asn1_x509.Certificate.load(c.public_bytes(serialization.Encoding.DER))
                for c in included
            ],
            "signer_infos": [signer_info] * signer_infos,
        }
    )
    der = cms.ContentInfo({"content_type": "signed_data", "content": signed_data}).dump()
    return mutate(der) if mutate else der


def text_for(**overrides: Any) -> str:
    fields: dict[str, Any] = {
        "action": "consent.give",
        "scope": "kurum_odemeli_ilk",
        "citizen": "TC 10000000146",
        "time": NOW,
        "nonce": NONCE,
        "statement": STATEMENT,
    }
    fields.update(overrides)
    action = fields.pop("action")
    return build_text(action, **fields)


# --- the text ----------------------------------------------------------------------------------


def test_it_imports_no_django_and_nothing_of_the_project() -> None:
    """Like esign/protocol.py: a card service vendor may take esign/consent.py alone."""
    code = (
        "import sys; import esign.consent; "
        "print(sorted({m.split('.')[0] for m in sys.modules} & "
        "{'django', 'accounts', 'audit', 'certificates', 'nesportal', 'pinvault', 'eonay'}))"
    )
    root = Path(__file__).resolve().parent.parent.parent
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=root, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_the_text_is_exactly_the_documented_lines() -> None:
    text = text_for()
    assert text == (
        "NES-PORTAL-EONAY/1\n"
        "action: consent.give\n"
        "scope: kurum_odemeli_ilk\n"
        "citizen: TC 10000000146\n"
        "time: 2026-03-14T09:26:53Z\n"
        f"nonce: {base64.urlsafe_b64encode(NONCE).decode().rstrip('=')}\n"
        f"statement: {STATEMENT}"
    )
    parsed = parse_text(text)
    assert (parsed.action, parsed.scope, parsed.application) == (
        "consent.give",
        "kurum_odemeli_ilk",
        None,
    )
    assert (parsed.citizen, parsed.time, parsed.nonce, parsed.statement) == (
        "TC 10000000146",
        NOW,
        NONCE,
        STATEMENT,
    )
    assert parse_text(text.encode("utf-8")) == parsed


def test_an_application_decision_names_the_reference() -> None:
    text = text_for(
        action="application.reject",
        scope=None,
        application="EO-2026-000042",
        citizen="PASAPORT U12345678",
        time=NOW.astimezone(dt.timezone(dt.timedelta(hours=3))),
        statement="EO-2026-000042 numaralı başvuruyu reddediyorum.",
    )
    assert "\napplication: EO-2026-000042\n" in text
    assert "\ntime: 2026-03-14T09:26:53Z\n" in text  # UTC whatever the zone given
    parsed = parse_text(text)
    assert (parsed.application, parsed.scope, parsed.citizen) == (
        "EO-2026-000042",
        None,
        "PASAPORT U12345678",
    )


@pytest.mark.parametrize(
    "overrides",
    [
        {"action": "consent.sell"},
        {"scope": "everything"},
        {"scope": None},
        {"application": "EO-1"},  # a consent names no application
        {"action": "application.approve", "scope": None, "application": "eo-1"},
        {"action": "application.approve", "scope": None, "application": "A" * 41},
        {"action": "application.approve"},  # with a scope and no application
        {"citizen": "TC 123"},
        {"citizen": "TC １２３４５６７８９０１"},
        {"citizen": "PASAPORT abc12"},
        {"citizen": "VKN 1234567890"},
        {"nonce": b"short"},
        {"statement": ""},
        {"statement": "x" * 301},
        {"statement": "satır\nsonu"},
        {"statement": "sağdan\u202esola"},
        {"statement": "tab\tişareti"},
        {"time": dt.datetime(2026, 1, 1)},  # naive
    ],
)
def test_the_builder_refuses_what_the_format_does_not_allow(overrides: dict[str, Any]) -> None:
    with pytest.raises(ConsentTextError):
        text_for(**overrides)


def test_citizen_identifier() -> None:
    assert citizen_identifier(tckn="10000000146") == "TC 10000000146"
    assert citizen_identifier(passport_no="U1234567") == "PASAPORT U1234567"
    with pytest.raises(ConsentTextError):
        citizen_identifier(passport_no="U-12")
    with pytest.raises(ConsentTextError):
        citizen_identifier()


def _lines() -> list[str]:
    return text_for().split("\n")


@pytest.mark.parametrize(
    "broken",
    [
        "\n".join(_lines()) + "\n",  # trailing newline
        "\r\n".join(_lines()),
        "\n".join(["NES-PORTAL-EONAY/2", *_lines()[1:]]),
        "\n".join(_lines()[:-1]),  # no statement
        "\n".join([*_lines(), "extra: line"]),
        "\n".join([_lines()[0], _lines()[2], _lines()[1], *_lines()[3:]]),  # order
        text_for().replace("action: ", "action:  "),
        text_for().replace("action: ", "Action: "),
        text_for().replace("time: 2026-03-14T09:26:53Z", "time: 2026-02-30T09:26:53Z"),
        text_for().replace("time: 2026-03-14T09:26:53Z", "time: 2026-03-14T09:26:53+00:00"),
        text_for().replace("time: 2026-03-14T09:26:53Z", "time: 2026-03-14 09:26:53Z"),
        text_for().replace("nonce: AAEC", "nonce: AAE="),
        text_for().replace("nonce: AAEC", "nonce: +AEC"),
        # A base64url text of 32 bytes whose unused low bits are not zero: not canonical.
        text_for(nonce=b"\x00" * 32).replace("AAAAAAAAAAA\n", "AAAAAAAAAAB\n"),
        text_for().replace(STATEMENT, STATEMENT + "\x00"),
        text_for() + "x" * 2048,
    ],
)
def test_the_parser_refuses_anything_but_the_format(broken: str) -> None:
    with pytest.raises(ConsentTextError):
        parse_text(broken)


def test_the_parser_refuses_invalid_utf8_and_oversize() -> None:
    with pytest.raises(ConsentTextError):
        parse_text(text_for().encode("utf-8") + b"\xff")
    # 300 Turkish letters of two bytes each fit; the whole text stays under 2048 bytes.
    assert parse_text(text_for(statement="ş" * 300)).statement == "ş" * 300


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.one_of(st.binary(max_size=3000), st.text(max_size=3000)))
def test_junk_text_raises_only_the_format_error(junk: bytes | str) -> None:
    with contextlib.suppress(ConsentTextError):
        parse_text(junk)


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=0, max_value=6), st.text(max_size=60))
def test_a_changed_line_is_refused_or_parsed_exactly(index: int, value: str) -> None:
    lines = _lines()
    lines[index] = value
    text = "\n".join(lines)
    try:
        parsed = parse_text(text)
    except ConsentTextError:
        return
    # If it parses, building it again gives back exactly the same text.
    rebuilt = build_text(
        parsed.action,
        scope=parsed.scope,
        application=parsed.application,
        citizen=parsed.citizen,
        time=parsed.time,
        nonce=parsed.nonce,
        statement=parsed.statement,
    )
    assert rebuilt == text


# --- the signature -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def signer() -> tuple[x509.Certificate, Any]:
    return self_signed()


def test_a_signature_to_the_contract_verifies(signer: tuple[x509.Certificate, Any]) -> None:
    cert, key = signer
    text = text_for()
    signed = verify_cms(build_cms(text, key, cert), text)
    assert signed.certificate == cert
    assert signed.signing_time == NOW
    assert verify_cms(build_cms(text, key, cert), text.encode("utf-8")).certificate == cert


def test_an_rsa_signature_verifies() -> None:
    cert, key = self_signed(rsa.generate_private_key(public_exponent=65537, key_size=2048))
    text = text_for()
    assert verify_cms(build_cms(text, key, cert), text).certificate == cert
    # rsaEncryption as the signature algorithm (with the SHA-256 digest algorithm) too.
    cms_der = build_cms(text, key, cert, signature_algorithm="rsassa_pkcs1v15")
    assert verify_cms(cms_der, text).certificate == cert


def _flip_last_byte(der: bytes) -> bytes:
    return der[:-1] + bytes([der[-1] ^ 0x01])


ALT_NOW = NOW + dt.timedelta(minutes=1)


@pytest.mark.parametrize(
    ("knobs", "reason"),
    [
        ({"digest": b"\x00" * 32}, "message_digest_mismatch"),
        ({"content_type": "signed_data"}, "content_type_invalid"),
        ({"cert_hash": b"\x00" * 32}, "signing_certificate_mismatch"),
        ({"omit": ("signing_certificate_v2",)}, "signed_attributes_missing"),
        ({"omit": ("signing_time",)}, "signed_attributes_missing"),
        ({"omit": ("message_digest",)}, "signed_attributes_missing"),
        ({"omit": ("content_type",)}, "signed_attributes_missing"),
        (
            {"extra_attrs": (_attr("signing_time", cms.Time({"utc_time": ALT_NOW})),)},
            "signed_attributes_invalid",
        ),
        (
            {"extra_attrs": (cms.CMSAttribute({"type": "1.2.3.4", "values": [core.Null()]}),)},
            "signed_attributes_invalid",
        ),
        ({"digest_algorithm": "sha1"}, "digest_algorithm_invalid"),
        ({"encapsulate": True}, "content_not_detached"),
        ({"certificates": []}, "certificates_invalid"),
        ({"sid_serial": 12345}, "sid_mismatch"),
        ({"signature_algorithm": "sha256_rsa"}, "signature_algorithm_invalid"),
        ({"signature_algorithm": "sha1_ecdsa"}, "signature_algorithm_invalid"),
        ({"signer_infos": 2}, "signer_infos_invalid"),
        ({"mutate": _flip_last_byte}, "signature_invalid"),
    ],
)
def test_each_broken_rule_is_refused(
    signer: tuple[x509.Certificate, Any], knobs: dict[str, Any], reason: str
) -> None:
    cert, key = signer
    text = text_for()
    with pytest.raises(ConsentSignatureError) as caught:
        verify_cms(build_cms(text, key, cert, **knobs), text)
    assert caught.value.reason == reason


def test_another_key_or_another_certificate_is_refused(
    signer: tuple[x509.Certificate, Any],
) -> None:
    cert, key = signer
    other_cert, other_key = self_signed(name="Başkası")
    text = text_for()
    # Signed with another key, the victim's certificate attached.
    with pytest.raises(ConsentSignatureError) as caught:
        verify_cms(build_cms(text, key, cert, sign_key=other_key), text)
    assert caught.value.reason == "signature_invalid"
    # Two certificates (the signer's and another): only the signer's may be there.
    with pytest.raises(ConsentSignatureError):
        verify_cms(build_cms(text, key, cert, certificates=[cert, other_cert]), text)
    # The other certificate instead of the signer's (sid and ESS hash point at cert).
    with pytest.raises(ConsentSignatureError):
        verify_cms(build_cms(text, key, cert, certificates=[other_cert]), text)


@pytest.mark.parametrize(
    "field",
    ["action", "scope", "citizen", "time", "nonce", "statement"],
)
def test_a_signature_does_not_cover_any_other_text(
    signer: tuple[x509.Certificate, Any], field: str
) -> None:
    cert, key = signer
    text = text_for()
    changed = {
        "action": {"action": "consent.withdraw"},
        "scope": {"scope": "kurum_odemeli_yenileme"},
        "citizen": {"citizen": "TC 10000000078"},
        "time": {"time": NOW + dt.timedelta(seconds=1)},
        "nonce": {"nonce": b"\x07" * 32},
        "statement": {"statement": STATEMENT + "!"},
    }[field]
    cms_der = build_cms(text, key, cert)
    with pytest.raises(ConsentSignatureError) as caught:
        verify_cms(cms_der, text_for(**changed))
    assert caught.value.reason == "message_digest_mismatch"


def test_a_tampered_signed_attribute_breaks_the_signature(
    signer: tuple[x509.Certificate, Any],
) -> None:
    """The signing time changed after signing (UTCTime digits swapped in place)."""
    cert, key = signer
    text = text_for()
    der = build_cms(text, key, cert)
    stamp = NOW.strftime("%y%m%d%H%M%SZ").encode()
    assert der.count(stamp) == 1
    tampered = der.replace(stamp, ALT_NOW.strftime("%y%m%d%H%M%SZ").encode())
    with pytest.raises(ConsentSignatureError) as caught:
        verify_cms(tampered, text)
    assert caught.value.reason == "signature_invalid"


def test_decode_cms() -> None:
    assert decode_cms(base64.b64encode(b"\x30\x00").decode()) == b"\x30\x00"
    assert decode_cms(base64.urlsafe_b64encode(b"\xfb\xff").decode().rstrip("=")) == b"\xfb\xff"
    with pytest.raises(ConsentSignatureError):
        decode_cms("not base64!")


@pytest.mark.skipif(shutil.which("openssl") is None, reason="no openssl")
def test_openssl_agrees(signer: tuple[x509.Certificate, Any], tmp_path: Path) -> None:
    """OpenSSL verifies our builder's CMS, and we verify a CAdES-BES detached signature made
    by ``openssl cms -sign -cades`` (another implementation of the same format)."""
    cert, key = signer
    text = text_for()
    (tmp_path / "text").write_bytes(text.encode("utf-8"))
    (tmp_path / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "key.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    (tmp_path / "ours.der").write_bytes(build_cms(text, key, cert))
    subprocess.run(
        [
            "openssl", "cms", "-verify", "-binary", "-inform", "DER", "-in", "ours.der",
            "-content", "text", "-noverify", "-out", "/dev/null",
        ],
        cwd=tmp_path,
        check=True,
        capture_output=True,
    )  # fmt: skip
    subprocess.run(
        [
            "openssl", "cms", "-sign", "-binary", "-md", "sha256", "-nosmimecap", "-cades",
            "-outform", "DER", "-in", "text", "-signer", "cert.pem", "-inkey", "key.pem",
            "-out", "theirs.der",
        ],
        cwd=tmp_path,
        check=True,
        capture_output=True,
    )  # fmt: skip
    theirs = (tmp_path / "theirs.der").read_bytes()
    assert verify_cms(theirs, text).certificate == cert


# --- junk never raises anything else ---------------------------------------------------------


@pytest.fixture(scope="module")
def valid_cms(signer: tuple[x509.Certificate, Any]) -> bytes:
    cert, key = signer
    return build_cms(text_for(), key, cert)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=4000))
def test_junk_cms_raises_only_the_signature_error(junk: bytes) -> None:
    with pytest.raises(ConsentSignatureError):
        verify_cms(junk, text_for())


@settings(
    max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.data())
def test_a_mangled_valid_cms_raises_only_the_signature_error(
    valid_cms: bytes, data: st.DataObject
) -> None:
    """Bytes of a valid CMS flipped, cut or inserted: always refused."""
    der = bytearray(valid_cms)
    for _ in range(data.draw(st.integers(min_value=1, max_value=4))):
        position = data.draw(st.integers(min_value=0, max_value=len(der) - 1))
        how = data.draw(st.sampled_from(["flip", "cut", "insert"]))
        if how == "flip":
            der[position] ^= data.draw(st.integers(min_value=1, max_value=255))
        elif how == "cut":
            del der[position]
        else:
            der.insert(position, data.draw(st.integers(min_value=0, max_value=255)))
    mangled = bytes(der)
    if mangled == valid_cms:
        return
    with pytest.raises(ConsentSignatureError):
        verify_cms(mangled, text_for())


@settings(max_examples=100, deadline=None)
@given(st.one_of(st.none(), st.integers(), st.text(), st.lists(st.integers())))
def test_wrong_types_raise_only_the_signature_error(value: Any) -> None:
    with pytest.raises(ConsentSignatureError):
        verify_cms(value, text_for())
