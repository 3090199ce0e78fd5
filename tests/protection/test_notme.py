""" "Bu işlemi ben yapmadım": the link from a notice protects the account once, and only that."""

from __future__ import annotations

import datetime as dt
import logging
import re
from typing import Any

import pytest
from captcha.models import CaptchaStore
from django.conf import settings
from django.test import Client
from django.utils import timezone

from accounts.models import ContactChange, NotMeLink, SmsChallenge, SmsMessage, WordResetLink
from accounts.sms_queue import queue_sms
from accounts.sms_texts import render_body
from accounts.tokens import not_me_token
from audit.models import AuditEvent
from certificates.models import Certificate
from nesportal.gunicorn_logging import redact
from nesportal.testing import login_as
from protection import services
from tests.parallel import in_parallel

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _captcha(captcha_test_mode: None) -> None:
    """The captcha accepts "passed"."""


def notice(citizen: Any, kind: str = SmsMessage.Kind.CERT_REVOKED) -> str:
    """Queue a notice and return the path of its link, read from the rendered SMS."""
    message = queue_sms(citizen, kind, context={"serial": "ab12cd", "card": "AKIS-1"})
    body = render_body(message) or ""
    match = re.search(r"(/y/[A-Za-z0-9_-]{22})$", body)
    assert match, body
    return match.group(1)


def answer(identifier: str) -> dict[str, str]:
    """The form: the identifier and a single-use captcha answered (test mode)."""
    key = CaptchaStore.generate_key()
    return {"identifier": identifier, "captcha_0": key, "captcha_1": "passed"}


def submit(client: Client, path: str, identifier: str) -> Any:
    opened = client.get(path)
    assert opened.status_code == 302 and opened["Location"] == "/y/"
    return client.post("/y/", answer(identifier))


def test_one_click_suspends_only_the_active_certificates(
    citizen: Any, certificate_factory: Any
) -> None:
    now = timezone.now()
    active, _ = certificate_factory(citizen, "active", now=now - dt.timedelta(days=30))
    mobile, _ = certificate_factory(citizen, "active", kind="mobile")
    pending, _ = certificate_factory(citizen, "pending", now=now - dt.timedelta(days=1))
    revoked, _ = certificate_factory(
        citizen, "revoked", kind="mobile", now=now - dt.timedelta(days=90)
    )
    expired, _ = certificate_factory(citizen, "expired", kind="mobile")

    client = Client()
    response = submit(client, notice(citizen), citizen.tckn)
    assert response.status_code == 302 and response["Location"] == "/y/tamam/"
    page = client.get("/y/tamam/").content.decode()
    assert active.serial_number in page and mobile.serial_number in page
    assert "Askıdan İndir" in page

    def status(cert: Certificate) -> str:
        cert.refresh_from_db()
        return cert.status

    assert status(active) == status(mobile) == "suspended"
    active.refresh_from_db()
    assert active.suspended_by == "holder"  # the holder lifts it after logging in
    assert status(pending) == "pending"
    assert status(revoked) == "revoked"
    assert status(expired) == expired.status  # untouched
    event = AuditEvent.objects.get(action="nes.notme.protected", citizen=citizen)
    assert sorted(event.data["suspended"]) == sorted([active.serial_number, mobile.serial_number])
    assert event.data["notice"] == "cert_revoked"
    # One SMS about it; the single suspensions send none of their own.
    kinds = list(SmsMessage.objects.filter(citizen=citizen).values_list("kind", flat=True))
    assert kinds.count("account_protected") == 1
    assert "cert_suspended" not in kinds
    protected = SmsMessage.objects.get(citizen=citizen, kind="account_protected")
    assert "2 sertifikanız askıya alındı" in (render_body(protected) or "")


def test_the_holder_lifts_the_suspension_after_logging_in(
    citizen: Any, certificate_factory: Any
) -> None:
    from certificates.services import reinstate_certificate

    cert, _ = certificate_factory(citizen, "active")
    submit(Client(), notice(citizen), citizen.tckn)
    cert.refresh_from_db()
    reinstate_certificate(cert, citizen=citizen)
    cert.refresh_from_db()
    assert cert.status == "active"


