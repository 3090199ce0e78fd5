"""Güvenlik Sözcüğümü Unuttum: ID + captcha + birth date + SMS code → new word; and the agent's
single-use reset link."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from captcha.models import CaptchaStore
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.auth.hashers import check_password
from django.contrib.sessions.models import Session
from django.test import Client
from django.urls import reverse

from accounts import lockout, recovery, stepup
from accounts.models import Citizen, SmsChallenge, SmsMessage, WordResetLink
from accounts.services import check_security_word, create_reset_link
from accounts.sms_queue import SmsUnavailable
from accounts.tokens import reset_link_sms_url
from audit.actor import Actor
from audit.models import AuditEvent
from nesportal.testing import login_as, sms_code, staff_login
from nesportal.testing.factories import DEFAULT_SECURITY_WORD, StaffUserFactory

from .helpers import CAPTCHA_KEY_RE, LOGIN_URL, MENU_URL, comparable, login_data

pytestmark = pytest.mark.django_db

FORGOT = reverse("accounts:forgot_word")
CODE = reverse("accounts:recovery_code")
NEW_WORD = reverse("accounts:recovery_new_word")
CHANGELIST = reverse("admin:accounts_citizen_changelist")
BIRTH = "23.04.1985"  # the factory's birth date
NEW = "Mavi-Deniz-Kıyısı-77"
GENERIC = "Girdiğiniz bilgiler doğrulanamadı."


@pytest.fixture
def argon2_checks(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The encoded hashes the recovery service verifies (through ``accounts.lockout``)."""
    real = lockout.check_password
    checked: list[str] = []

    def spy(password: str, encoded: str, *args: Any, **kwargs: Any) -> bool:
        checked.append(encoded)
        return real(password, encoded, *args, **kwargs)

    monkeypatch.setattr(lockout, "check_password", spy)
    return checked


def start_data(client: Client, identifier: str, birth: str = BIRTH) -> dict[str, str]:
    page = client.get(FORGOT)
    assert page.status_code == 200
    key = CAPTCHA_KEY_RE.search(page.content.decode()).group(1)
    answer = CaptchaStore.objects.get(hashkey=key).response
    return {"identifier": identifier, "birth_date": birth, "captcha_0": key, "captcha_1": answer}


def start(client: Client, citizen: Citizen, capture: Any, birth: str = BIRTH) -> Any:
    with capture(execute=True):
        return client.post(FORGOT, start_data(client, citizen.identifier, birth))


def verified(client: Client, citizen: Citizen, outbox: list, capture: Any) -> None:
    """Go through the ID + birth date and SMS code steps."""
    assert start(client, citizen, capture)["Location"] == CODE
    response = client.post(CODE, {"code": sms_code(outbox, to=citizen.mobile_phone)})
    assert response.status_code == 302
    assert response["Location"] == NEW_WORD


def set_word(client: Client, url: str, word: str = NEW, capture: Any = None) -> Any:
    data = {"new_word1": word, "new_word2": word}
    if capture is None:
        return client.post(url, data)
    with capture(execute=True):
        return client.post(url, data)


# --- the self-service journey -----------------------------------------------------------------


