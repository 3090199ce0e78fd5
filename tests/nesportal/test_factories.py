"""nesportal.testing.factories: every factory builds a valid row (full_clean, which checks the
model's constraints too) in each of its states, made the way the product makes it."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from cryptography import x509
from django.contrib.auth.hashers import check_password
from django.db import models
from django.utils import timezone

from accounts.models import Citizen, ContactChange, SmsChallenge, SmsMessage
from accounts.otp import Outcome, verify_code
from accounts.tokens import open_reset_link, token_hash
from audit.models import AppendOnlyError, AuditEvent
from eonay.models import Application, ApplicationError, Consent
from esign.models import LoginChallenge
from nesportal.testing import factories as f
from nesportal.testing import frozen_clock, wrong
from pinvault import vault
from pinvault.models import AkisCard, CardUnlock, VaultEntry

pytestmark = pytest.mark.django_db


def valid(row: models.Model) -> models.Model:
    """``row`` as stored passes full_clean (fields, uniqueness and constraints)."""
    stored = type(row)._default_manager.get(pk=row.pk)
    stored.full_clean()
    return stored


def test_it_makes_citizens_with_a_real_argon2_word_hash() -> None:
    citizen = valid(f.CitizenFactory())
    foreigner = valid(f.CitizenFactory(passport=True, security_word="başka-sözcük"))
    locked = valid(f.CitizenFactory(locked=True))

    assert citizen.tckn and citizen.passport_no is None
    assert citizen.security_word_hash.startswith("argon2$argon2id$")
    assert check_password(f.DEFAULT_SECURITY_WORD, citizen.security_word_hash)
    assert check_password("başka-sözcük", foreigner.security_word_hash)
    assert foreigner.tckn is None and foreigner.passport_no
    assert locked.is_locked and locked.lock_reason == Citizen.LockReason.WRONG_WORD
    assert f.StaffUserFactory().is_staff
    assert [g.name for g in f.CallCentreAgentFactory().groups.all()] == ["Çağrı Merkezi"]


@pytest.mark.parametrize("state", ["open", "consumed", "invalidated", "expired"])
def test_it_makes_sms_challenges_in_each_state(state: str) -> None:
    traits = {} if state == "open" else {state: True}
    challenge = f.SmsChallengeFactory(**traits)
    stored = valid(challenge)

    assert stored.is_open() is (state == "open")
    assert len(challenge.code) == 6 and wrong(challenge.code) != challenge.code
    if state == "open":
        outcome = verify_code(
            str(challenge.pk), challenge.token, SmsChallenge.Purpose.LOGIN, challenge.code
        )
        assert outcome.outcome == Outcome.OK


@pytest.mark.parametrize("state", ["queued", "sending", "sent", "failed", "suppressed"])
def test_it_makes_sms_messages_in_each_state(state: str) -> None:
    traits = {} if state == "queued" else {state: True}
    message = valid(f.SmsMessageFactory(**traits))

    assert message.status == state
    assert message.to_number == message.citizen.mobile_phone
    assert (message.sent_at is not None) is (state == "sent")


@pytest.mark.parametrize("field", ["email", "phone"])
@pytest.mark.parametrize("state", ["open", "confirmed", "cancelled", "expired"])
def test_it_makes_contact_changes_in_each_state(field: str, state: str) -> None:
    traits: dict[str, Any] = {} if state == "open" else {state: True}
    change = f.ContactChangeFactory(phone=field == "phone", **traits)
    stored = valid(change)

    assert stored.field == field
    assert (stored.expires_at > timezone.now()) is (state != "expired")
    if field == "phone":
        assert stored.challenge.purpose == SmsChallenge.Purpose.PHONE_CHANGE
        assert stored.challenge.subject == stored.new_value
        assert stored.token_hash == "" and change.token == ""
    else:
        assert stored.challenge is None
        assert stored.token_hash == token_hash(change.token)
    assert ContactChange.objects.count() == 1


@pytest.mark.parametrize("state", ["open", "used", "expired"])
def test_it_makes_reset_links_whose_token_opens_only_when_open(state: str) -> None:
    traits = {} if state == "open" else {state: True}
    link = f.WordResetLinkFactory(**traits)
    valid(link)

    assert link.created_by.is_staff
    opened = open_reset_link(link.token)
    assert (opened == link) if state == "open" else opened is None


def test_it_appends_audit_events_through_the_log_only() -> None:
    citizen = f.CitizenFactory()
    event = valid(
        f.AuditEventFactory(action="nes.test.done", citizen=citizen, data={"card": "AKIS-1"})
    )

    assert (event.action, event.citizen, event.data) == (
        "nes.test.done",
        citizen,
        {"card": "AKIS-1"},
    )
    with pytest.raises(TypeError):
        f.AuditEventFactory.build()
    with pytest.raises(AppendOnlyError):
        event.save()
    assert AuditEvent.objects.count() == 1


@pytest.mark.parametrize("state", ["pending", "active", "suspended", "revoked", "expired"])
def test_it_issues_certificates_in_each_state_through_the_transitions(
    demo_pki: Any, state: str
) -> None:
    certificate = f.CertificateFactory(state=state)
    stored = valid(certificate)

    # An expired certificate is an active one past its not_after.
    assert stored.status == {"expired": "active"}.get(state, state)
    assert (stored.not_after < timezone.now()) is (state == "expired")
    assert certificate.private_key.public_key().public_numbers() == (
        x509.load_der_x509_certificate(bytes(stored.der)).public_key().public_numbers()
    )
    # Each transition left its history row: the status was never assigned.
    assert (
        list(stored.status_changes.order_by("at").values_list("to_status", flat=True))
        == {
            "pending": [],
            "active": ["active"],
            "expired": ["active"],
            "suspended": ["active", "suspended"],
            "revoked": ["active", "revoked"],
        }[state]
    )
    with pytest.raises(TypeError):
        f.CertificateFactory.build()


@pytest.mark.parametrize("state", ["open", "used", "expired"])
def test_it_makes_esign_login_challenges_in_each_state(state: str) -> None:
    traits = {} if state == "open" else {state: True}
    challenge = f.LoginChallengeFactory(**traits)
    stored = valid(challenge)

    assert len(bytes(stored.nonce)) == 32
    assert stored.binding_hash == token_hash(challenge.token)
    assert (stored.used_at is None and stored.expires_at > timezone.now()) is (state == "open")
    assert LoginChallenge.objects.count() == 1


@pytest.mark.parametrize(
    ("traits", "state"),
    [
        ({}, AkisCard.State.ACTIVE),
        ({"pin_locked": True}, AkisCard.State.PIN_LOCKED),
        ({"unusable": True}, AkisCard.State.UNUSABLE),
        ({"before_2011": True, "pin_locked": True}, AkisCard.State.PIN_LOCKED),
    ],
)
def test_it_makes_cards_in_each_state_with_their_secrets_in_the_vault(
    traits: dict[str, bool], state: str
) -> None:
    card = valid(f.AkisCardFactory(**traits))

    assert card.state == state
    assert card.unlocks_with_puk is bool(traits.get("before_2011"))
    assert vault.reveal(card, "pin") == f.DEFAULT_PIN
    assert vault.reveal(card, "puk") == f.DEFAULT_PUK
    for entry in VaultEntry.objects.filter(card=card):
        entry.full_clean()
        assert f.DEFAULT_PIN.encode() not in bytes(entry.ciphertext)


def test_it_makes_cards_with_chosen_or_no_secrets() -> None:
    bare = f.AkisCardFactory(no_secrets=True)
    chosen = f.AkisCardFactory(pin="111111", puk=None, unlock_pin="222222")

    assert not VaultEntry.objects.filter(card=bare).exists()
    assert vault.reveal(chosen, "pin") == "111111"
    assert vault.reveal(chosen, "puk") is None
    assert vault.reveal(chosen, "unlock_pin") == "222222"
    assert len(bare.serial_number) == len("AKIS-") + 10


@pytest.mark.parametrize("applied", [False, True])
def test_it_makes_unlocks_the_portals_way(applied: bool) -> None:
    unlock = valid(f.CardUnlockFactory(pin="503728", applied=applied))
    card = unlock.card

    assert card.state == AkisCard.State.ACTIVE
    assert (unlock.applied_at is not None) is applied
    assert vault.reveal(card, "pin") == "503728"
    assert vault.reveal(card, "unlock_pin") == (None if applied else "503728")
    assert CardUnlock.objects.filter(card=card, applied_at=None).count() == (0 if applied else 1)


@pytest.mark.parametrize("traits", [{}, {"renewal": True}, {"withdrawn": True}])
def test_it_makes_consents(traits: dict[str, bool]) -> None:
    consent = valid(f.ConsentFactory(**traits))

    assert consent.is_active is not traits.get("withdrawn", False)
    assert consent.scope == (
        Consent.Scope.RENEWAL if traits.get("renewal") else Consent.Scope.FIRST
    )


@pytest.mark.parametrize("state", ["waiting", "approved", "rejected"])
def test_it_enters_applications_and_decides_them_through_the_model(state: str) -> None:
    application = valid(f.ApplicationFactory(state=state))

    assert application.status == state
    assert application.reference and application.reference.startswith("EO-")
    assert application.entered_by.is_staff
    assert (application.decided_at is None) is (state == "waiting")
    assert AuditEvent.objects.filter(action="nes.eonay.application_entered").count() == 1
    assert not SmsMessage.objects.exists()  # notify=False by default


def test_a_standing_consent_approves_an_application_at_entry() -> None:
    consent = f.ConsentFactory()
    application = f.ApplicationFactory(citizen=consent.citizen)

    assert application.status == Application.Status.APPROVED
    assert application.decided_by_consent == consent
    with pytest.raises(ApplicationError):
        f.ApplicationFactory(citizen=consent.citizen, state="rejected")


def test_the_clock_helpers_freeze_time_and_move_only_when_told(clock: Any) -> None:
    start = timezone.now()
    clock.shift(dt.timedelta(seconds=90))
    assert timezone.now() - start == dt.timedelta(seconds=90)

    at = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)
    with frozen_clock(at) as traveller:
        assert timezone.now() == at
        traveller.shift(5)
        assert timezone.now() == at + dt.timedelta(seconds=5)


def test_wrong_is_another_six_digit_code() -> None:
    assert wrong("123456") == "123457"
    assert wrong("999999") == "000000"
