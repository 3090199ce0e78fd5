"""The contract of the SMS Onay Kodu step, checked once for each of the seven flows that use it.

Login, Güvenlik Sözcüğümü Unuttum, the new mobile number, Sertifikamı İptal Et, PIN/PUK Bilgisi,
Kilit Çözme and E-Onay all run on one engine (``accounts.stepup``). Each flow here is a driver
that reaches its code page through the real pages (captcha, word, birth date, the card, the
certificate, the application) and says what success looks like; every test below runs on all
seven. A flow's own tests (tests/<app>/) keep what only that flow does.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import pytest
from captcha.models import CaptchaStore
from django.conf import settings
from django.contrib import messages
from django.db import connection
from django.test import Client
from django.urls import reverse

from accounts.models import Citizen, SmsChallenge, SmsMessage
from accounts.otp import CODE_KIND
from audit.models import AuditEvent
from nesportal.testing import login_as, sms_code, wrong
from nesportal.testing.factories import (
    DEFAULT_SECURITY_WORD,
    AkisCardFactory,
    ApplicationFactory,
    SmsChallengeFactory,
)

CAPTCHA_KEY_RE = re.compile(r'name="captcha_0" value="([0-9a-f]{40})"')
NEW_NUMBER = "+905329998877"
Purpose = SmsChallenge.Purpose


def solved(client: Client, page: str) -> dict[str, str]:
    """The captcha of ``page``, answered as a person reading the image would."""
    match = CAPTCHA_KEY_RE.search(client.get(page).content.decode())
    assert match, f"no captcha on {page}"
    key = match.group(1)
    return {"captcha_0": key, "captcha_1": CaptchaStore.objects.get(hashkey=key).response}


@dataclass
class Started:
    """A flow at its code page: where to type the code, where to ask for a new one, where a
    refused step starts again, the number the code went to, and whether a response to the code
    page is the flow's success."""

    code_url: str
    resend_url: str
    start_url: str
    to: str
    succeeded: Callable[[Any], bool]


@dataclass
class Env:
    citizen: Citizen
    capture: Any
    certificate_factory: Any
    made: dict[str, Any] = field(default_factory=dict)  # a second start reuses these

    def once(self, name: str, make: Callable[[], Any]) -> Any:
        if name not in self.made:
            self.made[name] = make()
        return self.made[name]


Starter = Callable[[Client, Env], Started]


def _post(env: Env, client: Client, path: str, data: dict[str, str] | None = None) -> Any:
    with env.capture(execute=True):
        return client.post(path, data or {})


def _queued_levels(response: Any) -> list[int]:
    """The levels of the messages this response's request added (django.contrib.messages)."""
    # Only this request's messages: get_messages() would also list older, unread ones.
    storage = getattr(response.wsgi_request, "_messages", None)
    return [m.level for m in getattr(storage, "_queued_messages", [])]


def _redirects_to(location: str) -> Callable[[Any], bool]:
    return lambda response: response.status_code == 302 and response["Location"] == location


def _at_code_page(response: Any, started: Started) -> Started:
    """Starting (or starting again) goes to the code page."""
    assert response.status_code == 302, response.content.decode()
    assert response["Location"] == started.code_url
    return started


def start_login(client: Client, env: Env) -> Started:
    data = {
        "identifier": env.citizen.identifier,
        "security_word": DEFAULT_SECURITY_WORD,
        **solved(client, reverse("accounts:login")),
    }
    response = _post(env, client, reverse("accounts:login"), data)
    started = Started(
        reverse("accounts:login_code"),
        reverse("accounts:login_code_resend"),
        reverse("accounts:login"),
        env.citizen.mobile_phone,
        _redirects_to(reverse("accounts:menu")),
    )
    return _at_code_page(response, started)


def start_recovery(client: Client, env: Env) -> Started:
    page = reverse("accounts:forgot_word")
    data = {
        "identifier": env.citizen.identifier,
        "birth_date": "23.04.1985",
        **solved(client, page),
    }
    response = _post(env, client, page, data)
    seen = [AuditEvent.objects.filter(action="nes.recovery.code_passed").count()]

    def succeeded(response: Any) -> bool:
        # A verified state also sends a later submit to the new word: success is the code
        # passing (its audit event), once per event.
        if not _redirects_to(reverse("accounts:recovery_new_word"))(response):
            return False
        passed = AuditEvent.objects.filter(action="nes.recovery.code_passed").count()
        new, seen[0] = passed > seen[0], passed
        return new

    started = Started(
        reverse("accounts:recovery_code"),
        reverse("accounts:recovery_code_resend"),
        page,
        env.citizen.mobile_phone,
        succeeded,
    )
    return _at_code_page(response, started)


