"""What E-Onay's SMS Onay Kodu step gets from the shared engine (``accounts.stepup``): a refused
SMS on the E-Onay page with its status, INVALID back to the start, one SMS for two sessions.

The contract common to every code flow is tests/test_code_flows.py; these are E-Onay's pages.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from accounts import stepup
from accounts.models import Citizen, SmsChallenge
from accounts.otp import issue_challenge
from accounts.sms_queue import SmsUnavailable
from eonay.models import Application, Consent
from eonay.views import SESSION_STEPUP
from nesportal import limits
from nesportal.testing import login_as, sms_code
from nesportal.testing.factories import ApplicationFactory

pytestmark = pytest.mark.django_db

INDEX = reverse("eonay:index")


def url(name: str, *args: Any) -> str:
    return reverse(f"eonay:{name}", args=args)


def status_of(application: Application) -> str:
    application.refresh_from_db()
    return application.status


@pytest.mark.parametrize(
    "path",
    [
        lambda app: url("decide", app.pk, "approve"),
        lambda app: url("consent", Consent.Scope.FIRST, "give"),
    ],
    ids=["decide", "consent"],
)
def test_an_sms_the_broker_cannot_take_is_a_503_on_the_e_onay_page(
    citizen_client: Client,
    waiting: Application,
    send: Any,
    sms_outbox: list[dict[str, Any]],
    monkeypatch: pytest.MonkeyPatch,
    path: Any,
) -> None:
    def unavailable(*args: Any, **kwargs: Any) -> Any:
        raise SmsUnavailable("Kuyruğa alınamadı: ConnectionError")

    monkeypatch.setattr(stepup, "issue_challenge", unavailable)

    response = send(citizen_client, path(waiting))

    assert response.status_code == 503
    html = response.content.decode()
    assert "SMS gönderilemedi, lütfen tekrar deneyiniz." in html
    assert "E-Onay İşlemleri" in html  # the index page, with the error
    assert SESSION_STEPUP not in citizen_client.session
    assert sms_outbox == []


def test_a_code_refused_by_its_budget_is_a_429_on_the_e_onay_page(
    citizen_client: Client,
    citizen: Citizen,
    waiting: Application,
    send: Any,
    sms_outbox: list[dict[str, Any]],
) -> None:
    # The hour's own codes are used up (by other operations: each may follow at once).
    for i in range(limits.OWN_CODES_PER_HOUR):
        issue_challenge(citizen, SmsChallenge.Purpose.PINPUK, subject=f"AKIS-{i}")

    response = send(citizen_client, url("decide", waiting.pk, "approve"))

    assert response.status_code == 429
    assert "E-Onay İşlemleri" in response.content.decode()
    assert "en fazla" in response.content.decode()
    assert not SmsChallenge.objects.filter(purpose=SmsChallenge.Purpose.EONAY).exists()
    assert SESSION_STEPUP not in citizen_client.session


def test_an_invalid_challenge_ends_the_step_and_starts_over(
    citizen_client: Client,
    citizen: Citizen,
    staff: Any,
    waiting: Application,
    send: Any,
    sms_outbox: list[dict[str, Any]],
    clock: Any,
) -> None:
    second = ApplicationFactory(citizen=citizen, entered_by=staff, kind=Application.Kind.RENEWAL)
    send(citizen_client, url("decide", second.pk, "approve"))
    second_code = sms_code(sms_outbox)
    second_state = dict(citizen_client.session[SESSION_STEPUP])
    clock.shift(61)
    send(citizen_client, url("decide", waiting.pk, "approve"))

    # The state names this operation but holds the other application's challenge: INVALID.
    session = citizen_client.session
    session[SESSION_STEPUP] = {
        **session[SESSION_STEPUP],
        "challenge": second_state["challenge"],
        "binding": second_state["binding"],
    }
    session.save()
    response = citizen_client.post(
        url("decide_code", waiting.pk, "approve"), {"code": second_code}, follow=True
    )

    assert response.redirect_chain == [(INDEX, 302)]
    assert "Bu SMS Onay Kodu bu işlem için geçerli değil." in response.content.decode()
    assert SESSION_STEPUP not in citizen_client.session
    assert status_of(waiting) == Application.Status.WAITING
    assert status_of(second) == Application.Status.WAITING
    citizen.refresh_from_db()
    assert citizen.code_failure_count == 0


def test_a_second_session_gets_the_code_already_sent_not_a_second_sms(
    citizen: Citizen,
    waiting: Application,
    send: Any,
    sms_outbox: list[dict[str, Any]],
) -> None:
    first, second = login_as(Client(), citizen), login_as(Client(), citizen)
    send(first, url("decide", waiting.pk, "approve"))
    code = sms_code(sms_outbox)

    response = send(second, url("decide", waiting.pk, "approve"))

    assert response.status_code == 302
    assert response["Location"] == url("decide_code", waiting.pk, "approve")
    assert len(sms_outbox) == 1
    # The code moved to the second session: the first one's copy no longer confirms anything.
    response = first.post(url("decide_code", waiting.pk, "approve"), {"code": code})
    assert response.status_code == 302
    assert response["Location"] == INDEX
    assert status_of(waiting) == Application.Status.WAITING
    response = second.post(url("decide_code", waiting.pk, "approve"), {"code": code})
    assert response.status_code == 302
    assert status_of(waiting) == Application.Status.APPROVED
