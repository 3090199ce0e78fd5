"""The CA's public repository: the CRL, the CA certificates, the PDS page and OCSP responder.

Everything here goes through the Django test client like a relying party would, and checks the
bytes with ``cryptography``: signatures, CRL numbers, entries and their reasons, OCSP statuses.
Status changes go through ``certificates.services``; the CRL publication task is queued once
the change commits (run in-process here), so the ``on_commit`` callbacks are executed with
``django_capture_on_commit_callbacks``.
"""

from __future__ import annotations

import base64
import datetime as dt
import os
import urllib.parse
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509 import ocsp
from django.conf import settings
from django.test import Client
from django.utils.http import parse_http_date

from certificates import ca as ca_module
from certificates import publication, responder, services
from certificates.models import Certificate, CertificateAuthority, CrlShard
from certificates.public_views import MAX_OCSP_REQUEST

pytestmark = pytest.mark.django_db

KEY_COMPROMISE = Certificate.RevocationReason.KEY_COMPROMISE


# --- helpers -----------------------------------------------------------------------------------


def load_pem(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def crl_path() -> str:
    return f"/crl/{settings.NES_CA_SLUG}.crl"


def fetch_crl(client: Client) -> x509.CertificateRevocationList:
    response = client.get(crl_path())
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pkix-crl"
    return x509.load_der_x509_crl(response.content)


def crl_number(crl: x509.CertificateRevocationList) -> int:
    return crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number


def entry_reason(entry: x509.RevokedCertificate) -> x509.ReasonFlags:
    try:
        return entry.extensions.get_extension_for_class(x509.CRLReason).value.reason
    except x509.ExtensionNotFound:
        return x509.ReasonFlags.unspecified


def listed(crl: x509.CertificateRevocationList) -> dict[int, x509.ReasonFlags]:
    return {entry.serial_number: entry_reason(entry) for entry in crl}


def x509_of(row: Certificate) -> x509.Certificate:
    return x509.load_der_x509_certificate(bytes(row.der))


def ocsp_request(
    row: Certificate, issuer: x509.Certificate, *, nonce: bytes | None = None
) -> bytes:
    # SHA-1 in the CertID is what openssl and most clients send (RFC 5019); not a signature.
    builder = ocsp.OCSPRequestBuilder().add_certificate(
        x509_of(row),
        issuer,
        hashes.SHA1(),  # noqa: S303
    )
    if nonce is not None:
        builder = builder.add_extension(x509.OCSPNonce(nonce), critical=False)
    return builder.build().public_bytes(serialization.Encoding.DER)


def _checked(response: Any) -> ocsp.OCSPResponse:
    assert response.status_code == 200
    assert response["Content-Type"] == "application/ocsp-response"
    parsed = ocsp.load_der_ocsp_response(response.content)
    if parsed.response_status != ocsp.OCSPResponseStatus.SUCCESSFUL:
        assert "no-store" in response["Cache-Control"]  # errors are never kept
    elif _has_nonce(parsed):
        assert "no-store" in response["Cache-Control"]  # a nonced answer is for one request
    else:
        assert "max-age=" in response["Cache-Control"]  # RFC 5019 §6.2
    return parsed


def _has_nonce(response: ocsp.OCSPResponse) -> bool:
    try:
        response.extensions.get_extension_for_class(x509.OCSPNonce)
    except x509.ExtensionNotFound:
        return False
    return True


def post_ocsp(client: Client, body: bytes, path: str = "/ocsp") -> ocsp.OCSPResponse:
    return _checked(client.post(path, data=body, content_type="application/ocsp-request"))


def get_path(body: bytes) -> str:
    return "/ocsp/" + urllib.parse.quote(base64.b64encode(body).decode("ascii"), safe="")


def get_ocsp(client: Client, body: bytes) -> ocsp.OCSPResponse:
    return _checked(client.get(get_path(body)))


def full_row() -> CrlShard:
    return CrlShard.objects.get(shard=CrlShard.FULL)


def assert_signed_by_delegated_responder(
    response: ocsp.OCSPResponse, issuer: x509.Certificate, demo_pki: Path
) -> None:
    signer = load_pem(demo_pki / "ocsp.crt")
    assert response.certificates == [signer]
    assert (
        response.responder_key_hash
        == x509.SubjectKeyIdentifier.from_public_key(signer.public_key()).digest
    )
    signer.public_key().verify(
        response.signature, response.tbs_response_bytes, ec.ECDSA(hashes.SHA256())
    )
    # The delegated signer is issued by the CA itself and may sign OCSP responses only.
    signer.verify_directly_issued_by(issuer)
    eku = signer.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(eku) == [x509.oid.ExtendedKeyUsageOID.OCSP_SIGNING]


@pytest.fixture
def issuer(demo_pki: Path) -> x509.Certificate:
    return load_pem(demo_pki / "issuing.crt")


@pytest.fixture
def published(django_capture_on_commit_callbacks: Any) -> Any:
    """Run a service call with its on_commit callbacks (the CRL re-signing) executed."""

    def run(service: Any, *args: Any, **kwargs: Any) -> Any:
        with django_capture_on_commit_callbacks(execute=True):
            return service(*args, **kwargs)

    return run


# --- CRL ---------------------------------------------------------------------------------------


def test_it_serves_a_der_crl_signed_by_the_issuing_ca(
    client: Client, certificate_factory: Any, citizen: Any, issuer: x509.Certificate
) -> None:
    certificate_factory(citizen, "active")

    response = client.get(crl_path())

    assert response.status_code == 200
    assert response["Content-Type"] == "application/pkix-crl"
    assert response["Cache-Control"] == "public, max-age=300, no-transform"
    crl = x509.load_der_x509_crl(response.content)
    assert crl.is_signature_valid(issuer.public_key())
    assert crl.issuer == issuer.subject
    assert crl.next_update_utc - crl.last_update_utc == dt.timedelta(hours=24)
    assert parse_http_date(response["Last-Modified"]) == int(crl.last_update_utc.timestamp())
    assert parse_http_date(response["Expires"]) == int(crl.next_update_utc.timestamp())
    assert response["ETag"] == full_row().etag
    aki = crl.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    ski = issuer.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    assert aki.key_identifier == ski.digest
    # The URL in the certificates' CRL distribution point is this one.
    assert ca_module.crl_url(settings.NES_CA_SLUG).endswith(crl_path())


def test_it_answers_head_without_a_body(client: Client, demo_pki: Path) -> None:
    response = client.head(crl_path())

    assert response.status_code == 200
    assert response["Content-Type"] == "application/pkix-crl"
    assert response.content == b""


def test_it_404s_an_unknown_ca(client: Client, demo_pki: Path) -> None:
    assert client.get("/crl/another-ca.crl").status_code == 404
    assert client.get("/ca/another-ca.crt").status_code == 404
    assert client.get("/ca/another-ca-chain.pem").status_code == 404
    assert not CertificateAuthority.objects.filter(slug="another-ca").exists()


def test_it_refuses_to_change_the_crl(client: Client, demo_pki: Path) -> None:
    assert client.post(crl_path()).status_code == 405


def test_it_lists_holds_and_revocations_with_their_reasons(
    client: Client, certificate_factory: Any, citizen: Any
) -> None:
    # In an order the open-for-use rule allows (an older valid one blocks opening a newer one).
    expired, _ = certificate_factory(citizen, "expired")
    revoked, _ = certificate_factory(citizen, "revoked")
    active, _ = certificate_factory(citizen, "active")
    suspended, _ = certificate_factory(citizen, "suspended", kind=Certificate.Kind.MOBILE)
    pending, _ = certificate_factory(citizen, "pending")

    crl = fetch_crl(client)

    assert listed(crl) == {
        suspended.serial_int: x509.ReasonFlags.certificate_hold,
        revoked.serial_int: x509.ReasonFlags.key_compromise,
        # Not yet opened for use: on hold until its holder opens it.
        pending.serial_int: x509.ReasonFlags.certificate_hold,
    }
    entry = crl.get_revoked_certificate_by_serial_number(revoked.serial_int)
    assert entry is not None
    assert entry.revocation_date_utc == revoked.revoked_at.replace(microsecond=0)
    hold = crl.get_revoked_certificate_by_serial_number(suspended.serial_int)
    assert hold is not None
    assert hold.revocation_date_utc == suspended.suspended_at.replace(microsecond=0)
    assert crl.get_revoked_certificate_by_serial_number(active.serial_int) is None
    # An expired certificate needs no entry in the full CRL (RFC 5280 §3.3: CRLs list unexpired
    # ones); its shard keeps it (tests/certificates/test_crl_shards.py).
    assert crl.get_revoked_certificate_by_serial_number(expired.serial_int) is None


def test_it_re_signs_with_a_higher_number_after_every_status_change(
    client: Client, certificate_factory: Any, citizen: Any, issuer: x509.Certificate, published: Any
) -> None:
    row, _ = certificate_factory(citizen, "active")
    crls = [fetch_crl(client)]

    def after(service: Any, **kwargs: Any) -> x509.CertificateRevocationList:
        number_before = full_row().number
        published(service, row, **kwargs)
        stored = full_row()
        # Signed once the change committed (the publication task), not by the GET below.
        assert stored.signed == stored.wanted
        assert stored.number == number_before + 1
        crl = fetch_crl(client)
        assert crl_number(crl) == stored.number
        assert crl.is_signature_valid(issuer.public_key())
        crls.append(crl)
        return crl

    crl = after(services.suspend_certificate, citizen=citizen)
    assert listed(crl) == {row.serial_int: x509.ReasonFlags.certificate_hold}

    crl = after(services.reinstate_certificate, citizen=citizen)
    # A lifted hold simply leaves the next CRL (no removeFromCRL in a full CRL).
    assert listed(crl) == {}

    crl = after(services.suspend_certificate, citizen=citizen)
    assert listed(crl) == {row.serial_int: x509.ReasonFlags.certificate_hold}

    crl = after(services.revoke_certificate, citizen=citizen, reason=KEY_COMPROMISE)
    assert listed(crl) == {row.serial_int: x509.ReasonFlags.key_compromise}

    numbers = [crl_number(crl) for crl in crls]
    assert numbers == sorted(set(numbers)), numbers
    updates = [crl.last_update_utc for crl in crls]
    assert updates == sorted(updates)


def test_it_carries_every_citizen_chosen_reason(
    client: Client, certificate_factory: Any, citizen_factory: Any, published: Any
) -> None:
    expected = {}
    for reason in Certificate.RevocationReason.values:
        row, _ = certificate_factory(citizen_factory(), "active")
        published(services.revoke_certificate, row, citizen=row.citizen, reason=reason)
        expected[row.serial_int] = x509.ReasonFlags[reason]

    # "unspecified" is written as an entry without reasonCode (RFC 5280 §5.3.1), read back as
    # unspecified by listed().
    assert listed(fetch_crl(client)) == expected


def test_it_does_not_re_sign_an_unchanged_crl_on_every_request(
    client: Client, certificate_factory: Any, citizen: Any
) -> None:
    certificate_factory(citizen, "active")
    first = client.get(crl_path()).content

    assert client.get(crl_path()).content == first
    assert crl_number(x509.load_der_x509_crl(first)) == full_row().number


def test_it_re_signs_a_due_crl_in_the_periodic_task_not_in_requests(
    client: Client, certificate_factory: Any, citizen: Any, time_machine: Any
) -> None:
    certificate_factory(citizen, "active")
    first = fetch_crl(client)

    # Half its life gone: requests still get it, the periodic task (beat) renews it.
    time_machine.move_to(
        first.last_update_utc + publication.CRL_REFRESH_AGE + dt.timedelta(minutes=1)
    )
    assert crl_number(fetch_crl(client)) == crl_number(first)
    assert publication.refresh_due() >= 1
    second = fetch_crl(client)

    assert crl_number(second) == crl_number(first) + 1
    assert second.next_update_utc > first.next_update_utc
    assert publication.refresh_due() == 0  # nothing left to do


def test_it_never_serves_an_expired_crl(
    client: Client, certificate_factory: Any, citizen: Any, time_machine: Any
) -> None:
    certificate_factory(citizen, "active")
    first = fetch_crl(client)

    # Beat was down for a day: the request itself signs a new one (single-flight).
    time_machine.move_to(first.next_update_utc + dt.timedelta(minutes=1))
    second = fetch_crl(client)

    assert crl_number(second) == crl_number(first) + 1
    assert second.last_update_utc > first.next_update_utc


def test_it_answers_a_conditional_get_with_304(
    client: Client, certificate_factory: Any, citizen: Any, published: Any
) -> None:
    row, _ = certificate_factory(citizen, "active")
    first = client.get(crl_path())
    etag, modified = first["ETag"], first["Last-Modified"]

    again = client.get(crl_path(), HTTP_IF_NONE_MATCH=etag)
    since = client.get(crl_path(), HTTP_IF_MODIFIED_SINCE=modified)

    assert again.status_code == 304 and again.content == b""
    assert again["ETag"] == etag
    assert "max-age=" in again["Cache-Control"]
    assert since.status_code == 304
    # After a change the old ETag no longer matches: the new CRL comes in full.
    published(services.suspend_certificate, row, citizen=citizen)
    changed = client.get(crl_path(), HTTP_IF_NONE_MATCH=etag)
    assert changed.status_code == 200
    assert changed["ETag"] != etag
    assert row.serial_int in listed(x509.load_der_x509_crl(changed.content))


def test_it_publishes_after_the_commit_and_skips_when_fresh(
    certificate_factory: Any, citizen: Any, django_capture_on_commit_callbacks: Any
) -> None:
    row, _ = certificate_factory(citizen, "active")
    publication.publish_for(row.ca_id, {row.crl_shard})
    number = full_row().number

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        services.suspend_certificate(row, citizen=citizen)
    # Nothing signed inside the citizen's transaction: the demand is recorded, that is all.
    stored = full_row()
    assert (stored.number, stored.signed < stored.wanted) == (number, True)
    for callback in callbacks:
        callback()  # the transition's callback queues the task (run in-process here)

    assert full_row().number == number + 1
    assert (
        CrlShard.objects.get(shard=row.crl_shard).signed
        == CrlShard.objects.get(shard=row.crl_shard).wanted
    )
    # The task running again (redelivered, or a second change's task) signs nothing.
    outcome = publication.publish_for(row.ca_id, {row.crl_shard})
    assert (outcome.signed, outcome.busy, outcome.pending) == (0, False, False)
    assert full_row().number == number + 1


# --- CA certificates and the PDS -----------------------------------------------------------


def test_it_serves_the_issuing_ca_certificate(
    client: Client, demo_pki: Path, issuer: x509.Certificate
) -> None:
    response = client.get(f"/ca/{settings.NES_CA_SLUG}.crt")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/pkix-cert"
    assert x509.load_der_x509_certificate(response.content) == issuer
    assert ca_module.ca_issuers_url(settings.NES_CA_SLUG).endswith(
        f"/ca/{settings.NES_CA_SLUG}.crt"
    )


def test_it_serves_the_chain_up_to_the_root(
    client: Client, demo_pki: Path, issuer: x509.Certificate
) -> None:
    response = client.get(f"/ca/{settings.NES_CA_SLUG}-chain.pem")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/x-pem-file"
    chain = x509.load_pem_x509_certificates(response.content)
    root = load_pem(demo_pki / "root.crt")
    assert chain == [issuer, root]
    issuer.verify_directly_issued_by(root)
    root.verify_directly_issued_by(root)


def test_it_serves_the_pds_in_turkish_and_english(client: Client, demo_pki: Path) -> None:
    response = client.get("/ca/pds/")

    assert response.status_code == 200
    page = response.content.decode()
    assert "PKI Açıklama Metni" in page
    assert "PKI Disclosure Statement" in page
    assert 'lang="tr"' in page and 'lang="en"' in page
    assert settings.NES_POLICY_OID in page
    assert ca_module.crl_url(settings.NES_CA_SLUG) in page
    # It is the QcPDS URL of the certificates.
    assert settings.NES_PDS_URL.endswith("/ca/pds/")


# --- OCSP --------------------------------------------------------------------------------------


def test_it_answers_good_for_an_active_certificate_and_echoes_the_nonce(
    client: Client, certificate_factory: Any, citizen: Any, issuer: x509.Certificate, demo_pki: Path
) -> None:
    row, _ = certificate_factory(citizen, "active")
    nonce = os.urandom(16)

    response = post_ocsp(client, ocsp_request(row, issuer, nonce=nonce))

    assert response.response_status == ocsp.OCSPResponseStatus.SUCCESSFUL
    assert response.certificate_status == ocsp.OCSPCertStatus.GOOD
    assert response.serial_number == row.serial_int
    assert (
        response.issuer_key_hash
        == ocsp.load_der_ocsp_request(ocsp_request(row, issuer)).issuer_key_hash
    )
    assert response.extensions.get_extension_for_class(x509.OCSPNonce).value.nonce == nonce
    assert response.next_update_utc is not None
    assert response.this_update_utc < response.next_update_utc
    assert_signed_by_delegated_responder(response, issuer, demo_pki)


def test_it_answers_get_requests_too(
    client: Client, certificate_factory: Any, citizen: Any, issuer: x509.Certificate
) -> None:
    row, _ = certificate_factory(citizen, "revoked")
    nonce = os.urandom(20)

    response = get_ocsp(client, ocsp_request(row, issuer, nonce=nonce))

    assert response.response_status == ocsp.OCSPResponseStatus.SUCCESSFUL
    assert response.certificate_status == ocsp.OCSPCertStatus.REVOKED
    assert response.extensions.get_extension_for_class(x509.OCSPNonce).value.nonce == nonce


def test_it_answers_get_requests_with_unescaped_base64(
    client: Client, certificate_factory: Any, citizen: Any, issuer: x509.Certificate
) -> None:
    row, _ = certificate_factory(citizen, "active")
    # Some clients do not percent-encode '/', '+' and '='; try until the base64 has them all.
    for _attempt in range(200):
        encoded = base64.b64encode(ocsp_request(row, issuer, nonce=os.urandom(16))).decode()
        if "/" in encoded and "+" in encoded:
            break

    response = client.get(f"/ocsp/{encoded}")

    assert response.status_code == 200
    parsed = ocsp.load_der_ocsp_response(response.content)
    assert parsed.response_status == ocsp.OCSPResponseStatus.SUCCESSFUL
    assert parsed.certificate_status == ocsp.OCSPCertStatus.GOOD


def test_it_answers_revoked_with_time_and_reason(
    client: Client, certificate_factory: Any, citizen: Any, issuer: x509.Certificate, published: Any
) -> None:
    row, _ = certificate_factory(citizen, "active")
    published(services.revoke_certificate, row, citizen=citizen, reason=KEY_COMPROMISE)
    row.refresh_from_db()

    response = post_ocsp(client, ocsp_request(row, issuer, nonce=os.urandom(16)))

    assert response.certificate_status == ocsp.OCSPCertStatus.REVOKED
    assert response.revocation_time_utc == row.revoked_at.replace(microsecond=0)
    assert response.revocation_reason == x509.ReasonFlags.key_compromise


def test_it_answers_a_suspension_as_revoked_with_certificate_hold_and_good_once_lifted(
    client: Client, certificate_factory: Any, citizen: Any, issuer: x509.Certificate, published: Any
) -> None:
    row, _ = certificate_factory(citizen, "active")
    request = ocsp_request(row, issuer, nonce=os.urandom(16))

    published(services.suspend_certificate, row, citizen=citizen)
    row.refresh_from_db()
    held = post_ocsp(client, request)
    via_get = get_ocsp(client, request)

    assert held.certificate_status == ocsp.OCSPCertStatus.REVOKED
    assert held.revocation_reason == x509.ReasonFlags.certificate_hold
    assert held.revocation_time_utc == row.suspended_at.replace(microsecond=0)
    assert via_get.certificate_status == ocsp.OCSPCertStatus.REVOKED
    assert via_get.revocation_reason == x509.ReasonFlags.certificate_hold

    published(services.reinstate_certificate, row, citizen=citizen)

    assert post_ocsp(client, request).certificate_status == ocsp.OCSPCertStatus.GOOD


def test_it_answers_unknown_for_a_serial_we_never_issued(
    client: Client, certificate_factory: Any, citizen: Any, issuer: x509.Certificate
) -> None:
    row, _ = certificate_factory(citizen, "active")
    ours = ocsp.load_der_ocsp_request(ocsp_request(row, issuer))
    nonce = os.urandom(16)
    request = (
        ocsp.OCSPRequestBuilder()
        .add_certificate_by_hash(
            ours.issuer_name_hash,
            ours.issuer_key_hash,
            row.serial_int + 1,
            hashes.SHA1(),  # noqa: S303
        )
        .add_extension(x509.OCSPNonce(nonce), critical=False)
        .build()
        .public_bytes(serialization.Encoding.DER)
    )

    response = post_ocsp(client, request)

    assert response.response_status == ocsp.OCSPResponseStatus.SUCCESSFUL
    assert response.certificate_status == ocsp.OCSPCertStatus.UNKNOWN
    assert response.serial_number == row.serial_int + 1
    assert response.extensions.get_extension_for_class(x509.OCSPNonce).value.nonce == nonce


def test_it_answers_a_sha256_cert_id(
    client: Client, certificate_factory: Any, citizen: Any, issuer: x509.Certificate
) -> None:
    row, _ = certificate_factory(citizen, "active")
    request = (
        ocsp.OCSPRequestBuilder()
        .add_certificate(x509_of(row), issuer, hashes.SHA256())
        .build()
        .public_bytes(serialization.Encoding.DER)
    )

    response = post_ocsp(client, request)

    assert response.certificate_status == ocsp.OCSPCertStatus.GOOD
    assert isinstance(response.hash_algorithm, hashes.SHA256)


def test_it_is_not_authoritative_for_another_issuer(
    client: Client, certificate_factory: Any, citizen: Any
) -> None:
    row, _ = certificate_factory(citizen, "active")
    stranger_key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "Someone Else CA")])
    now = dt.datetime.now(dt.UTC)
    stranger = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(stranger_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .sign(stranger_key, hashes.SHA256())
    )

    response = post_ocsp(client, ocsp_request(row, stranger))

    assert response.response_status == ocsp.OCSPResponseStatus.UNAUTHORIZED


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"garbage",
        b"\x30\x03\x02\x01\x01",
        b"\x30\x82\xff\xff" + b"\x00" * 100,
        os.urandom(512),
    ],
    ids=["empty", "text", "wrong-der", "truncated-der", "random"],
)
def test_it_answers_garbage_with_malformed_request(
    client: Client, demo_pki: Path, body: bytes
) -> None:
    assert post_ocsp(client, body).response_status == ocsp.OCSPResponseStatus.MALFORMED_REQUEST
    assert get_ocsp(client, body).response_status == ocsp.OCSPResponseStatus.MALFORMED_REQUEST


