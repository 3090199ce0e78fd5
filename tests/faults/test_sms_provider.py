"""Twilio failing, slow or silent, and the worker killed in the middle of a send.

Through a real ``celery worker`` and the twilio package's real HTTP client against
``FakeTwilio`` (tests/accounts/fake_twilio.py), which counts what it would deliver. What
tests/accounts/test_worker.py already covers (503, 503, then success; one task delivered twice)
is not repeated here: these are the cases where retrying could duplicate an SMS or where a
message could be lost. The citizen's side is the ``SmsMessage`` row (status and reason, shown
in admin and to the call centre) and the code page.
"""

from __future__ import annotations

import re
import signal
import time
from collections.abc import Iterator
from typing import Any

import pytest
from django.test import Client

from accounts.models import Citizen, SmsChallenge, SmsMessage
from accounts.otp import expected_code, issue_challenge

from ..accounts.fake_twilio import ACCOUNT_SID, AUTH_TOKEN, FROM_NUMBER, FakeTwilio, Reply
from ..accounts.helpers import CODE_URL, LOGIN_URL, login_data
from ..celery_processes import CeleryProcess, base_env, celery_process, new_queue
from .helpers import publishing_via
from .servers import RedisServer, poll

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

TWILIO_TIMEOUT = 2.0


def worker_env(queue: str, fake: FakeTwilio, redis_url: str | None = None, **extra: str) -> dict:
    brokers = {"REDIS_URL": redis_url, "CELERY_BROKER_URL": redis_url} if redis_url else {}
    settings = {
        "SMS_BACKEND": "twilio",
        "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
        "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
        "TWILIO_FROM": FROM_NUMBER,
        "TWILIO_API_BASE_URL": fake.url,
        "TWILIO_TIMEOUT_SECONDS": str(TWILIO_TIMEOUT),
        "SMS_RETRY_BASE_SECONDS": "0.2",
        "SMS_MAX_RETRIES": "3",
    }
    return base_env(queue, **{**settings, **brokers, **extra})


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeTwilio]:
    with FakeTwilio() as server:
        yield server


@pytest.fixture(scope="module")
def worker_process(django_db_setup: None, fake: FakeTwilio, tmp_path_factory: Any) -> Any:
    queue = new_queue()
    directory = tmp_path_factory.mktemp("faults-worker")
    with celery_process("worker", queue, worker_env(queue, fake), directory, ready=" ready.") as w:
        yield w


@pytest.fixture
def worker(transactional_db: None, worker_process: CeleryProcess, fake: FakeTwilio) -> Any:
    from django.conf import settings

    fake.reset()
    worker_process.mark()
    with publishing_via(settings.REDIS_URL_FOR_TESTS, worker_process.queue):
        try:
            yield worker_process
        finally:
            print(worker_process.log(since_mark=True))


def settled(message: SmsMessage) -> SmsMessage | None:
    message.refresh_from_db()
    return message if message.status in ("sent", "failed") else None


def login_until_code(citizen: Citizen) -> tuple[Client, SmsMessage]:
    client = Client()
    response = client.post(LOGIN_URL, login_data(client, citizen.tckn))
    assert response.status_code == 302, response.content.decode()[:2000]
    return client, SmsMessage.objects.get(citizen=citizen)


def test_it_gives_up_on_a_twilio_that_keeps_failing_without_sending_anything(
    worker: CeleryProcess, fake: FakeTwilio, citizen: Citizen
) -> None:
    fake.script(*[500] * 10)
    client, message = login_until_code(citizen)

    poll("the SMS to settle", lambda: settled(message), 30, worker.log)
    assert message.status == SmsMessage.Status.FAILED
    assert "Twilio HTTP 500" in message.failure_reason
    # One attempt plus SMS_MAX_RETRIES (3), each a 500: nothing went out, nothing twice.
    assert [r.status for r in fake.requests] == [500] * 4
    assert fake.deliveries == []
    assert message.attempts == 4
    # The citizen is still on the code page and can ask for a new code there.
    page = client.get(CODE_URL)
    assert page.status_code == 200
    assert "Yeni kod" in page.content.decode()


