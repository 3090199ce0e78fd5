"""Standing consent (sürekli E-Onay): given or withdrawn after a fresh SMS code, per scope; while
active, applications of its scope entered by staff are approved at once, and page and audit say so.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.db import IntegrityError, transaction
from django.test import Client
from django.urls import reverse

from accounts.models import Citizen, SmsChallenge, SmsMessage
from audit.models import AuditEvent
from eonay.models import Application, Consent
from eonay.services import give_consent, withdraw_consent
from eonay.views import SESSION_STEPUP
from nesportal.testing import sms_code
from nesportal.testing.factories import ApplicationFactory

pytestmark = pytest.mark.django_db

INDEX = reverse("eonay:index")
FIRST = Consent.Scope.FIRST
RENEWAL = Consent.Scope.RENEWAL


def url(name: str, scope: str, action: str) -> str:
    return reverse(f"eonay:{name}", args=[scope, action])


def step(client: Client, scope: str, action: str, send: Any, outbox: list) -> Any:
    """Ask for the code and type it in; returns the final response."""
    response = send(client, url("consent", scope, action))
    assert response.status_code == 302, response.content.decode()
    assert response["Location"] == url("consent_code", scope, action)
    return send(client, url("consent_code", scope, action), {"code": sms_code(outbox)})


def test_the_urls_are_turkish() -> None:
    assert url("consent", FIRST, "give") == "/e-onay/surekli-onay/ilk-basvuru/ver/"
    assert url("consent", RENEWAL, "withdraw") == "/e-onay/surekli-onay/yenileme/geri-al/"
    assert reverse("eonay:decide", args=[7, "reject"]) == "/e-onay/basvuru/7/reddet/"


def test_it_gives_a_standing_consent_after_an_sms_code(
    citizen_client: Client, citizen: Citizen, send: Any, sms_outbox: list[dict[str, Any]]
) -> None:
    page = citizen_client.get(INDEX).content.decode()
    assert "Verilmedi" in page
    assert f'action="{url("consent", FIRST, "give")}"' in page

    response = send(citizen_client, url("consent", FIRST, "give"))
    assert response.status_code == 302
    challenge = SmsChallenge.objects.get(citizen=citizen)
    assert challenge.purpose == SmsChallenge.Purpose.EONAY
    assert challenge.subject == "consent:kurum_odemeli_ilk"
    assert not Consent.objects.exists()  # nothing before the code

    code_page = citizen_client.get(url("consent_code", FIRST, "give")).content.decode()
    assert "Kurum ödemeli ilk başvuru" in code_page
    response = send(
        citizen_client, url("consent_code", FIRST, "give"), {"code": sms_code(sms_outbox)}
    )

    assert response.status_code == 302
    assert response["Location"] == INDEX
    consent = Consent.objects.get(citizen=citizen)
    assert consent.scope == FIRST and consent.given_at and consent.withdrawn_at is None
    event = AuditEvent.objects.get(action="nes.eonay.consent_given")
    assert event.citizen == citizen and event.subject == FIRST
    notice = SmsMessage.objects.get(kind=SmsMessage.Kind.EONAY_CONSENT)
    assert notice.context["state"] == "given"  # a code: the text names it in the language
    assert "sürekli E-Onay tercihiniz kaydedildi: verildi" in sms_outbox[-1]["body"]
    page = citizen_client.get(INDEX).content.decode()
    assert "Verildi (" in page
    assert f'action="{url("consent", FIRST, "withdraw")}"' in page
    assert f'action="{url("consent", RENEWAL, "give")}"' in page  # the other scope untouched


def test_it_withdraws_after_an_sms_code(
    citizen_client: Client,
    citizen: Citizen,
    send: Any,
    sms_outbox: list[dict[str, Any]],
    clock: Any,
) -> None:
    give_consent(citizen, RENEWAL)

    response = step(citizen_client, RENEWAL, "withdraw", send, sms_outbox)

    assert response.status_code == 302
    consent = Consent.objects.get(citizen=citizen)
    assert consent.withdrawn_at is not None
    assert AuditEvent.objects.filter(action="nes.eonay.consent_withdrawn").count() == 1
    assert "geri alındı" in sms_outbox[-1]["body"]

    # Given again later: a new row, the history is kept.
    clock.shift(61)
    step(citizen_client, RENEWAL, "give", send, sms_outbox)
    assert Consent.objects.filter(citizen=citizen).count() == 2
    assert Consent.objects.filter(citizen=citizen, withdrawn_at=None).count() == 1


def test_a_wrong_code_changes_nothing(
    citizen_client: Client, citizen: Citizen, send: Any, sms_outbox: list[dict[str, Any]]
) -> None:
    send(citizen_client, url("consent", FIRST, "give"))
    code = sms_code(sms_outbox)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"

    response = citizen_client.post(url("consent_code", FIRST, "give"), {"code": wrong})

    assert response.status_code == 400
    assert not Consent.objects.exists()


def test_a_code_for_one_scope_or_action_does_not_do_another(
    citizen_client: Client, citizen: Citizen, send: Any, sms_outbox: list[dict[str, Any]]
) -> None:
    give_consent(citizen, RENEWAL)
    send(citizen_client, url("consent", FIRST, "give"))
    code = sms_code(sms_outbox)

    # Not for the other scope's withdrawal…
    response = citizen_client.post(url("consent_code", RENEWAL, "withdraw"), {"code": code})
    assert response.status_code == 302 and response["Location"] == INDEX
    assert Consent.objects.filter(scope=RENEWAL, withdrawn_at=None).exists()
    assert not Consent.objects.filter(scope=FIRST).exists()
    # …and it still does what it was sent for.
    response = citizen_client.post(url("consent_code", FIRST, "give"), {"code": code})
    assert response.status_code == 302
    assert Consent.objects.filter(scope=FIRST, withdrawn_at=None).exists()


def test_giving_twice_sends_no_code(
    citizen_client: Client, citizen: Citizen, send: Any, sms_outbox: list[dict[str, Any]]
) -> None:
    give_consent(citizen, FIRST)
    sms_outbox.clear()

    response = send(citizen_client, url("consent", FIRST, "give"))

    assert response.status_code == 302
    assert response["Location"] == INDEX
    assert sms_outbox == []
    assert SESSION_STEPUP not in citizen_client.session
    assert Consent.objects.count() == 1


def test_at_most_one_active_consent_per_scope(citizen: Citizen) -> None:
    Consent.objects.create(citizen=citizen, scope=FIRST)
    with pytest.raises(IntegrityError), transaction.atomic():
        Consent.objects.create(citizen=citizen, scope=FIRST)
    Consent.objects.create(citizen=citizen, scope=RENEWAL)
    give_consent(citizen, FIRST)  # idempotent
    assert Consent.objects.filter(citizen=citizen, scope=FIRST).count() == 1


def test_an_application_is_approved_by_the_standing_consent_and_says_so(
    citizen_client: Client,
    citizen: Citizen,
    staff: Any,
    django_capture_on_commit_callbacks: Any,
    sms_outbox: list[dict[str, Any]],
) -> None:
    consent, _ = give_consent(citizen, FIRST)
    sms_outbox.clear()

    with django_capture_on_commit_callbacks(execute=True):
        application = ApplicationFactory(citizen=citizen, entered_by=staff, notify=True)

    assert application.status == Application.Status.APPROVED
    assert application.decided_by_consent == consent
    assert application.decided_at is not None
    event = AuditEvent.objects.get(action="nes.eonay.approved_by_consent")
    assert event.subject == application.reference
    assert event.actor == staff
    assert event.data["note"] == "approved by standing consent"
    assert event.data["consent"] == consent.pk
    assert not AuditEvent.objects.filter(action="nes.eonay.approved").exists()
    assert [m["body"].split(" Siz yapmadıysanız: ")[0] for m in sms_outbox] == [
        f"NES Portal: {application.reference} numaralı başvuru için E-Onay kararınız: "
        "sürekli onayınızla onaylandı."
    ]
    page = citizen_client.get(INDEX).content.decode()
    assert "Sürekli onayınızla otomatik onaylandı" in page
    assert "Onayınızı bekleyen bir başvuru bulunmuyor." in page


def test_a_consent_covers_only_its_scope(citizen: Citizen, staff: Any) -> None:
    give_consent(citizen, FIRST)

    renewal = ApplicationFactory(citizen=citizen, entered_by=staff, kind=Application.Kind.RENEWAL)
    replacement = ApplicationFactory(
        citizen=citizen, entered_by=staff, kind=Application.Kind.REPLACEMENT
    )

    assert renewal.status == Application.Status.WAITING
    assert replacement.status == Application.Status.WAITING


def test_after_withdrawal_applications_wait(
    citizen: Citizen, staff: Any, django_capture_on_commit_callbacks: Any, sms_outbox: list
) -> None:
    give_consent(citizen, FIRST)
    withdraw_consent(citizen, FIRST)
    sms_outbox.clear()

    with django_capture_on_commit_callbacks(execute=True):
        application = ApplicationFactory(citizen=citizen, entered_by=staff, notify=True)

    assert application.status == Application.Status.WAITING
    assert "E-Onay'ınızı bekliyor" in sms_outbox[-1]["body"]
    assert application.reference in sms_outbox[-1]["body"]


def test_giving_a_consent_does_not_decide_applications_already_waiting(
    citizen: Citizen, staff: Any, waiting: Application
) -> None:
    give_consent(citizen, FIRST)
    waiting.refresh_from_db()
    assert waiting.status == Application.Status.WAITING