def test_it_refuses_large_bodies_unread(
    client: Client, certificate_factory: Any, citizen: Any, issuer: x509.Certificate
) -> None:
    row, _ = certificate_factory(citizen, "active")
    # A valid request followed by padding: refused for its size, not parsed.
    body = ocsp_request(row, issuer) + b"\x00" * MAX_OCSP_REQUEST

    response = post_ocsp(client, body)

    assert response.response_status == ocsp.OCSPResponseStatus.MALFORMED_REQUEST


@pytest.mark.parametrize(
    "path", ["/ocsp/not*base64!", "/ocsp/%%%", "/ocsp/" + "A" * 20_000, "/ocsp/====", "/ocsp/Zm9v"]
)
def test_it_answers_bad_get_requests_with_malformed_request(
    client: Client, demo_pki: Path, path: str
) -> None:
    response = client.get(path)

    assert response.status_code == 200
    parsed = ocsp.load_der_ocsp_response(response.content)
    assert parsed.response_status == ocsp.OCSPResponseStatus.MALFORMED_REQUEST


def test_it_needs_no_session_and_no_csrf_token(
    certificate_factory: Any, citizen: Any, issuer: x509.Certificate
) -> None:
    row, _ = certificate_factory(citizen, "active")
    strict = Client(enforce_csrf_checks=True)

    response = strict.post(
        "/ocsp", data=ocsp_request(row, issuer), content_type="application/ocsp-request"
    )

    assert response.status_code == 200
    assert (
        ocsp.load_der_ocsp_response(response.content).certificate_status == ocsp.OCSPCertStatus.GOOD
    )
    assert settings.SESSION_COOKIE_NAME not in response.cookies


