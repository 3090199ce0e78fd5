"""Races on PostgreSQL: parallel decisions on one application, as two tabs would send them.

Real threads, each with its own connection, released at the same instant by a Barrier. The
conditional UPDATE lets exactly one decide; every other caller is refused and audited.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from django.db import connection

from accounts.models import Citizen
from audit.models import AuditEvent
from eonay.models import Application, ApplicationError, Consent
from eonay.services import decide_application, give_consent, withdraw_consent
from nesportal.testing.factories import ApplicationFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def in_parallel(calls: list[Callable[[], Any]]) -> list[bool]:
    """Run ``calls`` at once on threads of their own; True for success, False for a refusal."""
    barrier = threading.Barrier(len(calls))

    def run(call: Callable[[], Any]) -> bool:
        try:
            barrier.wait(timeout=30)
            try:
                call()
                return True
            except ApplicationError:
                return False
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        futures = [pool.submit(run, call) for call in calls]
        return [future.result(timeout=120) for future in futures]


@pytest.mark.parametrize("rounds", range(3))
def test_parallel_decisions_decide_exactly_once(citizen: Citizen, staff: Any, rounds: int) -> None:
    application = ApplicationFactory(citizen=citizen, entered_by=staff)

    def deciding(approve: bool) -> Callable[[], Any]:
        return lambda: decide_application(
            Application.objects.get(pk=application.pk), citizen=citizen, approve=approve
        )

    results = in_parallel([deciding(i % 2 == 0) for i in range(6)])

    assert results.count(True) == 1
    application.refresh_from_db()
    assert application.status != Application.Status.WAITING
    decided = Counter(
        AuditEvent.objects.filter(subject=application.reference).values_list("action", flat=True)
    )
    assert decided["nes.eonay.approved"] + decided["nes.eonay.rejected"] == 1
    assert decided["nes.eonay.refused"] == 5


def test_parallel_consents_leave_one_active_row(citizen: Citizen) -> None:
    results = in_parallel([lambda: give_consent(citizen, Consent.Scope.FIRST)] * 4)
    assert all(results)
    assert Consent.objects.filter(citizen=citizen, withdrawn_at=None).count() == 1
    assert AuditEvent.objects.filter(action="nes.eonay.consent_given").count() == 1


def test_an_entry_racing_a_withdrawal_is_never_approved_by_a_withdrawn_consent(
    citizen: Citizen, staff: Any
) -> None:
    entered: list[Application] = []
    for _ in range(3):
        give_consent(citizen, Consent.Scope.FIRST)
        in_parallel(
            [
                lambda: withdraw_consent(citizen, Consent.Scope.FIRST),
                lambda: entered.append(ApplicationFactory(citizen=citizen, entered_by=staff)),
            ]
        )
        application = Application.objects.get(pk=entered[-1].pk)
        withdrawn = AuditEvent.objects.filter(action="nes.eonay.consent_withdrawn").latest("id")
        if application.decided_by_consent_id is not None:
            consent = Consent.objects.get(pk=application.decided_by_consent_id)
            assert consent.withdrawn_at is not None
            assert consent.withdrawn_at >= application.decided_at
            approved = AuditEvent.objects.get(
                action="nes.eonay.approved_by_consent", subject=application.reference
            )
            assert approved.pk < withdrawn.pk
        else:
            assert application.status == Application.Status.WAITING
