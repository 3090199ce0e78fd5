"""Bilgi Güncelle: mobile phone (code to the NEW number), e-mail (confirmation link), address.

Identity fields are read-only; every change is audited with before/after and visible in admin.
"""

from __future__ import annotations

import hashlib
import re
from datetime import timedelta
from typing import Any

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse

from accounts.models import Citizen, ContactChange, SmsChallenge, SmsMessage
from accounts.otp import issue_challenge
from accounts.sms_queue import SmsUnavailable
from accounts.views.profile import SESSION_PHONE
from audit.models import AuditEvent
from nesportal.testing import login_as, sms_code, wrong
from nesportal.testing.factories import SmsChallengeFactory

pytestmark = pytest.mark.django_db

PROFILE = reverse("accounts:profile")
PHONE = reverse("accounts:profile_phone")
PHONE_CODE = reverse("accounts:profile_phone_code")
PHONE_RESEND = reverse("accounts:profile_phone_resend")
PHONE_CANCEL = reverse("accounts:profile_phone_cancel")
EMAIL = reverse("accounts:profile_email")
ADDRESS = reverse("accounts:profile_address")
LOGIN = reverse("accounts:login")
MENU = reverse("accounts:menu")

NEW_PHONE = "+905551234567"
NEW_PHONE_TYPED = "0555 123 45 67"
NEW_EMAIL = "yeni.adres@example.com.tr"
NEW_ADDRESS = "Kızılay Mah. Gazi Mustafa Kemal Blv. No: 5/3\n06420 Çankaya / Ankara"
LINK_RE = re.compile(r"http\S+/bilgi-guncelle/e-posta/onay/([A-Za-z0-9_-]+)/")


@pytest.fixture
def send(django_capture_on_commit_callbacks: Any, sms_outbox: list[dict[str, Any]]) -> Any:
    """POST with on-commit callbacks run (the SMS tasks), returning the response."""

    def post(client: Client, path: str, data: dict[str, str] | None = None) -> Any:
        with django_capture_on_commit_callbacks(execute=True):
            return client.post(path, data or {})

    return post


def start_phone_change(client: Client, send: Any, outbox: list[dict[str, Any]]) -> str:
    response = send(client, PHONE, {"mobile_phone": NEW_PHONE_TYPED})
    assert response.status_code == 302, response.content.decode()
    assert response["Location"] == PHONE_CODE
    return sms_code(outbox, to=NEW_PHONE)


def mailed_token() -> str:
    match = LINK_RE.search(mail.outbox[-1].body)
    assert match, mail.outbox[-1].body
    return match.group(1)


def confirm_url(token: str) -> str:
    return reverse("accounts:profile_email_confirm", args=[token])


# --- the page ------------------------------------------------------------------------------


def test_it_shows_identity_read_only_and_how_to_correct_it(
    citizen_client: Client, citizen: Citizen
) -> None:
    response = citizen_client.get(PROFILE)

    assert response.status_code == 200
    html = response.content.decode()
    for value in (citizen.first_name, citizen.last_name, citizen.tckn, "23.04.1985"):
        assert value in html
    assert "başvurunuzdan alınır ve bu sayfadan değiştirilemez" in html
    assert "444 5 576" in html and "kayıt makamına" in html and "kimlik belgenizle" in html
    # Only the three contact forms; no input for any identity field.
    main = html.split('<main class="wrap" id="main">', 1)[1].split("</main>", 1)[0]
    names = set(re.findall(r'<(?:input|textarea|select)[^>]*name="([^"]+)"', main))
    assert names == {"csrfmiddlewaretoken", "mobile_phone", "email", "address"}
    assert citizen.masked_phone in html
    assert citizen.mobile_phone not in html
    assert citizen.email in html


def test_the_menu_links_to_it_and_it_needs_a_login(client: Client, citizen: Citizen) -> None:
    response = client.get(PROFILE)
    assert response.status_code == 302
    assert response["Location"] == LOGIN

    menu = login_as(client, citizen).get(MENU).content.decode()
    assert f'href="{PROFILE}"' in menu


