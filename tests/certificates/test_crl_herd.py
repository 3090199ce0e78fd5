"""The herd, on PostgreSQL: parallel requests and parallel changes sign a CRL once.

Real threads, each with its own database connection, released together by a barrier
(``tests.certificates.test_concurrency.in_parallel``). A CRL that must exist (never signed, or
past its nextUpdate) is signed by exactly one of the requests that want it; the others wait for
that signing. Changes only record demand; publishers that run together sign once.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from cryptography import x509
from django.conf import settings
from django.test import Client

from certificates import publication, services, tasks
from certificates.models import Certificate, CrlShard

from ..parallel import in_parallel

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def full_path() -> str:
    return f"/crl/{settings.NES_CA_SLUG}.crl"


def get_crl() -> bytes:
    response = Client().get(full_path())
    assert response.status_code == 200, response.status_code
    return response.content


def number(der: bytes) -> int:
    crl = x509.load_der_x509_crl(der)
    return crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number


def test_eight_parallel_gets_of_a_crl_never_signed_sign_it_once(
    certificate_factory: Any, citizen: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tasks, "queue_publication", lambda *args: None)  # nobody publishes
    certificate_factory(citizen, "suspended")
    assert CrlShard.objects.get(shard=CrlShard.FULL).number == 0

    outcomes = in_parallel([get_crl] * 8)

    bodies = {o.value for o in outcomes}
    assert len(bodies) == 1  # everybody got the one CRL that was signed
    assert CrlShard.objects.get(shard=CrlShard.FULL).number == 1
    assert number(bodies.pop()) == 1


def test_eight_parallel_gets_of_an_expired_crl_sign_it_once(
    certificate_factory: Any, citizen: Any
) -> None:
    certificate_factory(citizen, "active")
    before = number(get_crl())
    # Beat was down: the CRL's nextUpdate has passed.
    CrlShard.objects.filter(shard=CrlShard.FULL).update(
        next_update=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)
    )
    publication.forget_served()

    outcomes = in_parallel([get_crl] * 8)

    numbers = {number(o.value) for o in outcomes}
    assert numbers == {before + 1}
    assert CrlShard.objects.get(shard=CrlShard.FULL).number == before + 1


def test_parallel_changes_then_parallel_publishers_sign_each_crl_once(
    certificate_factory: Any, citizen_factory: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows = [certificate_factory(citizen_factory(), "active")[0] for _ in range(6)]
    shard = rows[0].crl_shard
    assert {row.crl_shard for row in rows} == {shard}
    publication.publish_for(rows[0].ca_id, {shard})
    before = dict(CrlShard.objects.values_list("shard", "number"))
    queued: list[tuple[int, str]] = []
    monkeypatch.setattr(tasks, "queue_publication", lambda ca_id, s: queued.append((ca_id, s)))

    def suspend(row: Certificate) -> Any:
        def call() -> Any:
            cert = Certificate.objects.get(pk=row.pk)
            return services.suspend_certificate(cert, citizen=cert.citizen)

        return call

    assert all(o.ok for o in in_parallel([suspend(row) for row in rows]))
    # One publication asked for per change, none run yet…
    assert len(queued) == 6
    # …and the six tasks, running at once, sign each CRL exactly once.
    outcomes = in_parallel([lambda: publication.publish_for(rows[0].ca_id, {shard})] * 6)

    assert sum(o.value.signed for o in outcomes) == 2  # the shard and the full CRL, once each
    after = dict(CrlShard.objects.values_list("shard", "number"))
    assert after[shard] == before[shard] + 1
    assert after[CrlShard.FULL] == before[CrlShard.FULL] + 1
    for name in (shard, CrlShard.FULL):
        crl = publication.stored_crl(rows[0].ca_id, name)
        assert crl is not None
        assert {entry.serial_number for entry in crl} >= {row.serial_int for row in rows}


def test_changes_during_a_signing_are_published_by_the_signer_s_next_round(
    certificate_factory: Any, citizen_factory: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, _ = certificate_factory(citizen_factory(), "active")
    late, _ = certificate_factory(citizen_factory(), "active")
    publication.publish_for(first.ca_id, {first.crl_shard})
    monkeypatch.setattr(tasks, "queue_publication", lambda *args: None)
    services.suspend_certificate(first, citizen=first.citizen)
    real_sign = publication._sign
    calls: list[int] = []

    def sign_while_a_change_commits(row: CrlShard) -> Any:
        calls.append(row.pk)
        if len(calls) == 1:  # the second change commits while the first CRL is being signed
            in_parallel([lambda: services.suspend_certificate(
                Certificate.objects.get(pk=late.pk), citizen=late.citizen
            )])  # fmt: skip
        return real_sign(row)

    monkeypatch.setattr(publication, "_sign", sign_while_a_change_commits)
    full = CrlShard.objects.get(shard=CrlShard.FULL)

    outcome = publication.publish(full.pk)

    assert (outcome.signed, outcome.pending) == (2, False)
    crl = publication.stored_crl(first.ca_id)
    assert crl is not None
    assert {entry.serial_number for entry in crl} == {first.serial_int, late.serial_int}
