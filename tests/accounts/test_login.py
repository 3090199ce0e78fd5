"""Şifreli Giriş through the real pages: /giris/ → /giris/sms/ → /islemler/.

The captcha is solved with its real answer (``helpers.solved_captcha``) unless a test says it
uses test mode. SMS leave when the request's transaction commits, so requests that send
one run inside ``django_capture_on_commit_callbacks(execute=True)``.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from captcha.models import CaptchaStore
from django.conf import settings
from django.contrib.sessions.models import Session
from django.test import Client
from django.utils import timezone

from accounts import services
from accounts.models import Citizen, SmsChallenge, SmsMessage
from audit.models import AuditEvent
from nesportal import limits
from nesportal.testing import sms_code
from nesportal.testing.factories import DEFAULT_SECURITY_WORD

from .helpers import (
    CAPTCHA_ERROR,
    CODE_URL,
    GENERIC_FAILURE,
    LOGIN_URL,
    MENU_URL,
    comparable,
    login_data,
)

WARNING = (
    "Güvenlik Sözcüğünüz 3 kez hatalı girilirse hesabınız güvenlik nedeniyle bloke olur. Böyle bir "
    "durumda hesabınızı yeniden aktif hale getirmek için 444 5 576 numaralı Çağrı Merkezimizle "
    "iletişime geçiniz."
)


def audit_actions(citizen: Citizen) -> list[str]:
    return list(
        AuditEvent.objects.filter(citizen=citizen).order_by("id").values_list("action", flat=True)
    )


def start_login(
    client: Client, citizen: Citizen, capture: Any, identifier: str | None = None
) -> Any:
    with capture(execute=True):
        response = client.post(LOGIN_URL, login_data(client, identifier or citizen.identifier))
    assert response.status_code == 302
    assert response["Location"] == CODE_URL
    return response


@pytest.fixture
def pending_code(
    client: Client,
    citizen: Citizen,
    clock: Any,
    sms_outbox: list[dict[str, Any]],
    django_capture_on_commit_callbacks: Any,
) -> str:
    """``client`` passed the word step for ``citizen`` at T0: the code its SMS carried."""
    start_login(client, citizen, django_capture_on_commit_callbacks)
    return sms_code(sms_outbox)


# --- the form ---------------------------------------------------------------------------------


def test_it_shows_the_login_form_with_the_sites_labels(client: Client, db: None) -> None:
    response = client.get(LOGIN_URL)

    assert response.status_code == 200
    html = response.content.decode()
    for text in [
        "T.C. Kimlik No / Pasaport No",
        "Resimdeki Yazı",
        "Güvenlik Sözcüğü",
        ">Giriş</button>",
        "Güvenlik Sözcüğümü Unuttum",
        ">Yenile</button>",
        WARNING,
    ]:
        assert text in html, text
    # The page's captcha exists and its image is the one shown.
    store = CaptchaStore.objects.get()
    assert f"/captcha/image/{store.hashkey}/" in html
    assert response["Cache-Control"].startswith("max-age=0")


def test_it_explains_how_to_renew_a_forgotten_word(client: Client, db: None) -> None:
    response = client.get("/guvenlik-sozcugu/unuttum/")

    assert response.status_code == 200
    assert "444 5 576</a> numaralı Çağrı Merkezimizi arayınız" in response.content.decode()


# --- the happy path ---------------------------------------------------------------------------


def test_it_logs_in_with_id_captcha_word_and_sms_code(
    client: Client,
    citizen_factory: Any,
    sms_outbox: list[dict[str, Any]],
    django_capture_on_commit_callbacks: Any,
    hash_checks: list[str],
) -> None:
    citizen = citizen_factory(first_name="ismail", last_name="çelik", mobile_phone="+905321234512")

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(LOGIN_URL, login_data(client, citizen.tckn))

    assert response.status_code == 302
    assert response["Location"] == CODE_URL
    assert hash_checks == [citizen.security_word_hash]
    assert len(sms_outbox) == 1
    assert sms_outbox[0]["to"] == "+905321234512"
    code = sms_code(sms_outbox)
    assert re.fullmatch(r"\d{6}", code)
    assert SmsMessage.objects.get(citizen=citizen).status == SmsMessage.Status.SENT

    page = client.get(CODE_URL)
    assert page.status_code == 200
    html = page.content.decode()
    assert "+90 5** *** ** 12" in html
    assert "5321234512" not in html
    assert code not in html
    assert re.search(r'data-countdown="1[78]\d"', html)

    key_before = client.cookies[settings.SESSION_COOKIE_NAME].value
    response = client.post(CODE_URL, {"code": code})

    assert response.status_code == 302
    assert response["Location"] == MENU_URL
    key_after = client.cookies[settings.SESSION_COOKIE_NAME].value
    assert key_after != key_before
    assert not Session.objects.filter(session_key=key_before).exists()
    menu = client.get(MENU_URL)
    assert menu.status_code == 200
    html = menu.content.decode()
    assert "Sayın İSMAİL ÇELİK;" in html
    assert "ISMAIL" not in html
    for label in ["Sertifikamı Kullanıma Aç", "Sertifikamı İptal Et", "PIN/PUK Bilgisi", "Çıkış"]:
        assert label in html
    assert DEFAULT_SECURITY_WORD not in html
    assert audit_actions(citizen) == [
        "nes.login.word_passed",
        "nes.sms.queued",
        "nes.sms.sent",
        "nes.login.code_passed",
        "nes.login.succeeded",
    ]
    citizen.refresh_from_db()
    assert citizen.failure_count == 0


def test_it_logs_in_a_foreigner_with_a_passport_number(
    client: Client,
    citizen_factory: Any,
    sms_outbox: list[dict[str, Any]],
    django_capture_on_commit_callbacks: Any,
) -> None:
    citizen = citizen_factory(passport=True)
    assert citizen.tckn is None
    typed = " " + citizen.passport_no.lower() + " "  # normalised: spaces removed, upper-cased

    start_login(client, citizen, django_capture_on_commit_callbacks, identifier=typed)
    response = client.post(CODE_URL, {"code": sms_code(sms_outbox)})

    assert response.status_code == 302
    assert response["Location"] == MENU_URL
    menu = client.get(MENU_URL)
    assert f"Sayın {citizen.greeting_name};" in menu.content.decode()
    assert "nes.login.succeeded" in audit_actions(citizen)


# --- failures reveal nothing ------------------------------------------------------------------


def test_it_answers_unknown_id_wrong_word_and_locked_account_alike(
    client: Client, citizen_factory: Any, hash_checks: list[str]
) -> None:
    identifier = "12345678950"

    unknown = client.post(LOGIN_URL, login_data(client, identifier, "Yanlis-Sozcuk-1"))
    assert len(hash_checks) == 1
    citizen = citizen_factory(tckn=identifier)
    wrong_word = client.post(LOGIN_URL, login_data(client, identifier, "Yanlis-Sozcuk-1"))
    assert len(hash_checks) == 2
    Citizen.objects.filter(pk=citizen.pk).update(
        failure_count=3, locked_at=timezone.now(), lock_reason=Citizen.LockReason.WRONG_WORD
    )
    locked = client.post(LOGIN_URL, login_data(client, identifier, DEFAULT_SECURITY_WORD))

    assert unknown.status_code == wrong_word.status_code == locked.status_code == 400
    assert GENERIC_FAILURE in unknown.content.decode()
    assert comparable(unknown) == comparable(wrong_word) == comparable(locked)
    # One Argon2 verification each; only the wrong word touched the real hash.
    assert len(hash_checks) == 3
    assert hash_checks[0] != citizen.security_word_hash
    assert hash_checks[1] == citizen.security_word_hash
    assert hash_checks[2] != citizen.security_word_hash
    assert hash_checks[0].startswith("argon2$") and hash_checks[2].startswith("argon2$")
    assert SmsChallenge.objects.count() == 0
    unknown_event = AuditEvent.objects.get(citizen=None, action="nes.login.word_failed")
    assert unknown_event.subject.startswith("id:")
    assert identifier not in unknown_event.subject
    assert audit_actions(citizen) == ["nes.login.word_failed", "nes.login.locked_attempt"]


def test_it_never_echoes_the_security_word(
    client: Client, citizen: Citizen, hash_checks: list[str]
) -> None:
    secret = "Gizli-Sözcük-Örnek-77"
    wrong_word = client.post(LOGIN_URL, login_data(client, citizen.tckn, secret))
    wrong_captcha = client.post(
        LOGIN_URL,
        {
            "identifier": citizen.tckn,
            "security_word": secret,
            "captcha_0": "0" * 40,
            "captcha_1": "x",
        },
    )

    assert wrong_word.status_code == wrong_captcha.status_code == 400
    for response in (wrong_word, wrong_captcha):
        html = response.content.decode()
        assert secret not in html
        assert 'name="security_word" autocomplete="current-password" maxlength="128"' in html
        assert citizen.tckn in html  # the ID is kept so the citizen need not retype it
    assert len(hash_checks) == 1


def test_it_refuses_a_wrong_captcha_without_a_strike_or_a_hint(
    client: Client, citizen_factory: Any, hash_checks: list[str]
) -> None:
    identifier = "12345678950"

    def post_wrong_captcha() -> Any:
        data = login_data(client, identifier, DEFAULT_SECURITY_WORD)
        data["captcha_1"] = "yanlis"
        response = client.post(LOGIN_URL, data)
        assert not CaptchaStore.objects.filter(hashkey=data["captcha_0"]).exists()  # spent
        return response

    unknown = post_wrong_captcha()
    citizen = citizen_factory(tckn=identifier)
    known = post_wrong_captcha()

    assert unknown.status_code == known.status_code == 400
    assert CAPTCHA_ERROR in known.content.decode()
    assert GENERIC_FAILURE not in known.content.decode()
    assert comparable(unknown) == comparable(known)
    citizen.refresh_from_db()
    assert citizen.failure_count == 0
    assert hash_checks == []
    # Only the bot signal is logged: no citizen, no trace of the typed ID.
    events = list(AuditEvent.objects.all())
    assert [e.action for e in events] == ["nes.login.captcha_failed"] * 2
    assert all(e.citizen_id is None and e.subject == "" and e.data == {} for e in events)
    assert SmsChallenge.objects.count() == 0


def test_it_accepts_a_solved_captcha_only_once(
    client: Client,
    citizen: Citizen,
    sms_outbox: list[dict[str, Any]],
    django_capture_on_commit_callbacks: Any,
    hash_checks: list[str],
) -> None:
    data = login_data(client, citizen.tckn)
    with django_capture_on_commit_callbacks(execute=True):
        first = client.post(LOGIN_URL, data)
    replay = Client().post(LOGIN_URL, data)

    assert first.status_code == 302
    assert replay.status_code == 400
    assert CAPTCHA_ERROR in replay.content.decode()
    assert len(hash_checks) == 1
    assert len(sms_outbox) == 1
    assert SmsChallenge.objects.filter(citizen=citizen).count() == 1
    assert audit_actions(citizen).count("nes.login.word_passed") == 1


def test_it_accepts_passed_only_in_captcha_test_mode(
    client: Client, citizen: Citizen, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    def post_passed() -> Any:
        key = CaptchaStore.generate_key()
        with django_capture_on_commit_callbacks(execute=True):
            return client.post(
                LOGIN_URL,
                {
                    "identifier": citizen.tckn,
                    "security_word": DEFAULT_SECURITY_WORD,
                    "captcha_0": key,
                    "captcha_1": "passed",
                },
            )

    settings.CAPTCHA_TEST_MODE = False
    refused = post_passed()
    settings.CAPTCHA_TEST_MODE = True
    accepted = post_passed()

    assert refused.status_code == 400
    assert CAPTCHA_ERROR in refused.content.decode()
    assert accepted.status_code == 302
    assert accepted["Location"] == CODE_URL
    assert audit_actions(citizen).count("nes.login.word_passed") == 1


def test_it_spends_a_test_mode_captcha_too(
    client: Client, citizen: Citizen, captcha_test_mode: None, sms_outbox: list[dict[str, Any]]
) -> None:
    data = {
        "identifier": citizen.tckn,
        "security_word": "Yanlis-Sozcuk-1",
        "captcha_0": CaptchaStore.generate_key(),
        "captcha_1": "passed",
    }
    first = client.post(LOGIN_URL, data)
    replay = client.post(LOGIN_URL, data)

    assert first.status_code == replay.status_code == 400
    assert GENERIC_FAILURE in first.content.decode()
    assert CAPTCHA_ERROR in replay.content.decode()
    citizen.refresh_from_db()
    assert citizen.failure_count == 1  # only the first reached the word check


TCKN_ERROR = "Geçerli bir T.C. Kimlik No giriniz."
PASSPORT_ERROR = (
    "T.C. Kimlik No 11 haneli olmalı; pasaport numarası harf ve rakamlardan oluşmalıdır."
)


@pytest.mark.parametrize(
    ("identifier", "error"),
    [
        ("1234567895", TCKN_ERROR),
        ("12345678951", TCKN_ERROR),
        ("١٢٣٤٥٦٧٨٩٥٠", TCKN_ERROR),  # Arabic-Indic digits of a valid number
        ("AB-12", PASSPORT_ERROR),
    ],
)
def test_it_rejects_malformed_ids_before_any_check(
    client: Client, db: None, identifier: str, error: str, hash_checks: list[str]
) -> None:
    response = client.post(LOGIN_URL, login_data(client, identifier))

    assert response.status_code == 400
    html = response.content.decode()
    assert 'aria-describedby="id_identifier_error" id="id_identifier"' in html
    assert f'<p class="error-text">{error}</p>' in html
    assert GENERIC_FAILURE not in html
    assert hash_checks == []
    assert AuditEvent.objects.count() == 0


# --- the SMS step -----------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["get", "post"])
def test_it_sends_the_sms_step_without_a_pending_login_back_to_the_form(
    client: Client, db: None, method: str
) -> None:
    response = getattr(client, method)(CODE_URL, {"code": "123456"} if method == "post" else {})

    assert response.status_code == 302
    assert response["Location"] == LOGIN_URL
    page = client.get(LOGIN_URL)
    assert "Giriş işleminin süresi doldu" in page.content.decode()
    assert AuditEvent.objects.count() == 0
    assert SmsChallenge.objects.count() == 0


@pytest.mark.usefixtures("pending_code")
def test_it_expires_the_pending_login_after_ten_minutes(
    client: Client, citizen: Citizen, clock: Any
) -> None:
    session_key = client.cookies[settings.SESSION_COOKIE_NAME].value

    # Requests in between keep the session alive (10 minutes idle), but not the pending login.
    clock.shift(dt.timedelta(minutes=5))
    assert client.get(CODE_URL).status_code == 200
    clock.shift(dt.timedelta(minutes=4, seconds=59))
    assert client.get(CODE_URL).status_code == 200
    clock.shift(dt.timedelta(seconds=2))
    response = client.get(CODE_URL)

    assert response.status_code == 302
    assert response["Location"] == LOGIN_URL
    assert client.cookies[settings.SESSION_COOKIE_NAME].value == session_key
    assert Session.objects.filter(session_key=session_key).exists()
    assert services.SESSION_PENDING not in client.session
    assert "Giriş işleminin süresi doldu" in client.get(LOGIN_URL).content.decode()
    assert "nes.login.succeeded" not in audit_actions(citizen)


def test_it_refuses_a_code_sms_over_the_hourly_budget_at_the_login_form(
    citizen: Citizen,
    clock: Any,
    sms_outbox: list[dict[str, Any]],
    django_capture_on_commit_callbacks: Any,
) -> None:
    limit = limits.OWN_CODES_PER_HOUR
    for _ in range(limit):
        start_login(Client(), citizen, django_capture_on_commit_callbacks)
        clock.shift(dt.timedelta(seconds=61))
    client = Client()

    response = client.post(LOGIN_URL, login_data(client, citizen.tckn))

    assert response.status_code == 429
    message = f"Bir saat içinde en fazla {limit} SMS Onay Kodu gönderilebilir."
    assert message in response.content.decode()
    assert len(sms_outbox) == limit
    assert services.SESSION_PENDING not in client.session
    citizen.refresh_from_db()
    assert citizen.failure_count == 0  # the word was right: no strike


def test_it_sends_a_new_code_at_once_when_the_last_one_was_used(
    citizen: Citizen,
    sms_outbox: list[dict[str, Any]],
    django_capture_on_commit_callbacks: Any,
) -> None:
    # Logged in, logged out and back within a minute: the 60-second rule is about resending a
    # pending code, so the used one does not hold the next login back.
    first = Client()
    start_login(first, citizen, django_capture_on_commit_callbacks)
    assert first.post(CODE_URL, {"code": sms_code(sms_outbox)})["Location"] == MENU_URL
    first.post("/cikis/")

    second = Client()
    response = start_login(second, citizen, django_capture_on_commit_callbacks)

    assert response.status_code == 302
    assert response["Location"] == CODE_URL
    assert len(sms_outbox) == 2
    assert second.post(CODE_URL, {"code": sms_code(sms_outbox)})["Location"] == MENU_URL
