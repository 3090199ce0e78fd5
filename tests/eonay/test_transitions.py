"""E-Onay's transitions and what the rows allow, at model level (the services add audit + SMS).

``Application.enter`` / ``.decide`` and ``Consent.objects.give`` / ``Consent.withdraw`` are the
only writers of the state; a refused transition raises ``ApplicationError`` / ``ConsentError``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from django.utils import timezone

from accounts.models import Citizen
from eonay.models import Application, ApplicationError, Consent, ConsentError
from tests.parallel import in_parallel

pytestmark = pytest.mark.django_db

Status = Application.Status
NOW = timezone.make_aware(dt.datetime(2026, 3, 2, 10, 0))


def entered(application_factory: Any, citizen: Citizen, staff: Any, **fields: Any) -> Application:
    application = application_factory.build(citizen=citizen, entered_by=staff, **fields)
    application.enter(entered_by=staff, now=NOW)
    return application


# --- Application.enter ---------------------------------------------------------------------------


def test_an_entered_application_waits(
    application_factory: Any, citizen: Citizen, staff: Any
) -> None:
    application = application_factory.build(citizen=citizen, entered_by=staff)

    assert application.enter(entered_by=staff, now=NOW) is None

    row = Application.objects.get(pk=application.pk)
    assert (row.status, row.decided_at, row.decided_by_consent) == (Status.WAITING, None, None)
    assert (row.entered_by, row.entered_at) == (staff, NOW)
    assert row.reference


def test_an_active_consent_approves_an_entered_application_at_once(
    application_factory: Any, citizen: Citizen, staff: Any
) -> None:
    consent, _ = Consent.objects.give(citizen, Consent.Scope.FIRST, now=NOW)
    application = application_factory.build(citizen=citizen, entered_by=staff)

    assert application.enter(entered_by=staff, now=NOW) == consent

    row = Application.objects.get(pk=application.pk)
    assert (row.status, row.decided_at, row.decided_by_consent) == (Status.APPROVED, NOW, consent)


@pytest.mark.parametrize(
    ("scope", "kind"),
    [
        (Consent.Scope.RENEWAL, Application.Kind.FIRST),
        (Consent.Scope.FIRST, Application.Kind.REPLACEMENT),  # always needs a decision
    ],
)
def test_a_consent_of_another_scope_leaves_it_waiting(
    application_factory: Any, citizen: Citizen, staff: Any, scope: str, kind: str
) -> None:
    Consent.objects.give(citizen, scope, now=NOW)

    application = entered(application_factory, citizen, staff, kind=kind)

    assert application.status == Status.WAITING


def test_a_saved_application_is_not_entered_again(waiting: Application, staff: Any) -> None:
    with pytest.raises(ValueError):
        waiting.enter(entered_by=staff)


# --- Application.decide ----------------------------------------------------------------------


@pytest.mark.parametrize(("approve", "status"), [(True, Status.APPROVED), (False, Status.REJECTED)])
def test_the_citizen_decides_a_waiting_application(
    waiting: Application, approve: bool, status: str
) -> None:
    assert waiting.decide(approve=approve, now=NOW) is True

    row = Application.objects.get(pk=waiting.pk)
    assert (row.status, row.decided_at, row.decided_by_consent) == (status, NOW, None)
    assert row.decided_by_citizen


@pytest.mark.parametrize("second", [True, False])
def test_a_decided_application_refuses_another_decision(waiting: Application, second: bool) -> None:
    waiting.decide(approve=False, now=NOW)

    with pytest.raises(ApplicationError, match="daha önce verilmiş") as refused:
        waiting.decide(approve=second)

    assert refused.value.message == waiting.decision_refusal()
    assert "Reddedildi" in refused.value.message
    assert Application.objects.get(pk=waiting.pk).status == Status.REJECTED


def test_a_stale_instance_is_refused_and_shows_the_decision(waiting: Application) -> None:
    stale = Application.objects.get(pk=waiting.pk)
    waiting.decide(approve=True, now=NOW)

    assert stale.can_decide  # it has not seen the decision yet
    with pytest.raises(ApplicationError):
        stale.decide(approve=False)

    assert (stale.status, stale.decided_at) == (Status.APPROVED, NOW)


def test_a_consent_only_approves(waiting: Application, citizen: Citizen) -> None:
    consent, _ = Consent.objects.give(citizen, Consent.Scope.FIRST)
    with pytest.raises(ValueError):
        waiting.decide(approve=False, consent=consent)
    assert Application.objects.get(pk=waiting.pk).status == Status.WAITING


def test_a_waiting_application_allows_approve_and_reject(waiting: Application) -> None:
    assert waiting.allowed_actions() == {"approve", "reject"}
    assert waiting.can_decide
    assert waiting.decision_refusal() is None

    waiting.decide(approve=True)

    assert waiting.allowed_actions() == frozenset()
    assert not waiting.can_decide
    assert waiting.reference in (waiting.decision_refusal() or "")


# --- Consent.objects.give / Consent.withdraw -----------------------------------------------------


def test_giving_a_consent_makes_one_active_row_and_is_idempotent(citizen: Citizen) -> None:
    consent, created = Consent.objects.give(citizen, Consent.Scope.FIRST, now=NOW)
    again, created_again = Consent.objects.give(citizen, Consent.Scope.FIRST)

    assert (created, created_again) == (True, False)
    assert again == consent
    assert (consent.given_at, consent.withdrawn_at) == (NOW, None)
    assert Consent.objects.active(citizen, Consent.Scope.FIRST) == consent
    assert Consent.objects.active(citizen, Consent.Scope.RENEWAL) is None
    assert Consent.objects.active(citizen, None) is None


def test_withdrawing_stamps_the_row_and_keeps_it(citizen: Citizen) -> None:
    consent, _ = Consent.objects.give(citizen, Consent.Scope.FIRST, now=NOW)

    consent.withdraw(now=NOW + dt.timedelta(days=1))

    assert consent.withdrawn_at == NOW + dt.timedelta(days=1)
    assert Consent.objects.get(pk=consent.pk).withdrawn_at == consent.withdrawn_at
    assert Consent.objects.active(citizen, Consent.Scope.FIRST) is None


def test_a_withdrawn_consent_refuses_to_be_withdrawn_again(citizen: Citizen) -> None:
    consent, _ = Consent.objects.give(citizen, Consent.Scope.FIRST, now=NOW)
    stale = Consent.objects.get(pk=consent.pk)
    consent.withdraw(now=NOW)

    with pytest.raises(ConsentError, match="bulunmuyor"):
        stale.withdraw(now=NOW + dt.timedelta(days=1))

    assert stale.withdrawn_at == NOW  # re-read: the first withdrawal stands
    assert Consent.objects.get(pk=consent.pk).withdrawn_at == NOW


def test_a_consent_given_again_is_a_new_row(citizen: Citizen) -> None:
    first, _ = Consent.objects.give(citizen, Consent.Scope.FIRST, now=NOW)
    first.withdraw(now=NOW)

    second, created = Consent.objects.give(citizen, Consent.Scope.FIRST)

    assert created and second.pk != first.pk
    assert Consent.objects.filter(citizen=citizen).count() == 2


def test_the_scope_allows_give_or_withdraw(citizen: Citizen) -> None:
    assert Consent.objects.allowed_actions(citizen, Consent.Scope.FIRST) == {"give"}
    consent, _ = Consent.objects.give(citizen, Consent.Scope.FIRST)
    assert Consent.objects.allowed_actions(citizen, Consent.Scope.FIRST) == {"withdraw"}
    assert Consent.objects.allowed_actions(citizen, Consent.Scope.RENEWAL) == {"give"}
    consent.withdraw()
    assert Consent.objects.allowed_actions(citizen, Consent.Scope.FIRST) == {"give"}


# --- races (PostgreSQL) ----------------------------------------------------------------------


def _refusal_as_value(call: Callable[[], Any]) -> Callable[[], Any]:
    def run() -> Any:
        try:
            return call()
        except (ApplicationError, ConsentError) as exc:
            return exc

    return run


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_parallel_decisions_have_one_winner(waiting: Application) -> None:
    def deciding(approve: bool) -> Callable[[], Any]:
        return lambda: Application.objects.get(pk=waiting.pk).decide(approve=approve)

    outcomes = in_parallel([_refusal_as_value(deciding(i % 2 == 0)) for i in range(6)])

    values = [outcome.value for outcome in outcomes]
    assert values.count(True) == 1, values
    assert sum(isinstance(v, ApplicationError) for v in values) == 5
    assert not Application.objects.get(pk=waiting.pk).is_waiting


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_parallel_withdrawals_have_one_winner(citizen: Citizen) -> None:
    consent, _ = Consent.objects.give(citizen, Consent.Scope.FIRST)

    outcomes = in_parallel(
        [_refusal_as_value(lambda: Consent.objects.get(pk=consent.pk).withdraw())] * 4
    )

    values = [outcome.value for outcome in outcomes]
    assert values.count(None) == 1, values
    assert sum(isinstance(v, ConsentError) for v in values) == 3
    assert Consent.objects.get(pk=consent.pk).withdrawn_at is not None


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_parallel_gives_make_one_consent(citizen: Citizen) -> None:
    outcomes = in_parallel([lambda: Consent.objects.give(citizen, Consent.Scope.FIRST)] * 4)

    assert [created for _, created in (o.value for o in outcomes)].count(True) == 1
    assert Consent.objects.filter(citizen=citizen).count() == 1
