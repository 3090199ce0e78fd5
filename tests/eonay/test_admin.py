"""Staff enter applications in admin; they can never decide for the citizen."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import reverse

from accounts.models import Citizen, SmsMessage
from audit.models import AuditEvent
from eonay.models import Application, Consent
from eonay.services import give_consent
from nesportal.testing import staff_login
from nesportal.testing.factories import APPLICATION_ENTRY, ApplicationFactory

pytestmark = pytest.mark.django_db

ADD = reverse("admin:eonay_application_add")
CHANGELIST = reverse("admin:eonay_application_changelist")


def change_url(application: Application) -> str:
    return reverse("admin:eonay_application_change", args=[application.pk])


@pytest.fixture
def staff_client(client: Client, staff: Any) -> Client:
    staff_login(client, staff)
    return client


def entry(citizen: Citizen, kind: str = Application.Kind.FIRST) -> dict[str, Any]:
    return {"citizen": str(citizen.pk), "kind": kind, **APPLICATION_ENTRY}


def test_staff_enter_an_application_that_waits_for_the_citizen(
    staff_client: Client,
    staff: Any,
    citizen: Citizen,
    django_capture_on_commit_callbacks: Any,
    sms_outbox: list[dict[str, Any]],
) -> None:
    form = staff_client.get(ADD)
    assert form.status_code == 200
    html = form.content.decode()
    assert 'name="citizen"' in html and "admin-autocomplete" in html
    for hidden in ('name="status"', 'name="decided_at"', 'name="decided_by_consent"'):
        assert hidden not in html

    with django_capture_on_commit_callbacks(execute=True):
        response = staff_client.post(ADD, entry(citizen))

    assert response.status_code == 302, response.content.decode()
    application = Application.objects.get()
    assert application.status == Application.Status.WAITING
    assert application.entered_by == staff
    assert application.reference.startswith("EO-")
    assert application.institution_tax_number == "1234567890"
    message = SmsMessage.objects.get(kind=SmsMessage.Kind.EONAY_WAITING)
    assert message.citizen == citizen
    assert message.context == {"application": application.reference}
    assert application.reference in sms_outbox[-1]["body"]
    event = AuditEvent.objects.get(action="nes.eonay.application_entered")
    assert event.actor == staff and event.citizen == citizen


def test_an_entry_covered_by_a_standing_consent_is_approved_at_once(
    staff_client: Client, citizen: Citizen
) -> None:
    consent, _ = give_consent(citizen, Consent.Scope.RENEWAL)

    response = staff_client.post(ADD, entry(citizen, Application.Kind.RENEWAL), follow=True)

    assert response.status_code == 200
    application = Application.objects.get()
    assert application.status == Application.Status.APPROVED
    assert application.decided_by_consent == consent
    assert "sürekli onayla otomatik onaylandı" in response.content.decode()
    assert AuditEvent.objects.filter(
        action="nes.eonay.approved_by_consent", subject=application.reference
    ).exists()
    assert not SmsMessage.objects.filter(kind=SmsMessage.Kind.EONAY_WAITING).exists()


def test_the_entry_form_validates(staff_client: Client, citizen: Citizen) -> None:
    data = {**entry(citizen), "institution_tax_number": "12345", "contact_email": "nope"}
    response = staff_client.post(ADD, data)
    assert response.status_code == 200
    assert "10 rakamdan" in response.content.decode()
    assert not Application.objects.exists()


def test_staff_cannot_decide_by_posting_a_change(
    staff_client: Client, staff: Any, citizen: Citizen
) -> None:
    application = ApplicationFactory(citizen=citizen, entered_by=staff)

    response = staff_client.post(
        change_url(application),
        {**entry(citizen), "status": "approved", "decided_at_0": "01.01.2026"},
    )

    assert response.status_code == 403
    application.refresh_from_db()
    assert application.status == Application.Status.WAITING
    assert application.decided_at is None
    assert not AuditEvent.objects.filter(action__in=["nes.eonay.approved"]).exists()


def test_the_page_shows_the_decision_read_only_without_decide_buttons(
    staff_client: Client, staff: Any, citizen: Citizen
) -> None:
    application = ApplicationFactory(citizen=citizen, entered_by=staff)
    application.decide(approve=False)

    page = staff_client.get(change_url(application))

    assert page.status_code == 200
    html = page.content.decode()
    assert "Reddedildi" in html
    assert "Vatandaş SMS Onay Kodu ile reddetti" in html
    assert 'name="status"' not in html
    assert 'name="_save"' not in html
    assert "deletelink" not in html
    listing = staff_client.get(CHANGELIST).content.decode()
    assert application.reference in listing
    assert 'name="action"' not in listing  # no bulk actions at all
    assert (
        staff_client.post(
            reverse("admin:eonay_application_delete", args=[application.pk]), {"post": "yes"}
        ).status_code
        == 403
    )
    assert Application.objects.filter(pk=application.pk).exists()


def test_only_staff_with_the_add_permission_enter_applications(
    client: Client, call_centre_agent: Any, citizen: Citizen
) -> None:
    staff_login(client, call_centre_agent)
    assert client.get(ADD).status_code == 403
    assert client.post(ADD, entry(citizen)).status_code == 403

    call_centre_agent.user_permissions.add(
        Permission.objects.get(content_type__app_label="eonay", codename="add_application")
    )
    response = client.post(ADD, entry(citizen))
    assert response.status_code == 302
    assert Application.objects.get().entered_by == call_centre_agent


def test_consents_are_view_only_in_admin(staff_client: Client, citizen: Citizen) -> None:
    consent, _ = give_consent(citizen, Consent.Scope.FIRST)
    assert staff_client.get(reverse("admin:eonay_consent_add")).status_code == 403
    page = staff_client.get(reverse("admin:eonay_consent_change", args=[consent.pk]))
    assert page.status_code == 200
    assert 'name="_save"' not in page.content.decode()
    response = staff_client.post(
        reverse("admin:eonay_consent_change", args=[consent.pk]), {"withdrawn_at": "x"}
    )
    assert response.status_code == 403
