"""The send_sms Celery task, run eagerly (in-process) on any database.

The real worker over Redis is exercised in test_worker.py; here Celery runs tasks inline, and
retries too (their countdown is not waited for). Only Twilio is faked, at the HTTP level.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from accounts.models import Citizen, SmsChallenge, SmsMessage
from accounts.otp import Outcome, expected_code, issue_challenge, verify_code
from accounts.sms_queue import queue_sms
from accounts.tasks import send_sms
from audit.models import AuditEvent

from .fake_twilio import FROM_NUMBER, FakeTwilio, Reply
from .helpers import closed_port

pytestmark = pytest.mark.django_db

LOGIN = SmsChallenge.Purpose.LOGIN


@pytest.fixture
def twilio_settings(twilio_settings: Any) -> Any:
    """conftest's Twilio settings, with quick retries for the eager task."""
    twilio_settings.SMS_RETRY_BASE_SECONDS = 0.01
    twilio_settings.SMS_MAX_RETRIES = 4
    return twilio_settings


@pytest.fixture
def issue(
    django_capture_on_commit_callbacks: Any,
) -> Callable[..., tuple[SmsChallenge, str, SmsMessage]]:
    """Issue a login code as the login view does; its SMS task runs when the block commits."""

    def issue(citizen: Citizen, *, commit: bool = True) -> tuple[SmsChallenge, str, SmsMessage]:
        with django_capture_on_commit_callbacks(execute=commit) as callbacks:
            challenge, token = issue_challenge(citizen, LOGIN)
        assert len(callbacks) == 1
        return challenge, token, SmsMessage.objects.get(challenge=challenge)

    return issue


def sms_events(citizen: Citizen) -> list[tuple[str, dict[str, Any]]]:
    events = AuditEvent.objects.filter(citizen=citizen, action__startswith="nes.sms.")
    return [(e.action, e.data) for e in events.order_by("id")]


def refreshed(message: SmsMessage) -> SmsMessage:
    message.refresh_from_db()
    return message


# -- sending once ------------------------------------------------------------------------------


def test_it_sends_a_queued_code_once_the_transaction_commits_and_records_it(
    citizen: Citizen, sms_outbox: list[dict[str, Any]], issue: Any
) -> None:
    challenge, _, message = issue(citizen, commit=False)

    # Not committed yet: nothing sent, the row says queued.
    assert sms_outbox == []
    assert (message.status, message.attempts, message.sent_at) == ("queued", 0, None)
    assert message.to_number == citizen.mobile_phone
    assert message.kind == SmsMessage.Kind.LOGIN_CODE
    assert sms_events(citizen) == [
        ("nes.sms.queued", {"sms": str(message.pk), "kind": "login_code"})
    ]

    assert send_sms.delay(str(message.pk)).get() == "sent"

    [sms] = sms_outbox
    assert sms["to"] == citizen.mobile_phone
    assert sms["id"] == str(message.pk)
    assert sms["body"].startswith(f"{expected_code(challenge)} NES Portal giriş kodunuz.")
    assert "paylaşmayın" in sms["body"]
    message = refreshed(message)
    assert message.status == SmsMessage.Status.SENT
    assert message.provider_message_id == f"locmem-{message.pk}"
    assert message.attempts == 1
    assert message.failure_reason == ""
    assert message.sent_at is not None
    assert abs(message.sent_at - timezone.now()) < timedelta(seconds=10)
    assert sms_events(citizen) == [
        ("nes.sms.queued", {"sms": str(message.pk), "kind": "login_code"}),
        ("nes.sms.sent", {"sms": str(message.pk), "provider_id": f"locmem-{message.pk}"}),
    ]


def test_it_runs_the_task_when_the_issuing_transaction_commits(
    citizen: Citizen, sms_outbox: list[dict[str, Any]], issue: Any
) -> None:
    challenge, _, message = issue(citizen)

    [sms] = sms_outbox
    assert sms["to"] == citizen.mobile_phone
    assert expected_code(challenge) in sms["body"]
    assert refreshed(message).status == SmsMessage.Status.SENT
    assert [a for a, _ in sms_events(citizen)] == ["nes.sms.queued", "nes.sms.sent"]


