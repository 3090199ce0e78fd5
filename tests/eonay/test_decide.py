"""Approving or rejecting a waiting application: POST → SMS Onay Kodu (step-up) → final decision.

The code's subject is ``app:<id>:<decision>`` and the session remembers the exact operation, so
a code asked for one application or decision never confirms another. Decisions are final.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import Citizen, SmsChallenge, SmsMessage
from accounts.otp import Outcome, verify_code
from audit.models import AuditEvent
from eonay.models import Application
from eonay.views import SESSION_STEPUP
from nesportal.testing import login_as, sms_code, wrong
from nesportal.testing.factories import ApplicationFactory

pytestmark = pytest.mark.django_db

INDEX = reverse("eonay:index")
LOCKED = reverse("accounts:locked")


def url(name: str, application: Application, decision: str = "approve") -> str:
    return reverse(f"eonay:{name}", args=[application.pk, decision])


def request_code(
    client: Client, application: Application, send: Any, outbox: list, decision: str = "approve"
) -> str:
    response = send(client, url("decide", application, decision))
    assert response.status_code == 302, response.content.decode()
    assert response["Location"] == url("decide_code", application, decision)
    return sms_code(outbox)


def status_of(application: Application) -> str:
    application.refresh_from_db()
    return application.status


def actions(citizen: Citizen) -> list[str]:
    return list(
        AuditEvent.objects.filter(citizen=citizen, action__startswith="nes.eonay.")
        .order_by("id")
        .values_list("action", flat=True)
    )


def test_it_lists_the_waiting_application_with_its_details(
    citizen_client: Client, waiting: Application
) -> None:
    response = citizen_client.get(INDEX)

    assert response.status_code == 200
    html = response.content.decode()
    assert waiting.reference in html
    assert waiting.reference.startswith("EO-")
    for value in ("Örnek Belediyesi", "1234567890", "Deniz Kaya", "+903121234567"):
        assert value in html
    assert "bilgiislem@ornek.bel.tr" in html
    assert f'action="{url("decide", waiting, "approve")}"' in html
    assert f'action="{url("decide", waiting, "reject")}"' in html
    assert "Onayınızı bekliyor" in html


def test_it_approves_after_an_sms_code(
    citizen_client: Client,
    citizen: Citizen,
    waiting: Application,
    send: Any,
    sms_outbox: list[dict[str, Any]],
) -> None:
    code = request_code(citizen_client, waiting, send, sms_outbox)
    challenge = SmsChallenge.objects.get(citizen=citizen)
    assert challenge.purpose == SmsChallenge.Purpose.EONAY
    assert challenge.subject == f"app:{waiting.pk}:approve"
    assert sms_outbox[-1]["to"] == citizen.mobile_phone
    assert "E-Onay" in sms_outbox[-1]["body"]
    assert code not in str(citizen_client.session[SESSION_STEPUP])
    assert status_of(waiting) == Application.Status.WAITING  # nothing decided yet

    page = citizen_client.get(url("decide_code", waiting))
    assert page.status_code == 200
    html = page.content.decode()
    assert waiting.reference in html
    assert "onaylamak" in html
    assert citizen.masked_phone in html and citizen.mobile_phone not in html

    response = send(citizen_client, url("decide_code", waiting), {"code": code})

    assert response.status_code == 302
    assert response["Location"] == INDEX
    waiting.refresh_from_db()
    assert waiting.status == Application.Status.APPROVED
    assert waiting.decided_at is not None
    assert waiting.decided_by_consent is None
    assert actions(citizen)[-1] == "nes.eonay.approved"
    event = AuditEvent.objects.get(action="nes.eonay.approved")
    assert event.subject == waiting.reference
    decided = SmsMessage.objects.filter(citizen=citizen, kind=SmsMessage.Kind.EONAY_DECIDED).get()
    assert decided.context["application"] == waiting.reference
    assert decided.context["decision"] == "approved"  # a code: the text names it in the language
    assert {"receipt", "not_me"} <= set(decided.context)
    assert (
        f"{waiting.reference} numaralı başvuru için E-Onay kararınız: onaylandı"
        in (sms_outbox[-1]["body"])
    )
    assert SESSION_STEPUP not in citizen_client.session

    listing = citizen_client.get(INDEX).content.decode()
    assert "SMS Onay Kodu ile siz onayladınız" in listing
    assert f'action="{url("decide", waiting, "approve")}"' not in listing


def test_it_rejects_after_an_sms_code(
    citizen_client: Client,
    citizen: Citizen,
    waiting: Application,
    send: Any,
    sms_outbox: list[dict[str, Any]],
) -> None:
    code = request_code(citizen_client, waiting, send, sms_outbox, "reject")
    assert SmsChallenge.objects.get(citizen=citizen).subject == f"app:{waiting.pk}:reject"

    response = send(citizen_client, url("decide_code", waiting, "reject"), {"code": code})

    assert response.status_code == 302
    assert status_of(waiting) == Application.Status.REJECTED
    assert actions(citizen)[-1] == "nes.eonay.rejected"
    assert "kararınız: reddedildi" in sms_outbox[-1]["body"]
    assert "SMS Onay Kodu ile siz reddettiniz" in citizen_client.get(INDEX).content.decode()


def test_wrong_codes_that_lock_the_account_decide_nothing(
    citizen_client: Client,
    citizen: Citizen,
    waiting: Application,
    send: Any,
    sms_outbox: list[dict[str, Any]],
) -> None:
    # Strikes, the attempts left and the lock itself: tests/test_code_flows.py.
    code = request_code(citizen_client, waiting, send, sms_outbox)

    for _ in range(3):
        response = citizen_client.post(url("decide_code", waiting), {"code": wrong(code)})
        assert status_of(waiting) == Application.Status.WAITING
    assert response["Location"] == LOCKED
    citizen.refresh_from_db()
    assert citizen.is_locked


def test_a_code_for_another_application_is_refused(
    citizen_client: Client,
    citizen: Citizen,
    staff: Any,
    waiting: Application,
    send: Any,
    sms_outbox: list[dict[str, Any]],
) -> None:
    second = ApplicationFactory(citizen=citizen, entered_by=staff, kind=Application.Kind.RENEWAL)
    code = request_code(citizen_client, waiting, send, sms_outbox)

    response = citizen_client.post(url("decide_code", second), {"code": code})

    assert response.status_code == 302
    assert response["Location"] == INDEX
    assert status_of(second) == Application.Status.WAITING
    assert status_of(waiting) == Application.Status.WAITING
    # The code itself is bound to its application too (not only the session's note).
    pending = citizen_client.session[SESSION_STEPUP]
    result = verify_code(
        pending["challenge"],
        pending["binding"],
        SmsChallenge.Purpose.EONAY,
        code,
        subject=f"app:{second.pk}:approve",
    )
    assert result.outcome is Outcome.INVALID
    # …and it still works for the application it was sent for.
    response = citizen_client.post(url("decide_code", waiting), {"code": code})
    assert response.status_code == 302
    assert status_of(waiting) == Application.Status.APPROVED
    assert status_of(second) == Application.Status.WAITING


def test_a_code_for_approving_does_not_reject(
    citizen_client: Client,
    waiting: Application,
    send: Any,
    sms_outbox: list[dict[str, Any]],
) -> None:
    code = request_code(citizen_client, waiting, send, sms_outbox, "approve")

    response = citizen_client.post(url("decide_code", waiting, "reject"), {"code": code})

    assert response.status_code == 302
    assert status_of(waiting) == Application.Status.WAITING
    pending = citizen_client.session[SESSION_STEPUP]
    result = verify_code(
        pending["challenge"],
        pending["binding"],
        SmsChallenge.Purpose.EONAY,
        code,
        subject=f"app:{waiting.pk}:reject",
    )
    assert result.outcome is Outcome.INVALID


def test_a_decision_is_final(
    citizen_client: Client,
    citizen: Citizen,
    waiting: Application,
    send: Any,
    sms_outbox: list[dict[str, Any]],
    clock: Any,
) -> None:
    code = request_code(citizen_client, waiting, send, sms_outbox)
    send(citizen_client, url("decide_code", waiting), {"code": code})
    assert status_of(waiting) == Application.Status.APPROVED
    sent = len(sms_outbox)

    # Asking for a code to reject it now is refused without an SMS.
    clock.shift(61)
    response = send(citizen_client, url("decide", waiting, "reject"))
    assert response.status_code == 409
    assert "kesindir" in response.content.decode()
    assert len(sms_outbox) == sent
    assert status_of(waiting) == Application.Status.APPROVED


def test_a_second_decision_from_another_tab_is_refused(
    client: Client,
    citizen: Citizen,
    waiting: Application,
    send: Any,
    sms_outbox: list[dict[str, Any]],
    clock: Any,
) -> None:
    # Two tabs share one session: the reject code is asked for, then the approve one.
    login_as(client, citizen)
    reject_code = request_code(client, waiting, send, sms_outbox, "reject")
    pending_reject = dict(client.session[SESSION_STEPUP])
    clock.shift(61)
    approve_code = request_code(client, waiting, send, sms_outbox, "approve")
    send(client, url("decide_code", waiting), {"code": approve_code})
    assert status_of(waiting) == Application.Status.APPROVED

    # The other tab's reject step is refused at once, whatever its code.
    session = client.session
    session[SESSION_STEPUP] = pending_reject
    session.save()
    response = client.post(url("decide_code", waiting, "reject"), {"code": reject_code})
    assert response.status_code == 409
    assert status_of(waiting) == Application.Status.APPROVED


def test_the_service_refuses_a_second_decision_and_audits_it(
    citizen: Citizen, waiting: Application
) -> None:
    from eonay.models import ApplicationError
    from eonay.services import decide_application

    decide_application(waiting, citizen=citizen, approve=False)
    with pytest.raises(ApplicationError):
        decide_application(Application.objects.get(pk=waiting.pk), citizen=citizen, approve=True)

    assert status_of(waiting) == Application.Status.REJECTED
    assert actions(citizen)[-2:] == ["nes.eonay.rejected", "nes.eonay.refused"]


def test_another_citizens_application_is_a_404_everywhere(
    client: Client,
    other_citizen: Citizen,
    waiting: Application,
    send: Any,
    sms_outbox: list[dict[str, Any]],
) -> None:
    login_as(client, other_citizen)
    assert waiting.reference not in client.get(INDEX).content.decode()
    for decision in ("approve", "reject"):
        assert send(client, url("decide", waiting, decision)).status_code == 404
        assert client.get(url("decide_code", waiting, decision)).status_code == 404
        assert (
            client.post(url("decide_code", waiting, decision), {"code": "123456"}).status_code
            == 404
        )
        assert send(client, url("decide_resend", waiting, decision)).status_code == 404
    assert sms_outbox == []
    assert status_of(waiting) == Application.Status.WAITING


def test_it_needs_login_post_and_csrf(
    citizen: Citizen, waiting: Application, sms_outbox: list[dict[str, Any]]
) -> None:
    anonymous = Client()
    response = anonymous.get(INDEX)
    assert response.status_code == 302
    assert response["Location"] == reverse("accounts:login")
    assert anonymous.post(url("decide", waiting)).status_code == 302

    strict = login_as(Client(enforce_csrf_checks=True), citizen)
    assert strict.get(url("decide", waiting)).status_code == 405
    assert strict.post(url("decide", waiting)).status_code == 403
    assert sms_outbox == []


def test_the_code_page_without_a_pending_step_starts_over(
    citizen_client: Client, waiting: Application
) -> None:
    response = citizen_client.get(url("decide_code", waiting))
    assert response.status_code == 302
    assert response["Location"] == INDEX


def test_the_code_sent_again_decides_and_the_first_no_longer_does(
    citizen_client: Client,
    waiting: Application,
    send: Any,
    sms_outbox: list[dict[str, Any]],
    clock: Any,
) -> None:
    # A double click sending one SMS, and the resend's wait: tests/test_code_flows.py.
    first = request_code(citizen_client, waiting, send, sms_outbox)
    clock.shift(61)
    response = send(citizen_client, url("decide_resend", waiting))
    assert response.status_code == 302
    assert len(sms_outbox) == 2
    second = sms_code(sms_outbox)

    response = citizen_client.post(url("decide_code", waiting), {"code": first})
    assert response.status_code == 400  # superseded
    response = citizen_client.post(url("decide_code", waiting), {"code": second})
    assert response.status_code == 302
    assert status_of(waiting) == Application.Status.APPROVED
