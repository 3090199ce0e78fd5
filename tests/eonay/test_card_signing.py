"""E-Onay signed with the card (esign/card_eonay.py, esign/consent_views.py) through the views.

The CMS is made here in Python with the citizen's key (``tests.esign.test_consent.build_cms``,
the contract's format built with asn1crypto), as the Akıllı Kart Servisi makes it with the card.
"""

from __future__ import annotations

import base64
import datetime as dt
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.x509.oid import NameOID
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.models import Citizen, SmsChallenge
from audit.models import AuditEvent
from certificates.models import Certificate
from eonay.models import Application, CardSignature, Consent
from esign import card_eonay
from esign.consent import parse_text
from nesportal.testing import login_as
from nesportal.testing.factories import ApplicationFactory
from receipts.models import Receipt
from tests.esign.test_consent import build_cms

FIRST = Consent.Scope.FIRST
INDEX = reverse("eonay:index")
REFUSED = "nes.eonay.card_signature_refused"


def consent_url(scope: str, action: str, step: str = "prepare") -> str:
    return reverse(f"esign_eonay:consent_{step}", args=[scope, action])


def decide_url(application: Application, decision: str, step: str = "prepare") -> str:
    return reverse(f"esign_eonay:decide_{step}", args=[application.pk, decision])


def prepare(client: Client, url: str) -> dict[str, Any]:
    response = client.post(url)
    assert response.status_code == 200, response.content
    assert response["Cache-Control"].startswith("max-age=0")
    return response.json()


def post_cms(client: Client, url: str, cms: bytes) -> Any:
    body = {"cms": base64.b64encode(cms).decode("ascii")}
    return client.post(url, body, content_type="application/json")


def sign(
    client: Client,
    prepared: dict[str, Any],
    key: Any,
    cert: Certificate | x509.Certificate,
    **knobs: Any,
) -> Any:
    if isinstance(cert, Certificate):
        cert = x509.load_der_x509_certificate(bytes(cert.der))
    knobs.setdefault("signing_time", timezone.now().replace(microsecond=0))
    return post_cms(client, prepared["post_url"], build_cms(prepared["text"], key, cert, **knobs))


def refusals() -> list[str]:
    return list(
        AuditEvent.objects.filter(action=REFUSED)
        .order_by("pk")
        .values_list("data__reason", flat=True)
    )


def strikes(citizen: Citizen) -> int:
    citizen.refresh_from_db()
    return citizen.failure_count


@pytest.fixture
def active(citizen: Citizen, certificate_factory: Any) -> tuple[Certificate, Any]:
    return certificate_factory(citizen, "active")


@pytest.fixture
def client_in(client: Client, citizen: Citizen) -> Client:
    return login_as(client, citizen)


# --- the text --------------------------------------------------------------------------------


def test_prepare_makes_the_text_of_this_operation(
    client_in: Client, citizen: Citizen, active: Any
) -> None:
    before = timezone.now().replace(microsecond=0)
    prepared = prepare(client_in, consent_url(FIRST, "give"))

    parsed = parse_text(prepared["text"])
    assert (parsed.action, parsed.scope) == ("consent.give", FIRST)
    assert parsed.citizen == f"TC {citizen.tckn}"
    assert before <= parsed.time <= timezone.now()
    assert parsed.statement == prepared["statement"]
    assert "sürekli onay veriyorum" in prepared["statement"]
    assert prepared["post_url"] == consent_url(FIRST, "give", "sign")
    # A fresh nonce each time: two texts are never the same.
    again = prepare(client_in, consent_url(FIRST, "give"))
    assert parse_text(again["text"]).nonce != parsed.nonce


def test_a_decision_text_names_the_application(
    client_in: Client, citizen: Citizen, waiting: Application
) -> None:
    prepared = prepare(client_in, decide_url(waiting, "reject"))
    parsed = parse_text(prepared["text"])
    assert (parsed.action, parsed.application) == ("application.reject", waiting.reference)
    assert waiting.reference in prepared["statement"]
    assert "reddediyorum" in prepared["statement"]
    assert waiting.institution_tax_number in prepared["statement"]


