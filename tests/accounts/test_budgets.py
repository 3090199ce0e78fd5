"""SMS and e-mail budgets (nesportal/limits.py): at the limit, beyond it, separate windows,
time passing, undelivered messages, the notice cap, and the races on PostgreSQL.

Time is frozen with time_machine (``clock``) and moved explicitly; nothing sleeps. Codes are
read from the locmem SMS outbox, mails from ``django.core.mail.outbox``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from captcha.models import CaptchaStore
from django.core import mail
from django.db import transaction
from django.test import Client
from django.urls import reverse

from accounts import sms_queue, tasks
from accounts.models import Citizen, ContactChange, SmsChallenge, SmsMessage
from accounts.otp import Outcome, SmsRateLimited, issue_challenge, verify_code
from accounts.profile import email_budget_key, start_email_change, start_phone_change
from accounts.sms import SmsDeliveryError
from accounts.sms_queue import queue_sms
from audit.actor import Actor
from audit.models import AuditEvent
from nesportal import limits
from nesportal.testing import login_as, sms_code
from tests.parallel import in_parallel

from .helpers import CAPTCHA_KEY_RE, CODE_URL, T0, login_data

pytestmark = pytest.mark.django_db

LOGIN = SmsChallenge.Purpose.LOGIN
RECOVERY = SmsChallenge.Purpose.RECOVERY
KIND = SmsMessage.Kind
STATUS = SmsMessage.Status
FORGOT = reverse("accounts:forgot_word")
LOGIN_URL = reverse("accounts:login")
PHONE = reverse("accounts:profile_phone")
PHONE_RESEND = reverse("accounts:profile_phone_resend")
PHONE_CODE = reverse("accounts:profile_phone_code")
EMAIL = reverse("accounts:profile_email")
ADDRESS = reverse("accounts:profile_address")
BIRTH = "23.04.1985"  # the factory's birth date
NEW_PHONE = "+905551234567"
MINUTE = dt.timedelta(seconds=limits.SECONDS_BETWEEN_CODES + 1)


@pytest.fixture
def deliver(django_capture_on_commit_callbacks: Any, sms_outbox: list) -> Callable[..., Any]:
    """Run ``call`` and let its SMS go out (the send task runs when the transaction commits)."""

    def _deliver(call: Callable[[], Any]) -> Any:
        with django_capture_on_commit_callbacks(execute=True):
            return call()

    return _deliver


@pytest.fixture
def broken_gateway(monkeypatch: pytest.MonkeyPatch) -> None:
    """A provider that refuses every SMS for good (e.g. an unknown number): status *failed*."""

    class Refusing:
        def send(self, *, to: str, body: str, idempotency_key: str) -> str:
            raise SmsDeliveryError("provider refused", retryable=False)

    monkeypatch.setattr(tasks, "get_backend", Refusing)


def refusals(budget: str | None = None) -> list[AuditEvent]:
    events = AuditEvent.objects.filter(
        action__in=["nes.sms.budget_exceeded", "nes.email.budget_exceeded"]
    ).order_by("pk")
    return [e for e in events if budget is None or e.data["budget"] == budget]


def codes_sent(citizen: Citizen, kind: str) -> int:
    return SmsMessage.objects.filter(citizen=citizen, kind=kind).count()


# --- the holder's own codes -----------------------------------------------------------------


def test_own_codes_stop_at_the_hourly_limit_and_come_back_an_hour_later(
    clock: Any, citizen: Citizen, deliver: Any, sms_outbox: list
) -> None:
    for _ in range(limits.OWN_CODES_PER_HOUR):
        deliver(lambda: issue_challenge(citizen, LOGIN))
        clock.shift(MINUTE)

    with pytest.raises(SmsRateLimited) as refused:
        issue_challenge(citizen, LOGIN)

    assert refused.value.budget == "own_codes" and refused.value.hourly
    assert f"en fazla {limits.OWN_CODES_PER_HOUR} SMS Onay Kodu" in refused.value.message
    assert len(sms_outbox) == limits.OWN_CODES_PER_HOUR
    [event] = refusals("own_codes")
    assert event.citizen == citizen and event.data["limit"] == limits.OWN_CODES_PER_HOUR
    assert citizen.mobile_phone not in str(event.data)

    clock.move_to(T0 + dt.timedelta(hours=1, seconds=1))
    challenge, token = deliver(lambda: issue_challenge(citizen, LOGIN))
    code = sms_code(sms_outbox, to=citizen.mobile_phone)
    assert verify_code(str(challenge.pk), token, LOGIN, code).outcome is Outcome.OK


def test_every_own_code_kind_shares_one_budget(clock: Any, citizen: Citizen, deliver: Any) -> None:
    purposes = [LOGIN, SmsChallenge.Purpose.EONAY, SmsChallenge.Purpose.UNLOCK]
    for i in range(limits.OWN_CODES_PER_HOUR):
        deliver(lambda i=i: issue_challenge(citizen, purposes[i % 3], subject=str(i)))
        clock.shift(MINUTE)

    with pytest.raises(SmsRateLimited) as refused:
        issue_challenge(citizen, SmsChallenge.Purpose.REVOKE, subject="ab12")
    assert refused.value.budget == "own_codes"


def test_the_resend_window_holds_within_one_operation(
    clock: Any, citizen: Citizen, deliver: Any
) -> None:
    deliver(lambda: issue_challenge(citizen, SmsChallenge.Purpose.EONAY, subject="app:1"))
    clock.shift(dt.timedelta(seconds=limits.SECONDS_BETWEEN_CODES - 1))
    # Another operation is not held back (tests/accounts/test_visit_budget.py) ...
    deliver(lambda: issue_challenge(citizen, LOGIN))

    # ... the same one is.
    with pytest.raises(SmsRateLimited) as refused:
        issue_challenge(citizen, SmsChallenge.Purpose.EONAY, subject="app:1")

    assert refused.value.budget == "resend" and not refused.value.hourly
    assert refused.value.retry_after == 1
    assert "1 saniye bekleyiniz" in refused.value.message
    assert refusals("resend")[0].data["resend_budget"] == "own_codes"


# --- recovery codes: a budget of their own --------------------------------------------------


def test_recovery_codes_have_their_own_smaller_budget(
    clock: Any, citizen: Citizen, deliver: Any, sms_outbox: list
) -> None:
    for _ in range(limits.RECOVERY_CODES_PER_HOUR):
        deliver(lambda: issue_challenge(citizen, RECOVERY))
        clock.shift(MINUTE)

    with pytest.raises(SmsRateLimited) as refused:
        issue_challenge(citizen, RECOVERY)

    assert refused.value.budget == "recovery_codes"
    assert refused.value.limit == limits.RECOVERY_CODES_PER_HOUR
    assert "Güvenlik Sözcüğü yenileme için" in refused.value.message
    # The holder's own budget is untouched: all of it is still there.
    for _ in range(limits.OWN_CODES_PER_HOUR):
        deliver(lambda: issue_challenge(citizen, LOGIN))
        clock.shift(MINUTE)
    assert codes_sent(citizen, KIND.LOGIN_CODE) == limits.OWN_CODES_PER_HOUR
    assert codes_sent(citizen, KIND.RECOVERY_CODE) == limits.RECOVERY_CODES_PER_HOUR


def test_the_two_budgets_have_separate_resend_windows(
    clock: Any, citizen: Citizen, deliver: Any
) -> None:
    deliver(lambda: issue_challenge(citizen, RECOVERY))
    deliver(lambda: issue_challenge(citizen, LOGIN))  # at once: another budget

    with pytest.raises(SmsRateLimited):
        issue_challenge(citizen, RECOVERY)
    with pytest.raises(SmsRateLimited):
        issue_challenge(citizen, LOGIN)


def _recovery_attempt(ip: str, identifier: str, deliver: Any) -> Any:
    attacker = Client(REMOTE_ADDR=ip)
    page = attacker.get(FORGOT)
    key = CAPTCHA_KEY_RE.search(page.content.decode()).group(1)  # type: ignore[union-attr]
    answer = CaptchaStore.objects.get(hashkey=key).response
    data = {"identifier": identifier, "birth_date": BIRTH, "captcha_0": key, "captcha_1": answer}
    return deliver(lambda: attacker.post(FORGOT, data))


def test_hammering_recovery_leaves_the_victims_own_login_its_code(
    clock: Any, citizen: Citizen, deliver: Any, sms_outbox: list
) -> None:
    """Issue 9 target: an attacker who knows the victim's ID and birth date hammers the
    recovery path; the victim's own login still gets a code."""
    statuses = []
    for i in range(10):
        statuses.append(_recovery_attempt(f"198.51.100.{i + 1}", citizen.tckn, deliver))
        clock.shift(MINUTE)

    assert [r.status_code for r in statuses].count(302) == limits.RECOVERY_CODES_PER_HOUR
    refused = [r for r in statuses if r.status_code == 429]
    assert len(refused) == 10 - limits.RECOVERY_CODES_PER_HOUR
    assert "Güvenlik Sözcüğü yenileme için" in refused[0].content.decode()
    assert len(refusals("recovery_codes")) == len(refused)
    citizen.refresh_from_db()
    assert not citizen.is_locked and citizen.failure_count == 0

    victim = Client()
    response = deliver(lambda: victim.post(LOGIN_URL, login_data(victim, citizen.tckn)))

    assert response.status_code == 302 and response["Location"] == CODE_URL
    assert codes_sent(citizen, KIND.LOGIN_CODE) == 1
    code = sms_code(sms_outbox, to=citizen.mobile_phone)
    assert victim.post(CODE_URL, {"code": code}).status_code == 302


