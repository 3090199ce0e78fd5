"""pkilint (ETSI EN 319 412-1/-2/-5 and RFC 5280) on the demo certificates themselves, and on the
CRL shards and OCSP responses the portal serves for them.

The demo is issued with deployment-like URLs: pkilint's ETSI profile rejects internal host
names (127.0.0.1, localhost, *.test) in CRL/OCSP/caIssuers addresses and a PDS that is not
https, so a real deployment sets PORTAL_BASE_URL and NES_PDS_URL accordingly (README).
"""

from __future__ import annotations

from typing import Any

import pytest
from cryptography import x509
from pkilint.etsi.etsi_constants import CertificateType

from certificates import publication
from nesportal.demo import STATES, issue_demo_certificates

from .ocsp_requests import request_der
from .pki_helpers import crl_findings, errors, etsi_findings, ocsp_findings, rfc5280_findings

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def public_urls(settings: Any, demo_pki: Any) -> None:
    settings.PORTAL_BASE_URL = "http://nes.portal.gov.tr"
    settings.NES_PDS_URL = "https://nes.portal.gov.tr/ca/pds/"


def test_every_demo_certificate_passes_pkilint(public_urls: None, citizen_factory: Any) -> None:
    for citizen in (citizen_factory(), citizen_factory(passport=True)):
        rows = issue_demo_certificates(citizen)
        assert len(rows) == len(STATES)
        for row in rows:
            cert = x509.load_der_x509_certificate(bytes(row.der))
            etsi = etsi_findings(cert, CertificateType.QCP_N_QSCD_NON_EIDAS_FINAL_CERTIFICATE)
            assert errors(etsi) == [], (row.serial_number, row.status)
            assert errors(rfc5280_findings(cert)) == [], (row.serial_number, row.status)


def test_the_served_crl_shards_and_ocsp_responses_pass_pkilint(
    public_urls: None, citizen_factory: Any, client: Any
) -> None:
    rows = issue_demo_certificates(citizen_factory())
    shards = {row.crl_shard for row in rows}
    publication.publish_for(rows[0].ca_id, shards)

    for shard in [*sorted(shards), ""]:
        path = f"/crl/nes-portal/{shard}.crl" if shard else "/crl/nes-portal.crl"
        response = client.get(path)
        assert response.status_code == 200, path
        crl = x509.load_der_x509_crl(response.content)
        assert errors(crl_findings(crl)) == [], path
    for body in (
        request_der([rows[0].serial_int]),  # expired: archiveCutoff
        request_der([row.serial_int for row in rows], nonce=b"n" * 16),  # every CertID
    ):
        response = client.post("/ocsp", data=body, content_type="application/ocsp-request")
        assert errors(ocsp_findings(response.content)) == []


def test_the_demo_has_a_certificate_in_every_state(demo_pki: Any, citizen_factory: Any) -> None:
    rows = issue_demo_certificates(citizen_factory())
    statuses = sorted("expired" if row.is_expired() else row.status for row in rows)
    assert statuses == sorted(STATES)
