"""CRL publication through Redis with a real ``celery worker`` and a real ``celery beat``.

A status change queues one publication task once it commits; changes that commit within the
task's countdown are published by one signing. Beat re-signs what changed without a task (a
lost message, a change made by a data fix) and what is due. Needs PostgreSQL and Redis.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.db import transaction

from certificates import publication, services, tasks
from certificates.models import Certificate, CrlShard

from ..celery_processes import CeleryProcess, base_env, celery_process, new_queue, publishing_to
from ..celery_processes import wait_for as wait_for_process
from ..parallel import in_parallel

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

TIMEOUT = 30.0


def ca_env(pki_dir: Path) -> dict[str, str]:
    return {
        "NES_PKI_DIR": str(pki_dir),
        "NES_CA_CERT_PATH": str(pki_dir / "issuing.crt"),
        "NES_CA_KEY_PATH": str(pki_dir / "issuing.key"),
        "NES_CA_CHAIN_PATH": str(pki_dir / "root.crt"),
        "NES_OCSP_CERT_PATH": str(pki_dir / "ocsp.crt"),
        "NES_OCSP_KEY_PATH": str(pki_dir / "ocsp.key"),
    }


@pytest.fixture(scope="module")
def ca_worker(
    django_db_setup: None, _demo_pki_dir: Path, tmp_path_factory: Any
) -> Iterator[CeleryProcess]:
    queue = new_queue()
    env = base_env(queue, **ca_env(_demo_pki_dir))
    with celery_process(
        "worker", queue, env, tmp_path_factory.mktemp("crl-worker"), ready=" ready."
    ) as worker:
        yield worker


@pytest.fixture
def worker(
    transactional_db: None, demo_pki: Path, ca_worker: CeleryProcess
) -> Iterator[CeleryProcess]:
    ca_worker.mark()
    with publishing_to(ca_worker.queue):
        try:
            yield ca_worker
        finally:
            print(f"--- celery worker log for this test ({ca_worker.log_path}) ---")
            print(ca_worker.log(since_mark=True))


def published(shard: str) -> bool:
    row = CrlShard.objects.filter(shard=shard).first()
    return row is not None and row.signed >= row.wanted and row.this_update is not None


def test_ten_changes_in_a_burst_are_published_by_one_signing(
    worker: CeleryProcess,
    certificate_factory: Any,
    citizen_factory: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The setup publishes in this process, so that no task of it is still in the queue.
    with monkeypatch.context() as setup:
        setup.setattr(tasks, "queue_publication", lambda *args: None)
        rows = [certificate_factory(citizen_factory(), "active")[0] for _ in range(10)]
    shard = rows[0].crl_shard
    assert {row.crl_shard for row in rows} == {shard}
    publication.publish_for(rows[0].ca_id, {shard})
    before = dict(CrlShard.objects.values_list("shard", "number"))

    def suspend(row: Certificate) -> Any:
        return lambda: services.suspend_certificate(
            Certificate.objects.get(pk=row.pk), citizen=row.citizen
        )

    assert all(o.ok for o in in_parallel([suspend(row) for row in rows]))
    wait_for_process("the shard", lambda: published(shard), worker, TIMEOUT)
    wait_for_process("the full CRL", lambda: published(CrlShard.FULL), worker, TIMEOUT)

    wait_for_process(
        "the ten tasks",
        lambda: worker.log(since_mark=True).count("] succeeded in") >= 10,
        worker,
        TIMEOUT,
    )
    after = dict(CrlShard.objects.values_list("shard", "number"))
    # Ten tasks ran; the first signed everything, the nine others found the CRLs fresh.
    assert after[shard] == before[shard] + 1
    assert after[CrlShard.FULL] == before[CrlShard.FULL] + 1
    crl = publication.stored_crl(rows[0].ca_id, shard)
    assert crl is not None
    assert {entry.serial_number for entry in crl} == {row.serial_int for row in rows}


def test_beat_publishes_a_change_no_task_was_queued_for(
    worker: CeleryProcess,
    _demo_pki_dir: Path,
    certificate_factory: Any,
    citizen: Any,
    tmp_path: Path,
) -> None:
    row, _ = certificate_factory(citizen, "active")
    wait_for_process("the issuance", lambda: published(CrlShard.FULL), worker, TIMEOUT)
    # A change recorded without its task (as after a lost broker message or a data fix).
    with transaction.atomic():
        Certificate.objects.filter(pk=row.pk).update(
            status=Certificate.Status.SUSPENDED,
            suspended_at=row.not_before,
            suspended_by=Certificate.SuspendedBy.CA,
        )
        CrlShard.objects.note_change(Certificate.objects.get(pk=row.pk))
    assert not published(CrlShard.FULL)

    env = base_env(worker.queue, NES_CRL_REFRESH_INTERVAL="1", **ca_env(_demo_pki_dir))
    with celery_process("beat", worker.queue, env, tmp_path, ready="beat: Starting") as beat:
        # A late task of the issuance may publish the change first; what this test holds is that
        # beat sends refresh_crls and the change ends up published without a task of its own.
        wait_for_process(
            "beat's refresh_crls",
            lambda: "certificates.refresh_crls" in beat.log() and published(CrlShard.FULL),
            worker,
            TIMEOUT,
        )

    crl = publication.stored_crl(row.ca_id)
    assert crl is not None
    assert row.serial_int in {entry.serial_number for entry in crl}


def test_eight_parallel_gets_of_an_expired_crl_are_signed_once_by_the_worker(
    worker: CeleryProcess, certificate_factory: Any, citizen: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With a worker, a request never signs a CRL itself (a large one would outlast gunicorn's
    timeout): it asks the worker and waits; the worker's lease makes it one signing."""
    import datetime as dt

    from django.test import Client

    with monkeypatch.context() as setup:
        setup.setattr(tasks, "queue_publication", lambda *args: None)
        row, _ = certificate_factory(citizen, "suspended")
    publication.publish_for(row.ca_id, {row.crl_shard})
    before = CrlShard.objects.get(shard=CrlShard.FULL).number
    CrlShard.objects.filter(shard=CrlShard.FULL).update(
        next_update=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)
    )
    publication.forget_served()

    def get() -> bytes:
        response = Client().get("/crl/nes-portal.crl")
        assert response.status_code == 200, response.status_code
        return response.content

    outcomes = in_parallel([get] * 8)

    assert len({o.value for o in outcomes}) == 1
    assert CrlShard.objects.get(shard=CrlShard.FULL).number == before + 1
