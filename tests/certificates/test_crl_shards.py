"""Temporal CRL shards, the ARL, and public repository responses that any cache may keep.

A certificate's CRL distribution point names its shard (the month its validity ends); the shard
is served at that URL with a matching issuingDistributionPoint, keeps the entries of expired
certificates (expiredCertsOnCRL), and is re-signed on its own when one of its certificates
changes. The root's CRL (ARL) and the root certificate are served for strict validators.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
from cryptography import x509
from django.conf import settings
from django.test import Client

from certificates import ca as ca_module
from certificates import publication, services
from certificates.models import Certificate, CrlShard

pytestmark = pytest.mark.django_db

EXPIRED_CERTS_ON_CRL = x509.ObjectIdentifier("2.5.29.60")


def distribution_point(row: Certificate) -> str:
    cert = x509.load_der_x509_certificate(bytes(row.der))
    points = cert.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
    [point] = points
    [name] = point.full_name
    return name.value


def fetch(client: Client, url: str) -> tuple[Any, x509.CertificateRevocationList]:
    response = client.get(urlparse(url).path)
    assert response.status_code == 200, url
    assert response["Content-Type"] == "application/pkix-crl"
    return response, x509.load_der_x509_crl(response.content)


def serials(crl: x509.CertificateRevocationList) -> set[int]:
    return {entry.serial_number for entry in crl}


@pytest.fixture
def published(django_capture_on_commit_callbacks: Any) -> Any:
    def run(service: Any, *args: Any, **kwargs: Any) -> Any:
        with django_capture_on_commit_callbacks(execute=True):
            return service(*args, **kwargs)

    return run


def test_a_certificate_names_the_shard_of_the_month_it_ends_in(
    client: Client, certificate_factory: Any, citizen: Any
) -> None:
    row, _ = certificate_factory(citizen, "suspended")

    url = distribution_point(row)

    assert row.crl_shard == row.not_after.astimezone(dt.UTC).strftime("%Y%m")
    assert url == ca_module.crl_url(settings.NES_CA_SLUG, row.crl_shard)
    assert url.endswith(f"/crl/{settings.NES_CA_SLUG}/{row.crl_shard}.crl")
    response, crl = fetch(client, url)
    assert row.serial_int in serials(crl)
    idp = crl.extensions.get_extension_for_class(x509.IssuingDistributionPoint)
    assert idp.critical
    assert [name.value for name in idp.value.full_name] == [url]
    assert crl.is_signature_valid(ca_module.material().certificate.public_key())
    assert response["ETag"] == CrlShard.objects.get(shard=row.crl_shard).etag


def test_a_shard_lists_only_its_own_certificates(
    client: Client, certificate_factory: Any, citizen_factory: Any
) -> None:
    now = dt.datetime.now(dt.UTC)
    here, _ = certificate_factory(citizen_factory(), "revoked")
    # Another month: issued 40 days earlier, so it ends in an earlier month's shard.
    there, _ = certificate_factory(citizen_factory(), "revoked", now=now - dt.timedelta(days=40))
    assert here.crl_shard != there.crl_shard

    _, shard = fetch(client, distribution_point(here))
    _, full = fetch(client, ca_module.crl_url(settings.NES_CA_SLUG))

    assert serials(shard) == {here.serial_int}
    assert serials(full) == {here.serial_int, there.serial_int}
    assert full.extensions.get_extension_for_class(x509.CRLNumber)
    with pytest.raises(x509.ExtensionNotFound):
        full.extensions.get_extension_for_class(x509.IssuingDistributionPoint)


def test_a_shard_keeps_expired_certificates_that_the_full_crl_drops(
    client: Client, certificate_factory: Any, citizen: Any, time_machine: Any, published: Any
) -> None:
    row, _ = certificate_factory(citizen, "active")
    published(services.revoke_certificate, row, citizen=citizen, reason="key_compromise")

    time_machine.move_to(row.not_after + dt.timedelta(days=1))
    publication.refresh_due()
    _, shard = fetch(client, distribution_point(row))
    _, full = fetch(client, ca_module.crl_url(settings.NES_CA_SLUG))

    assert row.serial_int in serials(shard)
    assert row.serial_int not in serials(full)
    extension = shard.extensions.get_extension_for_oid(EXPIRED_CERTS_ON_CRL)
    assert not extension.critical
    issuing_not_before = ca_module.material().certificate.not_valid_before_utc
    assert issuing_not_before.strftime("%Y%m%d%H%M%S").encode() in extension.value.value


def test_a_change_re_signs_its_own_shard_and_the_full_crl_only(
    certificate_factory: Any, citizen_factory: Any, published: Any
) -> None:
    now = dt.datetime.now(dt.UTC)
    changed, _ = certificate_factory(citizen_factory(), "active")
    other, _ = certificate_factory(citizen_factory(), "active", now=now - dt.timedelta(days=40))
    publication.publish_for(changed.ca_id, {changed.crl_shard, other.crl_shard})
    numbers = dict(CrlShard.objects.values_list("shard", "number"))

    published(services.suspend_certificate, changed, citizen=changed.citizen)

    after = dict(CrlShard.objects.values_list("shard", "number"))
    assert after[changed.crl_shard] == numbers[changed.crl_shard] + 1
    assert after[CrlShard.FULL] == numbers[CrlShard.FULL] + 1
    assert after[other.crl_shard] == numbers[other.crl_shard]


@pytest.mark.parametrize("shard", ["209912", "190001", "202613", "202600"])
def test_it_404s_a_shard_outside_the_ca_s_lifetime(
    client: Client, demo_pki: Path, shard: str
) -> None:
    response = client.get(f"/crl/{settings.NES_CA_SLUG}/{shard}.crl")

    assert response.status_code == 404
    assert not CrlShard.objects.filter(shard=shard).exists()


def test_an_empty_shard_is_served_as_an_empty_signed_crl(client: Client, demo_pki: Path) -> None:
    shard = ca_module.shard_for(dt.datetime.now(dt.UTC) + dt.timedelta(days=400))

    _, crl = fetch(client, ca_module.crl_url(settings.NES_CA_SLUG, shard))

    assert serials(crl) == set()
    assert crl.is_signature_valid(ca_module.material().certificate.public_key())


def test_the_issuing_ca_names_the_arl_and_the_root(client: Client, demo_pki: Path) -> None:
    issuing = ca_module.material().certificate
    root = ca_module.material().chain[-1]

    points = issuing.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
    [arl_url] = [name.value for point in points for name in point.full_name]
    aia = issuing.extensions.get_extension_for_class(x509.AuthorityInformationAccess).value
    [ca_issuers] = [
        d.access_location.value
        for d in aia
        if d.access_method == x509.oid.AuthorityInformationAccessOID.CA_ISSUERS
    ]

    assert arl_url == ca_module.arl_url(settings.NES_CA_SLUG)
    assert ca_issuers == ca_module.root_certificate_url(settings.NES_CA_SLUG)
    _, arl = fetch(client, arl_url)
    assert arl.is_signature_valid(root.public_key())
    assert arl.issuer == root.subject
    assert serials(arl) == set()
    served_root = client.get(urlparse(ca_issuers).path)
    assert served_root.status_code == 200
    assert x509.load_der_x509_certificate(served_root.content) == root


def test_a_missing_arl_file_is_a_503_not_a_500(
    client: Client, demo_pki: Path, settings: Any, tmp_path: Path
) -> None:
    settings.NES_ARL_PATH = str(tmp_path / "absent.crl")

    response = client.get(f"/crl/{settings.NES_CA_SLUG}-root.crl")

    assert response.status_code == 503
    assert response["Retry-After"]


@pytest.mark.parametrize(
    "path",
    [
        "/crl/{slug}.crl",
        "/crl/{slug}-root.crl",
        "/ca/{slug}.crt",
        "/ca/{slug}-root.crt",
        "/ca/{slug}-chain.pem",
        "/ocsp/MAA=",
    ],
)
def test_public_responses_read_no_session_and_name_no_language(
    client: Client, certificate_factory: Any, citizen: Any, path: str
) -> None:
    from nesportal.testing import login_as

    certificate_factory(citizen, "active")
    login_as(client, citizen)  # a logged-in browser downloading the CRL sends its cookie
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"

    response = client.get(path.format(slug=settings.NES_CA_SLUG))

    assert response.status_code == 200
    assert "Content-Language" not in response
    assert "Cookie" not in response.get("Vary", "")
    assert "Accept-Language" not in response.get("Vary", "")
    assert settings.SESSION_COOKIE_NAME not in response.cookies
    # A page still says its language.
    assert client.get("/ca/pds/")["Content-Language"] == "en"


def test_a_large_full_crl_is_spaced_out_while_the_shard_follows_at_once(
    certificate_factory: Any,
    citizen: Any,
    django_capture_on_commit_callbacks: Any,
    time_machine: Any,
) -> None:
    row, _ = certificate_factory(citizen, "active")
    publication.publish_for(row.ca_id, {row.crl_shard})
    # As if the last full CRL had taken 5 s to sign (a large one).
    CrlShard.objects.filter(shard=CrlShard.FULL).update(sign_seconds=5.0)
    numbers = dict(CrlShard.objects.values_list("shard", "number"))

    with django_capture_on_commit_callbacks(execute=True):
        services.suspend_certificate(row, citizen=citizen)
    outcome = publication.publish_for(row.ca_id, {row.crl_shard})

    after = dict(CrlShard.objects.values_list("shard", "number"))
    assert after[row.crl_shard] == numbers[row.crl_shard] + 1  # the shard: at once
    assert after[CrlShard.FULL] == numbers[CrlShard.FULL]  # the full CRL: later
    assert 0 < outcome.retry_in <= publication.FULL_CRL_SPACING * 5.0
    time_machine.move_to(dt.datetime.now(dt.UTC) + dt.timedelta(seconds=51))
    assert publication.refresh_due() == 1
    full = publication.stored_crl(row.ca_id)
    assert full is not None and row.serial_int in serials(full)


def test_with_a_shared_cache_every_process_serves_a_new_crl_at_once(
    client: Client, certificate_factory: Any, citizen: Any, settings: Any
) -> None:
    settings.NES_SHARED_CACHE = True
    row, _ = certificate_factory(citizen, "active")
    first = x509.load_der_x509_crl(client.get("/crl/nes-portal.crl").content)
    # Another process published: this one's own memory of "current" is not consulted.
    services_row = CrlShard.objects.get(shard=CrlShard.FULL)
    publication.publish(services_row.pk, force=True)
    publication._meta.clear()
    publication._meta[(row.ca_id, "")] = (1e12, ("stale",))  # would be wrong if it were read

    second = x509.load_der_x509_crl(client.get("/crl/nes-portal.crl").content)

    number = x509.CRLNumber
    assert (
        second.extensions.get_extension_for_class(number).value.crl_number
        == first.extensions.get_extension_for_class(number).value.crl_number + 1
    )
