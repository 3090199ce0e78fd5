"""Housekeeping (accounts/housekeeping.py): what expired goes, what is fresh stays, in batches,
idempotently, on Celery beat's schedule. esign.purge_challenges is tested in tests/esign."""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from typing import Any

import pytest
from django.conf import settings
from django.contrib.sessions.backends.db import SessionStore
from django.contrib.sessions.models import Session
from django.db import connection
from django.utils import timezone

from accounts import housekeeping
from accounts.models import ContactChange, NotMeLink, SmsChallenge, SmsMessage, WordResetLink
from accounts.sms_queue import queue_sms
from accounts.tasks import purge_expired

pytestmark = pytest.mark.django_db

NOW = timezone.now()
LONG_AGO = NOW - housekeeping.RETENTION - dt.timedelta(minutes=1)
RECENTLY = NOW - dt.timedelta(minutes=5)  # expired, but within the retention


def sms_challenge(citizen: Any, expires_at: dt.datetime, **fields: Any) -> SmsChallenge:
    return SmsChallenge.objects.create(
        citizen=citizen,
        purpose=SmsChallenge.Purpose.LOGIN,
        binding_hash="0" * 64,
        created_at=expires_at - SmsChallenge.LIFETIME,
        expires_at=expires_at,
        **fields,
    )


def session(expire_date: dt.datetime) -> str:
    store = SessionStore()
    store["x"] = 1
    store.create()
    Session.objects.filter(session_key=store.session_key).update(expire_date=expire_date)
    return store.session_key


def test_it_deletes_expired_sessions_and_keeps_live_ones() -> None:
    old = [session(NOW - dt.timedelta(seconds=1)) for _ in range(3)]
    live = session(NOW + dt.timedelta(minutes=10))

    counts = housekeeping.purge_all(NOW)

    assert counts["sessions"] == 3
    assert not Session.objects.filter(session_key__in=old).exists()
    assert Session.objects.filter(session_key=live).exists()


def test_it_deletes_sms_challenges_past_the_retention_and_keeps_recent_ones(citizen: Any) -> None:
    old = [
        sms_challenge(citizen, LONG_AGO),
        sms_challenge(citizen, LONG_AGO, consumed_at=LONG_AGO),
        sms_challenge(citizen, LONG_AGO, invalidated_at=LONG_AGO),
    ]
    recent = sms_challenge(citizen, RECENTLY)
    open_one = sms_challenge(citizen, NOW + dt.timedelta(minutes=2))
    # The SMS record of an old code stays, without its challenge (SET_NULL).
    message = SmsMessage.objects.create(
        citizen=citizen,
        challenge=old[0],
        kind=SmsMessage.Kind.LOGIN_CODE,
        to_number=citizen.mobile_phone,
        status=SmsMessage.Status.SENT,
    )

    counts = housekeeping.purge_all(NOW)

    assert counts["sms_challenges"] == 3
    assert set(SmsChallenge.objects.values_list("pk", flat=True)) == {recent.pk, open_one.pk}
    message.refresh_from_db()
    assert message.challenge is None


def test_it_deletes_old_reset_links_and_unconfirmed_contact_changes(
    citizen: Any, call_centre_agent: Any
) -> None:
    def link(expires_at: dt.datetime, **fields: Any) -> WordResetLink:
        return WordResetLink.objects.create(
            citizen=citizen,
            token_hash=uuid.uuid4().hex,
            created_by=call_centre_agent,
            reason="test",
            expires_at=expires_at,
            **fields,
        )

    def change(expires_at: dt.datetime, **fields: Any) -> ContactChange:
        return ContactChange.objects.create(
            citizen=citizen,
            field=ContactChange.Field.EMAIL,
            new_value="yeni@example.com",
            expires_at=expires_at,
            **fields,
        )

    link(LONG_AGO)
    link(LONG_AGO, used_at=LONG_AGO)
    fresh_link = link(NOW + dt.timedelta(minutes=30))
    change(LONG_AGO)
    change(LONG_AGO, cancelled_at=LONG_AGO)
    confirmed = change(LONG_AGO, confirmed_at=LONG_AGO)  # the citizen's history in admin
    fresh_change = change(RECENTLY)

    counts = housekeeping.purge_all(NOW)

    assert counts["reset_links"] == 2
    assert counts["contact_changes"] == 2
    assert list(WordResetLink.objects.values_list("pk", flat=True)) == [fresh_link.pk]
    assert set(ContactChange.objects.values_list("pk", flat=True)) == {
        confirmed.pk,
        fresh_change.pk,
    }