def test_every_session_ends_and_open_codes_and_links_are_void(
    citizen: Any,
    certificate_factory: Any,
    reset_link_factory: Any,
    sms_challenge_factory: Any,
    contact_change_factory: Any,
) -> None:
    logged_in = login_as(Client(), citizen)
    assert logged_in.get("/islemler/").status_code == 200
    challenge = sms_challenge_factory(citizen=citizen)
    reset = reset_link_factory(citizen=citizen)
    change = contact_change_factory(citizen=citizen)
    submit(Client(), notice(citizen), citizen.tckn)

    menu = logged_in.get("/islemler/")
    assert menu.status_code == 302 and "giris" in menu["Location"]
    challenge.refresh_from_db()
    reset.refresh_from_db()
    change.refresh_from_db()
    assert challenge.invalidated_at is not None
    assert reset.expires_at <= timezone.now()
    assert change.cancelled_at is not None
    # A new login works as before.
    citizen.refresh_from_db()
    assert login_as(Client(), citizen).get("/islemler/").status_code == 200


def test_the_link_works_once(citizen: Any, certificate_factory: Any) -> None:
    path = notice(citizen)
    submit(Client(), path, citizen.tckn)
    again = Client().get(path)
    assert again.status_code == 410
    assert "daha önce kullanıldı" in again.content.decode()
    assert AuditEvent.objects.filter(action="nes.notme.protected").count() == 1


def test_an_expired_link_does_nothing(citizen: Any, certificate_factory: Any, clock: Any) -> None:
    cert, _ = certificate_factory(citizen, "active")
    path = notice(citizen)
    clock.shift(NotMeLink.LIFETIME + dt.timedelta(seconds=1))
    response = Client().get(path)
    assert response.status_code == 410
    assert "72 saat" in response.content.decode()
    cert.refresh_from_db()
    assert cert.status == "active"


def test_a_guessed_token_is_404_and_a_wrong_identity_changes_nothing(
    citizen: Any, citizen_factory: Any, certificate_factory: Any
) -> None:
    cert, _ = certificate_factory(citizen, "active")
    assert Client().get("/y/" + "A" * 22).status_code == 404
    assert Client().get("/y/short").status_code == 404
    other = citizen_factory()
    path = notice(citizen)
    client = Client()
    response = submit(client, path, other.tckn)
    assert response.status_code == 400
    assert "bu bildirimin gönderildiği kişiye ait değil" in response.content.decode()
    cert.refresh_from_db()
    citizen.refresh_from_db()
    assert cert.status == "active"
    assert citizen.failure_count == 0 and not citizen.is_locked  # no strike for anyone
    assert AuditEvent.objects.filter(action="nes.notme.identity_failed").count() == 1
    # The right identity still works with the same link.
    response = client.post("/y/", answer(citizen.tckn))
    assert response.status_code == 302


def test_the_form_without_an_opened_link_says_so() -> None:
    response = Client().get("/y/")
    assert response.status_code == 400
    assert "bağlantıyı yeniden açınız" in response.content.decode()


def test_the_token_never_reaches_the_database_or_the_access_log(citizen: Any) -> None:
    path = notice(citizen)
    token = path[3:]
    link = NotMeLink.objects.get(citizen=citizen)
    assert not_me_token(link) == token
    assert token not in link.token_hash
    assert token not in str(SmsMessage.objects.get(citizen=citizen, kind="cert_revoked").context)
    assert token not in redact(f'"GET {path} HTTP/1.1" 302')
    assert redact("GET /y/tamam/ HTTP/1.1") == "GET /y/tamam/ HTTP/1.1"


