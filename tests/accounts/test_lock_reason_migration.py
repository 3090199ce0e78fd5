"""Migration 0009 names the strike that locked an account from the audit log."""

from __future__ import annotations

import importlib
from typing import Any

import pytest
from django.apps import apps
from django.utils import timezone

from accounts.models import Citizen
from audit.log import record

pytestmark = pytest.mark.django_db

migration = importlib.import_module("accounts.migrations.0009_lock_reasons")


def locked(citizen: Citizen, *strikes: str) -> Citizen:
    for action in strikes:
        record(action, citizen=citizen)
    record("nes.account.locked", citizen=citizen)
    Citizen.objects.filter(pk=citizen.pk).update(
        locked_at=timezone.now(), lock_reason=Citizen.LockReason.WRONG_WORD
    )
    return citizen


def test_it_names_the_strike_that_locked_each_account(citizen_factory: Any) -> None:
    esign = locked(citizen_factory(), "nes.login.word_failed", "nes.login.esign_failed")
    birth = locked(citizen_factory(), "nes.recovery.fact_failed")
    word = locked(citizen_factory(), "nes.login.esign_failed", "nes.login.word_failed")
    unknown = locked(citizen_factory())
    free = citizen_factory()

    migration.name_existing_locks(apps, None)

    reasons = dict(Citizen.objects.values_list("pk", "lock_reason"))
    assert reasons[esign.pk] == "esign_failed"
    assert reasons[birth.pk] == "wrong_birth_date"
    assert reasons[word.pk] == "wrong_word"
    assert reasons[unknown.pk] == "wrong_word"
    assert reasons[free.pk] == ""

    migration.merge_reasons(apps, None)
    assert set(
        Citizen.objects.filter(locked_at__isnull=False).values_list("lock_reason", flat=True)
    ) == {"wrong_word"}