def test_it_sends_a_slow_but_timely_answer_once(
    worker: CeleryProcess, fake: FakeTwilio, citizen: Citizen
) -> None:
    fake.script(Reply(201, delay=TWILIO_TIMEOUT / 2))
    challenge, _ = issue_challenge(citizen, SmsChallenge.Purpose.LOGIN)
    message = SmsMessage.objects.get(challenge=challenge)

    started = time.monotonic()
    poll("the SMS to settle", lambda: settled(message), 30, worker.log)
    print(f"\nFAULT Twilio answering in {TWILIO_TIMEOUT / 2:.1f} s -> sent in "
          f"{time.monotonic() - started:.2f} s")  # fmt: skip
    assert message.status == SmsMessage.Status.SENT
    [delivery] = fake.deliveries
    assert len(fake.requests) == 1
    assert expected_code(challenge) in delivery.form["Body"]
    assert message.provider_message_id == delivery.sid


def test_it_never_sends_twice_after_twilio_timed_out(
    worker: CeleryProcess, fake: FakeTwilio, citizen: Citizen
) -> None:
    # Twilio accepts the message, but answers after the client stopped waiting.
    fake.script(Reply(201, delay=TWILIO_TIMEOUT + 1.5))
    challenge, _ = issue_challenge(citizen, SmsChallenge.Purpose.LOGIN)
    message = SmsMessage.objects.get(challenge=challenge)

    poll("the SMS to settle", lambda: settled(message), 30, worker.log)
    assert message.status == SmsMessage.Status.FAILED
    assert "may or may not have been sent" in message.failure_reason
    # The late answer arrives; no second request follows it.
    poll("the fake to answer", lambda: fake.deliveries, 10)
    assert [r.status for r in fake.requests] == [201]
    assert len({r.form["Body"] for r in fake.deliveries}) == 1


# -- the worker killed in the middle of a send ------------------------------------------------


def test_it_sends_exactly_one_sms_when_the_worker_is_killed_during_the_send(
    transactional_db: None, citizen: Citizen, private_redis: RedisServer, tmp_path: Any
) -> None:
    """SIGKILL while Twilio holds the request: Redis redelivers the task (acks_late, after the
    visibility timeout) to a new worker, whose claim finds the row taken: no second SMS."""
    queue = new_queue()
    with FakeTwilio() as fake:
        fake.script(Reply(201, delay=8.0))  # the request is held open past the kill
        env = worker_env(
            queue,
            fake,
            private_redis.url,
            CELERY_VISIBILITY_TIMEOUT="3",
            TWILIO_TIMEOUT_SECONDS="20",
        )
        first_dir, second_dir = tmp_path / "first", tmp_path / "second"
        first_dir.mkdir(), second_dir.mkdir()
        with (
            publishing_via(private_redis.url, queue),
            celery_process("worker", queue, env, first_dir, ready=" ready.") as first,
        ):
            challenge, _ = issue_challenge(citizen, SmsChallenge.Purpose.LOGIN)
            message = SmsMessage.objects.get(challenge=challenge)
            poll("Twilio to receive the request", lambda: fake.requests, 30, first.log)
            [task_id] = re.findall(r"send_sms\[([0-9a-f-]+)\] received", first.log())
            first.proc.send_signal(signal.SIGKILL)
            first.proc.wait(timeout=10)
            killed = time.monotonic()
            message.refresh_from_db()
            assert message.status == SmsMessage.Status.SENDING

            with celery_process("worker", queue, env, second_dir, ready=" ready.") as second:
                redelivered = poll(
                    "the task to be redelivered to the new worker",
                    lambda: re.search(
                        rf"send_sms\[{task_id}\] succeeded in [\d.]+s: '([a-z-]+)'", second.log()
                    ),
                    30,
                    second.log,
                )
                after = time.monotonic() - killed
                assert redelivered.group(1) == "already-handled"
                poll("Twilio to answer the held request", lambda: fake.deliveries, 15)
            assert len(fake.requests) == 1, [r.form for r in fake.requests]
            assert expected_code(challenge) in fake.deliveries[0].form["Body"]
    message.refresh_from_db()
    print(
        f"\nFAULT worker SIGKILLed mid-send -> task redelivered after {after:.1f} s "
        f"(visibility timeout 3 s), 1 SMS at Twilio, row left '{message.status}'"
    )
