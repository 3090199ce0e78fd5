"""The 3-strike lock: wrong security words or wrong SMS codes, in sequence and in parallel.

The parallel tests send real HTTP requests to pytest-django's ``live_server`` on PostgreSQL, so
the strike reservation (a conditional UPDATE before the Argon2 check) is tested against real
concurrent transactions. The live server runs in this process: the ``settings`` fixture and the
spy on ``accounts.services.check_password`` apply to it.
"""

from __future__ import annotations

import datetime as dt
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests
from captcha.models import CaptchaStore
from django.conf import settings
from django.test import Client

from accounts import services
from accounts.models import Citizen, SmsChallenge, SmsMessage
from audit.models import AuditEvent
from nesportal.testing import sms_code, wrong
from nesportal.testing.factories import DEFAULT_SECURITY_WORD

from .helpers import (
    CAPTCHA_ERROR,
    CODE_URL,
    CSRF_FIELD_RE,
    GENERIC_FAILURE,
    LOGIN_URL,
    MENU_URL,
    T0,
    audit_count,
    comparable,
    login_data,
)

LOCKED_URL = "/giris/kilitli/"
WRONG_WORD = "Yanlis-Sozcuk-1"
CALL_CENTRE_LINK = '<a href="tel:4445576">444 5 576</a> numaralı Çağrı Merkezimizi arayınız'


def post_login(client: Client, citizen: Citizen, word: str) -> Any:
    return client.post(LOGIN_URL, login_data(client, citizen.identifier, word))


def lock_notices(citizen: Citizen) -> Any:
    return SmsMessage.objects.filter(citizen=citizen, kind=SmsMessage.Kind.ACCOUNT_LOCKED)


# --- sequential -------------------------------------------------------------------------------


def test_it_locks_the_account_after_three_wrong_words(
    client: Client,
    citizen: Citizen,
    clock: Any,
    sms_outbox: list[dict[str, Any]],
    django_capture_on_commit_callbacks: Any,
    hash_checks: list[str],
) -> None:
    for strike in (1, 2, 3):
        with django_capture_on_commit_callbacks(execute=True):
            response = post_login(client, citizen, WRONG_WORD)
        assert response.status_code == 400
        assert GENERIC_FAILURE in response.content.decode()
        citizen.refresh_from_db()
        assert citizen.failure_count == strike
        assert citizen.is_locked is (strike == 3)

    assert citizen.locked_at == T0
    assert citizen.lock_reason == Citizen.LockReason.WRONG_WORD
    assert hash_checks == [citizen.security_word_hash] * 3
    assert audit_count(citizen, "nes.login.word_failed") == 3
    locked_event = AuditEvent.objects.get(citizen=citizen, action="nes.account.locked")
    assert locked_event.data["reason"] == Citizen.LockReason.WRONG_WORD
    notice = lock_notices(citizen).get()
    assert notice.status == SmsMessage.Status.SENT
    assert len(sms_outbox) == 1
    assert sms_outbox[0]["to"] == citizen.mobile_phone
    assert "bloke" in sms_outbox[0]["body"] and "444 5 576" in sms_outbox[0]["body"]
    assert SmsChallenge.objects.filter(citizen=citizen).count() == 0


def test_it_resets_the_count_when_a_right_word_comes_in_between(
    client: Client,
    citizen: Citizen,
    sms_outbox: list[dict[str, Any]],
    django_capture_on_commit_callbacks: Any,
) -> None:
    post_login(client, citizen, WRONG_WORD)
    post_login(client, citizen, WRONG_WORD)
    citizen.refresh_from_db()
    assert citizen.failure_count == 2

    with django_capture_on_commit_callbacks(execute=True):
        right = post_login(Client(), citizen, DEFAULT_SECURITY_WORD)
    assert right.status_code == 302
    assert right["Location"] == CODE_URL
    citizen.refresh_from_db()
    assert citizen.failure_count == 0

    third = post_login(client, citizen, WRONG_WORD)
    fourth = post_login(client, citizen, WRONG_WORD)

    assert third.status_code == fourth.status_code == 400
    citizen.refresh_from_db()
    assert citizen.failure_count == 2
    assert not citizen.is_locked
    assert audit_count(citizen, "nes.account.locked") == 0
    assert not lock_notices(citizen).exists()
    assert audit_count(citizen, "nes.login.word_failed") == 4
    assert audit_count(citizen, "nes.login.word_passed") == 1