def test_it_shows_a_passport_number_for_foreigners(client: Client, citizen_factory: Any) -> None:
    foreigner = citizen_factory(passport=True, first_name="Anna", last_name="Schmidt")
    html = login_as(client, foreigner).get(PROFILE).content.decode()
    assert "Pasaport No" in html and foreigner.passport_no in html


def test_crafted_posts_cannot_change_identity_fields(
    citizen_client: Client, citizen: Citizen, send: Any, mailoutbox: list
) -> None:
    before = Citizen.objects.values(
        "tckn", "passport_no", "first_name", "last_name", "birth_date"
    ).get(pk=citizen.pk)
    identity = {
        "tckn": "10000000146",
        "passport_no": "X1234567",
        "first_name": "Sahte",
        "last_name": "Kişi",
        "birth_date": "2000-01-01",
    }
    assert citizen_client.post(PROFILE, identity).status_code == 405
    send(citizen_client, ADDRESS, {"address": NEW_ADDRESS, **identity})
    send(citizen_client, EMAIL, {"email": NEW_EMAIL, **identity})
    send(citizen_client, PHONE, {"mobile_phone": NEW_PHONE_TYPED, **identity})

    after = Citizen.objects.values(*before).get(pk=citizen.pk)
    assert after == before
    citizen.refresh_from_db()
    assert citizen.address == NEW_ADDRESS  # the address itself was a legitimate change


def test_every_change_needs_the_csrf_token(citizen: Citizen) -> None:
    client = login_as(Client(enforce_csrf_checks=True), citizen)
    for path, data in [
        (ADDRESS, {"address": NEW_ADDRESS}),
        (EMAIL, {"email": NEW_EMAIL}),
        (PHONE, {"mobile_phone": NEW_PHONE_TYPED}),
    ]:
        assert client.post(path, data).status_code == 403
    assert not ContactChange.objects.exists()
    citizen.refresh_from_db()
    assert citizen.address != NEW_ADDRESS


# --- address ---------------------------------------------------------------------------------


def test_it_saves_the_address_at_once_audits_and_notifies(
    citizen_client: Client, citizen: Citizen, send: Any, sms_outbox: list[dict[str, Any]]
) -> None:
    old = citizen.address
    response = send(citizen_client, ADDRESS, {"address": "  " + NEW_ADDRESS + "  "})

    assert response.status_code == 302
    assert response["Location"] == PROFILE
    citizen.refresh_from_db()
    assert citizen.address == NEW_ADDRESS
    event = AuditEvent.objects.get(citizen=citizen, action="nes.profile.address_changed")
    assert event.data == {"before": old, "after": NEW_ADDRESS}
    notice = SmsMessage.objects.get(citizen=citizen)
    assert notice.kind == SmsMessage.Kind.CONTACT_UPDATED
    assert notice.to_number == citizen.mobile_phone
    assert "(adres) güncellendi" in sms_outbox[-1]["body"]
    page = citizen_client.get(PROFILE).content.decode()
    assert "Adresiniz güncellendi." in page
    assert "Kızılay Mah." in page


@pytest.mark.parametrize(
    ("address", "message"),
    [
        ("", "Yeni adresinizi giriniz."),
        ("Ankara", "Adresinizi eksiksiz yazınız"),
        ("x" * 501, "Adres en fazla 500 karakter olabilir."),
        ("Atatürk Cad.  No: 1,\nÇankaya / Ankara", None),  # the same, re-spaced
    ],
)
def test_it_refuses_a_bad_or_unchanged_address(
    citizen_client: Client, citizen: Citizen, address: str, message: str | None
) -> None:
    citizen.address = "Atatürk Cad. No: 1, Çankaya / Ankara"
    citizen.save()
    response = citizen_client.post(ADDRESS, {"address": address})

    assert response.status_code == 400
    assert (message or "Bu adres zaten kayıtlı adresiniz.") in response.content.decode()
    assert not AuditEvent.objects.filter(action="nes.profile.address_changed").exists()
    assert not SmsMessage.objects.exists()


