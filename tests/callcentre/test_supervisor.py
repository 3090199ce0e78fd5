"""The supervisor's permissions, separate and audited: suspend and unsuspend a certificate on
the CA's side, cancel an E-Onay application entered by mistake — buttons with a required
reason; nobody without the permission sees them or can POST them (403)."""

from __future__ import annotations

from typing import Any

import pytest
from cryptography import x509
from cryptography.x509 import ocsp
from django.contrib.auth.models import Group
from django.test import Client
from django.urls import reverse

from accounts.callcentre import PERMISSIONS, SUPERVISOR_PERMISSIONS
from accounts.models import CALL_CENTRE_GROUP, CALL_CENTRE_SUPERVISOR_GROUP, Citizen, SmsMessage
from audit.models import AuditEvent
from certificates.models import Certificate
from eonay.models import Application, ApplicationError
from nesportal.testing import login_as
from nesportal.testing.factories import ApplicationFactory
from tests.certificates.ocsp_requests import request_der
from tests.certificates.test_crl_shards import distribution_point, fetch

pytestmark = pytest.mark.django_db


def cert_url(cert: Certificate, slug: str = "") -> str:
    if not slug:
        return reverse("admin:certificates_certificate_change", args=[cert.pk])
    return reverse(f"admin:certificates_certificate_{slug}", args=[cert.pk])


def app_url(application: Application, slug: str = "") -> str:
    if not slug:
        return reverse("admin:eonay_application_change", args=[application.pk])
    return reverse(f"admin:eonay_application_{slug}", args=[application.pk])


def ocsp_status(client: Client, cert: Certificate) -> ocsp.OCSPResponse:
    response = client.post(
        "/ocsp", data=request_der([cert.serial_int]), content_type="application/ocsp-request"
    )
    return ocsp.load_der_ocsp_response(response.content)


def crl_entry(client: Client, cert: Certificate) -> x509.RevokedCertificate | None:
    _response, crl = fetch(client, distribution_point(cert))
    return crl.get_revoked_certificate_by_serial_number(cert.serial_int)


@pytest.fixture
def active(citizen: Citizen, certificate_factory: Any) -> Certificate:
    row, _key = certificate_factory(citizen, "active")
    return row


@pytest.fixture
def waiting(citizen: Citizen) -> Application:
    return ApplicationFactory(citizen=citizen)


def test_the_groups_exist_with_exactly_their_permissions() -> None:
    # Made by migration 0011 in this freshly migrated test database.
    def perms(name: str) -> set[tuple[str, str]]:
        group = Group.objects.get(name=name)
        return set(group.permissions.values_list("content_type__app_label", "codename"))

    assert perms(CALL_CENTRE_GROUP) == {(app, code) for app, _m, code in PERMISSIONS}
    assert perms(CALL_CENTRE_SUPERVISOR_GROUP) == {
        (app, code) for app, _m, code in SUPERVISOR_PERMISSIONS
    }
    assert perms(CALL_CENTRE_SUPERVISOR_GROUP) - perms(CALL_CENTRE_GROUP) == {
        ("certificates", "suspend_certificate"),
        ("eonay", "cancel_application"),
    }


def test_the_supervisor_suspends_on_the_ca_side_and_it_is_published_as_certificate_hold(
    supervisor_client: Client,
    supervisor: Any,
    client: Client,
    active: Certificate,
    django_capture_on_commit_callbacks: Any,
) -> None:
    page = supervisor_client.get(cert_url(active)).content.decode()
    assert f'action="{cert_url(active, "askiya-al")}"' in page
    confirm = supervisor_client.post(cert_url(active, "askiya-al"))
    assert "Askıya alma gerekçesi" in confirm.content.decode()
    active.refresh_from_db()
    assert active.status == Certificate.Status.ACTIVE

    with django_capture_on_commit_callbacks(execute=True):
        done = supervisor_client.post(
            cert_url(active, "askiya-al"), {"apply": "1", "reason": "Kart kayboldu"}, follow=True
        )

    assert done.redirect_chain == [(cert_url(active), 302)]
    assert "Sertifika askıya alındı." in done.content.decode()
    active.refresh_from_db()
    assert active.status == Certificate.Status.SUSPENDED
    assert active.suspended_by == Certificate.SuspendedBy.CA
    change = active.status_changes.get(to_status="suspended")
    assert (change.by_user, change.by_citizen, change.reason) == (
        supervisor,
        None,
        "Kart kayboldu",
    )
    event = AuditEvent.objects.get(action="nes.certificate.suspended")
    assert event.actor == supervisor
    assert event.data["by"] == "ca"
    assert event.data["reason"] == "Kart kayboldu"
    assert SmsMessage.objects.filter(citizen=active.citizen, kind="cert_suspended").count() == 1
    answer = ocsp_status(client, active)
    assert answer.certificate_status == ocsp.OCSPCertStatus.REVOKED
    assert answer.revocation_reason == x509.ReasonFlags.certificate_hold
    entry = crl_entry(client, active)
    assert entry is not None
    reason = entry.extensions.get_extension_for_class(x509.CRLReason).value.reason
    assert reason == x509.ReasonFlags.certificate_hold