def test_it_refuses_even_the_right_word_once_locked_without_checking_the_hash(
    client: Client,
    citizen: Citizen,
    clock: Any,
    sms_outbox: list[dict[str, Any]],
    django_capture_on_commit_callbacks: Any,
    hash_checks: list[str],
) -> None:
    for _ in range(2):
        post_login(client, citizen, WRONG_WORD)
    with django_capture_on_commit_callbacks(execute=True):
        third_wrong = post_login(client, citizen, WRONG_WORD)
    assert len(hash_checks) == 3

    right = post_login(client, citizen, DEFAULT_SECURITY_WORD)
    clock.shift(dt.timedelta(days=1))  # the lock does not wear off
    next_day = post_login(client, citizen, DEFAULT_SECURITY_WORD)

    assert right.status_code == next_day.status_code == 400
    assert comparable(right) == comparable(third_wrong) == comparable(next_day)
    assert GENERIC_FAILURE in right.content.decode()
    # One verification each (same work), but against the dummy hash, never the real one.
    assert len(hash_checks) == 5
    assert hash_checks[3] != citizen.security_word_hash
    assert hash_checks[4] != citizen.security_word_hash
    assert hash_checks.count(citizen.security_word_hash) == 3
    citizen.refresh_from_db()
    assert citizen.failure_count == 3
    assert citizen.locked_at == T0
    assert audit_count(citizen, "nes.login.locked_attempt") == 2
    assert audit_count(citizen, "nes.login.word_passed") == 0
    assert audit_count(citizen, "nes.account.locked") == 1
    assert SmsChallenge.objects.filter(citizen=citizen).count() == 0
    assert len(sms_outbox) == 1  # the lock notice only; no code was sent