def test_it_sends_nothing_more_when_the_task_runs_again_for_the_same_sms(
    citizen: Citizen, sms_outbox: list[dict[str, Any]], issue: Any
) -> None:
    _, _, message = issue(citizen)
    assert len(sms_outbox) == 1
    events_before = sms_events(citizen)

    # Redis redelivery, or a retry racing the original: same message id again, twice.
    assert send_sms.delay(str(message.pk)).get() == "already-handled"
    assert send_sms.apply(args=[str(message.pk)]).get() == "already-handled"

    assert len(sms_outbox) == 1
    message = refreshed(message)
    assert (message.status, message.attempts) == ("sent", 1)
    assert sms_events(citizen) == events_before


def test_it_does_not_send_a_message_another_worker_has_claimed(
    citizen: Citizen, sms_outbox: list[dict[str, Any]], issue: Any
) -> None:
    _, _, message = issue(citizen, commit=False)
    SmsMessage.objects.filter(pk=message.pk).update(status=SmsMessage.Status.SENDING, attempts=1)

    assert send_sms.delay(str(message.pk)).get() == "already-handled"

    assert sms_outbox == []
    assert (refreshed(message).status, message.attempts) == ("sending", 1)
    assert [a for a, _ in sms_events(citizen)] == ["nes.sms.queued"]


