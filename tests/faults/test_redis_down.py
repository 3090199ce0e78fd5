"""Redis down (broker and cache): Şifreli Giriş fails closed, fast, and recovers by itself.

The citizen passes the security word and the portal must hand the code SMS to the worker. With
Redis refusing connections, or accepting them and never answering (a hung server), the page
says "SMS gönderilemedi, lütfen tekrar deneyiniz" (503) within seconds, and nothing is left
behind: no SmsMessage row (it would count against the hourly budget, and nothing would ever
send it), no open challenge (a new attempt gets a new code at once), no strike. When Redis is
back, the next login gets its code through a real worker. Figures are printed (``-s``).

The broken Redis is never the machine's shared one: a closed port, a listener of this test, or
a private ``redis-server`` this test starts and stops. Needs PostgreSQL and Redis (the worker
uses the test database; the cleanup of its queue the shared Redis).
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from django.test import Client

from accounts.models import Citizen, SmsChallenge, SmsMessage
from accounts.otp import expected_code
from audit.models import AuditEvent

from ..accounts.fake_twilio import ACCOUNT_SID, AUTH_TOKEN, FROM_NUMBER, FakeTwilio
from ..accounts.helpers import CODE_URL, LOGIN_URL, closed_port, login_data
from ..celery_processes import base_env, celery_process, new_queue
from .helpers import publishing_via, shared_cache_at
from .servers import HungListener, RedisServer, poll

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

SMS_UNAVAILABLE = "SMS gönderilemedi, lütfen tekrar deneyiniz."
HANG_GUARD = 15.0  # hang protection only; the figures are printed


def attempt_login(client: Client, citizen: Citizen) -> tuple[Any, float]:
    data = login_data(client, citizen.tckn)
    started = time.monotonic()
    response = client.post(LOGIN_URL, data)
    return response, time.monotonic() - started


def assert_failed_closed(response: Any, citizen: Citizen) -> None:
    assert response.status_code == 503, response.content.decode()[:2000]
    assert SMS_UNAVAILABLE in response.content.decode()
    # Nothing half-written: no row that nobody will send (nor count against the budget) …
    assert not SmsMessage.objects.filter(citizen=citizen).exists()
    # … no challenge that a second attempt would re-use instead of sending a new code …
    assert not SmsChallenge.objects.filter(citizen=citizen, invalidated_at=None).exists()
    # … no strike, and the failure is on record.
    citizen.refresh_from_db()
    assert (citizen.failure_count, citizen.code_failure_count, citizen.locked_at) == (0, 0, None)
    actions = AuditEvent.objects.filter(citizen=citizen, action__startswith="nes.sms.")
    assert list(actions.order_by("id").values_list("action", flat=True)) == [
        "nes.sms.queued",
        "nes.sms.not_queued",
    ]


@pytest.mark.parametrize("fault", ["refused", "hung"])
def test_it_refuses_the_login_cleanly_and_quickly_when_redis_is_down(
    fault: str, transactional_db: None, citizen: Citizen, settings: Any
) -> None:
    listener = HungListener() if fault == "hung" else None
    url = listener.url if listener else f"redis://127.0.0.1:{closed_port()}/0"
    shared_cache_at(settings, url)
    try:
        with publishing_via(url, new_queue()):
            client = Client()
            response, seconds = attempt_login(client, citizen)
            assert_failed_closed(response, citizen)
            # The session holds no half-login: the code page sends the citizen back.
            assert client.get(CODE_URL).url == LOGIN_URL
    finally:
        if listener:
            listener.close()
    print(f"\nFAULT login with Redis {fault} -> 503 in {seconds:.2f} s")
    assert seconds < HANG_GUARD


def test_it_sends_codes_again_through_the_worker_once_redis_is_back(
    transactional_db: None,
    citizen_factory: Any,
    private_redis: RedisServer,
    settings: Any,
    tmp_path: Any,
) -> None:
    queue = new_queue()
    with FakeTwilio() as fake:
        env = base_env(
            queue,
            REDIS_URL=private_redis.url,
            CELERY_BROKER_URL=private_redis.url,
            SMS_BACKEND="twilio",
            TWILIO_ACCOUNT_SID=ACCOUNT_SID,
            TWILIO_AUTH_TOKEN=AUTH_TOKEN,
            TWILIO_FROM=FROM_NUMBER,
            TWILIO_API_BASE_URL=fake.url,
        )
        shared_cache_at(settings, private_redis.url)
        with (
            celery_process("worker", queue, env, tmp_path, ready=" ready.") as worker,
            publishing_via(private_redis.url, queue),
        ):

            def code_delivered(citizen: Citizen) -> Any:
                challenge = SmsChallenge.objects.filter(citizen=citizen).first()
                code = challenge and expected_code(challenge)
                return [d for d in fake.deliveries if code and code in d.form["Body"]]

            before, during, after = (citizen_factory() for _ in range(3))
            response, _ = attempt_login(Client(), before)
            assert response.status_code == 302, response.content.decode()[:2000]
            poll("the first code", lambda: code_delivered(before), 30, worker.log)

            private_redis.stop()
            response, seconds_down = attempt_login(Client(), during)
            assert_failed_closed(response, during)

            private_redis.start()
            back = time.monotonic()
            client = Client()
            response, _ = attempt_login(client, after)
            assert response.status_code == 302, response.content.decode()[:2000]
            [delivery] = poll("the code after Redis came back", lambda: code_delivered(after), 60)
            resumed = time.monotonic() - back
            # The citizen logs in with it: the whole path works again, without any restart.
            code = expected_code(SmsChallenge.objects.get(citizen=after))
            assert code in delivery.form["Body"]
            assert client.post(CODE_URL, {"code": code}).status_code == 302
            assert SmsMessage.objects.get(citizen=after).status == SmsMessage.Status.SENT
            # Exactly the two codes that were asked for while Redis was up went out.
            assert len(fake.deliveries) == 2, worker.log()
    print(
        f"\nFAULT login with the private Redis stopped -> 503 in {seconds_down:.2f} s; "
        f"code delivered {resumed:.2f} s after Redis was back (worker reconnected)"
    )