def test_prepare_refuses_what_there_is_nothing_to_do_for(
    client_in: Client, citizen: Citizen, staff: Any
) -> None:
    assert client_in.post(consent_url(FIRST, "withdraw")).status_code == 409
    decided = ApplicationFactory(citizen=citizen, entered_by=staff, state="approved")
    response = client_in.post(decide_url(decided, "approve"))
    assert response.status_code == 409
    assert "kesindir" in response.json()["error"]


def test_another_citizens_application_is_not_found(
    client_in: Client, other_citizen: Citizen, staff: Any, certificate_factory: Any
) -> None:
    theirs = ApplicationFactory(citizen=other_citizen, entered_by=staff)
    assert client_in.post(decide_url(theirs, "approve")).status_code == 404
    assert client_in.post(decide_url(theirs, "approve", "sign"), {"cms": "x"}).status_code == 404
    theirs.refresh_from_db()
    assert theirs.is_waiting


def test_it_needs_a_logged_in_citizen_and_a_post(client: Client, citizen: Citizen) -> None:
    response = client.post(consent_url(FIRST, "give"))
    assert response.status_code == 302
    assert response["Location"] == reverse("accounts:login")
    login_as(client, citizen)
    assert client.get(consent_url(FIRST, "give")).status_code == 405


def test_it_needs_the_csrf_token(citizen: Citizen) -> None:
    client = login_as(Client(enforce_csrf_checks=True), citizen)
    assert client.post(consent_url(FIRST, "give")).status_code == 403


# --- signing: the four operations -------------------------------------------------------------


def test_giving_a_consent_with_the_card(
    client_in: Client,
    citizen: Citizen,
    active: Any,
    sms_outbox: list[dict[str, Any]],
    django_capture_on_commit_callbacks: Any,
) -> None:
    row, key = active
    prepared = prepare(client_in, consent_url(FIRST, "give"))

    with django_capture_on_commit_callbacks(execute=True):
        response = sign(client_in, prepared, key, row)

    assert response.status_code == 200, response.content
    assert response.json() == {"ok": True, "redirect": INDEX}
    consent = Consent.objects.get(citizen=citizen, scope=FIRST, withdrawn_at=None)
    signature = consent.given_signature
    assert signature is not None
    assert (signature.citizen, signature.certificate, signature.action) == (
        citizen,
        row,
        "consent.give",
    )
    assert signature.text == prepared["text"]
    assert signature.subject == FIRST
    assert parse_text(signature.text).nonce  # stored as signed
    assert bytes(signature.cms).startswith(b"\x30")
    event = AuditEvent.objects.get(action="nes.eonay.consent_given")
    assert event.data["method"] == "card"
    assert event.data["serial"] == row.serial_number
    assert event.data["signature"] == signature.pk
    # No SMS Onay Kodu was needed; the holder is told by SMS as with the code.
    assert not SmsChallenge.objects.exists()
    assert len(sms_outbox) == 1
    # The page says so, with the certificate's serial.
    page = client_in.get(INDEX).content.decode()
    assert "Kartınızla imzaladınız" in page
    assert row.serial_number in page
    # The pending text is spent.
    assert card_eonay.SESSION_PENDING not in client_in.session
    assert strikes(citizen) == 0


def test_withdrawing_a_consent_with_the_card(
    client_in: Client, citizen: Citizen, active: Any, consent_factory: Any
) -> None:
    row, key = active
    consent = consent_factory(citizen=citizen)

    response = sign(client_in, prepare(client_in, consent_url(FIRST, "withdraw")), key, row)

    assert response.status_code == 200, response.content
    consent.refresh_from_db()
    assert consent.withdrawn_at is not None
    assert consent.withdrawn_signature is not None
    assert consent.withdrawn_signature.action == "consent.withdraw"
    event = AuditEvent.objects.get(action="nes.eonay.consent_withdrawn")
    assert (event.data["method"], event.data["serial"]) == ("card", row.serial_number)


