"""The audit log is append-only: in the ORM, and in the database itself."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import AnonymousUser
from django.db import DatabaseError, connection, transaction
from django.db.models import ProtectedError
from django.test import RequestFactory

from accounts.models import Citizen
from audit.actor import Actor
from audit.log import record
from audit.models import AppendOnlyError, AuditEvent
from nesportal.testing.factories import CitizenFactory, StaffUserFactory

pytestmark = pytest.mark.django_db


def raw_sql(sql: str, params: list[object] | None = None) -> None:
    """Run SQL behind the ORM's back, in a savepoint so the test can go on after a refusal."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, params)


@pytest.fixture
def event() -> AuditEvent:
    return record("nes.login.word_failed", citizen=CitizenFactory(), failure_count=1)


def test_it_records_an_event_with_citizen_actor_address_and_data():
    citizen = CitizenFactory()
    agent = StaffUserFactory()
    request = RequestFactory().post("/admin/", REMOTE_ADDR="198.51.100.7")
    request.user = agent

    event = record(
        "nes.account.unlocked", citizen=citizen, actor=Actor.from_request(request), reason="aradı"
    )

    stored = AuditEvent.objects.get(pk=event.pk)
    assert stored.action == "nes.account.unlocked"
    assert stored.citizen == citizen
    assert stored.actor == agent
    assert stored.ip_address == "198.51.100.7"
    assert stored.data == {"reason": "aradı"}
    assert stored.at is not None
    assert AuditEvent.objects.count() == 1


def test_it_records_an_unknown_subject_without_citizen_or_actor():
    event = record("nes.login.word_failed", actor=Actor.staff(AnonymousUser()), subject="id:abc123")

    stored = AuditEvent.objects.get(pk=event.pk)
    assert stored.citizen is None
    assert stored.actor is None  # an anonymous "actor" is not a person
    assert stored.ip_address is None
    assert stored.subject == "id:abc123"


def test_it_appends_each_event_as_a_new_row_newest_first():
    citizen = CitizenFactory()

    first = record("nes.login.word_passed", citizen=citizen)
    second = record("nes.login.code_passed", citizen=citizen)

    assert list(AuditEvent.objects.filter(citizen=citizen)) == [second, first]


def test_it_refuses_to_save_an_existing_event(event):
    event.action = "nes.tampered"
    event.data = {}

    with pytest.raises(AppendOnlyError):
        event.save()

    event.refresh_from_db()
    assert event.action == "nes.login.word_failed"
    assert event.data == {"failure_count": 1}


def test_it_refuses_queryset_update(event):
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.filter(pk=event.pk).update(action="nes.tampered")

    event.refresh_from_db()
    assert event.action == "nes.login.word_failed"


def test_it_refuses_bulk_update(event):
    event.action = "nes.tampered"

    # bulk_update opens an atomic block without a savepoint; ours keeps the test usable after.
    with pytest.raises(AppendOnlyError), transaction.atomic():
        AuditEvent.objects.bulk_update([event], ["action"])

    assert AuditEvent.objects.get(pk=event.pk).action == "nes.login.word_failed"


def test_it_refuses_queryset_delete(event):
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.all().delete()

    assert AuditEvent.objects.filter(pk=event.pk).exists()


def test_it_refuses_instance_delete(event):
    with pytest.raises(AppendOnlyError):
        event.delete()

    assert AuditEvent.objects.filter(pk=event.pk).exists()


def test_it_refuses_to_delete_a_citizen_who_has_audit_events(event):
    with pytest.raises(ProtectedError):
        event.citizen.delete()

    assert Citizen.objects.filter(pk=event.citizen_id).exists()
    assert AuditEvent.objects.filter(pk=event.pk).exists()


def test_it_refuses_a_raw_sql_update_in_the_database(event):
    # Both PostgreSQL and SQLite (the embedded default) have a trigger for UPDATE.
    with pytest.raises(DatabaseError, match="append-only"):
        raw_sql("UPDATE audit_auditevent SET action = %s WHERE id = %s", ["nes.tampered", event.pk])

    event.refresh_from_db()
    assert event.action == "nes.login.word_failed"


@pytest.mark.postgres
def test_it_refuses_a_raw_sql_update_on_postgresql(event):
    with pytest.raises(DatabaseError, match=r"append-only \(UPDATE refused\)"):
        raw_sql("UPDATE audit_auditevent SET data = '{}'::jsonb")

    event.refresh_from_db()
    assert event.data == {"failure_count": 1}


@pytest.mark.postgres
def test_it_refuses_a_raw_sql_delete_on_postgresql(event):
    with pytest.raises(DatabaseError, match=r"append-only \(DELETE refused\)"):
        raw_sql("DELETE FROM audit_auditevent WHERE id = %s", [event.pk])

    assert AuditEvent.objects.filter(pk=event.pk).exists()


@pytest.mark.postgres
def test_it_still_accepts_raw_inserts_on_postgresql(event):
    # The trigger blocks changes, not appends.
    raw_sql(
        "INSERT INTO audit_auditevent (at, action, subject, data) "
        "VALUES (now(), 'nes.logout', '', '{}'::jsonb)"
    )

    assert AuditEvent.objects.filter(action="nes.logout").count() == 1
    assert AuditEvent.objects.count() == 2