# --- mobile phone ----------------------------------------------------------------------------


def test_it_changes_the_phone_with_the_code_sent_to_the_new_number(
    citizen_client: Client, citizen: Citizen, send: Any, sms_outbox: list[dict[str, Any]]
) -> None:
    old = citizen.mobile_phone
    code = start_phone_change(citizen_client, send, sms_outbox)

    # The code went to the new number only, and nothing changed yet.
    assert [m["to"] for m in sms_outbox] == [NEW_PHONE]
    assert "NES Portal yeni numara onay kodunuz" in sms_outbox[0]["body"]
    change = ContactChange.objects.get(citizen=citizen)
    assert (change.field, change.old_value, change.new_value) == ("phone", old, NEW_PHONE)
    assert change.expires_at - change.created_at == timedelta(minutes=10)
    assert change.challenge.purpose == SmsChallenge.Purpose.PHONE_CHANGE
    assert change.challenge.subject == NEW_PHONE
    assert code not in str(citizen_client.session[SESSION_PHONE])
    citizen.refresh_from_db()
    assert citizen.mobile_phone == old

    page = citizen_client.get(PHONE_CODE)
    assert page.status_code == 200
    html = page.content.decode()
    assert "+90 5** *** ** 67" in html  # the NEW number, masked
    assert 'autocomplete="one-time-code"' in html

    response = send(citizen_client, PHONE_CODE, {"code": code})

    assert response.status_code == 302
    assert response["Location"] == PROFILE
    citizen.refresh_from_db()
    assert citizen.mobile_phone == NEW_PHONE
    change.refresh_from_db()
    assert change.confirmed_at is not None
    event = AuditEvent.objects.get(citizen=citizen, action="nes.profile.phone_changed")
    assert (event.data["before"], event.data["after"]) == (old, NEW_PHONE)
    notices = SmsMessage.objects.filter(citizen=citizen).exclude(
        kind=SmsMessage.Kind.PHONE_CHANGE_CODE
    )
    assert {(m.kind, m.to_number) for m in notices} == {
        (SmsMessage.Kind.PHONE_CHANGED, old),
        (SmsMessage.Kind.CONTACT_UPDATED, NEW_PHONE),
    }
    to_old = [m for m in sms_outbox if m["to"] == old]
    assert len(to_old) == 1 and "cep telefonu değiştirildi" in to_old[0]["body"]
    assert SESSION_PHONE not in citizen_client.session
    # Still logged in; the page shows the new number masked.
    html = citizen_client.get(PROFILE).content.decode()
    assert "+90 5** *** ** 67 olarak güncellendi" in html
    assert NEW_PHONE not in html

    # The code was single use.
    again = citizen_client.post(PHONE_CODE, {"code": code})
    assert again.status_code == 302 and again["Location"] == PROFILE


def test_a_code_sent_to_the_old_number_does_not_confirm_it(
    citizen_client: Client,
    citizen: Citizen,
    send: Any,
    sms_outbox: list[dict[str, Any]],
    django_capture_on_commit_callbacks: Any,
    clock: Any,
) -> None:
    old = citizen.mobile_phone
    with django_capture_on_commit_callbacks(execute=True):
        issue_challenge(citizen, SmsChallenge.Purpose.LOGIN)
    login_code = sms_code(sms_outbox, to=old)
    clock.shift(61)
    new_code = start_phone_change(citizen_client, send, sms_outbox)
    assert login_code != new_code

    response = citizen_client.post(PHONE_CODE, {"code": login_code})

    assert response.status_code == 400
    assert "SMS Onay Kodu hatalı. Kalan deneme hakkınız: 2." in response.content.decode()
    citizen.refresh_from_db()
    assert citizen.mobile_phone == old
    assert citizen.code_failure_count == 1
    # The new number's code still works afterwards.
    assert send(citizen_client, PHONE_CODE, {"code": new_code})["Location"] == PROFILE
    citizen.refresh_from_db()
    assert citizen.mobile_phone == NEW_PHONE