def test_it_resets_the_word_with_id_captcha_birth_date_and_sms_code(
    client, citizen, sms_outbox, django_capture_on_commit_callbacks
):
    citizen.failure_count = 2
    citizen.save()
    response = start(client, citizen, django_capture_on_commit_callbacks)

    assert response.status_code == 302
    assert response["Location"] == CODE
    citizen.refresh_from_db()
    assert citizen.failure_count == 2, "a right birth date resets nothing yet"
    assert check_password(DEFAULT_SECURITY_WORD, citizen.security_word_hash)
    assert [m["to"] for m in sms_outbox] == [citizen.mobile_phone]
    assert "Güvenlik Sözcüğü yenileme kodunuz" in sms_outbox[0]["body"]
    page = client.get(CODE)
    assert citizen.masked_phone in page.content.decode()
    assert citizen.mobile_phone not in page.content.decode()

    assert client.post(CODE, {"code": sms_code(sms_outbox)})["Location"] == NEW_WORD
    assert client.get(NEW_WORD).status_code == 200
    response = set_word(client, NEW_WORD, capture=django_capture_on_commit_callbacks)

    assert response.status_code == 302
    assert response["Location"] == LOGIN_URL
    citizen.refresh_from_db()
    assert check_password(NEW, citizen.security_word_hash)
    assert citizen.security_word_hash.startswith("argon2")
    assert (citizen.failure_count, citizen.code_failure_count) == (0, 0)
    assert "değiştirildi" in sms_outbox[-1]["body"]
    assert SmsMessage.objects.filter(citizen=citizen, kind=SmsMessage.Kind.WORD_CHANGED).exists()
    event = AuditEvent.objects.get(citizen=citizen, action="nes.recovery.word_changed")
    assert event.data["via"] == "sms" and event.actor is None
    assert "değiştirildi" in client.get(LOGIN_URL).content.decode()
    # The old word is dead, the new one works.
    assert check_security_word(citizen.tckn, DEFAULT_SECURITY_WORD, actor=Actor()) is None
    assert check_security_word(citizen.tckn, NEW, actor=Actor()) == citizen
    # The recovery state is gone: the same session cannot set another word.
    assert client.get(NEW_WORD)["Location"] == FORGOT


def test_it_cannot_be_done_with_the_phone_alone(
    client, citizen, sms_outbox, django_capture_on_commit_callbacks
):
    response = start(client, citizen, django_capture_on_commit_callbacks, birth="24.04.1985")

    assert response.status_code == 400
    assert GENERIC in response.content.decode()
    assert sms_outbox == [], "no code before the birth date is right"
    assert not SmsChallenge.objects.filter(citizen=citizen).exists()
    # Without a verified state, neither the code page nor the new-word page does anything.
    assert client.get(CODE)["Location"] == FORGOT
    assert client.post(CODE, {"code": "123456"})["Location"] == FORGOT
    assert set_word(client, NEW_WORD)["Location"] == FORGOT
    citizen.refresh_from_db()
    assert check_password(DEFAULT_SECURITY_WORD, citizen.security_word_hash)


def test_a_login_code_does_not_open_the_recovery(
    client, citizen, sms_outbox, django_capture_on_commit_callbacks, clock
):
    """A code sent for a login (the phone holder can get one) is for another purpose."""
    with django_capture_on_commit_callbacks(execute=True):
        client.post(LOGIN_URL, login_data(client, citizen.tckn))
    login_code = sms_code(sms_outbox)
    clock.shift(dt.timedelta(seconds=61))
    other = Client()
    start(other, citizen, django_capture_on_commit_callbacks)
    recovery_code = sms_code(sms_outbox)
    assert login_code != recovery_code

    response = other.post(CODE, {"code": login_code})

    assert response.status_code == 400
    assert "hatalı" in response.content.decode()


def test_wrong_birth_dates_count_into_the_login_lock(
    client, citizen, sms_outbox, django_capture_on_commit_callbacks
):
    for attempt in range(1, 4):
        response = start(client, citizen, django_capture_on_commit_callbacks, birth="01.01.1990")
        assert response.status_code == 400
        assert GENERIC in response.content.decode()
        citizen.refresh_from_db()
        assert citizen.failure_count == attempt

    assert citizen.is_locked
    assert citizen.lock_reason == Citizen.LockReason.WRONG_BIRTH_DATE
    assert (
        AuditEvent.objects.filter(citizen=citizen, action="nes.recovery.fact_failed").count() == 3
    )
    notices = [m["body"] for m in sms_outbox if "bloke" in m["body"]]
    assert notices, "the lock notice went out"
    assert "Güvenlik Sözcüğü yenilemede 3 hatalı deneme" in notices[0]
    # Login with the right word fails now, and so does recovery with the right birth date.
    assert check_security_word(citizen.tckn, DEFAULT_SECURITY_WORD, actor=Actor()) is None
    response = start(client, citizen, django_capture_on_commit_callbacks)
    assert response.status_code == 400
    assert GENERIC in response.content.decode()


def test_login_strikes_and_recovery_strikes_add_up(
    client, citizen, sms_outbox, django_capture_on_commit_callbacks
):
    for _ in range(2):
        assert check_security_word(citizen.tckn, "yanlış-sözcük", actor=Actor()) is None

    start(client, citizen, django_capture_on_commit_callbacks, birth="01.01.1990")

    citizen.refresh_from_db()
    assert citizen.is_locked
    assert citizen.failure_count == 3


