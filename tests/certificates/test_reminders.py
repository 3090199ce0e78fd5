"""Expiry and new-certificate reminders (certificates.reminders, the beat task, the command).

Every test passes ``now`` to the service or freezes the clock with time-machine; the races run
on real threads against PostgreSQL, and the task runs once through a real ``celery worker``.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from collections.abc import Iterator
from io import StringIO
from typing import Any

import pytest
import time_machine
from django.conf import settings
from django.core.management import call_command
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import Citizen, SmsMessage
from accounts.sms_texts import render_body
from audit.log import record
from audit.models import AuditEvent
from certificates import reminders, tasks
from certificates.models import Certificate, ExpiryReminder
from certificates.reminders import ISTANBUL, THRESHOLDS

from ..celery_processes import CeleryProcess, base_env, celery_process, new_queue, publishing_to
from ..celery_processes import wait_for as wait_for_process
from ..parallel import in_parallel

DAY = dt.timedelta(days=1)
HOUR = dt.timedelta(hours=1)
VALIDITY = dt.timedelta(days=3 * 365 - 1)  # of an "active" certificate_factory certificate

Kind = SmsMessage.Kind
Outcome = ExpiryReminder.Outcome


def istanbul(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, hour, minute, tzinfo=ISTANBUL)


# Tomorrow's noon in Istanbul: in sending hours, after every issuance the factories make (their
# issued_at is the real time), and less than CATCH_UP after it.
NOON = istanbul(timezone.localdate(timezone.now(), ISTANBUL) + DAY, 12)


def active_until(factory: Any, citizen: Citizen, not_after: dt.datetime, **kw: Any) -> Certificate:
    """An active certificate whose notAfter is ``not_after``."""
    return factory(citizen, "active", now=not_after - VALIDITY, **kw)[0]


def reminder_sms(citizen: Citizen) -> list[tuple[str, dict[str, str]]]:
    rows = SmsMessage.objects.filter(citizen=citizen, kind__in=SmsMessage.REMINDER_KINDS)
    return [(row.kind, row.context) for row in rows.order_by("created_at", "id")]


def rows_of(cert: Certificate) -> dict[str, str]:
    return dict(cert.reminders.values_list("threshold", "outcome"))


def expiring(cert: Certificate, days: str) -> tuple[str, dict[str, str]]:
    local = timezone.localtime(cert.not_after, ISTANBUL).date()
    context = {
        "serial": cert.serial_number,
        "days": days,
        "date": local.strftime("%d.%m.%Y"),
        "date_iso": local.isoformat(),  # written in the holder's language when rendered
    }
    return (Kind.CERT_EXPIRING, context)


# --- each threshold once ---------------------------------------------------------------------


@pytest.mark.django_db
def test_it_sends_each_threshold_once_however_often_it_runs(
    certificate_factory: Any, citizen: Citizen
) -> None:
    cert = active_until(certificate_factory, citizen, NOON + 100 * DAY)

    assert reminders.send_due_reminders(now=NOON).expiry_sent == {}  # 100 days: none due yet
    for days in THRESHOLDS:
        reached = cert.not_after - days * DAY + HOUR  # 13:00 Istanbul on the threshold's day
        first = reminders.send_due_reminders(now=reached)
        again = reminders.send_due_reminders(now=reached)
        later_that_day = reminders.send_due_reminders(now=reached + 5 * HOUR)
        assert first.expiry_sent == {str(days): 1}
        assert again.expiry_sent == later_that_day.expiry_sent == {}

    assert reminder_sms(citizen) == [expiring(cert, str(days)) for days in THRESHOLDS]
    assert rows_of(cert) == {str(days): Outcome.SENT for days in THRESHOLDS}
    events = AuditEvent.objects.filter(citizen=citizen, action="nes.reminder.expiry_sent")
    assert [e.data["days"] for e in events.order_by("id")] == list(THRESHOLDS)
    assert {e.data["serial"] for e in events} == {cert.serial_number}
    # The reminder's SMS goes to the registered mobile, past no hourly notice budget.
    assert set(
        SmsMessage.objects.filter(kind=Kind.CERT_EXPIRING).values_list("to_number", flat=True)
    ) == {citizen.mobile_phone}


@pytest.mark.django_db
def test_it_renders_the_sms_with_the_serial_days_and_istanbul_date(
    certificate_factory: Any, citizen: Citizen
) -> None:
    # 22:30 UTC is already the next day in Istanbul: the date is the holder's.
    not_after = dt.datetime.combine(NOON.date() + 90 * DAY, dt.time(22, 30), tzinfo=dt.UTC)
    cert = active_until(certificate_factory, citizen, not_after)

    reminders.send_due_reminders(now=not_after - 90 * DAY + 14 * HOUR)

    message = SmsMessage.objects.get(kind=Kind.CERT_EXPIRING)
    assert message.context["date"] == (NOON.date() + 91 * DAY).strftime("%d.%m.%Y")
    assert message.context["date_iso"] == (NOON.date() + 91 * DAY).isoformat()
    body = render_body(message)
    assert body is not None
    assert cert.serial_number[-6:] in body  # the whole serial, or its tail ("…3fa9c1")
    assert message.context["date"] in body
    assert "90" in body


# --- late runs -------------------------------------------------------------------------------


@pytest.mark.django_db
def test_it_sends_only_the_nearest_threshold_when_it_runs_late(
    certificate_factory: Any, citizen: Citizen
) -> None:
    cert = active_until(certificate_factory, citizen, NOON + 29 * DAY)

    result = reminders.send_due_reminders(now=NOON)

    assert result.expiry_sent == {"30": 1}
    assert result.skipped == 2
    assert reminder_sms(citizen) == [expiring(cert, "30")]
    assert rows_of(cert) == {"90": Outcome.SKIPPED, "60": Outcome.SKIPPED, "30": Outcome.SENT}
    event = AuditEvent.objects.get(action="nes.reminder.expiry_sent")
    assert (event.data["days"], event.data["skipped"]) == (30, [90, 60])

    # The skipped ones never come later; the next threshold comes on its day, once.
    assert reminders.send_due_reminders(now=NOON + 2 * DAY).expiry_sent == {}
    assert reminders.send_due_reminders(now=NOON + 15 * DAY).expiry_sent == {"15": 1}
    assert reminder_sms(citizen) == [expiring(cert, "30"), expiring(cert, "15")]


@pytest.mark.django_db
def test_it_still_sends_a_threshold_reached_during_the_night_or_an_outage(
    certificate_factory: Any, citizen: Citizen
) -> None:
    cert = active_until(certificate_factory, citizen, NOON + 60 * DAY)
    # The 60-day threshold was reached at noon; the worker was down for two days.
    assert reminders.send_due_reminders(now=NOON + 2 * DAY).expiry_sent == {"60": 1}
    assert rows_of(cert) == {"90": Outcome.SKIPPED, "60": Outcome.SENT}


# --- only while it is true -------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("state", ["suspended", "revoked"])
def test_it_sends_nothing_for_a_suspended_or_revoked_certificate(
    certificate_factory: Any, citizen: Citizen, state: str
) -> None:
    not_after = NOON + 90 * DAY - HOUR
    cert = certificate_factory(citizen, state, now=not_after - VALIDITY)[0]
    assert cert.status == state

    assert reminders.send_due_reminders(now=NOON).expiry_sent == {}
    assert reminders.remind_expiry(cert.pk, now=NOON) is None  # the re-check under the lock
    assert reminder_sms(citizen) == []
    assert not ExpiryReminder.objects.exists()


@pytest.mark.django_db
def test_it_sends_nothing_once_revoked_after_a_first_reminder(
    certificate_factory: Any, citizen: Citizen
) -> None:
    cert = active_until(certificate_factory, citizen, NOON + 90 * DAY - HOUR)
    reminders.send_due_reminders(now=NOON)
    cert.revoke(reason=Certificate.RevocationReason.CESSATION_OF_OPERATION, now=NOON + DAY)

    assert reminders.send_due_reminders(now=NOON + 30 * DAY).expiry_sent == {}
    assert reminders.remind_expiry(cert.pk, now=NOON + 30 * DAY) is None
    assert reminder_sms(citizen) == [expiring(cert, "90")]


@pytest.mark.django_db
def test_it_sends_nothing_for_an_expired_certificate(
    certificate_factory: Any, citizen: Citizen
) -> None:
    cert = active_until(certificate_factory, citizen, NOON - HOUR)  # active, but expired

    assert reminders.send_due_reminders(now=NOON).expiry_sent == {}
    assert reminders.remind_expiry(cert.pk, now=NOON) is None
    assert reminder_sms(citizen) == []


@pytest.mark.django_db
def test_it_does_not_remind_a_holder_who_has_renewed(
    certificate_factory: Any, citizen: Citizen
) -> None:
    old = active_until(certificate_factory, citizen, NOON + 30 * DAY - HOUR)
    certificate_factory(citizen, "pending", now=NOON - 10 * DAY)  # the renewal, to be opened

    assert reminders.send_due_reminders(now=NOON).expiry_sent == {}
    assert reminders.remind_expiry(old.pk, now=NOON) is None
    assert reminder_sms(citizen) == []
    # Another kind is no renewal: a mobile certificate does not replace the card.
    mobile = active_until(certificate_factory, citizen, NOON + 30 * DAY - HOUR, kind="mobile")
    assert reminders.send_due_reminders(now=NOON).expiry_sent == {"30": 1}
    assert reminder_sms(citizen) == [expiring(mobile, "30")]


# --- quiet hours -----------------------------------------------------------------------------


@pytest.mark.django_db
def test_it_sends_nothing_before_9_or_from_20_istanbul_time(
    certificate_factory: Any, citizen: Citizen
) -> None:
    day = NOON.date()
    cert = active_until(certificate_factory, citizen, istanbul(day + 90 * DAY, 3))

    for quiet in (istanbul(day, 8, 59), istanbul(day, 20, 0), istanbul(day + DAY, 8, 59)):
        with time_machine.travel(quiet, tick=False):
            assert tasks.send_reminders() == {
                "quiet_hours": True,
                "expiry_sent": {},
                "skipped": 0,
                "ready_sent": 0,
            }
    assert reminder_sms(citizen) == []
    assert not ExpiryReminder.objects.exists()

    with time_machine.travel(istanbul(day + DAY, 9, 0), tick=False):
        assert tasks.send_reminders()["expiry_sent"] == {"90": 1}
    assert reminder_sms(citizen) == [expiring(cert, "90")]


def test_in_sending_hours_is_istanbul_time_whatever_the_zone_given() -> None:
    # 05:59 and 06:00 UTC are 08:59 and 09:00 in Istanbul; 17:00 UTC is 20:00.
    utc = dt.datetime(2027, 1, 15, tzinfo=dt.UTC)
    assert not reminders.in_sending_hours(utc.replace(hour=5, minute=59))
    assert reminders.in_sending_hours(utc.replace(hour=6))
    assert reminders.in_sending_hours(utc.replace(hour=16, minute=59))
    assert not reminders.in_sending_hours(utc.replace(hour=17))


# --- language and e-mail ---------------------------------------------------------------------


@pytest.mark.django_db
def test_it_e_mails_an_english_holder_in_english(
    certificate_factory: Any,
    citizen_factory: Any,
    mailoutbox: list[Any],
    django_capture_on_commit_callbacks: Any,
) -> None:
    anna = citizen_factory(first_name="Anna", last_name="Schmidt", language="en")
    cert = active_until(certificate_factory, anna, NOON + 7 * DAY - HOUR)

    with django_capture_on_commit_callbacks(execute=True):
        reminders.send_due_reminders(now=NOON)

    [mail] = mailoutbox
    assert mail.to == [anna.email]
    # The English date format (nesportal/formats/en): "11 Dec 2026".
    date = timezone.localtime(cert.not_after, ISTANBUL).strftime("%d %b %Y").lstrip("0")
    assert mail.subject == f"NES Portal: your certificate expires on {date}"
    assert f"serial number {cert.serial_number} expires on {date} (days left: 7)" in mail.body
    assert mail.body.startswith("Dear Anna Schmidt,\n")
    assert "Open my certificate for use" in mail.body
    for turkish in ("Sayın", "sertifika", "gün", "Çağrı"):
        assert turkish not in mail.body


@pytest.mark.django_db
def test_it_e_mails_a_turkish_holder_in_turkish_and_no_one_without_an_address(
    certificate_factory: Any,
    citizen_factory: Any,
    mailoutbox: list[Any],
    django_capture_on_commit_callbacks: Any,
) -> None:
    ayse = citizen_factory(first_name="Ayşe", last_name="Çelik", language="tr")
    no_mail = citizen_factory(email="")
    cert = active_until(certificate_factory, ayse, NOON + 7 * DAY - HOUR)
    active_until(certificate_factory, no_mail, NOON + 7 * DAY - HOUR)

    with django_capture_on_commit_callbacks(execute=True):
        result = reminders.send_due_reminders(now=NOON)

    assert result.expiry_sent == {"7": 2}  # both get the SMS
    [mail] = mailoutbox
    assert mail.to == [ayse.email]
    date = timezone.localtime(cert.not_after, ISTANBUL).strftime("%d.%m.%Y")
    assert mail.subject == f"NES Portal: sertifikanızın süresi {date} tarihinde doluyor"
    assert mail.body.startswith("Sayın Ayşe Çelik,\n")
    assert f"{cert.serial_number} seri numaralı" in mail.body
    assert f"süresi {date} tarihinde doluyor (kalan gün: 7)" in mail.body
    assert "Sertifikamı Kullanıma Aç" in mail.body
    assert reminder_sms(no_mail) and reminder_sms(ayse)


@pytest.mark.django_db
def test_a_failing_mail_server_does_not_stop_the_sms(
    certificate_factory: Any,
    citizen: Citizen,
    monkeypatch: pytest.MonkeyPatch,
    django_capture_on_commit_callbacks: Any,
) -> None:
    def broken(*args: Any, **kwargs: Any) -> None:
        raise ConnectionRefusedError("no mail server")

    monkeypatch.setattr("certificates.reminders.send_mail", broken)
    cert = active_until(certificate_factory, citizen, NOON + 15 * DAY - HOUR)

    with django_capture_on_commit_callbacks(execute=True):
        assert reminders.send_due_reminders(now=NOON).expiry_sent == {"15": 1}
    assert reminder_sms(citizen) == [expiring(cert, "15")]


# --- a new certificate to be opened ----------------------------------------------------------


@pytest.mark.django_db
def test_it_reminds_once_on_the_day_the_old_certificate_expires(
    certificate_factory: Any, citizen: Citizen
) -> None:
    expires = NOON + 40 * DAY  # the old card certificate's notAfter, 12:00 Istanbul
    old = active_until(certificate_factory, citizen, expires)
    new = certificate_factory(citizen, "pending", now=NOON - 20 * DAY)[0]

    # Waiting: the old one is still valid (and, renewed, gets no expiry reminder either).
    assert reminders.send_due_reminders(now=expires - HOUR).ready_sent == 0
    assert reminders.remind_ready(new.pk, now=expires - HOUR) is False
    assert reminder_sms(citizen) == []

    assert reminders.send_due_reminders(now=expires + HOUR).ready_sent == 1
    assert reminders.send_due_reminders(now=expires + HOUR).ready_sent == 0
    assert reminders.send_due_reminders(now=expires + DAY).ready_sent == 0

    assert reminder_sms(citizen) == [(Kind.CERT_READY, {"serial": new.serial_number})]
    assert rows_of(new) == {"ready": Outcome.SENT}
    assert rows_of(old) == {}
    event = AuditEvent.objects.get(action="nes.reminder.ready_sent")
    assert (event.citizen, event.data["serial"]) == (citizen, new.serial_number)
    # The reminder is true: the certificate opens now.
    new.open_for_use(by_citizen=citizen, now=expires + 2 * HOUR)


@pytest.mark.django_db
def test_the_new_certificate_reminder_is_e_mailed_too(
    certificate_factory: Any,
    citizen: Citizen,
    mailoutbox: list[Any],
    django_capture_on_commit_callbacks: Any,
) -> None:
    new = certificate_factory(citizen, "pending")[0]

    with django_capture_on_commit_callbacks(execute=True):
        assert reminders.send_due_reminders(now=NOON).ready_sent == 1

    [mail] = mailoutbox
    assert mail.to == [citizen.email]
    assert mail.subject == "NES Portal: yeni sertifikanızı kullanıma açabilirsiniz"
    assert f"{new.serial_number} seri numaralı yeni" in mail.body
    assert "«Sertifikamı Kullanıma Aç»" in mail.body


@pytest.mark.django_db
def test_it_reminds_after_the_night_when_the_old_certificate_expired_at_night(
    certificate_factory: Any, citizen: Citizen
) -> None:
    expires = istanbul(NOON.date() + 40 * DAY, 23)
    active_until(certificate_factory, citizen, expires)
    new = certificate_factory(citizen, "pending", now=NOON - 20 * DAY)[0]

    assert reminders.send_due_reminders(now=expires + 2 * HOUR).quiet_hours
    assert reminders.send_due_reminders(now=expires + 10 * HOUR).ready_sent == 1  # 09:00
    assert reminder_sms(citizen) == [(Kind.CERT_READY, {"serial": new.serial_number})]


@pytest.mark.django_db
def test_it_reminds_when_the_old_certificate_is_revoked(
    certificate_factory: Any, citizen: Citizen
) -> None:
    old = active_until(certificate_factory, citizen, NOON + 200 * DAY)
    new = certificate_factory(citizen, "pending", now=NOON - 20 * DAY)[0]
    assert reminders.send_due_reminders(now=NOON).ready_sent == 0

    old.revoke(reason=Certificate.RevocationReason.SUPERSEDED, now=NOON + HOUR)

    assert reminders.send_due_reminders(now=NOON + 2 * HOUR).ready_sent == 1
    assert reminders.send_due_reminders(now=NOON + 3 * HOUR).ready_sent == 0
    assert reminder_sms(citizen) == [(Kind.CERT_READY, {"serial": new.serial_number})]


@pytest.mark.django_db
def test_it_reminds_a_first_certificate_on_the_day_it_is_issued(
    certificate_factory: Any, citizen: Citizen
) -> None:
    new = certificate_factory(citizen, "pending")[0]  # issued now, nothing older

    assert reminders.send_due_reminders(now=NOON).ready_sent == 1
    assert reminders.send_due_reminders(now=NOON + HOUR).ready_sent == 0
    assert reminder_sms(citizen) == [(Kind.CERT_READY, {"serial": new.serial_number})]


@pytest.mark.django_db
def test_it_does_not_remind_while_a_suspended_old_certificate_is_valid_or_once_opened(
    certificate_factory: Any, citizen: Citizen
) -> None:
    certificate_factory(citizen, "suspended", now=NOON - 100 * DAY)  # valid for years
    new = certificate_factory(citizen, "pending", now=NOON - DAY)[0]
    assert reminders.send_due_reminders(now=NOON).ready_sent == 0

    opened = certificate_factory(citizen, "pending", kind="mobile")[0]
    opened.open_for_use(by_citizen=citizen, now=NOON - HOUR)
    assert reminders.send_due_reminders(now=NOON).ready_sent == 0
    assert reminders.remind_ready(opened.pk, now=NOON) is False
    assert reminder_sms(citizen) == []
    assert not ExpiryReminder.objects.filter(certificate=new).exists()


# --- work per run --------------------------------------------------------------------------


def run_queries(now: dt.datetime) -> list[str]:
    with CaptureQueriesContext(connection) as queries:
        reminders.send_due_reminders(now=now)
    return [q["sql"] for q in queries.captured_queries]


@pytest.mark.django_db
def test_a_run_reads_only_what_is_due_whatever_the_number_of_certificates(
    certificate_factory: Any, citizen_factory: Any
) -> None:
    nothing_due = run_queries(NOON)
    # Certificates in use far from any threshold, already reminded, revoked, long expired.
    for days in (45, 80, 200, 400, 1000):
        active_until(certificate_factory, citizen_factory(), NOON + days * DAY)
    for days in (5, 89):
        active_until(certificate_factory, citizen_factory(), NOON + days * DAY)
    assert reminders.send_due_reminders(now=NOON - HOUR).expiry_sent == {"90": 1, "7": 1}
    certificate_factory(citizen_factory(), "revoked", now=NOON - 30 * DAY)
    certificate_factory(citizen_factory(), "expired", now=NOON - 30 * DAY)

    queries = run_queries(NOON)

    assert len(queries) == len(nothing_due)
    # Each read of certificates is a range on an indexed column of a partial index.
    for sql in queries:
        if 'FROM "certificates_certificate"' in sql:
            assert re.search(r'"(not_after|issued_at|revoked_at)" > ', sql), sql


@pytest.mark.django_db
def test_it_reads_in_batches_and_misses_none(
    certificate_factory: Any, citizen_factory: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(reminders, "BATCH", 2)
    # Five at the same notAfter (the keyset's ties are broken by pk), two more around them.
    same = NOON + 89 * DAY
    due = [active_until(certificate_factory, citizen_factory(), same) for _ in range(5)]
    due += [active_until(certificate_factory, citizen_factory(), same + d * HOUR) for d in (-3, 3)]
    waiting = []
    for _ in range(3):
        holder = citizen_factory()
        active_until(certificate_factory, holder, NOON - HOUR)
        waiting.append(certificate_factory(holder, "pending", now=NOON - 10 * DAY)[0])

    result = reminders.send_due_reminders(now=NOON)

    assert result.expiry_sent == {"90": 7}
    assert result.ready_sent == 3
    serials = Counter(
        SmsMessage.objects.filter(kind__in=SmsMessage.REMINDER_KINDS).values_list(
            "context__serial", flat=True
        )
    )
    assert serials == {c.serial_number: 1 for c in due + waiting}


# --- races on PostgreSQL ---------------------------------------------------------------------


@pytest.fixture
def due_everywhere(certificate_factory: Any, citizen_factory: Any) -> dict[str, Certificate]:
    """Certificates with reminders due at NOON: on time, late (two skipped) and one to open."""
    certs: dict[str, Certificate] = {}
    for n in range(4):
        certs[f"90-{n}"] = active_until(certificate_factory, citizen_factory(), NOON + 89 * DAY)
        certs[f"late-{n}"] = active_until(certificate_factory, citizen_factory(), NOON + 29 * DAY)
    holder = citizen_factory()
    active_until(certificate_factory, holder, NOON - HOUR)
    certs["ready"] = certificate_factory(holder, "pending", now=NOON - 10 * DAY)[0]
    return certs


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("round_", range(3))
def test_parallel_runs_send_each_reminder_exactly_once(
    due_everywhere: dict[str, Certificate],
    sms_outbox: list[dict[str, Any]],
    mailoutbox: list[Any],
    round_: int,
) -> None:
    outcomes = in_parallel([lambda: reminders.send_due_reminders(now=NOON)] * 4)

    assert all(o.ok for o in outcomes)
    results = [o.value for o in outcomes]
    assert sum(sum(r.expiry_sent.values()) for r in results) == 8
    assert sum(r.skipped for r in results) == 8
    assert sum(r.ready_sent for r in results) == 1
    # One SMS row, one delivered SMS, one e-mail and one audit event per reminder.
    sent = Counter(
        (m.context["serial"], m.context.get("days", "ready"))
        for m in SmsMessage.objects.filter(kind__in=SmsMessage.REMINDER_KINDS)
    )
    due = {"90": "90", "late": "30", "ready": "ready"}
    assert sent == {
        (c.serial_number, due[name.split("-")[0]]): 1 for name, c in due_everywhere.items()
    }
    assert len(sms_outbox) == 9
    assert len({m["to"] for m in sms_outbox}) == 9
    assert len(mailoutbox) == 9
    assert AuditEvent.objects.filter(action__startswith="nes.reminder.").count() == 9
    rows = Counter(ExpiryReminder.objects.values_list("certificate_id", "threshold"))
    assert set(rows.values()) == {1}
    assert Counter(ExpiryReminder.objects.values_list("outcome", flat=True)) == {
        Outcome.SENT: 9,
        Outcome.SKIPPED: 8,
    }


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("round_", range(5))
def test_a_revocation_racing_a_run_is_never_followed_by_a_reminder(
    certificate_factory: Any, citizen_factory: Any, round_: int
) -> None:
    certs = [
        active_until(certificate_factory, citizen_factory(), NOON + 89 * DAY) for _ in range(3)
    ]

    def revoke() -> None:
        for cert in certs:
            with transaction.atomic():
                Certificate.objects.get(pk=cert.pk).revoke(
                    reason=Certificate.RevocationReason.KEY_COMPROMISE, now=NOON
                )
                # Under the certificate's row lock: ordered like the reminder's own event.
                record("test.revoked", serial=cert.serial_number)

    in_parallel([revoke, lambda: reminders.send_due_reminders(now=NOON)])

    for cert in certs:
        events = AuditEvent.objects.filter(
            action__in=["test.revoked", "nes.reminder.expiry_sent"], data__serial=cert.serial_number
        )
        order = list(events.order_by("id").values_list("action", flat=True))
        # A reminder, if any, went while the certificate was still active.
        assert order in (["test.revoked"], ["nes.reminder.expiry_sent", "test.revoked"])
        sms = reminder_sms(cert.citizen)
        assert sms == ([expiring(cert, "90")] if len(order) == 2 else [])
    assert reminders.send_due_reminders(now=NOON + 60 * DAY).expiry_sent == {}


# --- the task, beat and the command ----------------------------------------------------------


def test_the_task_is_registered_and_scheduled_hourly() -> None:
    from nesportal.celery import app

    app.loader.import_default_modules()  # what a worker imports (autodiscovery)
    assert "certificates.send_reminders" in app.tasks
    entry = settings.CELERY_BEAT_SCHEDULE["send-reminders"]
    assert entry["task"] == "certificates.send_reminders"
    assert entry["schedule"] == 3600.0


@pytest.mark.django_db
def test_the_task_never_runs_as_of_a_later_moment(
    certificate_factory: Any, citizen: Citizen
) -> None:
    cert = active_until(certificate_factory, citizen, NOON + 88 * DAY)
    with time_machine.travel(NOON, tick=False):
        # As of 30 days later the 60-day reminder would be due; the run is held to now.
        assert tasks.send_reminders(at=(NOON + 30 * DAY).isoformat())["expiry_sent"] == {"90": 1}
    assert reminder_sms(citizen) == [expiring(cert, "90")]


@pytest.mark.django_db
def test_the_task_reads_a_naive_time_as_istanbul_time(
    certificate_factory: Any, citizen: Citizen
) -> None:
    evening = istanbul(NOON.date() - DAY, 19, 30)  # 22:30 in Istanbul if it were UTC
    cert = active_until(certificate_factory, citizen, evening + 7 * DAY - HOUR)
    with time_machine.travel(NOON, tick=False):
        naive = evening.replace(tzinfo=None).isoformat()
        assert tasks.send_reminders(at=naive)["expiry_sent"] == {"7": 1}
    assert reminder_sms(citizen) == [expiring(cert, "7")]


@pytest.mark.django_db
def test_the_command_sends_what_is_due_and_says_so(
    certificate_factory: Any, citizen: Citizen
) -> None:
    active_until(certificate_factory, citizen, NOON + 60 * DAY - HOUR)

    out = StringIO()
    with time_machine.travel(NOON, tick=False):
        call_command("send_reminders", stdout=out)
        call_command("send_reminders", stdout=out)
    with time_machine.travel(istanbul(NOON.date(), 21), tick=False):
        call_command("send_reminders", stdout=out)

    lines = out.getvalue().splitlines()
    assert lines == [
        "1 expiry reminder(s) sent (60 days: 1), 1 passed threshold(s) skipped, "
        "0 new-certificate reminder(s) sent",
        "0 expiry reminder(s) sent, 0 passed threshold(s) skipped, "
        "0 new-certificate reminder(s) sent",
        "Outside sending hours (09:00-20:00 Istanbul): nothing sent.",
    ]
    assert len(reminder_sms(citizen)) == 1


# --- through a real celery worker ------------------------------------------------------------


@pytest.fixture(scope="module")
def worker_process(django_db_setup: None, tmp_path_factory: Any) -> Iterator[CeleryProcess]:
    queue = new_queue()
    directory = tmp_path_factory.mktemp("celery-reminders")
    with celery_process("worker", queue, base_env(queue), directory, ready=" ready.") as process:
        yield process


@pytest.fixture
def worker(transactional_db: None, worker_process: CeleryProcess) -> Iterator[CeleryProcess]:
    worker_process.mark()
    with publishing_to(worker_process.queue):
        try:
            yield worker_process
        finally:
            print(f"--- celery worker log for this test ({worker_process.log_path}) ---")
            print(worker_process.log(since_mark=True))


def task_results(worker: CeleryProcess) -> list[str]:
    pattern = re.compile(r"certificates\.send_reminders\[[0-9a-f-]+\] succeeded in [\d.]+s: (.*)")
    return pattern.findall(worker.log(since_mark=True))


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
def test_the_task_runs_in_a_real_worker_and_sends_once(
    certificate_factory: Any, citizen: Citizen, request: pytest.FixtureRequest
) -> None:
    # Yesterday at noon in Istanbul: in sending hours, and never later than the worker's now.
    at = istanbul(timezone.localdate(timezone.now(), ISTANBUL) - DAY, 12)
    cert = active_until(certificate_factory, citizen, at + 89 * DAY)
    worker: CeleryProcess = request.getfixturevalue("worker")  # after the certificate's tasks

    tasks.send_reminders.apply_async(kwargs={"at": at.isoformat()})
    done = wait_for_process("the first run", lambda: task_results(worker), worker, 30.0)
    assert "'expiry_sent': {'90': 1}" in done[0]

    def delivered() -> SmsMessage | None:
        message = SmsMessage.objects.filter(kind=Kind.CERT_EXPIRING).first()
        return message if message and message.status == SmsMessage.Status.SENT else None

    message = wait_for_process("the SMS to be sent", delivered, worker, 30.0)
    assert message.context == expiring(cert, "90")[1]

    tasks.send_reminders.apply_async(kwargs={"at": at.isoformat()})
    done = wait_for_process(
        "the second run", lambda: len(results := task_results(worker)) == 2 and results, worker, 30
    )
    assert "'expiry_sent': {}" in done[1]
    assert SmsMessage.objects.filter(kind=Kind.CERT_EXPIRING).count() == 1
    assert rows_of(cert) == {"90": Outcome.SENT}


# --- admin -----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_admin_lists_the_reminders_read_only(
    admin_client: Any, certificate_factory: Any, citizen: Citizen
) -> None:
    cert = active_until(certificate_factory, citizen, NOON + 29 * DAY)
    reminders.send_due_reminders(now=NOON)
    url = "/" + settings.ADMIN_URL + "certificates/expiryreminder/"

    response = admin_client.get(url, {"q": cert.serial_number})

    assert response.status_code == 200
    page = response.content.decode()
    assert page.count(cert.serial_number) >= 3
    assert "30 gün kala" in page and "Atlandı" in page
    row = ExpiryReminder.objects.get(certificate=cert, threshold="30")
    assert admin_client.get(f"{url}{row.pk}/change/").status_code == 200
    assert admin_client.post(f"{url}{row.pk}/delete/").status_code == 403
    assert ExpiryReminder.objects.count() == 3
