"""OCSP requests for any serials and any number of CertIDs, as no client library would build."""

from __future__ import annotations

from cryptography.hazmat.primitives import hashes, serialization
from pyasn1.codec.der import decoder, encoder
from pyasn1.type import univ
from pyasn1_alt_modules import rfc5280, rfc6960

from certificates import ca as ca_module

SHA1 = "1.3.14.3.2.26"


def issuer_hashes() -> tuple[bytes, bytes]:
    """SHA-1 CertID hashes of our issuing CA (RFC 6960 §4.1.1), as openssl sends them."""
    cert = ca_module.material().certificate
    spki = cert.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    decoded, _ = decoder.decode(spki, asn1Spec=rfc5280.SubjectPublicKeyInfo())
    name_hash = hashes.Hash(hashes.SHA1())  # noqa: S303 - a CertID hash, not a signature
    name_hash.update(cert.subject.public_bytes())
    key_hash = hashes.Hash(hashes.SHA1())  # noqa: S303
    key_hash.update(decoded["subjectPublicKey"].asOctets())
    return name_hash.finalize(), key_hash.finalize()


def request_der(serials: list[int], *, nonce: bytes | None = None) -> bytes:
    """An OCSP request for any serials (also ones no client library would encode)."""
    name_hash, key_hash = issuer_hashes()
    request = rfc6960.OCSPRequest()
    tbs = request["tbsRequest"]
    for serial in serials:
        single = rfc6960.Request()
        cert_id = single["reqCert"]
        cert_id["hashAlgorithm"]["algorithm"] = univ.ObjectIdentifier(SHA1)
        cert_id["issuerNameHash"] = name_hash
        cert_id["issuerKeyHash"] = key_hash
        cert_id["serialNumber"] = serial
        tbs["requestList"].append(single)
    if nonce is not None:
        extension = rfc5280.Extension()
        extension["extnID"] = univ.ObjectIdentifier("1.3.6.1.5.5.7.48.1.2")
        extension["extnValue"] = encoder.encode(univ.OctetString(nonce))
        tbs["requestExtensions"].append(extension)
    return encoder.encode(request)