@pytest.mark.parametrize("decision", ["approve", "reject"])
def test_deciding_an_application_with_the_card(
    client_in: Client, citizen: Citizen, active: Any, waiting: Application, decision: str
) -> None:
    row, key = active

    response = sign(client_in, prepare(client_in, decide_url(waiting, decision)), key, row)

    assert response.status_code == 200, response.content
    waiting.refresh_from_db()
    expected = Application.Status.APPROVED if decision == "approve" else Application.Status.REJECTED
    assert waiting.status == expected
    assert waiting.decision_signature is not None
    assert waiting.decision_signature.action == f"application.{decision}"
    assert waiting.decision_signature.subject == waiting.reference
    receipt = Receipt.objects.get(citizen=citizen, kind=Receipt.Kind.EONAY_DECISION)
    assert receipt.subject == waiting.reference
    event = AuditEvent.objects.get(action=f"nes.eonay.{decision}d".replace("rejectd", "rejected"))
    assert event.data["method"] == "card"
    assert event.data["receipt"] == receipt.reference
    page = client_in.get(INDEX).content.decode()
    assert "Kartınızla imzaladınız" in page
    assert receipt.reference in page  # the receipt note, once
    assert row.serial_number in page


def test_card_signed_rows_cost_the_page_the_same_queries_for_1_and_5(
    client_in: Client, citizen: Citizen, active: Any, staff: Any
) -> None:
    """The serials and times of card signatures come in one query per kind (decisions,
    consents) whatever their number, and in none on the SMS path."""
    row, key = active

    def queries() -> int:
        client_in.get(INDEX)  # the session write of the first page after a change
        with CaptureQueriesContext(connection) as captured:
            assert client_in.get(INDEX).status_code == 200
        return len(captured.captured_queries)

    def decide_with_the_card() -> None:
        application = ApplicationFactory(citizen=citizen, entered_by=staff)
        prepared = prepare(client_in, decide_url(application, "approve"))
        assert sign(client_in, prepared, key, row).status_code == 200

    ApplicationFactory(citizen=citizen, entered_by=staff, state="approved")  # by SMS
    sms_only = queries()
    decide_with_the_card()
    one = queries()
    for _ in range(4):
        decide_with_the_card()
    five = queries()
    # (Given last: a standing consent approves every later application by itself.)
    given = prepare(client_in, consent_url(FIRST, "give"))
    assert sign(client_in, given, key, row).status_code == 200
    with_consent = queries()

    assert five == one == sms_only + 1, (sms_only, one, five)
    assert with_consent == five + 1


def test_the_activity_log_and_admin_show_the_card(
    client_in: Client, citizen: Citizen, active: Any, admin_client: Client
) -> None:
    row, key = active
    assert (
        sign(client_in, prepare(client_in, consent_url(FIRST, "give")), key, row).status_code == 200
    )

    activity = client_in.get(reverse("accounts:activity")).content.decode()
    assert "Sürekli E-Onay verdiniz" in activity
    assert "Kartınızla imzaladınız (e-imza)" in activity

    signature = CardSignature.objects.get()
    page = admin_client.get(reverse("admin:eonay_cardsignature_change", args=[signature.pk]))
    assert page.status_code == 200
    assert row.serial_number in page.content.decode()
    download = admin_client.get(reverse("admin:eonay_cardsignature_cms", args=[signature.pk]))
    assert download["Content-Type"] == "application/pkcs7-signature"
    assert download.content == bytes(signature.cms)
    consent = Consent.objects.get()
    consent_page = admin_client.get(reverse("admin:eonay_consent_change", args=[consent.pk]))
    assert "Kartla imzalandı" in consent_page.content.decode()


