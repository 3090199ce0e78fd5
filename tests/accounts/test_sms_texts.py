"""Every SMS text of the catalogue, in both languages: length in segments, the code first,
the "Bu işlemi ben yapmadım" link on notices, the receipt number, and the citizen's language."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.utils import timezone

from accounts import sms_texts
from accounts.codes import expected_code
from accounts.models import Citizen, NotMeLink, SmsChallenge, SmsMessage
from accounts.otp import CODE_KIND
from accounts.segments import Length, measure
from accounts.sms_queue import queue_sms
from accounts.tokens import token_hash

pytestmark = pytest.mark.django_db

LONGEST_SERIAL = "f" * 40  # certificate serials are at most 40 hex digits
LONGEST_CARD = "AKIS-" + "9" * 15
LONG_BASE_URL = "https://nesportal.kamusm.example.gov.tr"  # 40 characters
TURKISH_ONLY = set("şğıİŞĞ")
CODE_SUBJECTS = {
    SmsMessage.Kind.REVOKE_CODE: LONGEST_SERIAL,
    SmsMessage.Kind.PINPUK_CODE: LONGEST_CARD,
    SmsMessage.Kind.UNLOCK_CODE: LONGEST_CARD,
    SmsMessage.Kind.PHONE_CHANGE_CODE: "+905321234567",
    SmsMessage.Kind.EONAY_CODE: "app:123456:approve",
}
PURPOSES = {kind: purpose for purpose, kind in CODE_KIND.items()}


def _message(citizen: Citizen, kind: str, **context: str) -> SmsMessage:
    challenge = None
    if kind in SmsMessage.CODE_KINDS:
        now = timezone.now()
        challenge = SmsChallenge.objects.create(
            citizen=citizen,
            purpose=PURPOSES[kind],
            subject=CODE_SUBJECTS.get(kind, ""),
            binding_hash="x" * 64,
            created_at=now,
            expires_at=now + SmsChallenge.LIFETIME,
        )
    return SmsMessage.objects.create(
        citizen=citizen,
        kind=kind,
        challenge=challenge,
        to_number=citizen.mobile_phone,
        context=context,
    )


def _longest_context(citizen: Citizen, kind: str) -> dict[str, str]:
    link = NotMeLink.objects.create(
        citizen=citizen,
        kind=kind,
        token_hash=token_hash(str(kind)),
        expires_at=timezone.now() + NotMeLink.LIFETIME,
    )
    return {
        "serial": LONGEST_SERIAL,
        "card": LONGEST_CARD,
        "application": "EO-2026-00001234",
        "field": "phone",
        "decision": "by_consent",
        "state": "given",
        "scope": "Kurum ödemeli yenileme",
        "days": "90",
        "date": "09.11.2029",
        "date_iso": "2029-11-09",
        "count": "2",
        "reason": "esign_failed",
        "not_me": str(link.pk),
        **({"receipt": "NES-2026-7K3M-9QXD"} if kind in sms_texts.RECEIPT_KINDS else {}),
    }


@pytest.mark.parametrize("language", ["tr", "en"])
@pytest.mark.parametrize(
    "kind", [k for k in SmsMessage.Kind if k != SmsMessage.Kind.WORD_RESET_LINK]
)
def test_every_text_fits_its_segments_in_both_languages(
    kind: str, language: str, citizen_factory: Any, settings: Any
) -> None:
    settings.PORTAL_BASE_URL = LONG_BASE_URL
    citizen = citizen_factory(language=language)
    message = _message(citizen, kind, **_longest_context(citizen, kind))
    body = sms_texts.render_body(message)
    assert body, kind
    length = measure(body)
    assert length.segments <= sms_texts.max_segments(kind), (kind, language, length, body)
    if kind in SmsMessage.CODE_KINDS:
        assert length.segments == 1
        code = expected_code(message.challenge)  # type: ignore[arg-type]
        assert body.startswith(code), body  # the code first: the phone's preview shows it
    if language == "en":
        # Written in English (not the Turkish source left untranslated), and GSM-7.
        assert not TURKISH_ONLY & set(body), body
        assert length.encoding == "gsm7", body


def test_the_reset_link_fits_its_segments(citizen_factory: Any, settings: Any) -> None:
    from accounts.services import create_reset_link
    from nesportal.testing.factories import CallCentreAgentFactory

    settings.PORTAL_BASE_URL = LONG_BASE_URL
    for language in ("tr", "en"):
        citizen = citizen_factory(language=language)
        link = create_reset_link(
            citizen, agent=CallCentreAgentFactory(), reason="Telefonda doğrulandı"
        )
        message = SmsMessage.objects.filter(citizen=citizen, kind="word_reset_link").get()
        body = sms_texts.render_body(message)
        assert body and str(link.pk) not in body.split("/")[-2:]
        assert measure(body).segments <= sms_texts.max_segments("word_reset_link"), body


def test_english_citizen_gets_english_and_turkish_citizen_turkish(citizen_factory: Any) -> None:
    anna = citizen_factory(language="en", first_name="Anna", last_name="Schmidt")
    ayse = citizen_factory(language="tr")
    english = sms_texts.render_body(_message(anna, SmsMessage.Kind.LOGIN_CODE))
    turkish = sms_texts.render_body(_message(ayse, SmsMessage.Kind.LOGIN_CODE))
    assert english and "NES Portal login code" in english
    assert turkish and "NES Portal giriş kodunuz" in turkish


def test_every_notice_of_an_action_carries_a_working_not_me_link(
    citizen_factory: Any, settings: Any, client: Any
) -> None:
    settings.PORTAL_BASE_URL = "https://portal.example"
    for kind in SmsMessage.NOT_ME_KINDS:
        citizen = citizen_factory()  # one each: the hourly notice budget is not the point here
        message = queue_sms(citizen, kind, context={"serial": LONGEST_SERIAL, "card": LONGEST_CARD})
        body = sms_texts.render_body(message)
        assert body
        match = re.search(r"https://portal\.example(/y/[A-Za-z0-9_-]{22})$", body)
        assert match, (kind, body)
        # The token opens the page (and is not stored: only its hash is).
        if kind == SmsMessage.NOT_ME_KINDS[0]:  # once: the "link" request throttle is 10/min
            assert client.get(match.group(1)).status_code == 302
        link = NotMeLink.objects.get(pk=message.context["not_me"])
        assert link.token_hash == token_hash(match.group(1)[3:])
        assert match.group(1)[3:] not in str(message.context)


def test_other_messages_carry_no_not_me_link(citizen_factory: Any) -> None:
    citizen = citizen_factory()
    for kind in (SmsMessage.Kind.EONAY_WAITING, SmsMessage.Kind.ACCOUNT_PROTECTED):
        message = queue_sms(citizen, kind, context={"application": "EO-1", "count": "1"})
        assert "not_me" not in message.context
        assert "/y/" not in (sms_texts.render_body(message) or "")
    assert not NotMeLink.objects.filter(citizen=citizen).exists()


def test_a_used_or_expired_link_leaves_the_call_centre_number(citizen_factory: Any) -> None:
    citizen = citizen_factory()
    message = queue_sms(citizen, SmsMessage.Kind.CERT_REVOKED, context={"serial": "ab12"})
    NotMeLink.objects.filter(pk=message.context["not_me"]).update(used_at=timezone.now())
    body = sms_texts.render_body(message)
    assert body and "/y/" not in body and "444 5 576" in body


def test_the_receipt_number_is_in_the_notice(citizen_factory: Any) -> None:
    citizen = citizen_factory()
    message = queue_sms(
        citizen,
        SmsMessage.Kind.PINPUK_DELETED,
        context={"card": LONGEST_CARD, "receipt": "NES-2026-7K3M-9QXD"},
    )
    assert "Makbuz No: NES-2026-7K3M-9QXD." in (sms_texts.render_body(message) or "")


def test_segment_counting_follows_gsm_03_38() -> None:
    assert measure("a" * 160).segments == 1
    assert measure("a" * 161).segments == 2
    assert measure("€" * 80).units == 160  # extension table: two septets each
    assert measure("ş" * 70) == Length("ucs2", 70, 1)
    assert measure("ş" * 71).segments == 2
    assert measure("ş" * 135).segments == 3