def test_it_answers_unknown_id_wrong_birth_date_and_locked_alike(
    client, citizen_factory, sms_outbox, argon2_checks, django_capture_on_commit_callbacks
):
    known = citizen_factory()
    locked = citizen_factory(
        failure_count=3,
        locked_at=dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
        lock_reason=Citizen.LockReason.WRONG_WORD,
    )
    pages = []
    for identifier, birth in [
        ("10000000146", BIRTH),  # valid T.C. number, no citizen
        (known.tckn, "24.04.1985"),
        (locked.tckn, BIRTH),
    ]:
        argon2_checks.clear()
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(FORGOT, start_data(client, identifier, birth))
        assert response.status_code == 400
        assert len(argon2_checks) == 1, "one Argon2 check on every path, like login"
        pages.append(comparable(response).replace(identifier, "<id>"))

    assert pages[0] == pages[1] == pages[2]
    assert sms_outbox == []


def test_a_right_answer_costs_the_same_argon2_check(
    client, citizen, sms_outbox, argon2_checks, django_capture_on_commit_callbacks
):
    start(client, citizen, django_capture_on_commit_callbacks)
    assert len(argon2_checks) == 1


def test_it_refuses_a_wrong_captcha_without_a_strike(client, citizen, sms_outbox):
    data = start_data(client, citizen.tckn)
    data["captcha_1"] = "yanlis"

    response = client.post(FORGOT, data)

    assert response.status_code == 400
    assert "Resimdeki yazıyı doğru giriniz" in response.content.decode()
    citizen.refresh_from_db()
    assert citizen.failure_count == 0
    assert sms_outbox == []


def test_the_half_done_recovery_expires_after_ten_minutes(
    client, citizen, sms_outbox, django_capture_on_commit_callbacks, clock
):
    verified(client, citizen, sms_outbox, django_capture_on_commit_callbacks)
    clock.shift(dt.timedelta(minutes=10, seconds=1))

    response = set_word(client, NEW_WORD)

    assert response["Location"] == FORGOT
    citizen.refresh_from_db()
    assert check_password(DEFAULT_SECURITY_WORD, citizen.security_word_hash)


def test_the_half_done_recovery_is_bound_to_its_session(
    client, citizen, sms_outbox, django_capture_on_commit_callbacks
):
    verified(client, citizen, sms_outbox, django_capture_on_commit_callbacks)

    assert set_word(Client(), NEW_WORD)["Location"] == FORGOT
    citizen.refresh_from_db()
    assert check_password(DEFAULT_SECURITY_WORD, citizen.security_word_hash)


def test_a_verified_state_dies_when_the_word_changes_meanwhile(
    client, citizen, sms_outbox, django_capture_on_commit_callbacks
):
    verified(client, citizen, sms_outbox, django_capture_on_commit_callbacks)
    citizen.set_security_word("Başka-Bir-Sözcük-42")
    citizen.save()

    assert set_word(client, NEW_WORD)["Location"] == FORGOT
    citizen.refresh_from_db()
    assert check_password("Başka-Bir-Sözcük-42", citizen.security_word_hash)


def test_a_verified_state_goes_on_to_the_new_word_and_asks_for_no_more_codes(
    client, citizen, sms_outbox, django_capture_on_commit_callbacks
):
    verified(client, citizen, sms_outbox, django_capture_on_commit_callbacks)
    state = client.session[recovery.SESSION_RECOVERY]
    assert set(state) == {"citizen", "verified", "fingerprint", "since"}
    assert AuditEvent.objects.filter(citizen=citizen, action="nes.recovery.code_passed").exists()

    assert client.get(CODE)["Location"] == NEW_WORD
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("accounts:recovery_code_resend"))
    assert response["Location"] == NEW_WORD, "a late resend click goes on, not back to the start"
    assert "verified" in client.session[recovery.SESSION_RECOVERY]
    assert len(sms_outbox) == 1, "a verified state gets no new code"
    assert client.get(NEW_WORD).status_code == 200