def test_a_card_signature_is_never_changed(
    client_in: Client, citizen: Citizen, active: Any
) -> None:
    row, key = active
    sign(client_in, prepare(client_in, consent_url(FIRST, "give")), key, row)
    signature = CardSignature.objects.get()
    signature.subject = "x"
    with pytest.raises(ValueError):
        signature.save()
    with pytest.raises(ValueError):
        signature.delete()


# --- refusals: nothing changes, no strike, audited --------------------------------------------


def assert_refused(response: Any, reason: str, *, status: int = 400) -> str:
    assert response.status_code == status, response.content
    body = response.json()
    assert body["ok"] is False
    assert refusals()[-1] == reason
    assert not Consent.objects.exists()
    assert not CardSignature.objects.exists()
    return str(body["error"])


def test_another_citizens_certificate_is_refused(
    client_in: Client, citizen: Citizen, other_citizen: Citizen, certificate_factory: Any
) -> None:
    certificate_factory(citizen, "active")
    theirs, their_key = certificate_factory(other_citizen, "active")

    response = sign(client_in, prepare(client_in, consent_url(FIRST, "give")), their_key, theirs)

    error = assert_refused(response, "certificate_other_citizen")
    assert "size ait olmayan" in error
    assert strikes(citizen) == 0
    assert AuditEvent.objects.get(action=REFUSED).data["serial"] == theirs.serial_number


def test_a_suspended_certificate_is_refused_with_what_to_do(
    client_in: Client, citizen: Citizen, certificate_factory: Any
) -> None:
    row, key = certificate_factory(citizen, "suspended")

    response = sign(client_in, prepare(client_in, consent_url(FIRST, "give")), key, row)

    error = assert_refused(response, "certificate_suspended")
    assert "askıdadır" in error
    assert strikes(citizen) == 0


def test_a_certificate_suspended_after_signing_is_refused(
    client_in: Client, citizen: Citizen, active: Any
) -> None:
    row, key = active
    prepared = prepare(client_in, consent_url(FIRST, "give"))
    row.suspend(by=Certificate.SuspendedBy.HOLDER, by_citizen=citizen)

    assert_refused(sign(client_in, prepared, key, row), "certificate_suspended")


def test_a_foreign_ca_is_refused(client_in: Client, citizen: Citizen, active: Any) -> None:
    """A self-made certificate naming the citizen, with the citizen's own card key even."""
    row, key = active
    ours = x509.load_der_x509_certificate(bytes(row.der))
    foreign = (
        x509.CertificateBuilder()
        .subject_name(ours.subject)
        .issuer_name(ours.issuer)  # pretends to be ours
        .public_key(key.public_key())
        .serial_number(ours.serial_number)
        .not_valid_before(ours.not_valid_before_utc)
        .not_valid_after(ours.not_valid_after_utc)
        .sign(key, hashes.SHA256())
    )

    response = sign(client_in, prepare(client_in, consent_url(FIRST, "give")), key, foreign)

    assert_refused(response, "certificate_foreign_ca")
    assert strikes(citizen) == 0


def test_a_signature_over_another_text_is_refused(
    client_in: Client, citizen: Citizen, active: Any
) -> None:
    row, key = active
    prepared = prepare(client_in, consent_url(FIRST, "give"))
    other = dict(prepared, text=prepared["text"].replace("consent.give", "consent.withdraw"))

    assert_refused(sign(client_in, other, key, row), "message_digest_mismatch")


def test_junk_is_refused(client_in: Client, citizen: Citizen, active: Any) -> None:
    prepared = prepare(client_in, consent_url(FIRST, "give"))
    response = client_in.post(
        prepared["post_url"], {"cms": "bm90IGEgY21z"}, content_type="application/json"
    )
    assert_refused(response, "cms_malformed")
    prepared = prepare(client_in, consent_url(FIRST, "give"))
    response = client_in.post(prepared["post_url"], "{", content_type="application/json")
    assert_refused(response, "cms_missing")


