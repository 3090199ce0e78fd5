"""Sertifikamı İptal Et: certificate + reason → confirmation → SMS Onay Kodu (step-up) → revoked.

The code is the same OTP machinery as the login (purpose REVOKE, bound to this session and to
the certificate's serial); wrong codes count toward the account lock like login codes do.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.models import Citizen, SmsChallenge, SmsMessage
from accounts.otp import issue_challenge
from audit.models import AuditEvent
from certificates.models import Certificate
from certificates.services import revoke_certificate
from certificates.views import SESSION_REVOKE
from nesportal.testing import sms_code, wrong

pytestmark = pytest.mark.django_db

START = reverse("certificates:revoke_start")
LIST = reverse("certificates:list")
LOGIN = reverse("accounts:login")


def url(name: str, cert: Certificate) -> str:
    return reverse(f"certificates:{name}", args=[cert.serial_number])


@pytest.fixture
def active(citizen: Citizen, certificate_factory: Any) -> Certificate:
    return certificate_factory(citizen, "active")[0]


@pytest.fixture
def mobile(citizen: Citizen, certificate_factory: Any) -> Certificate:
    return certificate_factory(citizen, "active", kind=Certificate.Kind.MOBILE)[0]


@pytest.fixture
def send(django_capture_on_commit_callbacks: Any, sms_outbox: list[dict[str, Any]]) -> Any:
    """POST with on-commit callbacks run (the SMS tasks), returning the response."""

    def post(client: Client, path: str, data: dict[str, str] | None = None) -> Any:
        with django_capture_on_commit_callbacks(execute=True):
            return client.post(path, data or {})

    return post


def choose(client: Client, cert: Certificate, reason: str = "key_compromise") -> None:
    response = client.post(START, {"certificate": cert.serial_number, "reason": reason})
    assert response.status_code == 302, response.content.decode()
    assert response["Location"] == url("revoke_confirm", cert)


def request_code(client: Client, cert: Certificate, send: Any, outbox: list[dict]) -> str:
    response = send(client, url("revoke_confirm", cert))
    assert response.status_code == 302, response.content.decode()
    assert response["Location"] == url("revoke_code", cert)
    return sms_code(outbox)


def test_it_revokes_after_confirmation_and_an_sms_code(
    citizen_client: Client,
    citizen: Citizen,
    active: Certificate,
    send: Any,
    sms_outbox: list[dict[str, Any]],
) -> None:
    form = citizen_client.get(f"{START}?seri={active.serial_number}")
    assert form.status_code == 200
    html = form.content.decode()
    assert f'value="{active.serial_number}"' in html
    assert "checked" in html.split(f'value="{active.serial_number}"')[1].split(">")[0]
    for reason in Certificate.RevocationReason:
        assert f'type="radio" name="reason" value="{reason.value}"' in html
        assert str(reason.label) in html

    choose(citizen_client, active, Certificate.RevocationReason.AFFILIATION_CHANGED)

    confirmation = citizen_client.get(url("revoke_confirm", active))
    assert confirmation.status_code == 200
    html = confirmation.content.decode()
    assert active.serial_number in html
    assert "GERİ ALINAMAZ" in html
    assert "ücret" in html
    assert "Bilgilerim değişti" in html
    assert "SMS Onay Kodu Gönder" in html
    assert SmsMessage.objects.filter(citizen=citizen).count() == 0  # nothing sent yet

    code = request_code(citizen_client, active, send, sms_outbox)
    challenge = SmsChallenge.objects.get(citizen=citizen)
    assert challenge.purpose == SmsChallenge.Purpose.REVOKE
    assert challenge.subject == active.serial_number
    assert sms_outbox[-1]["to"] == citizen.mobile_phone
    assert "…" + active.serial_number[-6:] in sms_outbox[-1]["body"]  # the code SMS: the tail
    assert "İPTAL kodu" in sms_outbox[-1]["body"]
    pending = citizen_client.session[SESSION_REVOKE]
    assert pending["serial"] == active.serial_number
    assert pending["reason"] == "affiliation_changed"
    assert pending["challenge"] == str(challenge.pk)
    assert code not in str(pending)

    page = citizen_client.get(url("revoke_code", active))
    assert page.status_code == 200
    html = page.content.decode()
    assert citizen.masked_phone in html
    assert citizen.mobile_phone not in html
    assert "data-countdown=" in html
    assert re.search(r'data-enable-in="(59|60)" disabled', html)
    active.refresh_from_db()
    assert active.status == Certificate.Status.ACTIVE

    response = send(citizen_client, url("revoke_code", active), {"code": code})

    assert response.status_code == 302
    assert response["Location"] == url("revoke_done", active)
    active.refresh_from_db()
    assert active.status == Certificate.Status.REVOKED
    assert active.revocation_reason == "affiliation_changed"
    event = AuditEvent.objects.get(citizen=citizen, action="nes.certificate.revoked")
    assert event.data["serial"] == active.serial_number
    assert event.data["reason"] == "affiliation_changed"
    assert SmsMessage.objects.filter(citizen=citizen).latest("created_at").kind == (
        SmsMessage.Kind.CERT_REVOKED
    )
    assert (
        f"{active.serial_number} seri numaralı sertifikanız iptal edildi"
        in (sms_outbox[-1]["body"])
    )
    assert SESSION_REVOKE not in citizen_client.session

    done = citizen_client.get(response["Location"])
    assert done.status_code == 200
    html = done.content.decode()
    assert "Sertifikanız iptal edildi" in html
    assert "bir daha kullanıma açılamaz" in html
    listing = citizen_client.get(LIST).content.decode()
    assert "İptal edildi" in listing

    # The code was single use, and a revoked certificate is not offered any more.
    again = citizen_client.post(url("revoke_code", active), {"code": code})
    assert again.status_code == 302
    assert again["Location"].startswith(START)
    assert active.serial_number not in citizen_client.get(START).content.decode()


def test_it_explains_bad_choices_with_400(
    citizen_client: Client, citizen: Citizen, active: Certificate, certificate_factory: Any
) -> None:
    revoked, _ = certificate_factory(citizen, "revoked", kind=Certificate.Kind.MOBILE)
    cases = [
        ({"certificate": active.serial_number}, "Bir iptal nedeni seçiniz."),
        ({"certificate": active.serial_number, "reason": "bored"}, "iptal nedenlerinden birini"),
        ({"reason": "superseded"}, "İptal etmek istediğiniz sertifikayı seçiniz."),
        ({"certificate": revoked.serial_number, "reason": "superseded"}, "zaten iptal edilmiş"),
    ]
    for data, message in cases:
        response = citizen_client.post(START, data)

        assert response.status_code == 400
        assert message in response.content.decode()
        assert SESSION_REVOKE not in citizen_client.session


def test_the_confirmation_needs_a_pending_revocation_for_that_serial(
    citizen_client: Client, active: Certificate, mobile: Certificate, send: Any
) -> None:
    response = citizen_client.get(url("revoke_confirm", active))
    assert response.status_code == 302
    assert response["Location"] == f"{START}?seri={active.serial_number}"

    choose(citizen_client, active)
    for name in ["revoke_confirm", "revoke_code"]:
        response = citizen_client.get(url(name, mobile))
        assert response.status_code == 302
        assert response["Location"] == f"{START}?seri={mobile.serial_number}"
    response = send(citizen_client, url("revoke_confirm", mobile))
    assert response.status_code == 302
    assert SmsChallenge.objects.count() == 0

    # Without a code requested, the code page sends the citizen back to the confirmation.
    response = citizen_client.get(url("revoke_code", active))
    assert response["Location"] == url("revoke_confirm", active)


def test_the_pending_revocation_is_time_boxed(citizen_client: Client, active: Certificate) -> None:
    choose(citizen_client, active)
    session = citizen_client.session
    pending = session[SESSION_REVOKE]
    session[SESSION_REVOKE] = {**pending, "since": pending["since"] - 10 * 60 - 1}
    session.save()

    response = citizen_client.get(url("revoke_confirm", active))

    assert response.status_code == 302
    assert response["Location"].startswith(START)
    assert SESSION_REVOKE not in citizen_client.session


def test_wrong_codes_that_lock_the_account_revoke_nothing(
    citizen_client: Client,
    active: Certificate,
    send: Any,
    sms_outbox: list[dict[str, Any]],
) -> None:
    """The lock itself is the contract (tests/test_code_flows.py); here: the certificate."""
    choose(citizen_client, active)
    code = request_code(citizen_client, active, send, sms_outbox)
    for _ in range(3):
        send(citizen_client, url("revoke_code", active), {"code": wrong(code)})

    active.refresh_from_db()
    assert active.status == Certificate.Status.ACTIVE
    # The session has ended: the right code is useless now.
    response = citizen_client.post(url("revoke_code", active), {"code": code})
    assert response["Location"] == LOGIN
    active.refresh_from_db()
    assert active.status == Certificate.Status.ACTIVE
    assert not AuditEvent.objects.filter(action="nes.certificate.revoked").exists()


def test_a_malformed_code_is_not_an_attempt(
    citizen_client: Client,
    citizen: Citizen,
    active: Certificate,
    send: Any,
    sms_outbox: list[dict[str, Any]],
) -> None:
    choose(citizen_client, active)
    request_code(citizen_client, active, send, sms_outbox)

    response = citizen_client.post(url("revoke_code", active), {"code": "12ab"})

    assert response.status_code == 400
    assert "SMS Onay Kodu 6 rakamdan oluşur." in response.content.decode()
    citizen.refresh_from_db()
    assert citizen.code_failure_count == 0


def test_a_code_sent_for_another_certificate_is_refused(
    citizen_client: Client,
    citizen: Citizen,
    active: Certificate,
    mobile: Certificate,
    send: Any,
    sms_outbox: list[dict[str, Any]],
    clock: Any,
) -> None:
    choose(citizen_client, active)
    code_for_active = request_code(citizen_client, active, send, sms_outbox)
    clock.shift(61)
    choose(citizen_client, mobile)
    request_code(citizen_client, mobile, send, sms_outbox)

    response = citizen_client.post(url("revoke_code", mobile), {"code": code_for_active})

    assert response.status_code == 400
    assert "SMS Onay Kodu hatalı" in response.content.decode()
    # …and on the first certificate's page the pending revocation is not its own any more.
    response = citizen_client.post(url("revoke_code", active), {"code": code_for_active})
    assert response.status_code == 302
    assert response["Location"].startswith(START)
    for cert in (active, mobile):
        cert.refresh_from_db()
        assert cert.status == Certificate.Status.ACTIVE


def test_a_challenge_for_another_serial_is_never_checked(
    citizen_client: Client,
    citizen: Citizen,
    active: Certificate,
    mobile: Certificate,
    send: Any,
    sms_outbox: list[dict[str, Any]],
) -> None:
    choose(citizen_client, active)
    code = request_code(citizen_client, active, send, sms_outbox)
    session = citizen_client.session
    session[SESSION_REVOKE] = {**session[SESSION_REVOKE], "serial": mobile.serial_number}
    session.save()

    response = citizen_client.post(url("revoke_code", mobile), {"code": code})

    # A state that names another certificate than its own step is no state for this one: the
    # citizen starts again (accounts.stepup), and the code is never looked at.
    assert response.status_code == 302
    assert response["Location"] == f"{START}?seri={mobile.serial_number}"
    challenge = SmsChallenge.objects.get(citizen=citizen)
    assert challenge.consumed_at is None
    assert challenge.wrong_attempts == 0
    mobile.refresh_from_db()
    assert mobile.status == Certificate.Status.ACTIVE


def test_a_login_code_never_confirms_a_revocation(
    citizen_client: Client,
    citizen: Citizen,
    active: Certificate,
    send: Any,
    sms_outbox: list[dict[str, Any]],
    django_capture_on_commit_callbacks: Any,
    clock: Any,
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        login_challenge, login_token = issue_challenge(citizen, SmsChallenge.Purpose.LOGIN)
    login_code = sms_code(sms_outbox)
    clock.shift(61)
    choose(citizen_client, active)
    request_code(citizen_client, active, send, sms_outbox)

    # Typed on the revoke page, the login code is just a wrong code.
    response = citizen_client.post(url("revoke_code", active), {"code": login_code})
    assert response.status_code == 400
    assert "SMS Onay Kodu hatalı" in response.content.decode()

    # Even with the login challenge itself put into the pending revocation, it is refused.
    session = citizen_client.session
    session[SESSION_REVOKE] = {
        **session[SESSION_REVOKE],
        "challenge": str(login_challenge.pk),
        "binding": login_token,
    }
    session.save()
    login_challenge.subject = active.serial_number  # as if it named the certificate
    login_challenge.save(update_fields=["subject"])
    response = citizen_client.post(url("revoke_code", active), {"code": login_code}, follow=True)

    # INVALID ends the step (accounts.stepup): back to the start, with the reason.
    assert response.redirect_chain[0][0] == f"{START}?seri={active.serial_number}"
    assert "bu iptal işlemi için geçerli değil" in response.content.decode()
    assert SESSION_REVOKE not in citizen_client.session
    login_challenge.refresh_from_db()
    assert login_challenge.consumed_at is None
    active.refresh_from_db()
    assert active.status == Certificate.Status.ACTIVE


def test_a_new_code_after_an_expired_one_revokes_with_the_chosen_reason(
    citizen_client: Client,
    citizen: Citizen,
    active: Certificate,
    send: Any,
    sms_outbox: list[dict[str, Any]],
    clock: Any,
) -> None:
    """Expiry and resend are the contract (tests/test_code_flows.py); here: the reason chosen
    before survives them."""
    choose(citizen_client, active)
    old = request_code(citizen_client, active, send, sms_outbox)
    clock.shift(181)
    assert citizen_client.post(url("revoke_code", active), {"code": old}).status_code == 400

    send(citizen_client, url("revoke_code_resend", active))
    new = sms_code(sms_outbox)
    response = send(citizen_client, url("revoke_code", active), {"code": new})

    assert response["Location"] == url("revoke_done", active)
    active.refresh_from_db()
    assert active.status == Certificate.Status.REVOKED
    assert active.revocation_reason == "key_compromise"


def test_a_used_code_offers_a_new_one(
    citizen_client: Client,
    citizen: Citizen,
    active: Certificate,
    send: Any,
    sms_outbox: list[dict[str, Any]],
) -> None:
    choose(citizen_client, active)
    code = request_code(citizen_client, active, send, sms_outbox)
    SmsChallenge.objects.filter(citizen=citizen).update(invalidated_at=timezone.now())

    response = citizen_client.post(url("revoke_code", active), {"code": code})

    assert response.status_code == 400
    assert "Bu SMS Onay Kodu artık geçerli değil. Yeni kod isteyiniz." in (
        response.content.decode()
    )
    active.refresh_from_db()
    assert active.status == Certificate.Status.ACTIVE


def test_a_certificate_revoked_meanwhile_is_refused_with_409(
    citizen_client: Client,
    citizen: Citizen,
    active: Certificate,
    send: Any,
    sms_outbox: list[dict[str, Any]],
) -> None:
    choose(citizen_client, active, "superseded")
    code = request_code(citizen_client, active, send, sms_outbox)
    revoke_certificate(active, reason="key_compromise", citizen=citizen)  # another tab

    response = citizen_client.post(url("revoke_code", active), {"code": code})

    assert response.status_code == 409
    assert "Bu sertifika zaten iptal edilmiş." in response.content.decode()
    active.refresh_from_db()
    assert active.revocation_reason == "key_compromise"
    assert AuditEvent.objects.filter(action="nes.certificate.revoked").count() == 1


def test_the_result_page_is_only_for_revoked_certificates(
    citizen_client: Client, active: Certificate
) -> None:
    response = citizen_client.get(url("revoke_done", active))

    assert response.status_code == 302
    assert response["Location"] == active.get_absolute_url()


def test_the_code_is_never_logged_in_error_reports(
    citizen_client: Client, active: Certificate, send: Any, sms_outbox: list[dict[str, Any]]
) -> None:
    from django.views.debug import SafeExceptionReporterFilter

    choose(citizen_client, active)
    request_code(citizen_client, active, send, sms_outbox)
    response = citizen_client.post(url("revoke_code", active), {"code": "000000"})

    request = response.wsgi_request
    cleansed = SafeExceptionReporterFilter().get_post_parameters(request)
    assert cleansed["code"] != "000000"


def test_expired_and_revoked_certificates_are_not_offered(
    citizen_client: Client, citizen: Citizen, certificate_factory: Any
) -> None:
    now = timezone.now()
    expired, _ = certificate_factory(citizen, "expired", now=now - dt.timedelta(days=10))
    revoked, _ = certificate_factory(citizen, "revoked")

    html = citizen_client.get(START).content.decode()

    assert expired.serial_number not in html
    assert revoked.serial_number not in html
    assert "İptal edilebilecek bir sertifikanız yok" in html
