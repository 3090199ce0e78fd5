"""The SMS budget of one visit (README "SMS budget"), and the bound an attacker meets.

A holder who does every operation of the İşlemler Menüsü once in one visit is never told to
wait: login, Sertifikamı İptal Et, PIN/PUK Bilgisi of a card (viewed, then saved as PDF and
deleted with the same code), Kilit Çözme of a locked card (and then its PUK, with the same
code), the PIN/PUK of an old card, an E-Onay decision and a new mobile number. Whoever triggers
them, one phone number gets at most ``limits.SMS_PER_PHONE_PER_HOUR`` SMS in an hour.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import SmsChallenge, SmsMessage
from accounts.otp import SmsRateLimited, issue_challenge
from accounts.sms_queue import queue_sms
from nesportal import limits
from nesportal.testing import sms_code
from nesportal.testing.factories import AkisCardFactory, ApplicationFactory
from tests.test_code_flows import Env, start_login

pytestmark = pytest.mark.django_db

WAIT_WORDS = ("en fazla", "bekleyiniz", "dakika sonra")


def no_wait(response: Any) -> None:
    """The response is not a refusal by a budget (nor a page that says to wait)."""
    assert response.status_code not in (429, 503), response.content.decode()[:500]
    text = response.content.decode(errors="replace")
    for word in WAIT_WORDS:
        assert word not in text, (word, text[:500])


def test_every_menu_operation_once_needs_no_wait(
    citizen: Any,
    certificate_factory: Any,
    sms_outbox: list[dict[str, Any]],
    django_capture_on_commit_callbacks: Any,
    captcha_test_mode: None,
) -> None:
    capture = django_capture_on_commit_callbacks
    env = Env(citizen, capture, certificate_factory)
    client = Client()

    def post(path: str, data: dict[str, str] | None = None) -> Any:
        with capture(execute=True):
            response = client.post(path, data or {})
        no_wait(response)
        return response

    def code(path: str) -> Any:
        return post(path, {"code": sms_code(sms_outbox)})

    # Şifreli Giriş
    started = start_login(client, env)
    assert code(started.code_url)["Location"] == reverse("accounts:menu")
    # Sertifikamı İptal Et
    cert = certificate_factory(citizen, "active")[0]
    serial = cert.serial_number
    post(reverse("certificates:revoke_start"), {"certificate": serial, "reason": "key_compromise"})
    post(reverse("certificates:revoke_confirm", args=[serial]))
    done = code(reverse("certificates:revoke_code", args=[serial]))
    assert done["Location"] == reverse("certificates:revoke_done", args=[serial])
    # PIN/PUK Bilgisi: view, then save as PDF and delete, with one code.
    card = AkisCardFactory(citizen=citizen).serial_number
    post(reverse("pinvault:pinpuk_card", args=[card]), {"then": "view"})
    code(reverse("pinvault:pinpuk_code", args=[card]))
    shown = client.get(reverse("pinvault:pinpuk_card", args=[card]))
    assert shown.status_code == 200 and "PUK" in shown.content.decode()
    pdf = post(reverse("pinvault:pinpuk_pdf", args=[card]), {"password": "", "password2": ""})
    assert pdf["Content-Type"] == "application/pdf"
    deleted = post(reverse("pinvault:pinpuk_delete", args=[card]))
    assert deleted["Location"] == reverse("pinvault:pinpuk_deleted", args=[card])
    # Kilit Çözme, then the same card's PUK page without another code.
    locked = AkisCardFactory(citizen=citizen, pin_locked=True).serial_number
    post(reverse("pinvault:unlock_card", args=[locked]))
    unlocked = code(reverse("pinvault:unlock_code", args=[locked]))
    assert unlocked.status_code == 200
    puk = client.get(reverse("pinvault:pinpuk_card", args=[locked]))
    assert puk.status_code == 200
    # The PIN/PUK of an old card.
    old = AkisCardFactory(citizen=citizen).serial_number
    post(reverse("pinvault:pinpuk_card", args=[old]), {"then": "view"})
    code(reverse("pinvault:pinpuk_code", args=[old]))
    # E-Onay: one decision.
    application = ApplicationFactory(citizen=citizen).pk
    post(reverse("eonay:decide", args=[application, "approve"]))
    code(reverse("eonay:decide_code", args=[application, "approve"]))
    # Bilgi Güncelle: a new mobile number.
    post(reverse("accounts:profile_phone"), {"mobile_phone": "0532 999 88 77"})
    post(reverse("accounts:profile_phone_code"), {"code": sms_code(sms_outbox, "+905329998877")})
    citizen.refresh_from_db()
    assert citizen.mobile_phone == "+905329998877"

    codes = SmsMessage.objects.filter(citizen=citizen, kind__in=SmsMessage.OWN_CODE_KINDS)
    assert codes.count() == 7 <= limits.OWN_CODES_PER_HOUR
    assert not SmsMessage.objects.filter(status=SmsMessage.Status.SUPPRESSED).exists()


def test_a_code_for_another_operation_follows_at_once(citizen: Any) -> None:
    """The 60-second resend window is per operation: abandoning one card for another (or the
    login for a revocation) sends the next code at once."""
    issue_challenge(citizen, SmsChallenge.Purpose.PINPUK, subject="AKIS-1")
    issue_challenge(citizen, SmsChallenge.Purpose.PINPUK, subject="AKIS-2")
    issue_challenge(citizen, SmsChallenge.Purpose.REVOKE, subject="ab12")
    with pytest.raises(SmsRateLimited) as refused:
        issue_challenge(citizen, SmsChallenge.Purpose.PINPUK, subject="AKIS-2")
    assert refused.value.budget == "resend"


def test_one_phone_gets_at_most_the_documented_number_per_hour(citizen: Any, clock: Any) -> None:
    """Everything anyone can trigger, hammered for an hour, stays within the bound."""

    def hammer(purpose: str) -> None:
        for _ in range(50):
            with contextlib.suppress(SmsRateLimited):
                issue_challenge(citizen, purpose)
            clock.shift(dt.timedelta(seconds=61))

    hammer(SmsChallenge.Purpose.LOGIN)  # an attacker who knows the security word
    hammer(SmsChallenge.Purpose.RECOVERY)  # one who knows the ID and the birth date
    for _ in range(50):
        queue_sms(citizen, SmsMessage.Kind.CONTACT_UPDATED, context={"field": "address"})
    sent = SmsMessage.objects.filter(to_number=citizen.mobile_phone).exclude(
        status__in=SmsMessage.FREE_STATUSES
    )
    # 50 × 61 s × 2 is more than an hour: count the busiest hour.
    times = sorted(sent.values_list("created_at", flat=True))
    busiest = max(
        sum(1 for t in times if first <= t < first + dt.timedelta(hours=1)) for first in times
    )
    assert busiest <= limits.SMS_PER_PHONE_PER_HOUR
