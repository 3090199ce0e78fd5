"""No secret in any log, with the production defaults (DEBUG off, default LOG_LEVEL).

A real flow against gunicorn (the project's gunicorn.conf.py) and a real worker, with Redis (a
private redis-server: broker and cache) and Twilio (FakeTwilio): Şifreli Giriş with its SMS
code, then a security-word reset link sent by SMS, opened and used. Then gunicorn's access and
error log and the worker's log are searched for every secret the flow handled: the code, the
link token, the old and the new security word, the vault key, SECRET_KEY and the Twilio token.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.hashers import check_password

from accounts.services import create_reset_link
from nesportal.testing.factories import DEFAULT_SECURITY_WORD

from ..accounts.fake_twilio import ACCOUNT_SID, AUTH_TOKEN, FROM_NUMBER, FakeTwilio
from ..celery_processes import celery_process, database_url, new_queue
from .helpers import publishing_via
from .servers import Browser, Gunicorn, RedisServer, poll, production_env

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

NEW_WORD = "Mavi-Deniz-Yelken-Kuşu"
CODE_RE = re.compile(r"^(\d{6}) NES Portal giriş kodunuz", re.MULTILINE)
LINK_RE = re.compile(r"https?://[^/\s]+(/guvenlik-sozcugu/baglanti/([^/\s]+)/)")


def test_it_writes_no_secret_to_the_web_or_worker_logs(
    transactional_db: None,
    citizen: Any,
    call_centre_agent: Any,
    private_redis: RedisServer,
    tmp_path: Path,
    settings: Any,
) -> None:
    queue = new_queue()
    with FakeTwilio() as fake:
        env = production_env(
            DATABASE_URL=database_url(),
            REDIS_URL=private_redis.url,
            CELERY_TASK_DEFAULT_QUEUE=queue,
            SMS_BACKEND="twilio",
            TWILIO_ACCOUNT_SID=ACCOUNT_SID,
            TWILIO_AUTH_TOKEN=AUTH_TOKEN,
            TWILIO_FROM=FROM_NUMBER,
            TWILIO_API_BASE_URL=fake.url,
        )
        with (
            celery_process("worker", queue, env, tmp_path, ready=" ready.") as worker,
            Gunicorn(env, tmp_path) as web,
            publishing_via(private_redis.url, queue),
        ):
            browser = Browser(web.url)
            response = browser.post_form(
                "/giris/", {"identifier": citizen.tckn, "security_word": DEFAULT_SECURITY_WORD}
            )
            assert response.url.endswith("/giris/sms/"), response.text[:2000]
            body = poll("the login code", lambda: fake.deliveries, 30, worker.log)[0].form["Body"]
            code = CODE_RE.search(body).group(1)
            response = browser.post_form("/giris/sms/", {"code": code})
            assert response.url.endswith("/islemler/"), response.text[:2000]
            browser.post_form("/cikis/", {}, page="/islemler/")

            fake.reset()
            # The link's hash is derived with SECRET_KEY: this process acts as the web's admin.
            settings.SECRET_KEY = env["SECRET_KEY"]
            create_reset_link(citizen, agent=call_centre_agent, reason="Kimlik doğrulandı")
            body = poll("the reset link", lambda: fake.deliveries, 30, worker.log)[0].form["Body"]
            path, token = LINK_RE.search(body).groups()
            response = browser.post_form(path, {"new_word1": NEW_WORD, "new_word2": NEW_WORD})
            assert response.status_code == 200, response.text[:2000]
            citizen.refresh_from_db()
            assert check_password(NEW_WORD, citizen.security_word_hash), response.text[-3000:]
            web_log, worker_log = web.log(), worker.log()

    # The logs did capture the flow (else the test would prove nothing) …
    assert '"POST /giris/sms/ HTTP/1.1" 302' in web_log, web_log[-3000:]
    assert "/guvenlik-sozcugu/baglanti/" in web_log
    assert "send_sms" in worker_log and "succeeded" in worker_log
    # … and none of the secrets it handled.
    vault_key = env["VAULT_KEYS"].split(":", 1)[1]
    secrets = {
        "SMS code": code,
        "reset link token": token,
        "security word": DEFAULT_SECURITY_WORD,
        "new security word": NEW_WORD,
        "vault key": vault_key,
        "SECRET_KEY": env["SECRET_KEY"],
        "Twilio auth token": AUTH_TOKEN,
    }
    for name, log in [("gunicorn", web_log), ("worker", worker_log)]:
        found = [what for what, secret in secrets.items() if secret in log]
        assert not found, f"{name} log holds {found}:\n{log[-5000:]}"
    print(
        f"\nFAULT no secrets: {len(secrets)} secrets searched in {len(web_log)} bytes of "
        f"gunicorn log and {len(worker_log)} bytes of worker log: none found"
    )