def test_it_locks_after_three_wrong_sms_codes_and_sends_to_the_locked_page(
    client: Client,
    citizen: Citizen,
    clock: Any,
    sms_outbox: list[dict[str, Any]],
    django_capture_on_commit_callbacks: Any,
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        assert post_login(client, citizen, DEFAULT_SECURITY_WORD).status_code == 302
    code = sms_code(sms_outbox)

    first = client.post(CODE_URL, {"code": wrong(code)})
    second = client.post(CODE_URL, {"code": wrong(code)})
    with django_capture_on_commit_callbacks(execute=True):
        third = client.post(CODE_URL, {"code": wrong(code)})

    assert first.status_code == second.status_code == 400
    assert "SMS Onay Kodu hatalı. Kalan deneme hakkınız: 2." in first.content.decode()
    assert "SMS Onay Kodu hatalı. Kalan deneme hakkınız: 1." in second.content.decode()
    assert third.status_code == 302
    assert third["Location"] == LOCKED_URL
    page = client.get(LOCKED_URL)
    assert page.status_code == 403
    html = page.content.decode()
    assert "Hesabınız bloke edildi" in html
    assert CALL_CENTRE_LINK in html

    citizen.refresh_from_db()
    assert citizen.code_failure_count == 3
    assert citizen.failure_count == 0  # the word was right
    assert citizen.locked_at == T0
    assert citizen.lock_reason == Citizen.LockReason.WRONG_CODE
    assert audit_count(citizen, "nes.login.code_failed") == 3
    assert audit_count(citizen, "nes.account.locked") == 1
    assert lock_notices(citizen).get().status == SmsMessage.Status.SENT
    assert "bloke" in sms_outbox[-1]["body"]
    challenge = SmsChallenge.objects.get(citizen=citizen)
    assert challenge.invalidated_at == T0 and challenge.consumed_at is None
    # The pending login is gone: the right code cannot be tried any more.
    after = client.post(CODE_URL, {"code": code})
    assert after.status_code == 302
    assert after["Location"] == LOGIN_URL
    assert audit_count(citizen, "nes.login.code_passed") == 0
    assert "nes.login.succeeded" not in AuditEvent.objects.values_list("action", flat=True)


def test_it_ends_a_logged_in_session_when_the_account_gets_locked(
    citizen_client: Client, citizen: Citizen
) -> None:
    assert citizen_client.get(MENU_URL).status_code == 200
    attacker = Client()
    for _ in range(3):
        post_login(attacker, citizen, WRONG_WORD)
    citizen.refresh_from_db()
    assert citizen.is_locked

    response = citizen_client.get(MENU_URL)

    assert response.status_code == 302
    assert response["Location"] == LOGIN_URL
    assert services.SESSION_CITIZEN not in citizen_client.session


# --- parallel, over real HTTP on PostgreSQL ---------------------------------------------------


def _csrf(base_url: str) -> tuple[str, str]:
    """A CSRF cookie and the matching form token, from the real login page."""
    page = requests.get(base_url + LOGIN_URL, timeout=30)
    assert page.status_code == 200
    match = CSRF_FIELD_RE.search(page.text)
    assert match
    return page.cookies[settings.CSRF_COOKIE_NAME], match.group(1)


def _post_all(base_url: str, forms: list[dict[str, str]]) -> list[requests.Response]:
    cookie, token = _csrf(base_url)

    def post(form: dict[str, str]) -> requests.Response:
        return requests.post(
            base_url + LOGIN_URL,
            data={"csrfmiddlewaretoken": token, **form},
            cookies={settings.CSRF_COOKIE_NAME: cookie},
            allow_redirects=False,
            timeout=120,
        )

    with ThreadPoolExecutor(max_workers=len(forms)) as pool:
        return list(pool.map(post, forms))


@pytest.mark.postgres
def test_it_locks_after_exactly_three_of_fifty_parallel_wrong_words(
    transactional_db: None,
    live_server: Any,
    settings: Any,
    citizen_factory: Any,
    sms_outbox: list[dict[str, Any]],
    hash_checks: list[str],
) -> None:
    settings.CAPTCHA_TEST_MODE = True
    # 50 posts from one address: the per-client throttle (10/min) would answer most with 429;
    # this test is about the account lock, as a distributed attacker would meet it.
    settings.NES_THROTTLES = "login=100/m;100/h"
    citizen = citizen_factory()
    forms = [
        {
            "identifier": citizen.tckn,
            "security_word": f"{WRONG_WORD}-{i}",
            "captcha_0": CaptchaStore.generate_key(),
            "captcha_1": "passed",
        }
        for i in range(50)
    ]

    responses = _post_all(live_server.url, forms)

    assert [r.status_code for r in responses] == [400] * 50
    assert all(GENERIC_FAILURE in r.text for r in responses)
    assert not any(CAPTCHA_ERROR in r.text for r in responses)
    # Every captcha was used exactly once.
    assert not CaptchaStore.objects.filter(hashkey__in=[f["captcha_0"] for f in forms]).exists()
    citizen.refresh_from_db()
    assert citizen.is_locked
    assert citizen.failure_count == 3
    assert citizen.lock_reason == Citizen.LockReason.WRONG_WORD
    assert audit_count(citizen, "nes.login.word_failed") == 3
    assert audit_count(citizen, "nes.login.locked_attempt") == 47
    assert audit_count(citizen, "nes.account.locked") == 1
    # Every request did one verification, and only three of them against the real hash.
    assert len(hash_checks) == 50
    assert hash_checks.count(citizen.security_word_hash) == 3
    assert lock_notices(citizen).count() == 1
    assert [m["to"] for m in sms_outbox] == [citizen.mobile_phone]


@pytest.mark.postgres
def test_it_lets_only_one_of_parallel_posts_use_a_solved_captcha(
    transactional_db: None,
    live_server: Any,
    citizen_factory: Any,
    hash_checks: list[str],
) -> None:
    citizen = citizen_factory()
    key = CaptchaStore.generate_key()
    answer = CaptchaStore.objects.get(hashkey=key).response
    form = {
        "identifier": citizen.tckn,
        "security_word": WRONG_WORD,
        "captcha_0": key,
        "captcha_1": answer,
    }

    responses = _post_all(live_server.url, [form] * 10)

    assert [r.status_code for r in responses] == [400] * 10
    assert sum(GENERIC_FAILURE in r.text for r in responses) == 1
    assert sum(CAPTCHA_ERROR in r.text for r in responses) == 9
    assert hash_checks == [citizen.security_word_hash]
    citizen.refresh_from_db()
    assert citizen.failure_count == 1
    assert audit_count(citizen, "nes.login.word_failed") == 1
