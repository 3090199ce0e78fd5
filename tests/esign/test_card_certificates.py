"""The card pages' identify endpoint: which certificates read from a card are ours.

``POST /e-imzali-giris/kart-sertifikalari/`` (form or JSON ``certificates``: base64 DER, at most
16) answers, for each, whether our CA issued it *and* it is byte-identical to our row, its live
status, whether it can sign now, and (logged in) whether it is the citizen's own.
"""

from __future__ import annotations

import base64
import json
from datetime import timedelta
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.models import Citizen
from certificates import ca as ca_module
from certificates.models import Certificate
from esign import services
from nesportal.testing import login_as

URL = reverse("esign:card_certificates")

pytestmark = pytest.mark.django_db


def b64(row: Certificate | x509.Certificate | bytes) -> str:
    if isinstance(row, Certificate):
        der = bytes(row.der)
    elif isinstance(row, x509.Certificate):
        der = row.public_bytes(serialization.Encoding.DER)
    else:
        der = row
    return base64.b64encode(der).decode("ascii")


def identify(client: Client, items: Any, **extra: Any) -> Any:
    return client.post(
        URL, json.dumps({"certificates": items}), content_type="application/json", **extra
    )


def copy_of(row: Certificate, signer: Any, *, subject_cn: str | None = None) -> x509.Certificate:
    """A certificate with the row's serial and issuer name, signed by ``signer`` (another CA's
    key: a forgery; our own CA's key with another subject: a DER that is not our row's)."""
    original = x509.load_der_x509_certificate(bytes(row.der))
    key = ec.generate_private_key(ec.SECP256R1())
    subject = (
        x509.Name([x509.NameAttribute(x509.oid.NameOID.COMMON_NAME, subject_cn)])
        if subject_cn
        else original.subject
    )
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(original.issuer)
        .public_key(key.public_key())
        .serial_number(original.serial_number)
        .not_valid_before(original.not_valid_before_utc)
        .not_valid_after(original.not_valid_after_utc)
        .sign(signer, hashes.SHA256())
    )


def test_it_tells_ours_from_foreign_and_sorts_usable_first(
    citizen: Citizen, certificate_factory: Any
) -> None:
    active, _ = certificate_factory(citizen, "active")
    suspended, _ = certificate_factory(citizen, "suspended", kind=Certificate.Kind.MOBILE)
    forged = copy_of(active, ec.generate_private_key(ec.SECP256R1()))
    other_der = copy_of(active, ca_module.material().private_key, subject_cn="Başka Biri")

    response = identify(Client(), [b64(forged), b64(suspended), b64(other_der), b64(active)])

    assert response.status_code == 200
    assert response["Cache-Control"].startswith("max-age=0")
    found = response.json()["certificates"]
    assert [e["index"] for e in found] == [3, 1, 0, 2]  # usable, other ours, foreign (in order)
    first, second, *foreign = found
    assert first == {
        "index": 3,
        "ours": True,
        "serial": active.serial_number,
        "subject_name": active.subject_name,
        "status": "active",
        "status_label": "Geçerli",
        "usable": True,
        "message": str(services.CERTIFICATE_MESSAGES["active"]),
        "not_after": active.not_after.isoformat(),
        "yours": None,  # anonymous
    }
    assert second["ours"] and not second["usable"]
    assert second["status"] == "suspended" and second["status_label"] == "Askıda"
    assert "askıdadır" in second["message"] and "Askıdan İndir" in second["message"]
    for entry in foreign:  # same serial: a forged signature, or our CA's but not our row's DER
        assert entry["ours"] is False and entry["usable"] is False
        assert entry["status"] == "foreign" and entry["serial"] == active.serial_number
        assert entry["yours"] is None