# --- undelivered codes cost nothing ---------------------------------------------------------


def test_an_undelivered_code_costs_nothing_and_is_void(
    clock: Any, citizen: Citizen, deliver: Any, sms_outbox: list, monkeypatch: Any
) -> None:
    from accounts.otp import expected_code

    with monkeypatch.context() as patch:

        class Refusing:
            def send(self, **kwargs: Any) -> str:
                raise SmsDeliveryError("provider refused", retryable=False)

        patch.setattr(tasks, "get_backend", Refusing)
        failed, token = deliver(lambda: issue_challenge(citizen, LOGIN))

    assert SmsMessage.objects.get(challenge=failed).status == STATUS.FAILED
    failed.refresh_from_db()
    assert failed.invalidated_at is not None
    # Even the right code (which never reached the phone) is refused, and costs no strike.
    outcome = verify_code(str(failed.pk), token, LOGIN, expected_code(failed)).outcome
    assert outcome is Outcome.USED
    citizen.refresh_from_db()
    assert citizen.code_failure_count == 0

    # A new code at once (no resend wait), and the whole budget is still there.
    for _ in range(limits.OWN_CODES_PER_HOUR):
        deliver(lambda: issue_challenge(citizen, LOGIN))
        clock.shift(MINUTE)
    assert len(sms_outbox) == limits.OWN_CODES_PER_HOUR
    with pytest.raises(SmsRateLimited):
        issue_challenge(citizen, LOGIN)