def start_phone_change(client: Client, env: Env) -> Started:
    login_as(client, env.citizen)
    response = _post(
        env, client, reverse("accounts:profile_phone"), {"mobile_phone": "0532 999 88 77"}
    )
    citizen = env.citizen

    def succeeded(response: Any) -> bool:
        citizen.refresh_from_db()
        return (
            _redirects_to(reverse("accounts:profile"))(response)
            and messages.SUCCESS in _queued_levels(response)
            and citizen.mobile_phone == NEW_NUMBER
        )

    started = Started(
        reverse("accounts:profile_phone_code"),
        reverse("accounts:profile_phone_resend"),
        reverse("accounts:profile"),
        NEW_NUMBER,
        succeeded,
    )
    return _at_code_page(response, started)


def start_revoke(client: Client, env: Env) -> Started:
    login_as(client, env.citizen)
    cert = env.once("cert", lambda: env.certificate_factory(env.citizen, "active")[0])
    serial = cert.serial_number
    response = client.post(
        reverse("certificates:revoke_start"), {"certificate": serial, "reason": "key_compromise"}
    )
    assert response.status_code == 302, response.content.decode()
    response = _post(env, client, reverse("certificates:revoke_confirm", args=[serial]))
    started = Started(
        reverse("certificates:revoke_code", args=[serial]),
        reverse("certificates:revoke_code_resend", args=[serial]),
        f"{reverse('certificates:revoke_start')}?seri={serial}",
        env.citizen.mobile_phone,
        _redirects_to(reverse("certificates:revoke_done", args=[serial])),
    )
    return _at_code_page(response, started)


def start_pinpuk(client: Client, env: Env) -> Started:
    login_as(client, env.citizen)
    card = env.once("card", lambda: AkisCardFactory(citizen=env.citizen)).serial_number
    response = _post(env, client, reverse("pinvault:pinpuk_card", args=[card]), {"then": "view"})
    started = Started(
        reverse("pinvault:pinpuk_code", args=[card]),
        reverse("pinvault:pinpuk_code_resend", args=[card]),
        reverse("pinvault:pinpuk_card", args=[card]),
        env.citizen.mobile_phone,
        # The start page is also where a refused step goes back to, with a warning (a
        # ``messages`` cookie); a right code goes there with none.
        lambda response: (
            _redirects_to(reverse("pinvault:pinpuk_card", args=[card]))(response)
            and "messages" not in response.cookies
        ),
    )
    return _at_code_page(response, started)


def start_unlock(client: Client, env: Env) -> Started:
    login_as(client, env.citizen)
    card = env.once(
        "locked_card", lambda: AkisCardFactory(citizen=env.citizen, pin_locked=True)
    ).serial_number
    response = _post(env, client, reverse("pinvault:unlock_card", args=[card]))
    started = Started(
        reverse("pinvault:unlock_code", args=[card]),
        reverse("pinvault:unlock_code_resend", args=[card]),
        reverse("pinvault:unlock_card", args=[card]),
        env.citizen.mobile_phone,
        # The new PIN is shown in this very response (never in a URL or the session).
        lambda response: (
            response.status_code == 200
            and "pinvault/unlock_done.html" in [t.name for t in response.templates]
        ),
    )
    return _at_code_page(response, started)


def start_eonay(client: Client, env: Env) -> Started:
    login_as(client, env.citizen)
    pk = env.once("application", lambda: ApplicationFactory(citizen=env.citizen)).pk
    response = _post(env, client, reverse("eonay:decide", args=[pk, "approve"]))
    started = Started(
        reverse("eonay:decide_code", args=[pk, "approve"]),
        reverse("eonay:decide_resend", args=[pk, "approve"]),
        reverse("eonay:index"),
        env.citizen.mobile_phone,
        # The index is also where a refused step goes back to (with a warning): success is
        # the redirect with the "onayladınız" message.
        lambda response: (
            _redirects_to(reverse("eonay:index"))(response)
            and messages.SUCCESS in _queued_levels(response)
        ),
    )
    return _at_code_page(response, started)


# name: (purpose, session key, the driver)
FLOWS: dict[str, tuple[str, str, Starter]] = {
    "login": (Purpose.LOGIN, "nes_pending_login", start_login),
    "recovery": (Purpose.RECOVERY, "nes_recovery", start_recovery),
    "phone_change": (Purpose.PHONE_CHANGE, "nes_pending_phone", start_phone_change),
    "revoke": (Purpose.REVOKE, "nes_pending_revoke", start_revoke),
    "pinpuk": (Purpose.PINPUK, "nes_pinpuk_stepup", start_pinpuk),
    "unlock": (Purpose.UNLOCK, "nes_pinpuk_stepup", start_unlock),
    "eonay": (Purpose.EONAY, "nes_eonay_stepup", start_eonay),
}