def test_a_second_start_is_audited_even_when_it_reuses_the_code(
    client, citizen, sms_outbox, django_capture_on_commit_callbacks
):
    """A second start within the resend window (another tab or device) gets the code already on
    the phone (tests/test_code_flows.py); each start is still in the audit log."""
    start(client, citizen, django_capture_on_commit_callbacks)

    start(Client(), citizen, django_capture_on_commit_callbacks)

    assert len(sms_outbox) == 1
    assert AuditEvent.objects.filter(citizen=citizen, action="nes.recovery.code_sent").count() == 2


def test_an_sms_the_broker_cannot_take_is_a_503_on_the_start_page(
    client, citizen, sms_outbox, django_capture_on_commit_callbacks, monkeypatch
):
    def unavailable(*args: Any, **kwargs: Any) -> Any:
        raise SmsUnavailable("Kuyruğa alınamadı: ConnectionError")

    monkeypatch.setattr(stepup, "issue_challenge", unavailable)

    response = start(client, citizen, django_capture_on_commit_callbacks)

    assert response.status_code == 503
    assert "SMS gönderilemedi, lütfen tekrar deneyiniz." in response.content.decode()
    assert recovery.SESSION_RECOVERY not in client.session
    assert not AuditEvent.objects.filter(action="nes.recovery.code_sent").exists()
    assert sms_outbox == []


# --- the new word's rules ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("word", "error"),
    [
        ("{tckn}", "T.C. Kimlik No"),
        ("x{tckn}y!", "T.C. Kimlik No"),
        ("23.04.1985", "doğum tarihinizi"),
        ("Ankara-1985-04-23", "doğum tarihinizi"),
        ("23041985abc", "doğum tarihinizi"),
        ("password123", "Bu Güvenlik Sözcüğü çok yaygın"),
        ("Ab1-x", "En az 8 karakter"),
        ("{first}{last}", "adınıza, soyadınıza ya da e-posta adresinize çok benziyor"),
    ],
)
def test_it_refuses_weak_new_words_in_turkish(
    client, citizen_factory, sms_outbox, django_capture_on_commit_callbacks, word, error
):
    citizen = citizen_factory(first_name="Gülperi", last_name="Karaosmanoğlu")
    verified(client, citizen, sms_outbox, django_capture_on_commit_callbacks)
    word = word.format(tckn=citizen.tckn, first=citizen.first_name, last=citizen.last_name)

    response = set_word(client, NEW_WORD, word)

    assert response.status_code == 400
    assert error in response.content.decode()
    assert word not in response.content.decode()
    citizen.refresh_from_db()
    assert check_password(DEFAULT_SECURITY_WORD, citizen.security_word_hash)


def test_it_needs_the_same_word_twice(
    client, citizen, sms_outbox, django_capture_on_commit_callbacks
):
    verified(client, citizen, sms_outbox, django_capture_on_commit_callbacks)

    response = client.post(NEW_WORD, {"new_word1": NEW, "new_word2": NEW + "x"})

    assert response.status_code == 400
    assert "aynı değil" in response.content.decode()


def test_validate_new_word_covers_passport_holders(citizen_factory):
    foreigner = citizen_factory(passport=True)
    with pytest.raises(Exception, match="Pasaport"):
        recovery.validate_new_word(f"Kelime-{foreigner.passport_no.lower()}", foreigner)
    recovery.validate_new_word(NEW, foreigner)


# --- sessions end -----------------------------------------------------------------------------


def test_every_session_of_the_citizen_ends_after_a_reset(
    citizen, sms_outbox, django_capture_on_commit_callbacks
):
    phone, laptop = login_as(Client(), citizen), login_as(Client(), citizen)
    assert phone.get(MENU_URL).status_code == 200
    assert laptop.get(MENU_URL).status_code == 200

    recovering = Client()
    verified(recovering, citizen, sms_outbox, django_capture_on_commit_callbacks)
    set_word(recovering, NEW_WORD, capture=django_capture_on_commit_callbacks)

    for client in (phone, laptop):
        response = client.get(MENU_URL)
        assert response.status_code == 302
        assert response["Location"] == LOGIN_URL
    # The recovering browser's own session was flushed too.
    assert recovering.get(MENU_URL)["Location"] == LOGIN_URL
    assert not any(
        s.get_decoded().get("nes_citizen") == citizen.pk for s in Session.objects.all()
    ), "the old sessions were flushed when they came back"


