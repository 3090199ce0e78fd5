"""OCSP for volume and for any input: every CertID answered, pre-signed responses, RFC 5019
caching headers, archiveCutoff after expiry, and an OCSP error status (never a 500) for
out-of-range serials and for our own failures."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.x509 import ocsp
from django.test import Client
from django.utils.http import parse_http_date
from pyasn1.codec.der import encoder
from pyasn1.type import univ

from certificates import ca as ca_module
from certificates import responder, services
from certificates.models import Certificate

from .ocsp_requests import request_der

pytestmark = pytest.mark.django_db

ARCHIVE_CUTOFF = x509.ObjectIdentifier("1.3.6.1.5.5.7.48.1.6")
SHA1 = "1.3.14.3.2.26"


def post(client: Client, body: bytes) -> Any:
    response = client.post("/ocsp", data=body, content_type="application/ocsp-request")
    assert response.status_code == 200
    return response


def parsed(response: Any) -> ocsp.OCSPResponse:
    return ocsp.load_der_ocsp_response(response.content)


def get_path(body: bytes) -> str:
    import base64
    import urllib.parse

    return "/ocsp/" + urllib.parse.quote(base64.b64encode(body).decode(), safe="")


@pytest.fixture
def published(django_capture_on_commit_callbacks: Any) -> Any:
    def run(service: Any, *args: Any, **kwargs: Any) -> Any:
        with django_capture_on_commit_callbacks(execute=True):
            return service(*args, **kwargs)

    return run


# --- every CertID, every input ---------------------------------------------------------------


@pytest.mark.parametrize("count", [2, 3])
def test_it_answers_every_cert_id_of_a_request_in_order(
    client: Client, certificate_factory: Any, citizen_factory: Any, count: int
) -> None:
    states = ["active", "revoked", "suspended"][:count]
    rows = [certificate_factory(citizen_factory(), state)[0] for state in states]
    nonce = os.urandom(16)

    answer = parsed(post(client, request_der([row.serial_int for row in rows], nonce=nonce)))

    assert answer.response_status == ocsp.OCSPResponseStatus.SUCCESSFUL
    singles = list(answer.responses)
    assert [s.serial_number for s in singles] == [row.serial_int for row in rows]
    expected = {
        "active": ocsp.OCSPCertStatus.GOOD,
        "revoked": ocsp.OCSPCertStatus.REVOKED,
        "suspended": ocsp.OCSPCertStatus.REVOKED,
    }
    assert [s.certificate_status for s in singles] == [expected[state] for state in states]
    if count == 3:
        assert singles[2].revocation_reason == x509.ReasonFlags.certificate_hold
    assert answer.extensions.get_extension_for_class(x509.OCSPNonce).value.nonce == nonce
    signer = answer.certificates[0]
    from cryptography.hazmat.primitives.asymmetric import ec

    signer.public_key().verify(  # type: ignore[union-attr]
        answer.signature, answer.tbs_response_bytes, ec.ECDSA(hashes.SHA256())
    )


def test_a_multi_request_mixing_ours_and_unknown_answers_unknown_for_the_stranger(
    client: Client, certificate_factory: Any, citizen: Any
) -> None:
    row, _ = certificate_factory(citizen, "active")

    answer = parsed(post(client, request_der([row.serial_int, row.serial_int + 1])))

    statuses = [s.certificate_status for s in answer.responses]
    assert statuses == [ocsp.OCSPCertStatus.GOOD, ocsp.OCSPCertStatus.UNKNOWN]


@pytest.mark.parametrize(
    "serial", [0, -5, -(2**64), 2**159, 2**168 - 1], ids=["zero", "-5", "-2^64", "2^159", "21-oct"]
)
def test_out_of_range_serials_get_malformed_request_never_a_500(
    client: Client, demo_pki: Path, serial: int
) -> None:
    body = request_der([serial])

    by_post = post(client, body)
    by_get = client.get(get_path(body))

    for response in (by_post, by_get):
        assert response.status_code == 200
        assert parsed(response).response_status == ocsp.OCSPResponseStatus.MALFORMED_REQUEST
        assert "no-store" in response["Cache-Control"]


def test_more_cert_ids_than_allowed_get_malformed_request(client: Client, demo_pki: Path) -> None:
    from certificates import pki

    body = request_der(list(range(1, pki.MAX_CERT_IDS + 2)))

    assert parsed(post(client, body)).response_status == ocsp.OCSPResponseStatus.MALFORMED_REQUEST


def test_an_unreadable_ca_key_gives_internal_error_and_a_503_crl(
    client: Client, certificate_factory: Any, citizen: Any, settings: Any, tmp_path: Path
) -> None:
    row, _ = certificate_factory(citizen, "active")
    body = request_der([row.serial_int])
    settings.NES_CA_KEY_PATH = str(tmp_path / "gone.key")

    answer = parsed(post(client, body))
    crl = client.get(f"/crl/{settings.NES_CA_SLUG}.crl")

    assert answer.response_status == ocsp.OCSPResponseStatus.INTERNAL_ERROR
    assert crl.status_code == 503
    assert client.get("/").status_code == 200  # the rest of the portal works


def test_an_expired_certificate_is_answered_with_archive_cutoff(
    client: Client, certificate_factory: Any, citizen: Any
) -> None:
    expired, _ = certificate_factory(citizen, "expired")
    active, _ = certificate_factory(citizen, "active")

    old = parsed(post(client, request_der([expired.serial_int], nonce=os.urandom(8))))
    live = parsed(post(client, request_der([active.serial_int], nonce=os.urandom(8))))

    assert old.certificate_status == ocsp.OCSPCertStatus.GOOD
    [single] = list(old.responses)
    assert single.serial_number == expired.serial_int
    cutoff = ca_module.material().certificate.not_valid_before_utc
    der = old.tbs_response_bytes
    assert encoder.encode(univ.ObjectIdentifier(str(ARCHIVE_CUTOFF.dotted_string))) in der
    assert cutoff.strftime("%Y%m%d%H%M%S").encode() in der
    assert encoder.encode(univ.ObjectIdentifier(ARCHIVE_CUTOFF.dotted_string)) not in (
        live.tbs_response_bytes
    )


# --- caching (RFC 5019) and pre-signed responses ------------------------------------------


def test_a_nonce_less_get_carries_rfc_5019_caching_headers(
    client: Client, certificate_factory: Any, citizen: Any, settings: Any
) -> None:
    row, _ = certificate_factory(citizen, "active")
    path = get_path(request_der([row.serial_int]))

    response = client.get(path)

    answer = parsed(response)
    assert answer.certificate_status == ocsp.OCSPCertStatus.GOOD
    assert parse_http_date(response["Last-Modified"]) == int(answer.this_update_utc.timestamp())
    assert parse_http_date(response["Expires"]) == int(answer.next_update_utc.timestamp())
    assert response["Cache-Control"].startswith(f"max-age={settings.NES_OCSP_HTTP_MAX_AGE}, ")
    assert "public" in response["Cache-Control"]
    assert response["ETag"].startswith('"')
    again = client.get(path, HTTP_IF_NONE_MATCH=response["ETag"])
    if again.status_code == 200:  # signed afresh (no shared cache): a new ETag
        assert again["ETag"] != response["ETag"]
    else:
        assert again.status_code == 304


def test_a_nonced_answer_is_never_cached(
    client: Client, certificate_factory: Any, citizen: Any
) -> None:
    row, _ = certificate_factory(citizen, "active")

    response = post(client, request_der([row.serial_int], nonce=os.urandom(16)))

    assert response["Cache-Control"] == "no-cache, no-store, max-age=0"
    assert "ETag" not in response


@pytest.fixture
def presigned(settings: Any) -> None:
    from django.core.cache import cache

    settings.NES_OCSP_RESPONSE_CACHE = True
    cache.clear()


def test_nonce_less_requests_are_served_pre_signed_until_the_status_changes(
    client: Client, certificate_factory: Any, citizen: Any, presigned: None, published: Any
) -> None:
    row, _ = certificate_factory(citizen, "active")
    body = request_der([row.serial_int])

    first = client.get(get_path(body))
    second = post(client, body)
    conditional = client.get(get_path(body), HTTP_IF_NONE_MATCH=first["ETag"])

    assert second.content == first.content  # the same signed bytes, not a new signature
    assert conditional.status_code == 304
    published(services.suspend_certificate, row, citizen=citizen)
    after = parsed(client.get(get_path(body)))
    assert after.certificate_status == ocsp.OCSPCertStatus.REVOKED
    assert after.revocation_reason == x509.ReasonFlags.certificate_hold
    published(services.reinstate_certificate, row, citizen=citizen)
    assert parsed(post(client, body)).certificate_status == ocsp.OCSPCertStatus.GOOD


def test_a_response_signed_before_a_change_is_never_stored_after_it(
    certificate_factory: Any, citizen: Any, presigned: None, published: Any
) -> None:
    """The race: a request read the old status, the change committed, then the request stores."""
    from certificates import pki

    row, _ = certificate_factory(citizen, "active")
    request = pki.parse_ocsp_request(request_der([row.serial_int]))
    [cert_id] = request.cert_ids
    stale_version = Certificate.objects.get(pk=row.pk).status_version
    stale = responder.answer(request_der([row.serial_int]))  # signed "good", cached
    published(services.suspend_certificate, row, citizen=citizen)

    # The slow request stores its (old) answer only now.
    responder._store(row.ca_id, cert_id, stale_version, stale)

    fresh = ocsp.load_der_ocsp_response(responder.answer(request_der([row.serial_int])).der)
    assert fresh.certificate_status == ocsp.OCSPCertStatus.REVOKED


def test_a_pre_signed_response_is_re_signed_after_half_its_life(
    certificate_factory: Any, citizen: Any, presigned: None, time_machine: Any, settings: Any
) -> None:
    row, _ = certificate_factory(citizen, "active")
    body = request_der([row.serial_int])
    first = responder.answer(body)
    assert responder.answer(body).der == first.der

    time_machine.move_to(
        dt.datetime.now(dt.UTC) + dt.timedelta(seconds=settings.NES_OCSP_VALIDITY_SECONDS * 0.6)
    )

    assert responder.answer(body).der != first.der