@dataclass
class Flow:
    name: str
    purpose: str
    session_key: str
    started: Started
    client: Client
    env: Env
    outbox: list[dict[str, Any]]

    @property
    def code(self) -> str:
        return sms_code(self.outbox, to=self.started.to)

    def submit(self, code: str, **kwargs: Any) -> Any:
        return self.client.post(self.started.code_url, {"code": code}, **kwargs)

    def resend(self) -> Any:
        with self.env.capture(execute=True):
            return self.client.post(self.started.resend_url, follow=True)

    def sms_count(self) -> int:
        return SmsMessage.objects.filter(kind=CODE_KIND[self.purpose]).count()

    def state(self) -> dict[str, Any] | None:
        return self.client.session.get(self.session_key)


@pytest.fixture(params=list(FLOWS))
def flow(
    request: pytest.FixtureRequest,
    client: Client,
    citizen: Citizen,
    sms_outbox: list[dict[str, Any]],
    django_capture_on_commit_callbacks: Any,
    certificate_factory: Any,
) -> Flow:
    purpose, key, starter = FLOWS[request.param]
    env = Env(citizen, django_capture_on_commit_callbacks, certificate_factory)
    return Flow(request.param, purpose, key, starter(client, env), client, env, sms_outbox)


pytestmark = pytest.mark.django_db


def test_a_right_code_confirms_and_only_once(flow: Flow, citizen: Citizen) -> None:
    assert flow.sms_count() == 1
    code = flow.code

    assert flow.started.succeeded(flow.submit(code))

    assert flow.state() is None or "challenge" not in flow.state()  # type: ignore[operator]
    assert SmsChallenge.objects.get(purpose=flow.purpose).consumed_at is not None
    if flow.name == "login":
        return  # the session is a citizen's now: the login pages are behind it
    again = flow.submit(code)
    assert not flow.started.succeeded(again)
    # No state any more: back to the start (302), or the operation is done already (409).
    assert again.status_code in (302, 409)


def test_a_wrong_code_is_a_strike_and_the_page_says_what_is_left(
    flow: Flow, citizen: Citizen
) -> None:
    response = flow.submit(wrong(flow.code))

    assert response.status_code == 400
    assert "SMS Onay Kodu hatalı. Kalan deneme hakkınız: 2." in response.content.decode()
    assert 'name="code"' in response.content.decode()
    citizen.refresh_from_db()
    assert citizen.code_failure_count == 1
    assert not citizen.is_locked
    # The code stays open: the right one still works.
    assert flow.started.succeeded(flow.submit(flow.code))


def test_the_third_wrong_code_locks_the_account(flow: Flow, citizen: Citizen) -> None:
    code = flow.code
    for left in (2, 1):
        response = flow.submit(wrong(code))
        assert response.status_code == 400
        assert f"SMS Onay Kodu hatalı. Kalan deneme hakkınız: {left}." in response.content.decode()

    with flow.env.capture(execute=True):
        response = flow.submit(wrong(code))

    assert response.status_code == 302
    assert response["Location"] == reverse("accounts:locked")
    citizen.refresh_from_db()
    assert citizen.is_locked
    assert citizen.lock_reason == Citizen.LockReason.WRONG_CODE
    assert flow.state() is None
    # The lock notice goes to the registered number.
    assert flow.outbox[-1]["to"] == citizen.mobile_phone
    assert "bloke" in flow.outbox[-1]["body"]
    # The lock page says so; after it the session is no citizen's.
    assert flow.client.get(reverse("accounts:locked")).status_code == 403
    assert flow.client.get(reverse("accounts:menu"))["Location"] == reverse("accounts:login")
    # The right code no longer helps.
    assert not flow.started.succeeded(flow.submit(code))


def test_a_code_of_another_purpose_never_confirms(flow: Flow, citizen: Citizen) -> None:
    other = Purpose.REVOKE if flow.purpose != Purpose.REVOKE else Purpose.PINPUK
    # An open challenge of this citizen for another purpose, with its right code and binding.
    challenge = SmsChallengeFactory(citizen=citizen, purpose=other)
    session = flow.client.session
    session[flow.session_key] = {
        **session[flow.session_key],
        "challenge": str(challenge.pk),
        "binding": challenge.token,
    }
    session.save()

    response = flow.submit(challenge.code, follow=True)

    # INVALID ends the step: back to the flow's start, with the reason; no strike.
    assert not flow.started.succeeded(response)
    assert response.redirect_chain == [(flow.started.start_url, 302)]
    assert "geçerli değil" in response.content.decode()
    assert flow.state() is None or flow.state().get("op") is None  # type: ignore[union-attr]
    challenge.refresh_from_db()
    assert challenge.consumed_at is None
    citizen.refresh_from_db()
    assert citizen.code_failure_count == 0