def test_three_wrong_codes_keep_the_old_number_and_notify_it(
    citizen_client: Client, citizen: Citizen, send: Any, sms_outbox: list[dict[str, Any]]
) -> None:
    """The lock itself is the contract (tests/test_code_flows.py); here: the number."""
    old = citizen.mobile_phone
    code = start_phone_change(citizen_client, send, sms_outbox)
    for _ in range(3):
        send(citizen_client, PHONE_CODE, {"code": wrong(code)})

    citizen.refresh_from_db()
    assert citizen.mobile_phone == old
    assert not ContactChange.objects.filter(confirmed_at__isnull=False).exists()
    # The lock notice goes to the registered (old) number, not the new one.
    assert sms_outbox[-1]["to"] == old and "bloke" in sms_outbox[-1]["body"]


@pytest.mark.parametrize(
    ("number", "message"),
    [
        ("", "Yeni cep telefonu numaranızı giriniz."),
        ("0312 123 45 67", "Türkiye&#x27;de kayıtlı bir cep telefonu numarası giriniz"),
        ("+49 151 23456789", "Türkiye&#x27;de kayıtlı bir cep telefonu numarası giriniz"),
        ("telefonum yok", "Geçerli bir cep telefonu numarası giriniz."),
        ("SAME", "Bu numara zaten kayıtlı cep telefonunuz."),
    ],
)
def test_it_refuses_a_bad_or_unchanged_number(
    citizen_client: Client, citizen: Citizen, send: Any, number: str, message: str
) -> None:
    if number == "SAME":
        number = "0" + citizen.mobile_phone[3:6] + " " + citizen.mobile_phone[6:]
    response = send(citizen_client, PHONE, {"mobile_phone": number})

    assert response.status_code == 400
    assert message in response.content.decode()
    assert not ContactChange.objects.exists()
    assert not SmsMessage.objects.exists()


def test_the_change_expires_after_ten_minutes(
    citizen_client: Client,
    citizen: Citizen,
    send: Any,
    sms_outbox: list[dict[str, Any]],
    clock: Any,
) -> None:
    start_phone_change(citizen_client, send, sms_outbox)
    clock.shift(4 * 60)  # the code (3 minutes) expired: a new one can be asked for
    page = citizen_client.get(PHONE_CODE).content.decode()
    assert "Kodun süresi doldu" in page or 'data-enable-in="0"' in page
    assert send(citizen_client, PHONE_RESEND)["Location"] == PHONE_CODE
    assert len([m for m in sms_outbox if m["to"] == NEW_PHONE]) == 2
    assert ContactChange.objects.count() == 1  # the same change, with a new code
    assert ContactChange.objects.get().challenge.is_open()
    code = sms_code(sms_outbox, to=NEW_PHONE)

    clock.shift(7 * 60)  # 11 minutes after the request
    response = citizen_client.post(PHONE_CODE, {"code": code})

    assert response.status_code == 302
    assert response["Location"] == PROFILE
    citizen.refresh_from_db()
    assert citizen.mobile_phone != NEW_PHONE
    assert "süresi doldu" in citizen_client.get(PROFILE).content.decode()


def test_it_can_be_cancelled(
    citizen_client: Client, citizen: Citizen, send: Any, sms_outbox: list[dict[str, Any]]
) -> None:
    code = start_phone_change(citizen_client, send, sms_outbox)
    assert citizen_client.post(PHONE_CANCEL)["Location"] == PROFILE

    change = ContactChange.objects.get()
    assert change.cancelled_at is not None
    assert change.challenge.invalidated_at is not None
    assert citizen_client.post(PHONE_CODE, {"code": code})["Location"] == PROFILE
    citizen.refresh_from_db()
    assert citizen.mobile_phone != NEW_PHONE