def test_a_used_text_cannot_be_replayed(client_in: Client, citizen: Citizen, active: Any) -> None:
    row, key = active
    prepared = prepare(client_in, consent_url(FIRST, "give"))
    cms = build_cms(
        prepared["text"],
        key,
        x509.load_der_x509_certificate(bytes(row.der)),
        signing_time=timezone.now().replace(microsecond=0),
    )
    assert post_cms(client_in, prepared["post_url"], cms).status_code == 200
    Consent.objects.get().withdraw()  # so that giving would have something to do again

    # The same post again: no pending text any more.
    response = post_cms(client_in, prepared["post_url"], cms)
    assert response.status_code == 400
    assert refusals()[-1] == "no_pending_text"
    # With a fresh pending text, the old signature does not cover it.
    prepare(client_in, consent_url(FIRST, "give"))
    assert post_cms(client_in, prepared["post_url"], cms).status_code == 400
    assert refusals()[-1] == "message_digest_mismatch"
    # Even a session that still held the used text (a copied cookie): its nonce is spent.
    session = client_in.session
    session[card_eonay.SESSION_PENDING] = {
        "op": f"consent.give:{FIRST}",
        "text": prepared["text"],
        "at": timezone.now().timestamp(),
        "citizen": citizen.pk,
    }
    session.save()
    response = post_cms(client_in, prepared["post_url"], cms)
    assert response.status_code == 409
    assert refusals()[-1] == "text_used"
    assert CardSignature.objects.count() == 1
    assert Consent.objects.filter(withdrawn_at=None).count() == 0


def test_a_stale_signing_time_is_refused(client_in: Client, citizen: Citizen, active: Any) -> None:
    row, key = active
    prepared = prepare(client_in, consent_url(FIRST, "give"))
    stale = timezone.now().replace(microsecond=0) - dt.timedelta(minutes=6)

    error = assert_refused(
        sign(client_in, prepared, key, row, signing_time=stale), "signing_time_off"
    )
    assert "saatini" in error


def test_a_pending_text_expires_after_five_minutes(
    client_in: Client, citizen: Citizen, active: Any, clock: Any
) -> None:
    row, key = active
    prepared = prepare(client_in, consent_url(FIRST, "give"))
    clock.shift(dt.timedelta(minutes=5, seconds=1))

    assert_refused(sign(client_in, prepared, key, row), "pending_text_expired")


def test_a_text_of_another_operation_is_refused(
    client_in: Client, citizen: Citizen, active: Any
) -> None:
    row, key = active
    prepared = prepare(client_in, consent_url(FIRST, "give"))
    other = dict(prepared, post_url=consent_url(Consent.Scope.RENEWAL, "give", "sign"))

    response = sign(client_in, other, key, row)

    assert_refused(response, "other_operation", status=409)


def test_no_pending_text(client_in: Client, citizen: Citizen, active: Any) -> None:
    row, key = active
    fake = {"text": "x", "post_url": consent_url(FIRST, "give", "sign")}
    response = post_cms(client_in, fake["post_url"], b"\x30\x00")
    error = assert_refused(response, "no_pending_text")
    assert "Kartımla İmzala" in error


def test_a_decision_made_meanwhile_wins(
    client_in: Client, citizen: Citizen, active: Any, waiting: Application
) -> None:
    row, key = active
    prepared = prepare(client_in, decide_url(waiting, "approve"))
    waiting.decide(approve=False)  # e.g. rejected with the SMS code in another tab

    response = sign(client_in, prepared, key, row)

    assert response.status_code == 409
    assert refusals()[-1] == "already_decided"
    waiting.refresh_from_db()
    assert waiting.status == Application.Status.REJECTED
    assert waiting.decision_signature is None
    assert not CardSignature.objects.exists()  # rolled back with the refused decision


def test_the_sms_code_path_is_unchanged(client_in: Client, citizen: Citizen) -> None:
    page = client_in.get(INDEX).content.decode()
    assert reverse("eonay:consent", args=[FIRST, "give"]) in page
    assert consent_url(FIRST, "give") in page  # the card button, hidden until the service answers
    assert "data-eonay-card-button" in page