def test_a_code_whose_sms_is_marked_failed_is_refused(
    citizen: Citizen, deliver: Any, sms_outbox: list
) -> None:
    challenge, token = deliver(lambda: issue_challenge(citizen, LOGIN))
    code = sms_code(sms_outbox, to=citizen.mobile_phone)
    SmsMessage.objects.filter(challenge=challenge).update(status=STATUS.FAILED)

    assert verify_code(str(challenge.pk), token, LOGIN, code).outcome is Outcome.USED


# --- phone change: codes to one new number per day -------------------------------------------


def test_codes_to_one_new_number_are_capped_per_day_whoever_asks(
    clock: Any, citizen_factory: Any, deliver: Any, sms_outbox: list
) -> None:
    askers = [citizen_factory() for _ in range(limits.PHONE_CHANGE_CODES_PER_NUMBER_PER_DAY + 1)]
    for asker in askers[:-1]:
        deliver(lambda asker=asker: start_phone_change(asker, NEW_PHONE, actor=Actor()))
        clock.shift(MINUTE)

    last = askers[-1]
    with pytest.raises(SmsRateLimited) as refused:
        start_phone_change(last, NEW_PHONE, actor=Actor())

    assert refused.value.budget == "phone_number"
    assert "Bu numaraya bir gün içinde" in refused.value.message
    assert [m["to"] for m in sms_outbox].count(NEW_PHONE) == len(askers) - 1
    assert not ContactChange.objects.filter(citizen=last).exists()  # nothing half-written
    assert not SmsChallenge.objects.filter(citizen=last).exists()
    [event] = refusals("phone_number")
    assert event.citizen == last
    assert NEW_PHONE not in str(event.data) and event.data["to"].endswith("67")

    clock.move_to(T0 + dt.timedelta(days=1, seconds=1))
    deliver(lambda: start_phone_change(last, NEW_PHONE, actor=Actor()))
    assert sms_outbox[-1]["to"] == NEW_PHONE


