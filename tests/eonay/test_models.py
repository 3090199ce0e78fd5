"""The database keeps decisions consistent: constraints, the human reference, one decision."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import Citizen
from eonay.models import Application, ApplicationError, Consent

pytestmark = pytest.mark.django_db


def test_the_reference_is_human(waiting: Application) -> None:
    year = timezone.localtime(waiting.entered_at).year
    assert waiting.reference == f"EO-{year}-{waiting.pk:06d}"
    assert Application.objects.get(pk=waiting.pk).reference == waiting.reference


@pytest.mark.parametrize(
    "fields",
    [
        {"status": "approved"},  # no decision time
        {"status": "rejected"},
        {"status": "waiting", "decided_at": "now"},
        {"status": "rejected", "decided_at": "now", "consent": True},
        {"status": "granted", "decided_at": "now"},
    ],
)
def test_inconsistent_decisions_are_refused_by_the_database(
    waiting: Application, citizen: Citizen, fields: dict[str, Any]
) -> None:
    consent = Consent.objects.create(citizen=citizen, scope=Consent.Scope.FIRST)
    update: dict[str, Any] = {"status": fields["status"]}
    if fields.get("decided_at"):
        update["decided_at"] = timezone.now()
    if fields.get("consent"):
        update["decided_by_consent"] = consent
    with pytest.raises(IntegrityError), transaction.atomic():
        Application.objects.filter(pk=waiting.pk).update(**update)


def test_decide_happens_once(waiting: Application) -> None:
    assert waiting.decide(approve=True) is True
    with pytest.raises(ApplicationError, match="daha önce verilmiş"):
        waiting.decide(approve=False)
    waiting.refresh_from_db()
    assert waiting.status == Application.Status.APPROVED


def test_a_consent_never_rejects(waiting: Application, citizen: Citizen) -> None:
    consent = Consent.objects.create(citizen=citizen, scope=Consent.Scope.FIRST)
    with pytest.raises(ValueError):
        waiting.decide(approve=False, consent=consent)
