"""The send_sms task through Redis and a real ``celery worker`` process.

The worker is a subprocess (``celery -A nesportal worker``, solo pool) on a queue of its own,
using the test database, the Twilio backend and ``FakeTwilio`` as Twilio. The test process
publishes to Redis as the web process does: ``queue_sms`` hands the task over when the
issuing transaction commits (hence ``transactional_db``). Needs PostgreSQL and Redis; skipped
without them. Waiting for the other process is bounded polling, never a bare sleep.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from django.utils import timezone

from accounts.models import Citizen, SmsChallenge, SmsMessage
from accounts.otp import expected_code, issue_challenge
from accounts.tasks import send_sms
from audit.models import AuditEvent

from .fake_twilio import ACCOUNT_SID, AUTH_TOKEN, FROM_NUMBER, FakeTwilio

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

READY_TIMEOUT = 30.0
DONE_TIMEOUT = 30.0
POLL = 0.05


def wait_for(what: str, check: Callable[[], Any], worker: Worker, timeout: float) -> Any:
    """Poll ``check`` until it returns something truthy; fail with the worker's log if not."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if worker.proc.poll() is not None:
            pytest.fail(
                f"the celery worker exited ({worker.proc.returncode}) while waiting for "
                f"{what}:\n{worker.log()}"
            )
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}:\n{worker.log()}")
        time.sleep(POLL)  # bounded polling of another process


@dataclass
class Worker:
    proc: subprocess.Popen[bytes]
    log_path: Path
    queue: str
    fake: FakeTwilio
    log_offset: int = 0

    def log(self, *, since_mark: bool = False) -> str:
        text = self.log_path.read_text(encoding="utf-8", errors="replace")
        return text[self.log_offset :] if since_mark else text

    def mark(self) -> None:
        self.log_offset = len(self.log_path.read_text(encoding="utf-8", errors="replace"))

    def task_lines(self, event: str, task_id: str = r"[0-9a-f-]+") -> list[str]:
        pattern = re.compile(rf"accounts\.tasks\.send_sms\[{task_id}\] {event}.*")
        return pattern.findall(self.log(since_mark=True))


def _database_url() -> str:
    from django.db import connection

    db = connection.settings_dict
    assert db["NAME"].startswith("test_"), db["NAME"]  # never the real database
    user = quote(db["USER"] or "", safe="")
    password = f":{quote(db['PASSWORD'], safe='')}" if db["PASSWORD"] else ""
    return (
        f"postgres://{user}{password}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    )


@pytest.fixture(scope="module")
def fake_twilio_server() -> Iterator[FakeTwilio]:
    with FakeTwilio() as fake:
        yield fake


@pytest.fixture(scope="module")
def worker_process(
    django_db_setup: None, fake_twilio_server: FakeTwilio, tmp_path_factory: Any
) -> Iterator[Worker]:
    """One real worker for this module, on a queue no other test run consumes."""
    from django.conf import settings

    queue = f"nes-test-{uuid.uuid4().hex[:12]}"
    log_path = tmp_path_factory.mktemp("celery-worker") / "worker.log"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "nesportal.test_settings",
        "DATABASE_URL": _database_url(),
        "REDIS_URL": settings.REDIS_URL_FOR_TESTS,
        "CELERY_BROKER_URL": settings.REDIS_URL_FOR_TESTS,
        "CELERY_TASK_DEFAULT_QUEUE": queue,
        # test_settings makes tasks eager by default; the worker's retries must go via Redis.
        "CELERY_TASK_ALWAYS_EAGER": "false",
        "SMS_BACKEND": "twilio",
        "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
        "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
        "TWILIO_FROM": FROM_NUMBER,
        "TWILIO_API_BASE_URL": fake_twilio_server.url,
        "TWILIO_TIMEOUT_SECONDS": "5",
        "SMS_RETRY_BASE_SECONDS": "0.2",
        "SMS_MAX_RETRIES": "4",
        "PYTHONUNBUFFERED": "1",
    }
    command = [
        sys.executable, "-m", "celery", "-A", "nesportal", "worker",
        "--pool=solo", "--concurrency=1",
        f"--queues={queue}", f"--hostname={queue}@%h",
        "--without-gossip", "--without-mingle", "--without-heartbeat",
        "--loglevel=INFO",
    ]  # fmt: skip
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            command, cwd=settings.BASE_DIR, env=env, stdout=log, stderr=subprocess.STDOUT
        )
    worker = Worker(proc=proc, log_path=log_path, queue=queue, fake=fake_twilio_server)
    try:
        wait_for("the worker to be ready", lambda: " ready." in worker.log(), worker, READY_TIMEOUT)
        yield worker
    finally:
        proc.terminate()  # warm shutdown
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
        _delete_queue(settings.REDIS_URL_FOR_TESTS, queue)


def _delete_queue(redis_url: str, queue: str) -> None:
    import redis

    client = redis.Redis.from_url(redis_url)
    try:
        client.delete(queue, *client.keys(f"_kombu.binding.{queue}*"))
    finally:
        client.close()


def _reset_broker_connections(app: Any) -> None:
    """Forget the producer and connection pools Celery built for the previous broker URL.

    ``app.pool`` and ``app.amqp`` (queues, router, producer pool) are built once, from the
    configuration of that moment; eager runs earlier in the session create them too. Dropping
    them (and kombu's global pool registry) makes the next publish use the broker set now.
    """
    from kombu import pools

    app._pool = None
    app.__dict__.pop("amqp", None)
    pools.reset()


@pytest.fixture
def worker(transactional_db: None, worker_process: Worker, settings: Any) -> Iterator[Worker]:
    """The worker, with this process publishing to it through Redis for one test.

    On failure pytest shows what this fixture prints at teardown: the worker's log for the test.
    """
    from nesportal.celery import app

    keys = ("task_always_eager", "broker_url", "task_default_queue")
    saved = {key: getattr(app.conf, key) for key in keys}
    app.conf.task_always_eager = False
    app.conf.broker_url = settings.REDIS_URL_FOR_TESTS
    app.conf.task_default_queue = worker_process.queue
    _reset_broker_connections(app)
    worker_process.fake.reset()
    worker_process.mark()
    try:
        yield worker_process
    finally:
        for key, value in saved.items():
            setattr(app.conf, key, value)
        _reset_broker_connections(app)
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
    assert f"SMS Onay Kodunuz: {expected_code(challenge)}." in delivery.form["Body"]
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