def test_the_phone_page_explains_the_number_budget_on_resend(
    clock: Any, client: Client, citizen: Citizen, deliver: Any, sms_outbox: list
) -> None:
    login_as(client, citizen)
    assert deliver(lambda: client.post(PHONE, {"mobile_phone": NEW_PHONE})).status_code == 302
    for _ in range(limits.PHONE_CHANGE_CODES_PER_NUMBER_PER_DAY - 1):
        clock.shift(MINUTE)
        deliver(lambda: client.post(PHONE_RESEND))
    clock.shift(MINUTE)

    response = deliver(lambda: client.post(PHONE_RESEND, follow=True))

    assert "Bu numaraya bir gün içinde en fazla" in response.content.decode()
    sent = [m for m in sms_outbox if m["to"] == NEW_PHONE]
    assert len(sent) == limits.PHONE_CHANGE_CODES_PER_NUMBER_PER_DAY
    assert len(refusals("phone_number")) == 1
    # The open change still works with the last code that went out.
    response = client.post(PHONE_CODE, {"code": sms_code(sms_outbox, to=NEW_PHONE)})
    citizen.refresh_from_db()
    assert citizen.mobile_phone == NEW_PHONE


# --- notices ---------------------------------------------------------------------------------


def test_notices_are_capped_once_then_suppressed(
    clock: Any, citizen: Citizen, deliver: Any, sms_outbox: list
) -> None:
    for _ in range(limits.NOTICES_PER_HOUR):
        deliver(lambda: queue_sms(citizen, KIND.CERT_SUSPENDED, context={"serial": "ab"}))
    assert len(sms_outbox) == limits.NOTICES_PER_HOUR

    replaced = deliver(lambda: queue_sms(citizen, KIND.CERT_REINSTATED, context={"serial": "ab"}))

    assert replaced.kind == KIND.NOTICES_CAPPED
    assert len(sms_outbox) == limits.NOTICES_PER_HOUR + 1
    assert "çok işlem yapıldı; yeni bildirim gönderilmeyecek" in sms_outbox[-1]["body"]
    assert sms_outbox[-1]["to"] == citizen.mobile_phone
    held = SmsMessage.objects.get(kind=KIND.CERT_REINSTATED)
    assert held.status == STATUS.SUPPRESSED

    for kind in (KIND.CONTACT_UPDATED, KIND.CERT_REVOKED):
        clock.shift(dt.timedelta(minutes=10))
        row = deliver(lambda kind=kind: queue_sms(citizen, kind, context={"field": "adres"}))
        assert row.status == STATUS.SUPPRESSED and row.kind == kind
    assert len(sms_outbox) == limits.NOTICES_PER_HOUR + 1
    assert SmsMessage.objects.filter(kind=KIND.NOTICES_CAPPED).count() == 1
    events = refusals("notices")
    assert len(events) == 3
    assert [e.data["replaced_by_cap_notice"] for e in events] == [True, False, False]
    assert citizen.mobile_phone not in str([e.data for e in events])

    # Codes are not notices: the login code still goes.
    deliver(lambda: issue_challenge(citizen, LOGIN))
    assert "NES Portal giriş kodunuz" in sms_outbox[-1]["body"]

    # An hour after the first notices, they flow again.
    clock.move_to(T0 + dt.timedelta(hours=1, seconds=1))
    row = deliver(lambda: queue_sms(citizen, KIND.CERT_OPENED, context={"serial": "ab"}))
    row.refresh_from_db()
    assert row.status == STATUS.SENT
    assert "kullanıma açıldı" in sms_outbox[-1]["body"]


def test_failed_notices_do_not_count(
    citizen: Citizen, deliver: Any, sms_outbox: list, broken_gateway: None
) -> None:
    for _ in range(limits.NOTICES_PER_HOUR + 2):
        row = deliver(lambda: queue_sms(citizen, KIND.CONTACT_UPDATED, context={"field": "adres"}))
        row.refresh_from_db()
        assert row.status == STATUS.FAILED
    assert not SmsMessage.objects.filter(kind=KIND.NOTICES_CAPPED).exists()


def test_many_address_changes_send_at_most_the_budget_plus_one(
    clock: Any, client: Client, citizen: Citizen, deliver: Any, sms_outbox: list
) -> None:
    login_as(client, citizen)
    changes = limits.NOTICES_PER_HOUR + 5
    for i in range(changes):
        address = f"Kızılay Mah. Gazi Mustafa Kemal Blv. No: {i + 1}\n06420 Çankaya / Ankara"
        response = deliver(lambda address=address: client.post(ADDRESS, {"address": address}))
        assert response.status_code == 302
        clock.shift(dt.timedelta(seconds=30))

    assert len(sms_outbox) == limits.NOTICES_PER_HOUR + 1
    assert SmsMessage.objects.filter(status=STATUS.SUPPRESSED).count() == 5
    citizen.refresh_from_db()
    assert citizen.address.startswith(f"Kızılay Mah. Gazi Mustafa Kemal Blv. No: {changes}")


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_parallel_notices_keep_the_cap(citizen_factory: Any, monkeypatch: Any) -> None:
    monkeypatch.setattr(sms_queue, "_publish", lambda *args, **kwargs: None)
    citizen = citizen_factory()

    def notify() -> SmsMessage:
        with transaction.atomic():
            return queue_sms(citizen, KIND.CONTACT_UPDATED, context={"field": "adres"})

    calls = limits.NOTICES_PER_HOUR + 7
    outcomes = in_parallel([notify] * calls)

    assert all(o.ok for o in outcomes)
    rows = SmsMessage.objects.filter(citizen=citizen)
    queued = rows.filter(kind=KIND.CONTACT_UPDATED, status=STATUS.QUEUED).count()
    assert queued == limits.NOTICES_PER_HOUR
    assert rows.filter(kind=KIND.NOTICES_CAPPED).count() == 1
    assert rows.filter(status=STATUS.SUPPRESSED).count() == calls - limits.NOTICES_PER_HOUR