def test_a_second_request_within_a_minute_is_rate_limited(
    citizen_client: Client, citizen: Citizen, send: Any, sms_outbox: list[dict[str, Any]]
) -> None:
    start_phone_change(citizen_client, send, sms_outbox)
    response = send(citizen_client, PHONE, {"mobile_phone": "0555 765 43 21"})

    assert response.status_code == 429
    assert "saniye bekleyiniz" in response.content.decode()
    assert ContactChange.objects.count() == 1
    assert ContactChange.objects.get().cancelled_at is None


def test_a_code_of_another_operation_says_it_is_not_for_this_number_change(
    citizen_client: Client, citizen: Citizen, send: Any, sms_outbox: list[dict[str, Any]]
) -> None:
    """INVALID (the state's challenge is not this change's) ends the step and sends the citizen
    back to the profile (tests/test_code_flows.py), with this flow's own reason."""
    start_phone_change(citizen_client, send, sms_outbox)
    other = SmsChallengeFactory(citizen=citizen, purpose=SmsChallenge.Purpose.REVOKE)
    session = citizen_client.session
    session[SESSION_PHONE] = {
        **session[SESSION_PHONE],
        "challenge": str(other.pk),
        "binding": other.token,
    }
    session.save()

    response = citizen_client.post(PHONE_CODE, {"code": other.code}, follow=True)

    assert "bu numara değişikliği için geçerli değil" in response.content.decode()
    assert SESSION_PHONE not in citizen_client.session


def test_asking_twice_for_the_same_number_sends_one_code(
    citizen_client: Client, citizen: Citizen, send: Any, sms_outbox: list[dict[str, Any]]
) -> None:
    code = start_phone_change(citizen_client, send, sms_outbox)
    change = ContactChange.objects.get()

    # A double click: the open code of this session is used again, no second SMS.
    assert send(citizen_client, PHONE, {"mobile_phone": NEW_PHONE_TYPED})["Location"] == PHONE_CODE
    # Another device within the minute: the code moves there; the first session starts again.
    other = Client()
    login_as(other, citizen)
    assert send(other, PHONE, {"mobile_phone": NEW_PHONE_TYPED})["Location"] == PHONE_CODE

    assert len(sms_outbox) == 1
    assert ContactChange.objects.get() == change and change.cancelled_at is None
    assert citizen_client.post(PHONE_CODE, {"code": code})["Location"] == PROFILE
    citizen.refresh_from_db()
    assert citizen.mobile_phone != NEW_PHONE, "the first session's copy no longer works"
    assert send(other, PHONE_CODE, {"code": code})["Location"] == PROFILE
    citizen.refresh_from_db()
    assert citizen.mobile_phone == NEW_PHONE
    assert citizen.code_failure_count == 0


def test_a_change_that_is_no_longer_open_closes_its_code_page(
    citizen_client: Client, citizen: Citizen, send: Any, sms_outbox: list[dict[str, Any]]
) -> None:
    code = start_phone_change(citizen_client, send, sms_outbox)
    ContactChange.objects.update(cancelled_at=ContactChange.objects.get().created_at)

    response = citizen_client.post(PHONE_CODE, {"code": code}, follow=True)

    assert response.redirect_chain == [(PROFILE, 302)]
    assert "Numara değişikliğinin süresi doldu ya da başlatılmadı" in response.content.decode()
    assert SESSION_PHONE not in citizen_client.session
    assert send(citizen_client, PHONE_RESEND)["Location"] == PROFILE
    assert len(sms_outbox) == 1
    citizen.refresh_from_db()
    assert citizen.mobile_phone != NEW_PHONE
    assert SmsChallenge.objects.get().consumed_at is None