def test_the_session_receipt_key_is_the_eonay_pages() -> None:
    from eonay import views as eonay_views

    assert card_eonay.SESSION_RECEIPT == eonay_views.SESSION_RECEIPT


def test_a_passport_holder_signs_too(
    client: Client, citizen_factory: Any, certificate_factory: Any
) -> None:
    holder = citizen_factory(tckn=None, passport_no="U1234567")
    row, key = certificate_factory(holder, "active")
    names = x509.load_der_x509_certificate(bytes(row.der)).subject.get_attributes_for_oid(
        NameOID.SERIAL_NUMBER
    )
    assert "U1234567" in str(names[0].value)
    login_as(client, holder)
    prepared = prepare(client, consent_url(FIRST, "give"))
    assert parse_text(prepared["text"]).citizen == "PASAPORT U1234567"
    assert sign(client, prepared, key, row).status_code == 200


# --- double submit on PostgreSQL --------------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("rounds", range(2))
def test_parallel_card_decisions_decide_exactly_once(
    citizen: Citizen, certificate_factory: Any, staff: Any, rounds: int
) -> None:
    """Four tabs, each with its own pending text and signature, post at the same instant."""
    row, key = certificate_factory(citizen, "active")
    application = ApplicationFactory(citizen=citizen, entered_by=staff)
    clients = [login_as(Client(), citizen) for _ in range(4)]
    posts = []
    for i, client in enumerate(clients):
        decision = "approve" if i % 2 == 0 else "reject"
        prepared = prepare(client, decide_url(application, decision))
        cms = build_cms(
            prepared["text"],
            key,
            x509.load_der_x509_certificate(bytes(row.der)),
            signing_time=timezone.now().replace(microsecond=0),
        )
        posts.append((client, prepared["post_url"], cms))
    barrier = threading.Barrier(len(posts))

    def run(args: tuple[Client, str, bytes]) -> int:
        try:
            barrier.wait(timeout=30)
            return int(post_cms(*args).status_code)
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=len(posts)) as pool:
        statuses = list(pool.map(run, posts))

    assert sorted(statuses) == [200, 409, 409, 409]
    application.refresh_from_db()
    assert application.decision_signature is not None
    assert CardSignature.objects.count() == 1
    actions = Counter(AuditEvent.objects.values_list("action", flat=True))
    assert actions["nes.eonay.approved"] + actions["nes.eonay.rejected"] == 1
    assert actions[REFUSED] == 3
    assert Receipt.objects.filter(kind=Receipt.Kind.EONAY_DECISION).count() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_double_submit_from_one_tab_gives_one_consent(
    citizen: Citizen, certificate_factory: Any
) -> None:
    """The same CMS posted twice at once with one session (a double click): both requests may
    read the pending text before either saves the session, but its nonce is stored once."""
    row, key = certificate_factory(citizen, "active")
    first = login_as(Client(), citizen)
    prepared = prepare(first, consent_url(FIRST, "give"))
    second = Client()
    second.cookies = first.cookies
    cms = build_cms(
        prepared["text"],
        key,
        x509.load_der_x509_certificate(bytes(row.der)),
        signing_time=timezone.now().replace(microsecond=0),
    )
    barrier = threading.Barrier(2)

    def run(client: Client) -> int:
        try:
            barrier.wait(timeout=30)
            return int(post_cms(client, prepared["post_url"], cms).status_code)
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=2) as pool:
        statuses = sorted(pool.map(run, [first, second]))

    assert statuses[0] == 200
    assert statuses[1] in (400, 409)  # the text gone from the session, or its nonce used
    assert Consent.objects.filter(citizen=citizen, withdrawn_at=None).count() == 1
    assert CardSignature.objects.count() == 1
    assert AuditEvent.objects.filter(action="nes.eonay.consent_given").count() == 1