@pytest.mark.parametrize(
    ("state", "code", "words"),
    [
        ("revoked", "revoked", "iptal edilmiştir"),
        ("expired", "expired", "süresi dolmuştur"),
        ("pending", "pending", "Kullanıma Aç"),
    ],
)
def test_it_says_why_a_certificate_of_ours_cannot_be_used(
    citizen: Citizen, certificate_factory: Any, state: str, code: str, words: str
) -> None:
    row, _ = certificate_factory(citizen, state)
    (entry,) = identify(Client(), [b64(row)]).json()["certificates"]
    assert entry["ours"] is True and entry["usable"] is False
    assert entry["status"] == code and words in entry["message"]


def test_not_yet_valid(citizen: Citizen, certificate_factory: Any, settings: Any) -> None:
    row, _ = certificate_factory(citizen, "active")
    found = services.identify_card_certificates(
        [bytes(row.der)], citizen=None, now=row.not_before - timedelta(seconds=1)
    )
    assert found[0]["status"] == "not_yet_valid" and not found[0]["usable"]


def test_yours_is_scoped_to_the_logged_in_citizen(
    citizen: Citizen, citizen_factory: Any, certificate_factory: Any
) -> None:
    mine, _ = certificate_factory(citizen, "active")
    other = citizen_factory()
    theirs, _ = certificate_factory(other, "active")
    client = login_as(Client(), citizen)

    found = identify(client, [b64(theirs), b64(mine)]).json()["certificates"]

    assert {e["serial"]: e["yours"] for e in found} == {
        mine.serial_number: True,
        theirs.serial_number: False,
    }


def test_it_reads_the_form_field_too(citizen: Citizen, certificate_factory: Any) -> None:
    row, _ = certificate_factory(citizen, "active")
    response = Client().post(URL, {"certificates": [b64(row), b64(b"\x30\x03\x02\x01\x01")]})
    assert response.status_code == 200
    found = response.json()["certificates"]
    assert [e["status"] for e in found] == ["active", "unreadable"]


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[]",
        b'{"certificates": "MII"}',
        b'{"certificates": []}',
        b'{"certificates": [1, 2]}',
        b'{"certificates": ["***not base64***"]}',
        b'{"certificates": [""]}',
        b'{"certificates": [null]}',
        b'{"nothing": true}',
        b"\xff\xfe",
    ],
)
def test_junk_is_a_400_not_a_500(body: bytes, demo_pki: Any) -> None:
    response = Client().post(URL, body, content_type="application/json")
    assert response.status_code == 400
    if body != b"\xff\xfe":  # not UTF-8: refused by the portal's middleware before the view
        assert response.json()["error"] in {"invalid_json", "certificates_invalid"}


def test_no_certificates_in_a_form_is_a_400(demo_pki: Any) -> None:
    assert Client().post(URL, {}).status_code == 400


def test_more_than_16_is_a_400(citizen: Citizen, certificate_factory: Any) -> None:
    row, _ = certificate_factory(citizen, "active")
    assert identify(Client(), [b64(row)] * 16).status_code == 200
    assert identify(Client(), [b64(row)] * 17).status_code == 400


def test_a_huge_item_is_a_400(demo_pki: Any) -> None:
    assert identify(Client(), ["A" * 20000]).status_code == 400


def test_it_needs_the_csrf_token(citizen: Citizen, certificate_factory: Any) -> None:
    row, _ = certificate_factory(citizen, "active")
    client = Client(enforce_csrf_checks=True)
    assert identify(client, [b64(row)]).status_code == 403
    token = client.get(reverse("esign:challenge")).json()["csrf_token"]
    assert identify(client, [b64(row)], HTTP_X_CSRFTOKEN=token).status_code == 200


def test_get_is_not_allowed(demo_pki: Any) -> None:
    assert Client().get(URL).status_code == 405


def test_it_reads_no_clock_but_now(citizen: Citizen, certificate_factory: Any) -> None:
    """An expired certificate by the clock, active in the database: not usable."""
    row, _ = certificate_factory(citizen, "active")
    found = services.identify_card_certificates(
        [bytes(row.der)], citizen=None, now=timezone.now() + timedelta(days=4 * 365)
    )
    assert found[0]["status"] == "expired"