def test_it_deletes_in_batches(citizen: Any) -> None:
    for _ in range(7):
        sms_challenge(citizen, LONG_AGO)
    sms_challenge(citizen, RECENTLY)
    statements: list[str] = []

    def count_deletes(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        if sql.lstrip().upper().startswith("DELETE") and "accounts_smschallenge" in sql:
            statements.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(count_deletes):
        deleted = housekeeping.delete_in_batches(
            SmsChallenge.objects.filter(expires_at__lt=NOW - housekeeping.RETENTION),
            batch_size=3,
        )

    assert deleted == 7
    assert len(statements) == 3  # 3 + 3 + 1
    assert SmsChallenge.objects.count() == 1


def test_it_is_idempotent(citizen: Any) -> None:
    sms_challenge(citizen, LONG_AGO)
    session(NOW - dt.timedelta(seconds=1))

    first = housekeeping.purge_all(NOW)
    second = housekeeping.purge_all(NOW)

    assert first["sms_challenges"] == first["sessions"] == 1
    assert second == dict.fromkeys(first, 0)


def test_the_task_logs_one_line_with_the_counts(citizen: Any, caplog: Any) -> None:
    sms_challenge(citizen, LONG_AGO)

    with caplog.at_level(logging.INFO, logger="accounts.housekeeping"):
        result = purge_expired.delay().get()

    assert result["sms_challenges"] == 1
    (line,) = [r.getMessage() for r in caplog.records if r.name == "accounts.housekeeping"]
    assert line == (
        "housekeeping: deleted sessions=0 captchas=0 sms_challenges=1 reset_links=0"
        " not_me_links=0 contact_changes=0 lost_sends=0"
    )


def test_beat_runs_both_purges_every_housekeeping_interval() -> None:
    schedule = {
        entry["task"]: entry["schedule"] for entry in settings.CELERY_BEAT_SCHEDULE.values()
    }

    assert schedule["accounts.purge_expired"] == 3600.0
    assert schedule["esign.purge_challenges"] == 3600.0
    assert schedule["accounts.purge_captchas"] == 300.0
    assert "certificates.refresh_crls" in schedule


def test_the_worker_knows_both_tasks() -> None:
    from nesportal.celery import app

    app.loader.import_default_modules()
    assert {"accounts.purge_expired", "accounts.purge_captchas", "esign.purge_challenges"} <= set(
        app.tasks
    )


def test_it_settles_sms_a_dead_worker_left_sending_and_never_resends_them(citizen: Any) -> None:
    from accounts.tasks import send_sms
    from audit.models import AuditEvent

    def sending(age: dt.timedelta) -> SmsMessage:
        message = SmsMessage.objects.create(
            citizen=citizen,
            to_number=citizen.mobile_phone,
            kind=SmsMessage.Kind.LOGIN_CODE,
            challenge=sms_challenge(citizen, NOW + dt.timedelta(minutes=3)),
            status=SmsMessage.Status.SENDING,
        )
        SmsMessage.objects.filter(pk=message.pk).update(updated_at=timezone.now() - age)
        return message

    lost = sending(dt.timedelta(seconds=settings.TWILIO_TIMEOUT_SECONDS + 60))
    redelivered = sending(dt.timedelta(seconds=settings.TWILIO_TIMEOUT_SECONDS + 60))
    in_flight = sending(dt.timedelta(seconds=1))

    # A redelivered task finds its row taken: it settles it instead of sending it again.
    assert send_sms.apply(args=[str(redelivered.pk)]).get() == "lost-send"
    assert send_sms.apply(args=[str(in_flight.pk)]).get() == "already-handled"
    counts = housekeeping.purge_all()

    assert counts["lost_sends"] == 1
    for message in (lost, redelivered):
        message.refresh_from_db()
        assert message.status == SmsMessage.Status.FAILED
        assert "yeniden gönderilmedi" in message.failure_reason
    in_flight.refresh_from_db()
    assert in_flight.status == SmsMessage.Status.SENDING
    assert AuditEvent.objects.filter(action="nes.sms.failed", data__reason="lost").count() == 2
    assert housekeeping.purge_all()["lost_sends"] == 0


def test_it_deletes_expired_captchas_and_keeps_live_ones() -> None:
    from captcha.models import CaptchaStore

    live = CaptchaStore.objects.create(challenge="ABCDE", response="abcde")
    expired = CaptchaStore.objects.create(challenge="FGHIJ", response="fghij")
    CaptchaStore.objects.filter(pk=expired.pk).update(expiration=NOW - dt.timedelta(seconds=1))
    CaptchaStore.objects.filter(pk=live.pk).update(expiration=NOW + dt.timedelta(minutes=4))

    assert housekeeping.purge_all(NOW)["captchas"] == 1
    assert list(CaptchaStore.objects.values_list("pk", flat=True)) == [live.pk]
    assert housekeeping.purge_captchas.delay().get() == 0


def test_a_login_post_no_longer_scans_the_captcha_table(client: Any) -> None:
    """The form deletes only its own row; expired ones wait for beat."""
    from captcha.models import CaptchaStore

    from accounts.forms import LoginForm

    expired = CaptchaStore.objects.create(challenge="KLMNO", response="klmno")
    CaptchaStore.objects.filter(pk=expired.pk).update(
        expiration=dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
    )
    own = CaptchaStore.objects.create(challenge="PQRST", response="pqrst")
    form = LoginForm(
        {
            "identifier": "10000000146",
            "security_word": "x",
            "captcha_0": own.hashkey,
            "captcha_1": "pqrst",
        }
    )

    assert form.is_valid(), form.errors
    assert list(CaptchaStore.objects.values_list("pk", flat=True)) == [expired.pk]


def test_it_deletes_not_me_links_a_day_after_they_expire(citizen: Any, clock: Any) -> None:
    queue_sms(citizen, SmsMessage.Kind.CERT_REVOKED, context={"serial": "ab12"})
    clock.shift(NotMeLink.LIFETIME + dt.timedelta(hours=23))
    assert housekeeping.purge_all()["not_me_links"] == 0
    clock.shift(dt.timedelta(hours=2))
    assert housekeeping.purge_all()["not_me_links"] == 1
    assert not NotMeLink.objects.exists()
