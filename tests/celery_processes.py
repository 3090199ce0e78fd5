"""Real ``celery worker`` and ``celery beat`` processes for tests (PostgreSQL + Redis).

The processes use the test database and a Redis queue of their own, so parallel test runs never
consume each other's tasks. Waiting for them is bounded polling, never a bare sleep.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

POLL = 0.05


@dataclass
class CeleryProcess:
    proc: subprocess.Popen[bytes]
    log_path: Path
    queue: str
    log_offset: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    def log(self, *, since_mark: bool = False) -> str:
        text = self.log_path.read_text(encoding="utf-8", errors="replace")
        return text[self.log_offset :] if since_mark else text

    def mark(self) -> None:
        self.log_offset = len(self.log_path.read_text(encoding="utf-8", errors="replace"))


def wait_for(what: str, check: Callable[[], Any], process: CeleryProcess, timeout: float) -> Any:
    """Poll ``check`` until it returns something truthy; fail with the process's log if not."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if process.proc.poll() is not None:
            pytest.fail(
                f"the celery process exited ({process.proc.returncode}) while waiting for "
                f"{what}:\n{process.log()}"
            )
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}:\n{process.log()}")
        time.sleep(POLL)  # bounded polling of another process


def database_url() -> str:
    """The test database (never the real one) as a URL for another process."""
    from django.db import connection

    db = connection.settings_dict
    assert db["NAME"].startswith("test_"), db["NAME"]
    user = quote(db["USER"] or "", safe="")
    password = f":{quote(db['PASSWORD'], safe='')}" if db["PASSWORD"] else ""
    return (
        f"postgres://{user}{password}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    )


def new_queue() -> str:
    return f"nes-test-{uuid.uuid4().hex[:12]}"


def base_env(queue: str, **extra: str) -> dict[str, str]:
    from django.conf import settings

    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "nesportal.test_settings",
        "DATABASE_URL": database_url(),
        "REDIS_URL": settings.REDIS_URL_FOR_TESTS,
        "CELERY_BROKER_URL": settings.REDIS_URL_FOR_TESTS,
        "CELERY_TASK_DEFAULT_QUEUE": queue,
        # test_settings makes tasks eager by default; the worker's retries must go via Redis.
        "CELERY_TASK_ALWAYS_EAGER": "false",
        "PYTHONUNBUFFERED": "1",
        **extra,
    }


@contextmanager
def celery_process(
    kind: str, queue: str, env: dict[str, str], directory: Path, *, ready: str
) -> Iterator[CeleryProcess]:
    """Start ``celery worker`` (solo pool, on ``queue``) or ``celery beat``; stop it afterwards."""
    from django.conf import settings

    log_path = directory / f"{kind}.log"
    if kind == "worker":
        args = [
            "worker", "--pool=solo", "--concurrency=1",
            f"--queues={queue}", f"--hostname={queue}@%h",
            "--without-gossip", "--without-mingle", "--without-heartbeat",
        ]  # fmt: skip
    else:
        args = ["beat", f"--schedule={directory / 'beat-schedule'}", "--max-interval=1"]
    command = [sys.executable, "-m", "celery", "-A", "nesportal", *args, "--loglevel=INFO"]
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            command, cwd=settings.BASE_DIR, env=env, stdout=log, stderr=subprocess.STDOUT
        )
    process = CeleryProcess(proc=proc, log_path=log_path, queue=queue)
    try:
        wait_for(f"celery {kind} to be ready", lambda: ready in process.log(), process, 30.0)
        yield process
    finally:
        proc.terminate()  # warm shutdown
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
        delete_queue(settings.REDIS_URL_FOR_TESTS, queue)


def delete_queue(redis_url: str, queue: str) -> None:
    import redis

    client = redis.Redis.from_url(redis_url)
    try:
        client.delete(queue, *client.keys(f"_kombu.binding.{queue}*"))
    finally:
        client.close()


def reset_broker_connections(app: Any) -> None:
    """Forget the producer and connection pools Celery built for the previous broker URL.

    ``app.pool`` and ``app.amqp`` (queues, router, producer pool) are built once, from the
    configuration of that moment; eager runs earlier in the session create them too. Dropping
    them (and kombu's global pool registry) makes the next publish use the broker set now.
    """
    from kombu import pools

    app._pool = None
    app.__dict__.pop("amqp", None)
    pools.reset()


@contextmanager
def publishing_to(queue: str, broker_url: str = "") -> Iterator[None]:
    """This test process publishes tasks through Redis (the tests' own, or ``broker_url``) to
    ``queue`` (not eagerly)."""
    from django.conf import settings

    from nesportal.celery import app

    keys = ("task_always_eager", "broker_url", "task_default_queue")
    saved = {key: getattr(app.conf, key) for key in keys}
    app.conf.task_always_eager = False
    app.conf.broker_url = broker_url or settings.REDIS_URL_FOR_TESTS
    app.conf.task_default_queue = queue
    reset_broker_connections(app)
    try:
        yield
    finally:
        for key, value in saved.items():
            setattr(app.conf, key, value)
        reset_broker_connections(app)