def test_the_holder_cannot_lift_the_cas_suspension_but_the_supervisor_can(
    supervisor_client: Client,
    supervisor: Any,
    client: Client,
    active: Certificate,
    django_capture_on_commit_callbacks: Any,
) -> None:
    from certificates import services
    from certificates.models import CertificateError

    with django_capture_on_commit_callbacks(execute=True):
        supervisor_client.post(cert_url(active, "askiya-al"), {"apply": "1", "reason": "Kayıp"})
    with pytest.raises(CertificateError):
        services.reinstate_certificate(active, citizen=active.citizen)

    with django_capture_on_commit_callbacks(execute=True):
        done = supervisor_client.post(
            cert_url(active, "askidan-indir"), {"apply": "1", "reason": "Kart bulundu"}, follow=True
        )

    assert "Sertifika askıdan indirildi." in done.content.decode()
    active.refresh_from_db()
    assert active.status == Certificate.Status.ACTIVE
    event = AuditEvent.objects.get(action="nes.certificate.reinstated")
    assert (event.actor, event.data["reason"], event.data["by"]) == (
        supervisor,
        "Kart bulundu",
        "ca",
    )
    assert ocsp_status(client, active).certificate_status == ocsp.OCSPCertStatus.GOOD
    assert crl_entry(client, active) is None  # a lifted hold leaves the next CRL


def test_a_reason_is_required_to_suspend(supervisor_client: Client, active: Certificate) -> None:
    response = supervisor_client.post(cert_url(active, "askiya-al"), {"apply": "1", "reason": " "})

    assert response.status_code == 200
    assert response.context["form"].errors["reason"]
    active.refresh_from_db()
    assert active.status == Certificate.Status.ACTIVE


def test_a_button_that_does_not_apply_is_disabled_and_changes_nothing(
    supervisor_client: Client, active: Certificate
) -> None:
    page = supervisor_client.get(cert_url(active)).content.decode()
    assert 'disabled title="Bu sertifika askıda değil."' in page

    response = supervisor_client.post(
        cert_url(active, "askidan-indir"), {"apply": "1", "reason": "x"}, follow=True
    )

    assert "Bu sertifika askıda değil." in response.content.decode()
    assert not AuditEvent.objects.filter(action="nes.certificate.reinstated").exists()


def test_the_supervisor_cancels_an_application_entered_by_mistake(
    supervisor_client: Client, supervisor: Any, citizen: Citizen, waiting: Application
) -> None:
    page = supervisor_client.get(app_url(waiting)).content.decode()
    assert f'action="{app_url(waiting, "iptal-et")}"' in page
    assert (
        "İptal gerekçesi" in supervisor_client.post(app_url(waiting, "iptal-et")).content.decode()
    )

    done = supervisor_client.post(
        app_url(waiting, "iptal-et"), {"apply": "1", "reason": "Yanlış vatandaş"}, follow=True
    )

    assert done.redirect_chain == [(app_url(waiting), 302)]
    assert "Başvuru iptal edildi." in done.content.decode()
    waiting.refresh_from_db()
    assert waiting.status == Application.Status.CANCELLED
    assert (waiting.cancelled_by, waiting.cancel_reason) == (supervisor, "Yanlış vatandaş")
    assert waiting.decided_at is not None
    event = AuditEvent.objects.get(action="nes.eonay.cancelled")
    assert (event.actor, event.citizen, event.subject) == (supervisor, citizen, waiting.reference)
    assert event.data["reason"] == "Yanlış vatandaş"
    # The citizen no longer sees it as waiting, and can no longer decide it.
    eonay = login_as(Client(), citizen).get("/e-onay/").content.decode()
    assert "Onayınızı bekleyen bir başvuru bulunmuyor." in eonay
    assert "İptal edildi (hatalı giriş)" in eonay
    with pytest.raises(ApplicationError):
        waiting.decide(approve=True)


def test_a_decided_application_is_never_cancelled(
    supervisor_client: Client, citizen: Citizen
) -> None:
    decided = ApplicationFactory(citizen=citizen, state="approved")

    response = supervisor_client.post(
        app_url(decided, "iptal-et"), {"apply": "1", "reason": "x"}, follow=True
    )

    assert "Yalnızca vatandaşın onayını bekleyen" in response.content.decode()
    decided.refresh_from_db()
    assert decided.status == Application.Status.APPROVED
    with pytest.raises(ApplicationError):
        decided.cancel(by_user=None, reason="x")


def test_a_cancellation_raced_by_the_citizens_decision_is_refused_and_audited(
    supervisor: Any, waiting: Application
) -> None:
    from audit.actor import Actor
    from eonay.services import cancel_application

    Application.objects.get(pk=waiting.pk).decide(approve=False)  # the citizen, in another tab

    with pytest.raises(ApplicationError):
        cancel_application(waiting, actor=Actor.staff(supervisor), reason="Yanlış")

    waiting.refresh_from_db()
    assert waiting.status == Application.Status.REJECTED
    refused = AuditEvent.objects.get(action="nes.eonay.refused")
    assert refused.data == {"wanted": "cancel", "status": "rejected"}


@pytest.mark.parametrize(
    "who", ["agent_client", "viewer_client"], ids=["agent", "staff without permission"]
)
def test_without_the_permission_the_buttons_are_hidden_and_a_post_is_403(
    request: pytest.FixtureRequest, who: str, active: Certificate, waiting: Application
) -> None:
    client: Client = request.getfixturevalue(who)

    for url in (cert_url(active), app_url(waiting)):
        html = client.get(url).content.decode()
        assert "nes-object-buttons" not in html
    for url in (
        cert_url(active, "askiya-al"),
        cert_url(active, "askidan-indir"),
        app_url(waiting, "iptal-et"),
    ):
        assert client.post(url, {"apply": "1", "reason": "x"}).status_code == 403
        assert client.get(url).status_code == 403
    active.refresh_from_db()
    waiting.refresh_from_db()
    assert active.status == Certificate.Status.ACTIVE
    assert waiting.is_waiting