def test_it_accepts_a_post_with_a_trailing_slash(
    client: Client, certificate_factory: Any, citizen: Any, issuer: x509.Certificate
) -> None:
    row, _ = certificate_factory(citizen, "active")

    response = post_ocsp(client, ocsp_request(row, issuer), path="/ocsp/")

    assert response.certificate_status == ocsp.OCSPCertStatus.GOOD


def test_it_answers_internal_error_when_the_lookup_fails(
    client: Client,
    certificate_factory: Any,
    citizen: Any,
    issuer: x509.Certificate,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    row, _ = certificate_factory(citizen, "active")

    def broken(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("database went away")

    monkeypatch.setattr(responder, "_status_rows", broken)

    response = post_ocsp(client, ocsp_request(row, issuer))

    assert response.response_status == ocsp.OCSPResponseStatus.INTERNAL_ERROR


@pytest.mark.parametrize("path", ["/ocsp", "/ocsp/"])
def test_it_answers_a_get_without_a_request_with_malformed_request(
    client: Client, demo_pki: Path, path: str
) -> None:
    response = client.get(path)

    assert response.status_code == 200
    parsed = ocsp.load_der_ocsp_response(response.content)
    assert parsed.response_status == ocsp.OCSPResponseStatus.MALFORMED_REQUEST


def test_it_refuses_other_methods(client: Client, demo_pki: Path) -> None:
    assert client.put("/ocsp", data=b"x").status_code == 405
    assert client.delete("/ocsp/AAAA").status_code == 405


def test_it_serves_the_repository_over_plain_http_while_pages_go_to_https(
    client: Client, settings: Any, demo_pki: Any
) -> None:
    # Relying parties fetch CRLs, CA certificates and OCSP over http and do not follow
    # redirects; everything else is redirected to https outside DEBUG.
    settings.SECURE_SSL_REDIRECT = True
    slug = settings.NES_CA_SLUG
    for path in (
        f"/crl/{slug}.crl",
        f"/crl/{slug}-root.crl",
        f"/ca/{slug}.crt",
        f"/ca/{slug}-root.crt",
        f"/ca/{slug}-chain.pem",
        "/ocsp",
    ):
        assert client.get(path).status_code == 200, path
    assert client.get("/giris/")["Location"] == "https://testserver/giris/"
    assert client.get("/ca/pds/").status_code == 301
