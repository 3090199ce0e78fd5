"""CMS SignedData, detached, CAdES-BES: the E-Onay consent signature, built with asn1crypto.

The signed attributes are contentType (id-data), signingTime, messageDigest (SHA-256 of the
text's UTF-8 bytes) and signingCertificateV2 (ESS, SHA-256 of the signer's certificate). The
card signs the DER of those attributes as a SET OF (tag 0x31); :func:`build_signed_data`
puts that signature into a SignerInfo (v1, issuerAndSerialNumber).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import UTC, datetime

from asn1crypto import algos, cms, core, tsp, x509


def _signing_time(now: datetime) -> cms.Time:
    now = now.astimezone(UTC).replace(microsecond=0)
    # RFC 5652 11.3: UTCTime for 1950–2049, GeneralizedTime otherwise.
    if 1950 <= now.year <= 2049:
        return cms.Time({"utc_time": now})
    return cms.Time({"general_time": now})


def signed_attributes(
    content: bytes, certificate: x509.Certificate, now: datetime
) -> cms.CMSAttributes:
    """The CAdES-BES signed attributes for ``content`` signed with ``certificate``."""
    essid = tsp.ESSCertIDv2(
        {
            "hash_algorithm": algos.DigestAlgorithm({"algorithm": "sha256"}),
            "cert_hash": hashlib.sha256(certificate.dump()).digest(),
            "issuer_serial": tsp.IssuerSerial(
                {
                    "issuer": [x509.GeneralName({"directory_name": certificate.issuer})],
                    "serial_number": certificate.serial_number,
                }
            ),
        }
    )
    return cms.CMSAttributes(
        [
            cms.CMSAttribute({"type": "content_type", "values": ["data"]}),
            cms.CMSAttribute({"type": "signing_time", "values": [_signing_time(now)]}),
            cms.CMSAttribute(
                {"type": "message_digest", "values": [hashlib.sha256(content).digest()]}
            ),
            cms.CMSAttribute(
                {
                    "type": "signing_certificate_v2",
                    "values": [tsp.SigningCertificateV2({"certs": [essid]})],
                }
            ),
        ]
    )


def build_signed_data(
    content: bytes,
    certificate_der: bytes,
    key_type: str,
    sign: Callable[[bytes], bytes],
    *,
    now: datetime | None = None,
) -> bytes:
    """DER of a ContentInfo(SignedData) detached over ``content``.

    ``key_type`` is ``"ec"`` or ``"rsa"``; ``sign(data)`` signs ``data`` (the DER of the signed
    attributes) with SHA-256 and returns a DER ECDSA signature or a PKCS#1 v1.5 signature."""
    if key_type not in ("ec", "rsa"):
        raise ValueError("key_type must be 'ec' or 'rsa'")
    certificate = x509.Certificate.load(certificate_der)
    attrs = signed_attributes(content, certificate, now or datetime.now(UTC))
    to_sign = attrs.dump()
    assert to_sign[0] == 0x31  # SET OF, not the [0] IMPLICIT tag it has inside SignerInfo
    signature = sign(to_sign)
    if key_type == "ec":
        signature_algorithm = algos.SignedDigestAlgorithm({"algorithm": "sha256_ecdsa"})
    else:
        signature_algorithm = algos.SignedDigestAlgorithm(
            {"algorithm": "sha256_rsa", "parameters": core.Null()}
        )
    signer_info = cms.SignerInfo(
        {
            "version": "v1",
            "sid": cms.SignerIdentifier(
                {
                    "issuer_and_serial_number": cms.IssuerAndSerialNumber(
                        {"issuer": certificate.issuer, "serial_number": certificate.serial_number}
                    )
                }
            ),
            "digest_algorithm": algos.DigestAlgorithm({"algorithm": "sha256"}),
            "signed_attrs": attrs,
            "signature_algorithm": signature_algorithm,
            "signature": signature,
        }
    )
    signed_data = cms.SignedData(
        {
            "version": "v1",
            "digest_algorithms": [algos.DigestAlgorithm({"algorithm": "sha256"})],
            "encap_content_info": cms.ContentInfo({"content_type": "data"}),
            "certificates": [cms.CertificateChoices({"certificate": certificate})],
            "signer_infos": [signer_info],
        }
    )
    content_info = cms.ContentInfo({"content_type": "signed_data", "content": signed_data})
    der: bytes = content_info.dump()
    return der