# --- the agent's reset link -------------------------------------------------------------------


def _send_link(client: Client, citizen: Citizen, capture: Any, reason: str = "Aradı.") -> Any:
    data = {
        "action": "send_reset_link",
        ACTION_CHECKBOX_NAME: [str(citizen.pk)],
        "apply": "1",
        "reason": reason,
    }
    with capture(execute=True):
        return client.post(CHANGELIST, data)


def _link_path(outbox: list[dict[str, Any]]) -> str:
    match = re.search(
        r"https?://[^/\s]+(/guvenlik-sozcugu/baglanti/[0-9a-f]+/)", outbox[-1]["body"]
    )
    assert match, outbox[-1]["body"]
    return match.group(1)


def test_an_agent_sends_a_single_use_link(
    agent_client,
    call_centre_agent,
    client,
    citizen,
    sms_outbox,
    django_capture_on_commit_callbacks,
    settings,
):
    settings.PORTAL_BASE_URL = "https://portal.example.com.tr"
    page = agent_client.post(
        CHANGELIST, {"action": "send_reset_link", ACTION_CHECKBOX_NAME: [str(citizen.pk)]}
    )
    assert page.status_code == 200
    assert "Bağlantı gönderme gerekçesi" in page.content.decode()

    response = _send_link(
        agent_client, citizen, django_capture_on_commit_callbacks, "Vatandaş aradı, doğrulandı."
    )

    assert response.status_code == 302
    link = WordResetLink.objects.get(citizen=citizen)
    assert link.created_by == call_centre_agent
    assert link.expires_at - link.created_at == dt.timedelta(minutes=30)
    body = sms_outbox[-1]["body"]
    assert sms_outbox[-1]["to"] == citizen.mobile_phone
    assert "https://portal.example.com.tr/guvenlik-sozcugu/baglanti/" in body
    path = _link_path(sms_outbox)
    token = path.rstrip("/").rsplit("/", 1)[1]
    # Only the hash is stored; no row or audit entry holds the token.
    assert link.token_hash != token and len(link.token_hash) == 64
    sent = AuditEvent.objects.get(action="nes.recovery.link_sent", citizen=citizen)
    assert sent.actor == call_centre_agent
    assert sent.data["reason"] == "Vatandaş aradı, doğrulandı."
    for event in AuditEvent.objects.all():
        assert token not in repr(event.data) and token not in event.subject
    for message in SmsMessage.objects.all():
        assert token not in repr(message.context) and token not in message.failure_reason
    assert token not in repr(list(WordResetLink.objects.values()))

    form = client.get(path)
    assert form.status_code == 200
    assert "Yeni Güvenlik Sözcüğü" in form.content.decode()
    response = set_word(client, path, capture=django_capture_on_commit_callbacks)

    assert response["Location"] == LOGIN_URL
    citizen.refresh_from_db()
    assert check_password(NEW, citizen.security_word_hash)
    link.refresh_from_db()
    assert link.used_at is not None
    used = AuditEvent.objects.get(action="nes.recovery.word_changed", citizen=citizen)
    assert used.actor == call_centre_agent and used.data["via"] == "link"
    assert "değiştirildi" in sms_outbox[-1]["body"]

    # Single use: the second visit and a second POST find nothing.
    again = Client()
    assert "geçersiz" in again.get(path).content.decode()
    set_word(again, path, "Başka-Bir-Sözcük-42")
    citizen.refresh_from_db()
    assert check_password(NEW, citizen.security_word_hash)


def test_the_link_expires_after_thirty_minutes(
    agent_client, client, citizen, sms_outbox, django_capture_on_commit_callbacks, clock
):
    _send_link(agent_client, citizen, django_capture_on_commit_callbacks)
    path = _link_path(sms_outbox)
    clock.shift(dt.timedelta(minutes=29, seconds=59))
    assert "Kaydet" in client.get(path).content.decode()
    clock.shift(dt.timedelta(seconds=1))

    assert "geçersiz" in client.get(path).content.decode()
    set_word(client, path)
    citizen.refresh_from_db()
    assert check_password(DEFAULT_SECURITY_WORD, citizen.security_word_hash)
    link = WordResetLink.objects.get()
    assert reset_link_sms_url(link.pk) is None, "an expired link is not sent any more"