# --- e-mail confirmations --------------------------------------------------------------------


def test_email_confirmations_are_capped_per_citizen_per_day(
    clock: Any, client: Client, citizen: Citizen
) -> None:
    login_as(client, citizen)
    for i in range(limits.EMAIL_CONFIRMATIONS_PER_CITIZEN_PER_DAY):
        assert client.post(EMAIL, {"email": f"adres{i}@example.com.tr"}).status_code == 302
        clock.shift(dt.timedelta(minutes=1))
    rows = ContactChange.objects.count()

    response = client.post(EMAIL, {"email": "bir.daha@example.com.tr"})

    assert response.status_code == 429
    assert "Bir gün içinde en fazla 3 e-posta onay bağlantısı" in response.content.decode()
    assert len(mail.outbox) == limits.EMAIL_CONFIRMATIONS_PER_CITIZEN_PER_DAY
    assert ContactChange.objects.count() == rows  # no half-written row
    # The pending link of the last accepted request still works (nothing was superseded).
    assert ContactChange.objects.filter(new_value="adres2@example.com.tr", cancelled_at=None)
    [event] = refusals("email_citizen")
    assert event.action == "nes.email.budget_exceeded" and event.citizen == citizen
    assert event.data["to"] == "b***@example.com.tr"
    assert "bir.daha" not in str(event.data)

    clock.move_to(T0 + dt.timedelta(days=1, seconds=1))
    login_as(client, citizen)
    assert client.post(EMAIL, {"email": "bir.daha@example.com.tr"}).status_code == 302
    assert len(mail.outbox) == limits.EMAIL_CONFIRMATIONS_PER_CITIZEN_PER_DAY + 1


def test_email_confirmations_are_capped_per_address_whatever_its_spelling(
    clock: Any, client: Client, citizen_factory: Any
) -> None:
    spellings = ["Kurban@Ornek.com.tr", "kurban+1@ornek.com.tr", "KURBAN+x@ORNEK.COM.TR"]
    assert {email_budget_key(s) for s in spellings} == {"kurban@ornek.com.tr"}
    for spelling in spellings:
        assert start_email_change(citizen_factory(), spelling, actor=Actor())
    other = citizen_factory()
    login_as(client, other)

    response = client.post(EMAIL, {"email": "kurban@ornek.com.tr"})

    assert response.status_code == 429
    assert "Bu e-posta adresine bir gün içinde en fazla 3" in response.content.decode()
    assert len(mail.outbox) == limits.EMAIL_CONFIRMATIONS_PER_ADDRESS_PER_DAY
    assert not ContactChange.objects.filter(citizen=other).exists()
    [event] = refusals("email_address")
    assert event.citizen == other and event.data["to"] == "k***@ornek.com.tr"
    # Another address is fine for the same citizen.
    assert client.post(EMAIL, {"email": "baska@ornek.com.tr"}).status_code == 302


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_parallel_requests_for_one_address_keep_its_cap(citizen_factory: Any) -> None:
    citizens = [citizen_factory() for _ in range(8)]

    def ask(citizen: Citizen) -> Callable[[], Any]:
        def call() -> Any:
            try:
                return start_email_change(citizen, "kurban@ornek.com.tr", actor=Actor())
            except Exception as exc:  # EmailBudgetExceeded: a refusal
                return exc

        return call

    in_parallel([ask(c) for c in citizens])

    assert ContactChange.objects.count() == limits.EMAIL_CONFIRMATIONS_PER_ADDRESS_PER_DAY
    assert len(mail.outbox) == limits.EMAIL_CONFIRMATIONS_PER_ADDRESS_PER_DAY
    assert len(refusals("email_address")) == 8 - limits.EMAIL_CONFIRMATIONS_PER_ADDRESS_PER_DAY