def test_another_sessions_binding_never_confirms(flow: Flow, citizen: Citizen) -> None:
    code = flow.code
    session = flow.client.session
    session[flow.session_key] = {**session[flow.session_key], "binding": "not-this-session"}
    session.save()

    response = flow.submit(code)

    assert not flow.started.succeeded(response)
    assert response.status_code == 302
    assert SmsChallenge.objects.get(purpose=flow.purpose).consumed_at is None
    citizen.refresh_from_db()
    assert citizen.code_failure_count == 0


def test_an_expired_code_costs_no_strike_and_offers_a_new_one(
    flow: Flow, citizen: Citizen, time_machine: Any
) -> None:
    code = flow.code
    time_machine.move_to(SmsChallenge.objects.get(purpose=flow.purpose).expires_at, tick=False)

    response = flow.submit(code)

    assert response.status_code == 400
    html = response.content.decode()
    assert "SMS Onay Kodunun süresi doldu. Yeni kod isteyiniz." in html
    # No countdown any more: "Yeni kod gönder" is enabled at once.
    assert "data-countdown" not in html
    assert 'data-enable-in="0"' in html
    assert 'data-enable-in="0" disabled' not in html
    citizen.refresh_from_db()
    assert citizen.code_failure_count == 0
    assert not AuditEvent.objects.filter(action="nes.login.code_passed").exists()


def test_resend_waits_a_minute_then_replaces_the_code(
    flow: Flow, citizen: Citizen, time_machine: Any
) -> None:
    old = flow.code
    sent_at = SmsChallenge.objects.get(purpose=flow.purpose).created_at
    time_machine.move_to(sent_at, tick=False)
    page = flow.client.get(flow.started.code_url).content.decode()
    assert "60 saniye sonra yeni kod isteyebilirsiniz." in page
    assert 'data-enable-in="60" disabled' in page

    early = flow.resend()
    assert early.redirect_chain == [(flow.started.code_url, 302)]
    assert "saniye bekleyiniz" in early.content.decode()
    assert flow.sms_count() == 1

    time_machine.move_to(sent_at + SmsChallenge.RESEND_AFTER, tick=False)
    later = flow.resend()
    assert later.redirect_chain == [(flow.started.code_url, 302)]
    assert "Yeni SMS Onay Kodu gönderildi." in later.content.decode()
    assert flow.sms_count() == 2
    new = flow.code
    challenges = SmsChallenge.objects.filter(purpose=flow.purpose)
    assert challenges.filter(invalidated_at=None).count() == 1
    assert challenges.filter(invalidated_at__isnull=False).count() == 1  # the old one, voided
    if new != old:
        # The session knows only the new challenge: the old code is just a wrong one now.
        refused = flow.submit(old)
        assert refused.status_code == 400
        assert "SMS Onay Kodu hatalı. Kalan deneme hakkınız: 2." in refused.content.decode()
    assert flow.started.succeeded(flow.submit(new))
    citizen.refresh_from_db()
    assert citizen.code_failure_count == 0  # a right code wipes the strike


def test_starting_twice_sends_one_sms(flow: Flow, citizen: Citizen) -> None:
    _purpose, _key, starter = FLOWS[flow.name]
    # Login and recovery: a second start repeats the word / birth-date step in a new session
    # (a second tab). The others: a double click in the same session.
    second = Client() if flow.name in ("login", "recovery") else flow.client
    started = starter(second, flow.env)  # …which lands on the code page again

    assert flow.sms_count() == 1
    assert SmsChallenge.objects.filter(purpose=flow.purpose).count() == 1
    if second is not flow.client:
        # The code moved to the new session: the first one's copy starts again, no strike.
        stale = flow.submit(flow.code)
        assert not flow.started.succeeded(stale)
        assert stale.status_code == 302
        assert stale["Location"] == flow.started.start_url
        assert flow.client.get(flow.started.code_url)["Location"] == flow.started.start_url
    response = second.post(started.code_url, {"code": flow.code})
    assert started.succeeded(response)
    citizen.refresh_from_db()
    assert (citizen.failure_count, citizen.code_failure_count) == (0, 0)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_parallel_double_submit_succeeds_once(flow: Flow, citizen: Citizen) -> None:
    code = flow.code
    cookie = flow.client.cookies[settings.SESSION_COOKIE_NAME].value
    barrier = threading.Barrier(4)

    def submit() -> Any:
        twin = Client()
        twin.cookies[settings.SESSION_COOKIE_NAME] = cookie
        try:
            barrier.wait(timeout=30)
            return twin.post(flow.started.code_url, {"code": code})
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=4) as pool:
        responses = [f.result(timeout=120) for f in [pool.submit(submit) for _ in range(4)]]

    assert [flow.started.succeeded(r) for r in responses].count(True) == 1
    assert SmsChallenge.objects.filter(purpose=flow.purpose, consumed_at__isnull=False).count() == 1
    citizen.refresh_from_db()
    assert citizen.code_failure_count == 0