def test_the_link_applies_the_same_rules(
    agent_client, client, citizen, sms_outbox, django_capture_on_commit_callbacks
):
    _send_link(agent_client, citizen, django_capture_on_commit_callbacks)
    path = _link_path(sms_outbox)

    response = set_word(client, path, citizen.tckn)

    assert response.status_code == 200  # not 4xx: Django would log the path with the token
    assert "T.C. Kimlik No" in response.content.decode()
    assert WordResetLink.objects.get().used_at is None


def test_a_new_link_supersedes_the_old_one(
    agent_client, client, citizen, sms_outbox, django_capture_on_commit_callbacks, clock
):
    _send_link(agent_client, citizen, django_capture_on_commit_callbacks)
    first = _link_path(sms_outbox)
    clock.shift(dt.timedelta(minutes=1))
    _send_link(agent_client, citizen, django_capture_on_commit_callbacks)
    second = _link_path(sms_outbox)

    assert first != second
    assert "geçersiz" in client.get(first).content.decode()
    assert "Kaydet" in client.get(second).content.decode()


def test_a_forged_token_finds_nothing(client, db):
    assert "geçersiz" in client.get("/guvenlik-sozcugu/baglanti/" + "0" * 64 + "/").content.decode()


def test_the_link_does_not_work_for_a_locked_account(
    agent_client, client, citizen, sms_outbox, django_capture_on_commit_callbacks
):
    _send_link(agent_client, citizen, django_capture_on_commit_callbacks)
    path = _link_path(sms_outbox)
    for _ in range(3):
        check_security_word(citizen.tckn, "yanlış-sözcük", actor=Actor())

    assert "bloke" in client.get(path).content.decode()
    set_word(client, path)
    citizen.refresh_from_db()
    assert check_password(DEFAULT_SECURITY_WORD, citizen.security_word_hash)
    assert WordResetLink.objects.get().used_at is None


def test_the_admin_sends_no_link_to_a_locked_account(
    agent_client, citizen, sms_outbox, django_capture_on_commit_callbacks
):
    for _ in range(3):
        check_security_word(citizen.tckn, "yanlış-sözcük", actor=Actor())

    response = agent_client.post(
        CHANGELIST,
        {"action": "send_reset_link", ACTION_CHECKBOX_NAME: [str(citizen.pk)]},
        follow=True,
    )

    assert "önce kilidi açınız" in response.content.decode()
    assert not WordResetLink.objects.exists()


def test_staff_without_the_permission_cannot_send_links(
    client, citizen, sms_outbox, django_capture_on_commit_callbacks
):
    from django.contrib.auth.models import Permission

    staff = StaffUserFactory()
    staff.user_permissions.add(Permission.objects.get(codename="view_citizen"))
    staff_login(client, staff)

    changelist = client.get(CHANGELIST).content.decode()
    assert "send_reset_link" not in changelist
    _send_link(client, citizen, django_capture_on_commit_callbacks)
    assert not WordResetLink.objects.exists()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_link_sets_a_word_once_under_a_race(citizen_factory, call_centre_agent):
    """Two submissions of one link in parallel: exactly one new word wins."""
    import threading

    from django.db import connection

    citizen = citizen_factory()
    link = create_reset_link(citizen, agent=call_centre_agent, reason="Yarış testi")
    results: list[str] = []
    barrier = threading.Barrier(2)

    def submit(word: str) -> None:
        try:
            barrier.wait()
            recovery.set_new_word(
                citizen,
                word,
                expected_hash=citizen.security_word_hash,
                actor=None,
                via="link",
                link=link,
            )
            results.append(word)
        except recovery.RecoveryError:
            results.append("refused")
        finally:
            connection.close()

    threads = [
        threading.Thread(target=submit, args=(w,))
        for w in ("Birinci-Sözcük-11", "İkinci-Sözcük-22")
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert sorted(results).count("refused") == 1
    winner = next(r for r in results if r != "refused")
    citizen.refresh_from_db()
    assert check_password(winner, citizen.security_word_hash)