def test_an_sms_the_broker_cannot_take_is_a_503_on_the_profile(
    citizen_client: Client,
    send: Any,
    sms_outbox: list[dict[str, Any]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def unavailable(*args: Any, **kwargs: Any) -> Any:
        raise SmsUnavailable("Kuyruğa alınamadı: ConnectionError")

    monkeypatch.setattr("accounts.profile.issue_challenge", unavailable)

    response = send(citizen_client, PHONE, {"mobile_phone": NEW_PHONE_TYPED})

    assert response.status_code == 503
    assert "SMS gönderilemedi, lütfen tekrar deneyiniz." in response.content.decode()
    assert SESSION_PHONE not in citizen_client.session
    assert not ContactChange.objects.exists()
    assert sms_outbox == []


# --- e-mail ----------------------------------------------------------------------------------


def test_it_changes_the_email_after_the_link_is_confirmed(
    citizen_client: Client,
    citizen: Citizen,
    send: Any,
    sms_outbox: list[dict[str, Any]],
    mailoutbox: list,
    settings: Any,
) -> None:
    settings.PORTAL_BASE_URL = "https://nes.example.gov.tr"
    old = citizen.email
    response = send(citizen_client, EMAIL, {"email": "Yeni.Adres@EXAMPLE.com.tr"})

    assert response.status_code == 302
    assert len(mailoutbox) == 1
    message = mailoutbox[0]
    assert message.to == [NEW_EMAIL.replace("yeni.adres", "Yeni.Adres")]
    assert "e-posta adresinizi onaylayınız" in message.subject
    assert "24 saat geçerlidir" in message.body
    assert "https://nes.example.gov.tr/bilgi-guncelle/e-posta/onay/" in message.body
    token = mailed_token()
    change = ContactChange.objects.get(citizen=citizen)
    assert change.field == "email" and change.old_value == old
    assert change.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert change.expires_at - change.created_at == timedelta(hours=24)
    assert token not in str(list(ContactChange.objects.values()))
    assert "onay bağlantısı gönderdik" in citizen_client.get(PROFILE).content.decode()

    # Opening the link (as a mail scanner would) changes nothing.
    page = citizen_client.get(confirm_url(token))
    assert page.status_code == 200
    assert "Yeni.Adres@example.com.tr" in page.content.decode()
    assert '<button type="submit" class="primary">Onayla</button>' in page.content.decode()
    citizen.refresh_from_db()
    assert citizen.email == old

    response = send(citizen_client, confirm_url(token))

    assert response.status_code == 302
    assert response["Location"] == PROFILE
    citizen.refresh_from_db()
    assert citizen.email == "Yeni.Adres@example.com.tr"
    event = AuditEvent.objects.get(citizen=citizen, action="nes.profile.email_changed")
    assert (event.data["before"], event.data["after"]) == (old, citizen.email)
    assert SmsMessage.objects.get(citizen=citizen).kind == SmsMessage.Kind.CONTACT_UPDATED
    assert "(e-posta) güncellendi" in sms_outbox[-1]["body"]

    # Used once: refused afterwards.
    again = citizen_client.post(confirm_url(token))
    assert again.status_code == 410
    assert "daha önce kullanıldı" in again.content.decode()


def test_an_expired_link_is_refused(
    citizen_client: Client, citizen: Citizen, mailoutbox: list, clock: Any
) -> None:
    old = citizen.email
    citizen_client.post(EMAIL, {"email": NEW_EMAIL})
    token = mailed_token()
    clock.shift(timedelta(hours=24, seconds=1))
    login_as(citizen_client, citizen)  # the session itself ended long ago

    for response in (
        citizen_client.get(confirm_url(token)),
        citizen_client.post(confirm_url(token)),
    ):
        assert response.status_code == 410
        assert "süresi doldu" in response.content.decode()
    citizen.refresh_from_db()
    assert citizen.email == old


def test_a_superseded_link_is_refused(
    citizen_client: Client, citizen: Citizen, mailoutbox: list
) -> None:
    citizen_client.post(EMAIL, {"email": "ilk@example.com.tr"})
    first = mailed_token()
    citizen_client.post(EMAIL, {"email": NEW_EMAIL})
    second = mailed_token()

    response = citizen_client.post(confirm_url(first))
    assert response.status_code == 410
    assert "daha yeni bir onay bağlantısı" in response.content.decode()
    assert citizen_client.post(confirm_url(second)).status_code == 302
    citizen.refresh_from_db()
    assert citizen.email == NEW_EMAIL


def test_the_link_needs_the_same_citizen_logged_in(
    client: Client, citizen: Citizen, citizen_factory: Any, mailoutbox: list
) -> None:
    login_as(client, citizen).post(EMAIL, {"email": NEW_EMAIL})
    token = mailed_token()
    client.post(reverse("accounts:logout"))

    response = client.get(confirm_url(token))
    assert response.status_code == 302
    assert response["Location"] == LOGIN
    assert "önce giriş yapınız" in client.get(LOGIN).content.decode()
    assert client.post(confirm_url(token))["Location"] == LOGIN

    other = login_as(Client(), citizen_factory())
    for response in (other.get(confirm_url(token)), other.post(confirm_url(token))):
        assert response.status_code == 404
    assert other.get(confirm_url("yanlis-token")).status_code == 404
    citizen.refresh_from_db()
    assert citizen.email != NEW_EMAIL
    assert ContactChange.objects.get().confirmed_at is None


@pytest.mark.parametrize(
    ("email", "message"),
    [
        ("", "Yeni e-posta adresinizi giriniz."),
        ("adres-degil", "Geçerli bir e-posta adresi giriniz"),
        ("SAME", "Bu adres zaten kayıtlı e-posta adresiniz."),
    ],
)
def test_it_refuses_a_bad_or_unchanged_email(
    citizen_client: Client, citizen: Citizen, mailoutbox: list, email: str, message: str
) -> None:
    if email == "SAME":
        email = citizen.email.upper()
    response = citizen_client.post(EMAIL, {"email": email})

    assert response.status_code == 400
    assert message in response.content.decode()
    assert not mailoutbox
    assert not ContactChange.objects.exists()


def test_a_mail_failure_is_explained(
    citizen_client: Client, citizen: Citizen, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: Any, **kwargs: Any) -> None:
        raise OSError("connection refused")

    monkeypatch.setattr("accounts.profile.send_mail", broken)
    response = citizen_client.post(EMAIL, {"email": NEW_EMAIL})

    assert response.status_code == 503
    assert "şu anda gönderilemedi" in response.content.decode()
    # No link exists, and the undelivered mail costs no e-mail budget.
    assert not ContactChange.objects.exists()


# --- admin -----------------------------------------------------------------------------------


def test_agents_see_before_and_after_in_admin(
    citizen_client: Client,
    citizen: Citizen,
    send: Any,
    sms_outbox: list[dict[str, Any]],
    mailoutbox: list,
    agent_client: Client,
    admin_client: Client,
) -> None:
    old_phone, old_address = citizen.mobile_phone, citizen.address
    send(citizen_client, ADDRESS, {"address": NEW_ADDRESS})
    code = start_phone_change(citizen_client, send, sms_outbox)
    send(citizen_client, PHONE_CODE, {"code": code})
    citizen_client.post(EMAIL, {"email": NEW_EMAIL})

    response = agent_client.get(reverse("admin:accounts_citizen_change", args=[citizen.pk]))

    assert response.status_code == 200
    html = response.content.decode()
    assert "Son bilgi değişiklikleri" in html
    panel = html.split("Son bilgi değişiklikleri", 1)[1]
    for value in (old_phone, NEW_PHONE, old_address, "Kızılay Mah.", NEW_EMAIL):
        assert value in panel
    assert "Onaylandı" in panel and "Onay bekliyor" in panel and "Kaydedildi" in panel

    listing = admin_client.get(reverse("admin:accounts_contactchange_changelist"))
    assert listing.status_code == 200
    assert NEW_EMAIL in listing.content.decode()
    change = ContactChange.objects.get(field="email")
    detail = admin_client.get(reverse("admin:accounts_contactchange_change", args=[change.pk]))
    assert detail.status_code == 200
    assert change.token_hash not in detail.content.decode()
    assert admin_client.get(reverse("admin:accounts_contactchange_add")).status_code == 403
