"""The real ``openssl`` against the running portal: OCSP and CRL agree with the portal's state.

A live server serves the portal; certificates are issued with their CRL distribution point and
OCSP URL pointing at it (PORTAL_BASE_URL). After each transition, made through
``certificates.services`` like the pages make it, ``openssl ocsp`` must verify the responder's
signature ("Response verify OK") and report the status, and ``openssl verify -crl_check`` with
the CRL fetched from the portal must accept or reject the certificate accordingly.
"""

from __future__ import annotations

import datetime as dt
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import AuthorityInformationAccessOID
from django.conf import settings
from django.utils import timezone

from certificates import ca as ca_module
from certificates import pki, services
from certificates.models import Certificate

OPENSSL = "/usr/bin/openssl"
KEY_COMPROMISE = Certificate.RevocationReason.KEY_COMPROMISE
# How `openssl ocsp` names a reason, and how `openssl crl -text` prints it.
CRL_REASON_TEXT = {"certificateHold": "Certificate Hold", "keyCompromise": "Key Compromise"}

pytestmark = pytest.mark.django_db(transaction=True)


@dataclass
class Ocsp:
    status: str  # good / revoked / unknown
    reason: str | None
    output: str


@dataclass
class Portal:
    url: str
    directory: Path

    def openssl(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [OPENSSL, *args],
            cwd=self.directory,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    def fetch(self, path: str) -> requests.Response:
        response = requests.get(self.url + path, timeout=30)
        assert response.status_code == 200, (path, response.status_code)
        return response

    def write_certificate(self, row: Certificate) -> Path:
        path = self.directory / f"{row.serial_number}.pem"
        cert = x509.load_der_x509_certificate(bytes(row.der))
        path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        return path

    def ocsp(self, cert: Path, url: str) -> Ocsp:
        result = self.openssl(
            "ocsp",
            "-issuer", "issuing.crt",
            "-cert", cert.name,
            "-url", url,
            "-CAfile", "chain.pem",
            "-resp_text",
        )  # fmt: skip
        output = result.stdout + result.stderr
        assert result.returncode == 0, output
        # openssl checked the responder's signature and chain, the nonce and the times.
        assert "Response verify OK" in output, output
        match = re.search(rf"^{re.escape(cert.name)}: (\w+)$", result.stdout, re.M)
        assert match, output
        reason = re.search(r"^\s*Reason: (\w+)$", result.stdout, re.M)
        return Ocsp(match.group(1), reason.group(1) if reason else None, output)

    def verify_with_crl(self, cert: Path, crl_url: str) -> subprocess.CompletedProcess[str]:
        assert crl_url.startswith(self.url)
        (self.directory / "crl.der").write_bytes(self.fetch(crl_url[len(self.url) :]).content)
        converted = self.openssl("crl", "-inform", "DER", "-in", "crl.der", "-out", "crl.pem")
        assert converted.returncode == 0, converted.stderr
        return self.openssl(
            "verify", "-crl_check", "-CAfile", "chain.pem", "-CRLfile", "crl.pem", cert.name
        )


def urls_in(row: Certificate) -> tuple[str, str]:
    """The OCSP URL (AIA) and the CRL distribution point written into the certificate."""
    cert = x509.load_der_x509_certificate(bytes(row.der))
    aia = cert.extensions.get_extension_for_class(x509.AuthorityInformationAccess).value
    (ocsp_url,) = [
        d.access_location.value
        for d in aia
        if d.access_method == AuthorityInformationAccessOID.OCSP
    ]
    cdp = cert.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
    (crl_url,) = [name.value for point in cdp for name in point.full_name]
    return ocsp_url, crl_url


@pytest.fixture
def portal(live_server: Any, settings: Any, demo_pki: Path, tmp_path: Path) -> Portal:
    settings.PORTAL_BASE_URL = live_server.url
    portal = Portal(live_server.url, tmp_path)
    (tmp_path / "issuing.crt").write_bytes((demo_pki / "issuing.crt").read_bytes())
    # The chain exactly as an integrator fetches it.
    (tmp_path / "chain.pem").write_bytes(
        portal.fetch(f"/ca/{settings.NES_CA_SLUG}-chain.pem").content
    )
    return portal


def assert_good(portal: Portal, cert: Path, ocsp_url: str, crl_url: str) -> None:
    ocsp = portal.ocsp(cert, ocsp_url)
    assert (ocsp.status, ocsp.reason) == ("good", None), ocsp.output
    verified = portal.verify_with_crl(cert, crl_url)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert verified.stdout.strip() == f"{cert.name}: OK"


def assert_revoked(portal: Portal, cert: Path, ocsp_url: str, crl_url: str, reason: str) -> None:
    ocsp = portal.ocsp(cert, ocsp_url)
    assert (ocsp.status, ocsp.reason) == ("revoked", reason), ocsp.output
    assert "Revocation Time:" in ocsp.output
    verified = portal.verify_with_crl(cert, crl_url)
    output = verified.stdout + verified.stderr
    assert verified.returncode != 0, output
    assert "certificate revoked" in output, output
    # The CRL entry carries the same reason.
    crl_text = portal.openssl("crl", "-in", "crl.pem", "-noout", "-text").stdout
    entry = re.search(
        rf"Serial Number: 0*{int(cert.stem, 16):X}\s+Revocation Date: [^\n]+\s+"
        rf"CRL entry extensions:\s+X509v3 CRL Reason Code:\s+([^\n]+)",
        crl_text,
    )
    assert entry, crl_text
    assert entry.group(1).strip() == CRL_REASON_TEXT[reason]


def test_openssl_agrees_with_the_portal_after_every_transition(
    portal: Portal, certificate_factory: Any, citizen: Any
) -> None:
    row, _ = certificate_factory(citizen, "active")
    ocsp_url, crl_url = urls_in(row)
    assert ocsp_url == f"{portal.url}/ocsp"
    assert crl_url == f"{portal.url}/crl/{settings.NES_CA_SLUG}/{row.crl_shard}.crl"
    cert = portal.write_certificate(row)

    assert_good(portal, cert, ocsp_url, crl_url)

    services.suspend_certificate(row, citizen=citizen)
    # Visible to the very next request: no wait for a periodic job (the time it takes is
    # measured in bench/revocation.py, not asserted here).
    assert portal.ocsp(cert, ocsp_url).reason == "certificateHold"
    assert_revoked(portal, cert, ocsp_url, crl_url, "certificateHold")

    services.reinstate_certificate(row, citizen=citizen)
    assert_good(portal, cert, ocsp_url, crl_url)

    services.revoke_certificate(row, citizen=citizen, reason=KEY_COMPROMISE)
    assert portal.ocsp(cert, ocsp_url).status == "revoked"
    assert_revoked(portal, cert, ocsp_url, crl_url, "keyCompromise")

    row.refresh_from_db()
    assert row.status == Certificate.Status.REVOKED


def test_a_strict_validator_accepts_the_whole_path_with_the_portal_s_crls(
    portal: Portal, certificate_factory: Any, citizen: Any
) -> None:
    """``openssl verify -crl_check_all``: revocation information for every certificate in the
    path, all of it fetched from the URLs the certificates name (AIA, CRL distribution points)."""
    row, _ = certificate_factory(citizen, "active")
    _ocsp_url, shard_url = urls_in(row)
    cert = portal.write_certificate(row)
    issuing = ca_module.material().certificate
    [arl_url] = [
        name.value
        for point in issuing.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
        for name in point.full_name
    ]
    slug = settings.NES_CA_SLUG
    for name, path in (("issuing.der", f"/ca/{slug}.crt"), ("root.der", f"/ca/{slug}-root.crt")):
        (portal.directory / name).write_bytes(portal.fetch(path).content)
        portal.openssl("x509", "-inform", "DER", "-in", name, "-out", name.replace(".der", ".pem"))

    def verify() -> subprocess.CompletedProcess[str]:
        for name, url in (("arl", arl_url), ("shard", shard_url)):
            path = "/" + url.split("/", 3)[3]  # the same path on the live server
            (portal.directory / f"{name}.der").write_bytes(portal.fetch(path).content)
            portal.openssl("crl", "-inform", "DER", "-in", f"{name}.der", "-out", f"{name}.pem")
        return portal.openssl(
            "verify", "-crl_check_all", "-CAfile", "root.pem", "-untrusted", "issuing.pem",
            "-CRLfile", "arl.pem", "-CRLfile", "shard.pem", cert.name,
        )  # fmt: skip

    accepted = verify()
    assert accepted.returncode == 0, accepted.stdout + accepted.stderr
    assert accepted.stdout.strip() == f"{cert.name}: OK"

    services.revoke_certificate(row, citizen=citizen, reason=KEY_COMPROMISE)

    refused = verify()
    assert refused.returncode != 0
    assert "certificate revoked" in refused.stdout + refused.stderr


def test_openssl_sees_a_certificate_not_yet_opened_as_on_hold(
    portal: Portal, certificate_factory: Any, citizen: Any
) -> None:
    row, _ = certificate_factory(citizen, "pending")
    ocsp_url, crl_url = urls_in(row)
    cert = portal.write_certificate(row)

    assert_revoked(portal, cert, ocsp_url, crl_url, "certificateHold")

    services.open_certificate(row, citizen=citizen)

    assert_good(portal, cert, ocsp_url, crl_url)


def test_openssl_reports_unknown_for_a_certificate_we_never_issued(
    portal: Portal, certificate_factory: Any, citizen: Any
) -> None:
    row, _ = certificate_factory(citizen, "active")
    ocsp_url, crl_url = urls_in(row)
    # Signed with the CA's key, but never recorded: as if issued outside the portal.
    now = timezone.now()
    stray = pki.issue_qualified_certificate(
        ca_module.material(),
        public_key=ec.generate_private_key(ec.SECP256R1()).public_key(),
        serial_number=pki.random_serial(),
        given_name="Kayıtsız",
        surname="Sertifika",
        identity="PNOTR-10000000146",
        not_before=now - dt.timedelta(hours=1),
        not_after=now + dt.timedelta(days=30),
        crl_url=crl_url,
        ocsp_url=ocsp_url,
        ca_issuers_url=ca_module.ca_issuers_url(settings.NES_CA_SLUG),
        policy_oid=settings.NES_POLICY_OID,
        pds_url=settings.NES_PDS_URL,
    )
    cert = portal.directory / f"{stray.serial_number:x}.pem"
    cert.write_bytes(stray.public_bytes(serialization.Encoding.PEM))

    assert portal.ocsp(cert, ocsp_url).status == "unknown"
