"""``accounts.lockout`` on its own: reserve, give back, reset, lock with a reason, unlock, the
dummy check. The flows that use it (login, recovery, codes, E-İmzalı Giriş) are tested in
test_lockout.py, test_recovery.py, test_otp.py and tests/esign/test_login.py."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts import lockout
from accounts.models import MAX_FAILURES, Citizen, SmsChallenge, SmsMessage
from accounts.otp import issue_challenge
from audit.models import AuditEvent
from tests.parallel import in_parallel

pytestmark = pytest.mark.django_db

Reason = Citizen.LockReason


def counters(citizen: Citizen) -> tuple[int, int, bool]:
    citizen.refresh_from_db()
    return citizen.failure_count, citizen.code_failure_count, citizen.is_locked


def exhausted(citizen: Citizen, **fields: Any) -> Citizen:
    Citizen.objects.filter(pk=citizen.pk).update(**({"failure_count": MAX_FAILURES} | fields))
    citizen.refresh_from_db()
    return citizen


# --- strikes ----------------------------------------------------------------------------------


def test_it_reserves_three_strikes_and_no_fourth(citizen: Citizen) -> None:
    assert [lockout.reserve_strike(citizen.pk) for _ in range(4)] == [True, True, True, False]
    assert counters(citizen) == (3, 0, False), "reserving never locks: the caller decides"


def test_it_reserves_nothing_on_a_locked_account(citizen: Citizen, clock: Any) -> None:
    exhausted(citizen, failure_count=0, code_failure_count=MAX_FAILURES)
    assert lockout.lock(citizen.pk, Reason.WRONG_CODE, actor=None)

    assert lockout.reserve_strike(citizen.pk) is False
    assert counters(citizen) == (0, 3, True)


def test_it_gives_back_one_strike_only(citizen: Citizen) -> None:
    lockout.reserve_strike(citizen.pk)
    lockout.reserve_strike(citizen.pk)

    assert lockout.give_back_strike(citizen.pk) is True
    assert counters(citizen) == (1, 0, False)
    assert lockout.give_back_strike(citizen.pk) is True
    assert lockout.give_back_strike(citizen.pk) is False, "never below zero"
    assert counters(citizen) == (0, 0, False)


def test_it_resets_the_strikes_but_not_the_code_counter(citizen: Citizen) -> None:
    Citizen.objects.filter(pk=citizen.pk).update(failure_count=2, code_failure_count=2)

    assert lockout.reset_strikes(citizen.pk) is True
    assert counters(citizen) == (0, 2, False)


@pytest.mark.parametrize("success", [lockout.reset_strikes, lockout.give_back_strike])
def test_the_lock_wins_over_a_success_that_comes_after_it(
    citizen: Citizen, clock: Any, success: Any
) -> None:
    exhausted(citizen)
    lockout.lock(citizen.pk, Reason.WRONG_WORD, actor=None)

    assert success(citizen.pk) is False
    assert counters(citizen) == (3, 0, True)


def test_a_right_code_resets_both_counters_and_a_wrong_one_counts_up_to_three(
    citizen: Citizen,
) -> None:
    assert [lockout.count_code_failure(citizen) for _ in range(4)] == [1, 2, 3, 3]
    assert counters(citizen) == (0, 3, False)
    Citizen.objects.filter(pk=citizen.pk).update(failure_count=2)
    citizen.refresh_from_db()

    lockout.reset_counters(citizen)

    assert (citizen.failure_count, citizen.code_failure_count) == (0, 0)
    assert counters(citizen) == (0, 0, False)


@pytest.mark.postgres
def test_parallel_reservations_get_three_strikes_in_all(transactional_db: None) -> None:
    from nesportal.testing.factories import CitizenFactory

    citizen = CitizenFactory()
    outcomes = in_parallel([lambda: lockout.reserve_strike(citizen.pk)] * 50)

    assert sum(outcome.value for outcome in outcomes) == MAX_FAILURES
    assert counters(citizen) == (3, 0, False)


# --- lock ---------------------------------------------------------------------------------------


def test_it_does_not_lock_while_strikes_are_left(citizen: Citizen) -> None:
    Citizen.objects.filter(pk=citizen.pk).update(failure_count=2, code_failure_count=2)

    assert lockout.lock(citizen.pk, Reason.WRONG_WORD, actor=None) is False
    assert counters(citizen) == (2, 2, False)
    assert not AuditEvent.objects.filter(citizen=citizen, action="nes.account.locked").exists()
    assert not SmsMessage.objects.filter(citizen=citizen).exists()


@pytest.mark.parametrize(
    ("reason", "label", "notice"),
    [
        (Reason.WRONG_WORD, "3 kez hatalı Güvenlik Sözcüğü", "3 hatalı giriş nedeniyle"),
        (Reason.WRONG_CODE, "3 kez hatalı SMS Onay Kodu", "3 kez hatalı SMS Onay Kodu nedeniyle"),
        (
            Reason.WRONG_BIRTH_DATE,
            "3 kez hatalı doğum tarihi (Güvenlik Sözcüğümü Unuttum)",
            "Güvenlik Sözcüğü yenilemede 3 hatalı deneme",
        ),
        (Reason.ESIGN_FAILED, "3 kez başarısız E-İmzalı Giriş", "3 başarısız E-İmzalı Giriş"),
    ],
)
def test_it_locks_once_with_the_reason_and_says_it(
    citizen: Citizen,
    clock: Any,
    sms_outbox: list[dict[str, Any]],
    django_capture_on_commit_callbacks: Any,
    reason: str,
    label: str,
    notice: str,
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        challenge, _token = issue_challenge(citizen, SmsChallenge.Purpose.LOGIN)
    sms_outbox.clear()
    exhausted(citizen)

    with django_capture_on_commit_callbacks(execute=True):
        assert lockout.lock(citizen.pk, reason, actor=None) is True
        assert lockout.lock(citizen.pk, Reason.WRONG_CODE, actor=None) is False

    citizen.refresh_from_db()
    assert citizen.is_locked and citizen.lock_reason == reason
    assert citizen.get_lock_reason_display() == label
    challenge.refresh_from_db()
    assert challenge.invalidated_at is not None, "a lock voids the open codes"
    event = AuditEvent.objects.get(citizen=citizen, action="nes.account.locked")
    assert event.data["reason"] == reason
    message = SmsMessage.objects.get(citizen=citizen, kind=SmsMessage.Kind.ACCOUNT_LOCKED)
    assert message.context["reason"] == reason
    assert set(message.context) == {"reason", "not_me"}  # and its "ben yapmadım" link
    assert [sms["to"] for sms in sms_outbox] == [citizen.mobile_phone]
    body = sms_outbox[0]["body"]
    assert notice in body and "bloke" in body and "444 5 576" in body


def test_a_lock_notice_without_a_reason_gets_the_general_text(
    citizen: Citizen, sms_outbox: list[dict[str, Any]], django_capture_on_commit_callbacks: Any
) -> None:
    from accounts.sms_queue import queue_sms

    with django_capture_on_commit_callbacks(execute=True):
        queue_sms(citizen, SmsMessage.Kind.ACCOUNT_LOCKED)

    assert "3 hatalı giriş nedeniyle" in sms_outbox[0]["body"]


def test_it_locks_on_the_code_counter_too(citizen: Citizen, clock: Any) -> None:
    exhausted(citizen, failure_count=0, code_failure_count=MAX_FAILURES)

    assert lockout.lock(citizen.pk, Reason.WRONG_CODE, actor=None) is True
    assert counters(citizen) == (0, 3, True)


@pytest.mark.postgres
def test_parallel_locks_lock_audit_and_notify_once(transactional_db: None) -> None:
    from nesportal.testing.factories import CitizenFactory

    citizen = exhausted(CitizenFactory())
    outcomes = in_parallel([lambda: lockout.lock(citizen.pk, Reason.WRONG_WORD, actor=None)] * 20)

    assert sum(outcome.value for outcome in outcomes) == 1
    assert AuditEvent.objects.filter(citizen=citizen, action="nes.account.locked").count() == 1
    assert SmsMessage.objects.filter(citizen=citizen).count() == 1


# --- unlock -------------------------------------------------------------------------------------


def test_it_unlocks_clears_both_counters_and_voids_open_codes(
    citizen: Citizen, call_centre_agent: Any, clock: Any
) -> None:
    exhausted(citizen, code_failure_count=2)
    lockout.lock(citizen.pk, Reason.WRONG_BIRTH_DATE, actor=None)
    citizen.refresh_from_db()
    # An open code made behind the lock's back (as a racing request could): unlock voids it.
    challenge = SmsChallenge.objects.create(
        citizen=citizen,
        purpose=SmsChallenge.Purpose.LOGIN,
        binding_hash="0" * 64,
        expires_at=timezone.now() + SmsChallenge.LIFETIME,
    )

    assert lockout.unlock(citizen, agent=call_centre_agent, reason="Kimlik doğrulandı") is True

    assert counters(citizen) == (0, 0, False)
    assert citizen.lock_reason == ""
    challenge.refresh_from_db()
    assert challenge.invalidated_at is not None
    event = AuditEvent.objects.get(citizen=citizen, action="nes.account.unlocked")
    assert event.actor == call_centre_agent
    assert event.data["reason"] == "Kimlik doğrulandı"
    assert event.data["previous_reason"] == Reason.WRONG_BIRTH_DATE
    assert lockout.unlock(citizen, agent=call_centre_agent, reason="yine") is False
    assert AuditEvent.objects.filter(citizen=citizen, action="nes.account.unlocked").count() == 1


@pytest.mark.parametrize(
    ("reason", "label"),
    [
        (Reason.WRONG_BIRTH_DATE, "3 kez hatalı doğum tarihi (Güvenlik Sözcüğümü Unuttum)"),
        (Reason.ESIGN_FAILED, "3 kez başarısız E-İmzalı Giriş"),
    ],
)
def test_the_agent_sees_what_locked_the_account(
    agent_client: Client, citizen: Citizen, reason: str, label: str
) -> None:
    exhausted(citizen)
    lockout.lock(citizen.pk, reason, actor=None)

    page = agent_client.get(reverse("admin:accounts_citizen_change", args=[citizen.pk]))

    assert page.status_code == 200
    content = page.content.decode()
    assert label in content
    assert "3 kez hatalı Güvenlik Sözcüğü" not in content


# --- the dummy check ------------------------------------------------------------------------


def test_the_dummy_check_does_one_argon2_verification_that_never_succeeds(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real = lockout.check_password
    checked: list[tuple[str, bool]] = []

    def spy(password: str, encoded: str, *args: Any, **kwargs: Any) -> bool:
        result = real(password, encoded, *args, **kwargs)
        checked.append((encoded, result))
        return result

    monkeypatch.setattr(lockout, "check_password", spy)

    lockout.check_dummy("Doğru-Olabilir-1")
    lockout.check_dummy()

    assert [encoded for encoded, _ in checked] == [lockout.dummy_hash()] * 2
    assert lockout.dummy_hash().startswith("argon2$")
    assert not any(result for _, result in checked)
