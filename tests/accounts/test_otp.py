"""SMS Onay Kodu: lifetime, single use, wrong-code strikes, resend limits and binding.

Time is frozen with time_machine and moved explicitly; nothing sleeps. Codes are read from the
locmem SMS outbox, as a citizen would read them from their phone.
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
import threading
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from django.apps import apps
from django.db import connection
from django.db.models import JSONField

from accounts.models import Citizen, SmsChallenge, SmsMessage
from accounts.otp import (
    Outcome,
    SmsRateLimited,
    issue_challenge,
    rebind_recent_challenge,
    verify_code,
)
from accounts.services import check_security_word
from audit.actor import Actor
from audit.models import AuditEvent
from nesportal import limits
from nesportal.testing import sms_code, wrong
from nesportal.testing.factories import DEFAULT_SECURITY_WORD

from .helpers import T0, audit_count

LOGIN = SmsChallenge.Purpose.LOGIN

Issued = tuple[SmsChallenge, str, str]  # challenge, session binding token, code from the SMS


@pytest.fixture
def issue(
    sms_outbox: list[dict[str, Any]], django_capture_on_commit_callbacks: Any
) -> Callable[..., Issued]:
    """Issue a challenge and deliver its SMS (the send task runs when the transaction commits)."""

    def _issue(citizen: Citizen, purpose: str = LOGIN) -> Issued:
        sent_before = len(sms_outbox)
        with django_capture_on_commit_callbacks(execute=True):
            challenge, token = issue_challenge(citizen, purpose)
        assert len(sms_outbox) == sent_before + 1
        return challenge, token, sms_code(sms_outbox, to=citizen.mobile_phone)

    return _issue


def test_it_sends_a_six_digit_code_to_the_registered_mobile(
    clock: Any, citizen: Citizen, issue: Callable[..., Issued], sms_outbox: list[dict[str, Any]]
) -> None:
    challenge, _token, code = issue(citizen)

    assert len(code) == 6 and code.isdigit()
    assert sms_outbox[-1]["to"] == citizen.mobile_phone
    assert challenge.expires_at == T0 + dt.timedelta(seconds=180)
    message = SmsMessage.objects.get(challenge=challenge)
    assert message.kind == SmsMessage.Kind.LOGIN_CODE
    assert message.status == SmsMessage.Status.SENT
    assert audit_count(citizen, "nes.sms.queued") == 1
    assert audit_count(citizen, "nes.sms.sent") == 1


def test_it_accepts_the_code_until_the_last_second_of_its_180(
    clock: Any, citizen: Citizen, issue: Callable[..., Issued]
) -> None:
    challenge, token, code = issue(citizen)
    clock.shift(dt.timedelta(seconds=179))

    result = verify_code(str(challenge.pk), token, LOGIN, code)

    assert result.outcome is Outcome.OK
    assert result.citizen == citizen
    challenge.refresh_from_db()
    assert challenge.consumed_at == T0 + dt.timedelta(seconds=179)
    assert audit_count(citizen, "nes.login.code_passed") == 1


def test_it_refuses_the_code_after_180_seconds_without_a_strike(
    clock: Any, citizen: Citizen, issue: Callable[..., Issued]
) -> None:
    challenge, token, code = issue(citizen)
    clock.shift(dt.timedelta(seconds=180))

    result = verify_code(str(challenge.pk), token, LOGIN, code)

    assert result.outcome is Outcome.EXPIRED
    challenge.refresh_from_db()
    assert challenge.consumed_at is None
    assert challenge.wrong_attempts == 0
    citizen.refresh_from_db()
    assert citizen.code_failure_count == 0
    assert audit_count(citizen, "nes.login.code_passed") == 0


def test_it_accepts_a_code_only_once(
    clock: Any, citizen: Citizen, issue: Callable[..., Issued]
) -> None:
    challenge, token, code = issue(citizen)

    first = verify_code(str(challenge.pk), token, LOGIN, code)
    clock.shift(dt.timedelta(seconds=5))
    second = verify_code(str(challenge.pk), token, LOGIN, code)

    assert first.outcome is Outcome.OK
    assert second.outcome is Outcome.USED
    challenge.refresh_from_db()
    assert challenge.consumed_at == T0  # the second use did not touch it
    assert audit_count(citizen, "nes.login.code_passed") == 1


def test_it_counts_down_attempts_on_wrong_codes(
    clock: Any, citizen: Citizen, issue: Callable[..., Issued]
) -> None:
    challenge, token, code = issue(citizen)

    first = verify_code(str(challenge.pk), token, LOGIN, wrong(code))
    second = verify_code(str(challenge.pk), token, LOGIN, wrong(wrong(code)))

    assert (first.outcome, first.attempts_left) == (Outcome.WRONG, 2)
    assert (second.outcome, second.attempts_left) == (Outcome.WRONG, 1)
    challenge.refresh_from_db()
    assert challenge.wrong_attempts == 2
    assert challenge.invalidated_at is None
    citizen.refresh_from_db()
    assert citizen.code_failure_count == 2
    assert not citizen.is_locked
    assert audit_count(citizen, "nes.login.code_failed") == 2


def test_it_voids_the_code_and_locks_the_account_on_the_third_wrong_code(
    clock: Any,
    citizen: Citizen,
    issue: Callable[..., Issued],
    sms_outbox: list[dict[str, Any]],
    django_capture_on_commit_callbacks: Any,
) -> None:
    challenge, token, code = issue(citizen)
    verify_code(str(challenge.pk), token, LOGIN, wrong(code))
    verify_code(str(challenge.pk), token, LOGIN, wrong(code))
    clock.shift(dt.timedelta(seconds=10))

    with django_capture_on_commit_callbacks(execute=True):
        third = verify_code(str(challenge.pk), token, LOGIN, wrong(code))

    assert third.outcome is Outcome.LOCKED
    challenge.refresh_from_db()
    assert challenge.wrong_attempts == 3
    assert challenge.invalidated_at == T0 + dt.timedelta(seconds=10)
    citizen.refresh_from_db()
    assert citizen.code_failure_count == 3
    assert citizen.locked_at == T0 + dt.timedelta(seconds=10)
    assert citizen.lock_reason == Citizen.LockReason.WRONG_CODE
    assert audit_count(citizen, "nes.account.locked") == 1
    assert (
        SmsMessage.objects.filter(
            citizen=citizen, kind=SmsMessage.Kind.ACCOUNT_LOCKED, status=SmsMessage.Status.SENT
        ).count()
        == 1
    )
    assert "444 5 576" in sms_outbox[-1]["body"]
    # Even the right code is useless now.
    assert verify_code(str(challenge.pk), token, LOGIN, code).outcome is Outcome.LOCKED
    assert audit_count(citizen, "nes.login.code_passed") == 0


def test_it_counts_code_strikes_apart_from_word_strikes(
    clock: Any, citizen_factory: Any, issue: Callable[..., Issued]
) -> None:
    citizen = citizen_factory(failure_count=2)
    challenge, token, code = issue(citizen)

    result = verify_code(str(challenge.pk), token, LOGIN, wrong(code))

    assert (result.outcome, result.attempts_left) == (Outcome.WRONG, 2)
    citizen.refresh_from_db()
    assert (citizen.failure_count, citizen.code_failure_count) == (2, 1)
    assert not citizen.is_locked


def test_it_keeps_counting_wrong_codes_across_a_new_login(
    clock: Any,
    citizen: Citizen,
    issue: Callable[..., Issued],
    django_capture_on_commit_callbacks: Any,
) -> None:
    challenge, token, code = issue(citizen)
    verify_code(str(challenge.pk), token, LOGIN, wrong(code))
    verify_code(str(challenge.pk), token, LOGIN, wrong(code))
    # The citizen passes the security-word step again within a minute: the code already on their
    # phone moves to the new session, but a right word does not wipe the wrong codes.
    clock.shift(dt.timedelta(seconds=20))
    assert check_security_word(citizen.tckn, DEFAULT_SECURITY_WORD, actor=Actor()) == citizen
    rebound = rebind_recent_challenge(citizen, LOGIN)
    assert rebound is not None and rebound[0].pk == challenge.pk
    token = rebound[1]
    citizen.refresh_from_db()
    assert (citizen.failure_count, citizen.code_failure_count) == (0, 2)

    with django_capture_on_commit_callbacks(execute=True):
        third = verify_code(str(challenge.pk), token, LOGIN, wrong(code))

    assert third.outcome is Outcome.LOCKED
    challenge.refresh_from_db()
    assert challenge.invalidated_at == T0 + dt.timedelta(seconds=20)
    citizen.refresh_from_db()
    assert citizen.locked_at == T0 + dt.timedelta(seconds=20)
    assert citizen.lock_reason == Citizen.LockReason.WRONG_CODE
    assert verify_code(str(challenge.pk), token, LOGIN, code).outcome is Outcome.LOCKED


def test_it_keeps_counting_wrong_codes_across_a_new_code(
    clock: Any, citizen: Citizen, issue: Callable[..., Issued]
) -> None:
    first, first_token, first_code = issue(citizen)
    verify_code(str(first.pk), first_token, LOGIN, wrong(first_code))
    verify_code(str(first.pk), first_token, LOGIN, wrong(first_code))
    clock.shift(dt.timedelta(seconds=60))
    second, second_token, second_code = issue(citizen)

    result = verify_code(str(second.pk), second_token, LOGIN, wrong(second_code))

    assert result.outcome is Outcome.LOCKED
    second.refresh_from_db()
    assert second.wrong_attempts == 1
    citizen.refresh_from_db()
    assert citizen.is_locked
    assert citizen.code_failure_count == 3


def test_it_resets_the_failure_counter_on_the_right_code(
    clock: Any, citizen: Citizen, issue: Callable[..., Issued]
) -> None:
    challenge, token, code = issue(citizen)
    verify_code(str(challenge.pk), token, LOGIN, wrong(code))
    verify_code(str(challenge.pk), token, LOGIN, wrong(code))
    Citizen.objects.filter(pk=citizen.pk).update(failure_count=2)  # and two wrong words
    citizen.refresh_from_db()
    assert (citizen.failure_count, citizen.code_failure_count) == (2, 2)

    result = verify_code(str(challenge.pk), token, LOGIN, code)

    assert result.outcome is Outcome.OK
    citizen.refresh_from_db()
    assert (citizen.failure_count, citizen.code_failure_count) == (0, 0)
    assert not citizen.is_locked


def test_it_refuses_a_resend_within_60_seconds(
    clock: Any, citizen: Citizen, issue: Callable[..., Issued], sms_outbox: list[dict[str, Any]]
) -> None:
    challenge, _token, _code = issue(citizen)

    clock.shift(dt.timedelta(seconds=30))
    with pytest.raises(SmsRateLimited) as soon:
        issue_challenge(citizen, LOGIN)
    clock.shift(dt.timedelta(seconds=29))
    with pytest.raises(SmsRateLimited) as almost:
        issue_challenge(citizen, LOGIN)

    assert soon.value.hourly is False
    assert 30 <= soon.value.retry_after <= 31
    assert 1 <= almost.value.retry_after <= 2
    assert SmsChallenge.objects.filter(citizen=citizen).count() == 1
    assert SmsMessage.objects.filter(citizen=citizen).count() == 1
    assert len(sms_outbox) == 1
    challenge.refresh_from_db()
    assert challenge.is_open()


def test_it_allows_a_resend_after_60_seconds(
    clock: Any, citizen: Citizen, issue: Callable[..., Issued], sms_outbox: list[dict[str, Any]]
) -> None:
    issue(citizen)
    clock.shift(dt.timedelta(seconds=60))

    challenge, token, code = issue(citizen)

    assert SmsChallenge.objects.filter(citizen=citizen).count() == 2
    assert len(sms_outbox) == 2
    assert verify_code(str(challenge.pk), token, LOGIN, code).outcome is Outcome.OK


def test_it_sends_at_most_the_hourly_budget_of_codes(
    clock: Any, citizen: Citizen, issue: Callable[..., Issued], sms_outbox: list[dict[str, Any]]
) -> None:
    limit = limits.OWN_CODES_PER_HOUR
    for _ in range(limit):
        issue(citizen)
        clock.shift(dt.timedelta(seconds=61))
    # Now T0 + limit × 61 s: the next is refused until the first leaves the one-hour window.
    with pytest.raises(SmsRateLimited) as next_one:
        issue_challenge(citizen, LOGIN)

    assert next_one.value.hourly is True
    elapsed = limit * 61
    assert 3600 - elapsed <= next_one.value.retry_after <= 3600 - elapsed + 1
    assert len(sms_outbox) == limit
    assert (
        SmsMessage.objects.filter(citizen=citizen, kind=SmsMessage.Kind.LOGIN_CODE).count() == limit
    )

    clock.move_to(T0 + dt.timedelta(seconds=3599))
    with pytest.raises(SmsRateLimited) as still:
        issue_challenge(citizen, LOGIN)
    assert still.value.hourly is True
    assert len(sms_outbox) == limit

    clock.move_to(T0 + dt.timedelta(hours=1, seconds=1))
    challenge, token, code = issue(citizen)
    assert len(sms_outbox) == limit + 1
    assert verify_code(str(challenge.pk), token, LOGIN, code).outcome is Outcome.OK


def test_it_does_not_count_lock_notices_against_the_hourly_limit(
    clock: Any, citizen_factory: Any, issue: Callable[..., Issued]
) -> None:
    citizen = citizen_factory()
    for _ in range(4):
        issue(citizen)
        clock.shift(dt.timedelta(seconds=61))
    SmsMessage.objects.create(
        citizen=citizen, kind=SmsMessage.Kind.ACCOUNT_LOCKED, to_number=citizen.mobile_phone
    )

    issue(citizen)  # the fifth code SMS of the hour is still allowed

    assert SmsMessage.objects.filter(citizen=citizen).count() == 6


def test_it_refuses_a_login_code_checked_for_another_purpose(
    clock: Any, citizen: Citizen, issue: Callable[..., Issued]
) -> None:
    challenge, token, code = issue(citizen)

    result = verify_code(str(challenge.pk), token, "step_up", code)

    assert result.outcome is Outcome.INVALID
    assert result.citizen is None
    challenge.refresh_from_db()
    assert challenge.consumed_at is None and challenge.wrong_attempts == 0
    citizen.refresh_from_db()
    assert citizen.code_failure_count == 0
    assert audit_count(citizen, "nes.login.code_passed") == 0
    assert audit_count(citizen, "nes.login.code_failed") == 0
    # The same code still works for its own purpose: the refusal consumed nothing.
    assert verify_code(str(challenge.pk), token, LOGIN, code).outcome is Outcome.OK


def test_it_refuses_a_code_from_another_sessions_binding_token(
    clock: Any, citizen: Citizen, issue: Callable[..., Issued]
) -> None:
    challenge, token, code = issue(citizen)

    other_session = verify_code(str(challenge.pk), secrets.token_urlsafe(32), LOGIN, code)
    no_token = verify_code(str(challenge.pk), "", LOGIN, code)
    unknown_challenge = verify_code(str(uuid.uuid4()), token, LOGIN, code)

    assert other_session.outcome is Outcome.INVALID
    assert no_token.outcome is Outcome.INVALID
    assert unknown_challenge.outcome is Outcome.INVALID
    challenge.refresh_from_db()
    assert challenge.consumed_at is None and challenge.wrong_attempts == 0
    citizen.refresh_from_db()
    assert citizen.code_failure_count == 0
    assert verify_code(str(challenge.pk), token, LOGIN, code).outcome is Outcome.OK


def test_it_moves_a_recent_code_to_the_newest_session_only(
    clock: Any, citizen: Citizen, issue: Callable[..., Issued]
) -> None:
    challenge, old_token, code = issue(citizen)
    clock.shift(dt.timedelta(seconds=30))

    rebound = rebind_recent_challenge(citizen, LOGIN)

    assert rebound is not None
    assert rebound[0].pk == challenge.pk
    assert verify_code(str(challenge.pk), old_token, LOGIN, code).outcome is Outcome.INVALID
    assert verify_code(str(challenge.pk), rebound[1], LOGIN, code).outcome is Outcome.OK
    clock.shift(dt.timedelta(seconds=31))
    assert rebind_recent_challenge(citizen, LOGIN) is None  # consumed, and older than 60 s


def test_it_supersedes_the_previous_code_with_a_new_one(
    clock: Any, citizen: Citizen, issue: Callable[..., Issued]
) -> None:
    old, old_token, old_code = issue(citizen)
    clock.shift(dt.timedelta(seconds=60))

    new, new_token, new_code = issue(citizen)

    old.refresh_from_db()
    assert old.invalidated_at == T0 + dt.timedelta(seconds=60)
    assert verify_code(str(old.pk), old_token, LOGIN, old_code).outcome is Outcome.USED
    assert verify_code(str(new.pk), old_token, LOGIN, new_code).outcome is Outcome.INVALID
    assert verify_code(str(new.pk), new_token, LOGIN, new_code).outcome is Outcome.OK
    citizen.refresh_from_db()
    assert citizen.code_failure_count == 0  # neither refusal was a strike


def _stored_text(instance: Any) -> list[str]:
    texts = []
    for field in instance._meta.concrete_fields:
        value = getattr(instance, field.attname)
        if isinstance(field, JSONField):
            texts.append(json.dumps(value))
        elif value is not None:
            texts.append(str(value))
    return texts


def test_it_stores_the_code_nowhere_in_the_database(
    clock: Any, citizen: Citizen, issue: Callable[..., Issued], sms_outbox: list[dict[str, Any]]
) -> None:
    challenge, token, code = issue(citizen)
    verify_code(str(challenge.pk), token, LOGIN, wrong(code))
    verify_code(str(challenge.pk), token, LOGIN, code)
    assert code in sms_outbox[-1]["body"]  # it was really sent

    searched = {SmsChallenge: 0, SmsMessage: 0, AuditEvent: 0}
    for model in apps.get_models():
        for row in model._default_manager.all():
            assert not any(code in text for text in _stored_text(row)), (model, row.pk)
            if model in searched:
                searched[model] += 1

    assert searched[SmsChallenge] == 1
    assert searched[SmsMessage] == 1
    assert searched[AuditEvent] >= 4  # queued, sent, code_failed, code_passed


@pytest.mark.postgres
def test_it_accepts_one_of_two_parallel_submissions_of_the_same_code(
    transactional_db: None, citizen_factory: Any, sms_outbox: list[dict[str, Any]]
) -> None:
    citizen = citizen_factory()
    challenge, token = issue_challenge(citizen, LOGIN)  # no outer transaction: SMS sent at once
    code = sms_code(sms_outbox, to=citizen.mobile_phone)
    barrier = threading.Barrier(2)
    outcomes: list[Outcome] = []
    errors: list[BaseException] = []

    def submit() -> None:
        try:
            barrier.wait(timeout=10)
            outcomes.append(verify_code(str(challenge.pk), token, LOGIN, code).outcome)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=submit) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert errors == []
    assert sorted(o.value for o in outcomes) == [Outcome.OK.value, Outcome.USED.value]
    challenge.refresh_from_db()
    assert challenge.consumed_at is not None
    assert audit_count(citizen, "nes.login.code_passed") == 1
    citizen.refresh_from_db()
    assert citizen.code_failure_count == 0
