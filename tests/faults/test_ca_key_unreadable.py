"""The CA's key files unreadable (removed, or mode 000 for a non-root web process).

OCSP answers ``internalError`` (RFC 6960 §2.3, an OCSP response with HTTP 200, never an HTML
500 page); the CRL endpoint serves the CRL it already published (still signed, still valid
until its nextUpdate) or 503 with Retry-After when it has none; the citizen's pages (login,
certificate list) keep working. Runs on SQLite and PostgreSQL: no other server is involved.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.x509 import ocsp
from django.test import Client
from django.utils import timezone

from accounts.models import Citizen
from certificates import ca as ca_module
from certificates import publication
from nesportal.demo import issue_in_state
from nesportal.testing import login_as

from ..certificates.ocsp_requests import request_der

pytestmark = pytest.mark.django_db


@pytest.fixture
def pki_copy(settings: Any, _demo_pki_dir: Path, tmp_path: Path) -> Any:
    """The demo PKI copied into a directory of this test, which may break it."""
    directory = tmp_path / "pki"
    shutil.copytree(_demo_pki_dir, directory)
    settings.NES_PKI_DIR = directory
    for setting, name in [
        ("NES_CA_CERT_PATH", "issuing.crt"),
        ("NES_CA_KEY_PATH", "issuing.key"),
        ("NES_CA_CHAIN_PATH", "root.crt"),
        ("NES_OCSP_CERT_PATH", "ocsp.crt"),
        ("NES_OCSP_KEY_PATH", "ocsp.key"),
        ("NES_ROOT_KEY_PATH", "root.key"),
        ("NES_ARL_PATH", "root.crl"),
    ]:
        setattr(settings, setting, str(directory / name))
    settings.NES_OCSP_RESPONSE_CACHE = False  # every answer is signed now, with the files now
    ca_module.forget_rows()
    publication.forget_served()
    yield directory
    ca_module.forget_rows()
    publication.forget_served()
    ca_module._stamps.clear()


def make_unreadable(path: Path) -> None:
    """What an operator's mistake does: mode 000 (root reads it anyway, so remove it then)."""
    path.chmod(0)
    if os.geteuid() == 0:
        path.unlink()
    ca_module._stamps.clear()  # noticed now instead of within a second


def ocsp_status(client: Client, der: bytes) -> tuple[int, Any]:
    response = client.post("/ocsp", der, content_type="application/ocsp-request")
    return response.status_code, ocsp.load_der_ocsp_response(response.content).response_status


@pytest.mark.parametrize("key", ["issuing.key", "ocsp.key"])
def test_it_answers_its_error_statuses_and_keeps_the_portal_working(
    key: str, pki_copy: Path, citizen: Citizen, client: Client, settings: Any
) -> None:
    certificate, _ = issue_in_state(citizen, "active")
    der = request_der([int(certificate.serial_number, 16)])  # built while the CA is readable
    assert ocsp_status(client, der) == (200, ocsp.OCSPResponseStatus.SUCCESSFUL)
    crl_path = ca_module.crl_path(settings.NES_CA_SLUG)
    published = client.get(crl_path)
    assert published.status_code == 200
    x509.load_der_x509_crl(published.content)
    shard_path = ca_module.crl_path(settings.NES_CA_SLUG, certificate.crl_shard)
    published_shard = client.get(shard_path)
    assert published_shard.status_code == 200

    make_unreadable(pki_copy / key)
    ca_module.forget_rows()

    status, ocsp_answer = ocsp_status(client, der)
    assert (status, ocsp_answer) == (200, ocsp.OCSPResponseStatus.INTERNAL_ERROR)
    # The CRL already published is still signed and valid: it is served as it is …
    crl = client.get(crl_path)
    assert crl.status_code == 200, crl.status_code
    assert crl.content == published.content
    shard = client.get(shard_path)
    assert (shard.status_code, shard.content) == (200, published_shard.content)
    # A CRL never signed cannot be had without the key: 503 with Retry-After, not a 500.
    never_signed = ca_module.crl_path(settings.NES_CA_SLUG, ca_module.shard_for(timezone.now()))
    if never_signed != shard_path:
        missing = client.get(never_signed)
        assert missing.status_code == 503
        assert missing["Retry-After"]
    print(f"\nFAULT CA {key} unreadable -> OCSP internalError (HTTP 200), CRL {crl.status_code}")
    # … and the citizen's side of the portal does not depend on the CA key.
    assert client.get("/giris/").status_code == 200
    assert login_as(client, citizen).get("/sertifikalar/").status_code == 200
