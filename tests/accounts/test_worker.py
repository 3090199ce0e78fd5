"""The send_sms task through Redis and a real ``celery worker`` process.

The worker is a subprocess (``celery -A nesportal worker``, solo pool) on a queue of its own,
using the test database, the Twilio backend and ``FakeTwilio`` as Twilio. The test process
publishes to Redis as the web process does: ``queue_sms`` hands the task over when the
issuing transaction commits (hence ``transactional_db``). Needs PostgreSQL and Redis; skipped
without them. Waiting for the other process is bounded polling, never a bare sleep.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from django.utils import timezone

from accounts.models import Citizen, SmsChallenge, SmsMessage
from accounts.otp import expected_code, issue_challenge
from accounts.tasks import send_sms
from audit.models import AuditEvent

from ..celery_processes import (
    CeleryProcess,
    base_env,
    celery_process,
    new_queue,
    publishing_to,
    wait_for,
)
from .fake_twilio import ACCOUNT_SID, AUTH_TOKEN, FROM_NUMBER, FakeTwilio

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

READY_TIMEOUT = 30.0
DONE_TIMEOUT = 30.0


@dataclass
class Worker(CeleryProcess):
    fake: FakeTwilio | None = None

    def task_lines(self, event: str, task_id: str = r"[0-9a-f-]+") -> list[str]:
        pattern = re.compile(rf"accounts\.tasks\.send_sms\[{task_id}\] {event}.*")
        return pattern.findall(self.log(since_mark=True))


@pytest.fixture(scope="module")
def fake_twilio_server() -> Iterator[FakeTwilio]:
    with FakeTwilio() as fake:
        yield fake


@pytest.fixture(scope="module")
def worker_process(
    django_db_setup: None, fake_twilio_server: FakeTwilio, tmp_path_factory: Any
) -> Iterator[Worker]:
    """One real worker for this module, on a queue no other test run consumes."""
    queue = new_queue()
    env = base_env(
        queue,
        SMS_BACKEND="twilio",
        TWILIO_ACCOUNT_SID=ACCOUNT_SID,
        TWILIO_AUTH_TOKEN=AUTH_TOKEN,
        TWILIO_FROM=FROM_NUMBER,
        TWILIO_API_BASE_URL=fake_twilio_server.url,
        TWILIO_TIMEOUT_SECONDS="5",
        SMS_RETRY_BASE_SECONDS="0.2",
        SMS_MAX_RETRIES="4",
    )
    directory = tmp_path_factory.mktemp("celery-worker")
    with celery_process("worker", queue, env, directory, ready=" ready.") as process:
        yield Worker(**vars(process), fake=fake_twilio_server)


@pytest.fixture
def worker(transactional_db: None, worker_process: Worker) -> Iterator[Worker]:
    """The worker, with this process publishing to it through Redis for one test.

    On failure pytest shows what this fixture prints at teardown: the worker's log for the test.
    """
    assert worker_process.fake is not None
    worker_process.fake.reset()
    worker_process.mark()
    with publishing_to(worker_process.queue):
        try:
            yield worker_process
        finally:
            print(f"--- celery worker log for this test ({worker_process.log_path}) ---")
            print(worker_process.log(since_mark=True))


def sms_actions(citizen: Citizen) -> list[str]:
    events = AuditEvent.objects.filter(citizen=citizen, action__startswith="nes.sms.")
    return list(events.order_by("id").values_list("action", flat=True))


def test_it_retries_a_failing_provider_through_redis_and_delivers_exactly_one_sms(
    worker: Worker, citizen: Citizen
) -> None:
    worker.fake.script(503, 503, 201)

    # Commits at once (transactional_db): on_commit publishes the task to Redis.
    challenge, _ = issue_challenge(citizen, SmsChallenge.Purpose.LOGIN)
    message = SmsMessage.objects.get(challenge=challenge)

    def finished() -> SmsMessage | None:
        message.refresh_from_db()
        return message if message.status in ("sent", "failed") else None

    wait_for("the SMS to be sent", finished, worker, DONE_TIMEOUT)
    assert message.status == SmsMessage.Status.SENT, message.failure_reason
    assert [r.status for r in worker.fake.requests] == [503, 503, 201]
    [delivery] = worker.fake.deliveries
    assert delivery.form["To"] == citizen.mobile_phone
    assert delivery.form["From"] == FROM_NUMBER
    assert delivery.form["Body"].startswith(f"{expected_code(challenge)} NES Portal giriş kodunuz.")
    assert message.attempts == 3
    assert message.provider_message_id == delivery.sid
    assert message.sent_at is not None
    assert sms_actions(citizen) == [
        "nes.sms.queued",
        "nes.sms.retry",
        "nes.sms.retry",
        "nes.sms.sent",
    ]
    # Each attempt came from Redis (the retries were published again, with growing countdowns),
    # and no later delivery of the task sent anything.
    wait_for("the worker to log the success", lambda: worker.task_lines("succeeded"), worker, 10)
    assert len(worker.task_lines("received")) == 3
    retries = worker.task_lines("retry")
    assert [re.search(r"Retry in ([\d.]+)s", line).group(1) for line in retries] == ["0.2", "0.4"]
    assert len(worker.fake.requests) == 3


def test_it_sends_one_sms_when_the_same_task_is_delivered_twice(
    worker: Worker, citizen: Citizen
) -> None:
    now = timezone.now()
    challenge = SmsChallenge.objects.create(
        citizen=citizen,
        purpose=SmsChallenge.Purpose.LOGIN,
        binding_hash="0" * 64,
        created_at=now,
        expires_at=now + SmsChallenge.LIFETIME,
    )
    message = SmsMessage.objects.create(
        citizen=citizen,
        challenge=challenge,
        kind=SmsMessage.Kind.LOGIN_CODE,
        to_number=citizen.mobile_phone,
    )
    task_id = str(uuid.uuid4())

    # What a Redis redelivery looks like to the worker: one task id, two deliveries.
    for _ in range(2):
        send_sms.apply_async(args=[str(message.pk)], task_id=task_id, expires=challenge.expires_at)

    done = wait_for(
        "both deliveries to be handled",
        lambda: (lines := worker.task_lines("succeeded", task_id)) and len(lines) == 2 and lines,
        worker,
        DONE_TIMEOUT,
    )
    assert len(worker.task_lines("received", task_id)) == 2
    assert sorted(re.search(r": '([a-z-]+)'$", line).group(1) for line in done) == [
        "already-handled",
        "sent",
    ]
    [delivery] = worker.fake.requests
    assert delivery.status == 201
    assert expected_code(challenge) in delivery.form["Body"]
    message.refresh_from_db()
    assert (message.status, message.attempts) == ("sent", 1)
    assert message.provider_message_id == delivery.sid
    assert sms_actions(citizen) == ["nes.sms.sent"]