def test_it_sends_the_account_locked_notice_without_a_code(
    citizen: Citizen, sms_outbox: list[dict[str, Any]], django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        message = queue_sms(citizen, SmsMessage.Kind.ACCOUNT_LOCKED)

    [sms] = sms_outbox
    assert sms["to"] == citizen.mobile_phone
    assert "bloke edildi" in sms["body"]
    assert "444 5 576" in sms["body"]
    assert not re.search(r"\b\d{6}\b", sms["body"])
    assert refreshed(message).status == SmsMessage.Status.SENT
    assert [a for a, _ in sms_events(citizen)] == ["nes.sms.queued", "nes.sms.sent"]


# -- codes that are no longer valid when the task runs -----------------------------------------

NOT_SENT_REASON = "Kod gönderilmeden geçersiz oldu"


def assert_not_sent(message: SmsMessage, outbox: list[dict[str, Any]]) -> None:
    assert outbox == []
    message = refreshed(message)
    assert message.status == SmsMessage.Status.FAILED
    assert message.failure_reason.startswith(NOT_SENT_REASON)
    assert message.sent_at is None
    assert message.provider_message_id == ""
    assert [a for a, _ in sms_events(message.citizen)] == ["nes.sms.queued", "nes.sms.failed"]
    assert sms_events(message.citizen)[-1][1]["reason"] == message.failure_reason


def test_it_does_not_send_a_code_that_expired_before_the_task_ran(
    citizen: Citizen, sms_outbox: list[dict[str, Any]], issue: Any
) -> None:
    challenge, _, message = issue(citizen, commit=False)

    with time_machine.travel(challenge.expires_at + timedelta(seconds=1)):
        assert send_sms.delay(str(message.pk)).get() == "expired"

    assert_not_sent(message, sms_outbox)


def test_it_does_not_send_a_code_that_was_used_before_the_task_ran(
    citizen: Citizen, sms_outbox: list[dict[str, Any]], issue: Any
) -> None:
    challenge, token, message = issue(citizen, commit=False)
    assert verify_code(str(challenge.pk), token, LOGIN, expected_code(challenge)).outcome is (
        Outcome.OK
    )

    assert send_sms.delay(str(message.pk)).get() == "expired"

    assert_not_sent(message, sms_outbox)


def test_it_does_not_send_a_code_superseded_by_a_newer_one(
    citizen: Citizen, sms_outbox: list[dict[str, Any]], issue: Any
) -> None:
    first, _, old_message = issue(citizen, commit=False)
    with time_machine.travel(first.created_at + SmsChallenge.RESEND_AFTER + timedelta(seconds=1)):
        second, _, _ = issue(citizen)
        assert len(sms_outbox) == 1
        sms_outbox.clear()

        assert send_sms.delay(str(old_message.pk)).get() == "expired"

    assert sms_outbox == []
    old_message = refreshed(old_message)
    assert old_message.status == SmsMessage.Status.FAILED
    assert old_message.failure_reason.startswith(NOT_SENT_REASON)
    assert SmsMessage.objects.get(challenge=second).status == SmsMessage.Status.SENT


# -- Twilio failures: retry what Twilio certainly did not accept, nothing else -----------------


def test_it_retries_twilio_failures_and_delivers_exactly_one_sms(
    citizen: Citizen, twilio_settings: Any, fake_twilio: FakeTwilio, issue: Any
) -> None:
    fake_twilio.script(503, 503, 201)

    challenge, _, message = issue(citizen)

    assert [r.status for r in fake_twilio.requests] == [503, 503, 201]
    [delivery] = fake_twilio.deliveries
    code = expected_code(challenge)
    assert delivery.form["To"] == citizen.mobile_phone
    assert delivery.form["From"] == FROM_NUMBER
    assert delivery.form["Body"].startswith(f"{code} NES Portal giriş kodunuz.")
    message = refreshed(message)
    assert message.status == SmsMessage.Status.SENT
    assert message.attempts == 3
    assert message.provider_message_id == delivery.sid
    assert message.failure_reason == ""
    assert message.sent_at is not None
    events = sms_events(citizen)
    assert [a for a, _ in events] == [
        "nes.sms.queued",
        "nes.sms.retry",
        "nes.sms.retry",
        "nes.sms.sent",
    ]
    assert [d["attempt"] for a, d in events if a == "nes.sms.retry"] == [1, 2]
    assert all("HTTP 503" in d["reason"] for a, d in events if a == "nes.sms.retry")
    assert events[-1][1]["provider_id"] == delivery.sid


@pytest.mark.parametrize("max_retries", [0, 2])
def test_it_never_retries_more_than_sms_max_retries(
    citizen: Citizen, twilio_settings: Any, fake_twilio: FakeTwilio, issue: Any, max_retries: int
) -> None:
    twilio_settings.SMS_MAX_RETRIES = max_retries
    fake_twilio.script(*[503] * 10)

    _, _, message = issue(citizen)

    assert len(fake_twilio.requests) == max_retries + 1
    assert fake_twilio.deliveries == []
    message = refreshed(message)
    assert message.status == SmsMessage.Status.FAILED
    assert message.attempts == max_retries + 1
    assert "HTTP 503" in message.failure_reason
    assert message.sent_at is None
    actions = [a for a, _ in sms_events(citizen)]
    assert actions == ["nes.sms.queued", *["nes.sms.retry"] * max_retries, "nes.sms.failed"]


def test_it_does_not_retry_past_the_codes_lifetime(
    citizen: Citizen, twilio_settings: Any, fake_twilio: FakeTwilio, issue: Any
) -> None:
    # Backoff 100 s, then 200 s: the second retry would land after the 180 s lifetime.
    twilio_settings.SMS_RETRY_BASE_SECONDS = 100
    fake_twilio.script(503, 503, 201)

    _, _, message = issue(citizen)

    assert [r.status for r in fake_twilio.requests] == [503, 503]
    message = refreshed(message)
    assert (message.status, message.attempts) == ("failed", 2)
    assert [a for a, _ in sms_events(citizen)] == [
        "nes.sms.queued",
        "nes.sms.retry",
        "nes.sms.failed",
    ]


def test_it_retries_when_twilio_is_unreachable(
    citizen: Citizen, twilio_settings: Any, issue: Any
) -> None:
    twilio_settings.TWILIO_API_BASE_URL = f"http://127.0.0.1:{closed_port()}"  # nothing listens
    twilio_settings.SMS_MAX_RETRIES = 1

    _, _, message = issue(citizen)

    message = refreshed(message)
    assert (message.status, message.attempts) == ("failed", 2)
    assert "unreachable" in message.failure_reason
    assert [a for a, _ in sms_events(citizen)] == [
        "nes.sms.queued",
        "nes.sms.retry",
        "nes.sms.failed",
    ]


def test_it_does_not_retry_after_a_read_timeout(
    citizen: Citizen, twilio_settings: Any, fake_twilio: FakeTwilio, issue: Any
) -> None:
    twilio_settings.TWILIO_TIMEOUT_SECONDS = 0.3
    fake_twilio.script(Reply(201, delay=5.0), 201, 201)

    _, _, message = issue(citizen)

    # Twilio may have accepted the first request: a second one could mean two SMS.
    assert len(fake_twilio.requests) == 1
    message = refreshed(message)
    assert (message.status, message.attempts) == ("failed", 1)
    assert "may or may not have been sent" in message.failure_reason
    assert message.provider_message_id == ""
    events = sms_events(citizen)
    assert [a for a, _ in events] == ["nes.sms.queued", "nes.sms.failed"]
    assert events[-1][1]["reason"] == message.failure_reason


def test_it_does_not_retry_a_request_twilio_rejected(
    citizen: Citizen, twilio_settings: Any, fake_twilio: FakeTwilio, issue: Any
) -> None:
    fake_twilio.script(Reply(400, code=21211, message="Invalid 'To' Phone Number"), 201)

    _, _, message = issue(citizen)

    assert [r.status for r in fake_twilio.requests] == [400]
    message = refreshed(message)
    assert (message.status, message.attempts) == ("failed", 1)
    assert "HTTP 400" in message.failure_reason
    assert "21211" in message.failure_reason
    assert [a for a, _ in sms_events(citizen)] == ["nes.sms.queued", "nes.sms.failed"]


# -- the code never leaves the SMS -------------------------------------------------------------


@pytest.mark.parametrize("script", [(503, 201), (Reply(201, delay=5.0),)], ids=["sent", "timeout"])
def test_it_never_records_the_code_in_the_row_the_audit_log_or_admin(
    citizen: Citizen,
    twilio_settings: Any,
    fake_twilio: FakeTwilio,
    issue: Any,
    admin_client: Any,
    script: tuple[Any, ...],
) -> None:
    twilio_settings.TWILIO_TIMEOUT_SECONDS = 0.3
    fake_twilio.script(*script)

    challenge, _, message = issue(citizen)

    code = expected_code(challenge)
    assert code in fake_twilio.requests[0].form["Body"]  # the SMS itself does carry it
    word = re.compile(rf"(?<!\d){code}(?!\d)")
    row = SmsMessage.objects.filter(pk=message.pk).values().get()
    assert not word.search(json.dumps(row, default=str))
    challenge_row = SmsChallenge.objects.filter(pk=challenge.pk).values().get()
    assert not word.search(json.dumps(challenge_row, default=str))
    audit = list(AuditEvent.objects.values("action", "subject", "data"))
    assert {a["action"] for a in audit} >= {"nes.sms.queued"}
    assert not word.search(json.dumps(audit, default=str))

    pages = [
        reverse("admin:accounts_smsmessage_changelist"),
        reverse("admin:accounts_smsmessage_change", args=[message.pk]),
        reverse("admin:accounts_citizen_change", args=[citizen.pk]),
        reverse("admin:audit_auditevent_changelist"),
        *(
            reverse("admin:audit_auditevent_change", args=[pk])
            for pk in AuditEvent.objects.filter(citizen=citizen).values_list("pk", flat=True)
        ),
    ]
    for url in pages:
        response = admin_client.get(url)
        assert response.status_code == 200, url
        assert not word.search(response.content.decode()), url
    # The admin pages do show the outcome.
    response = admin_client.get(reverse("admin:accounts_smsmessage_changelist"))
    message = refreshed(message)
    assert message.get_status_display() in response.content.decode()