def test_not_found_link_is_masked_in_djangos_log(caplog: Any) -> None:
    with caplog.at_level(logging.WARNING, logger="django.request"):
        Client().get("/y/" + "B" * 22)
    assert "Not Found: /y/" in caplog.text  # the refusal was logged (so the check means something)
    assert "B" * 22 not in caplog.text


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_parallel_double_use_protects_once(citizen_factory: Any, certificate_factory: Any) -> None:
    citizen = citizen_factory()
    cert, _ = certificate_factory(citizen, "active")
    notice(citizen)
    link = NotMeLink.objects.get(citizen=citizen)

    def use() -> Any:
        try:
            return services.protect_account(
                NotMeLink.objects.select_related("citizen").get(pk=link.pk),
                identifier=citizen.tckn,
                actor=services.Actor.system("test"),
            )
        except services.LinkUnusable as exc:
            return exc

    outcomes = in_parallel([use for _ in range(6)])
    protected = [o.value for o in outcomes if isinstance(o.value, services.Protected)]
    refused = [o.value for o in outcomes if isinstance(o.value, services.LinkUnusable)]
    assert len(protected) == 1 and len(refused) == 5
    assert protected[0].serials == (cert.serial_number,)
    assert AuditEvent.objects.filter(action="nes.notme.protected").count() == 1
    assert SmsMessage.objects.filter(citizen=citizen, kind="account_protected").count() == 1


def test_a_notice_in_english_links_to_a_page_in_the_same_flow(citizen_factory: Any) -> None:
    anna = citizen_factory(language="en", passport=True)
    path = notice(anna, SmsMessage.Kind.PINPUK_VIEWED)
    response = submit(Client(), path, anna.passport_no)
    assert response.status_code == 302
    assert (
        SmsChallenge.objects.filter(citizen=anna, invalidated_at=None, consumed_at=None).count()
        == 0
    )
    assert WordResetLink.objects.filter(citizen=anna).count() == 0
    assert ContactChange.objects.filter(citizen=anna).count() == 0


def test_the_call_centre_sees_it_on_the_citizens_page(
    citizen: Any, certificate_factory: Any, agent_client: Client
) -> None:
    cert, _ = certificate_factory(citizen, "active")
    page = agent_client.get(f"/{settings.ADMIN_URL}accounts/citizen/{citizen.pk}/change/")
    assert "hesabını korumaya aldı" not in page.content.decode()
    submit(Client(), notice(citizen), citizen.tckn)
    page = agent_client.get(f"/{settings.ADMIN_URL}accounts/citizen/{citizen.pk}/change/")
    text = page.content.decode()
    assert (
        "vatandaş bildirimdeki bağlantıyla hesabını korumaya aldı; 1 sertifika askıya alındı"
        in text
    )
    assert cert.serial_number in text


def test_the_holders_own_logged_in_browser_sees_what_was_done(
    citizen: Any, certificate_factory: Any
) -> None:
    cert, _ = certificate_factory(citizen, "active")
    browser = login_as(Client(), citizen)
    response = submit(browser, notice(citizen), citizen.tckn)
    assert response["Location"] == "/y/tamam/"
    page = browser.get("/y/tamam/")
    assert page.status_code == 200 and cert.serial_number in page.content.decode()
    assert browser.get("/islemler/").status_code == 302  # logged out like every session


def test_djangos_own_log_masks_a_refused_link_token() -> None:
    """Django's records reach the portal's root handler only (Django's default console handler,
    on with DEBUG, would print the path unmasked)."""
    import io

    from nesportal.gunicorn_logging import RedactTokenPaths

    assert logging.getLogger("django").handlers == []
    (handler,) = [
        h
        for h in logging.getLogger().handlers
        if any(isinstance(f, RedactTokenPaths) for f in h.filters)
    ]
    assert isinstance(handler, logging.StreamHandler)
    stream = io.StringIO()
    previous = handler.setStream(stream)
    try:
        logging.getLogger("django.request").warning("Gone: %s", "/y/" + "C" * 22)
    finally:
        handler.setStream(previous)
    assert "Gone: /y/***" in stream.getvalue()
    assert "C" * 22 not in stream.getvalue()
