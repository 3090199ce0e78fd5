"""Admin needs the password *and* a second factor (django-otp): TOTP or one backup code."""

from __future__ import annotations

from typing import Any

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse
from django_otp.plugins.otp_static.models import StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from audit.models import AuditEvent
from nesportal.testing import frozen_clock
from nesportal.testing.factories import CallCentreAgentFactory, StaffUserFactory
from staff.models import HashedStaticDevice, StaffGuard
from staff.services import username_digest

from .helpers import (
    GENERIC,
    INDEX,
    LOGIN,
    VERIFY,
    authenticator,
    code_step,
    other_code,
    password_step,
    totp,
)

pytestmark = pytest.mark.django_db

ADMIN_PAGES = [
    INDEX,
    reverse("admin:accounts_citizen_changelist"),
    reverse("admin:audit_auditevent_changelist"),
    reverse("admin:auth_user_changelist"),
]


def actions(**filters: Any) -> list[str]:
    return list(
        AuditEvent.objects.filter(**filters).order_by("pk").values_list("action", flat=True)
    )


@pytest.mark.parametrize("page", ADMIN_PAGES)
def test_the_password_alone_reaches_no_admin_page(client: Client, page: str) -> None:
    agent = CallCentreAgentFactory()
    authenticator(agent)

    assert password_step(client, agent.username)["Location"] == VERIFY
    response = client.get(page)

    assert response.status_code == 302
    assert response["Location"].startswith(LOGIN)
    assert "_auth_user_id" not in client.session, "nobody is logged in before the second factor"


def test_a_session_logged_in_without_a_device_reaches_no_admin_page(client: Client) -> None:
    # A session from before two-factor (or any force_login): authenticated, never verified.
    client.force_login(StaffUserFactory(is_superuser=True))

    for page in ADMIN_PAGES:
        assert client.get(page)["Location"].startswith(LOGIN)


def test_password_then_totp_logs_in_and_audits(client: Client) -> None:
    agent = CallCentreAgentFactory()
    secret = authenticator(agent)

    password_step(client, agent.username)
    response = code_step(client, totp(secret))

    assert response.status_code == 302
    assert response["Location"] == INDEX
    assert client.get(INDEX).status_code == 200
    assert actions(subject=agent.username) == ["nes.staff.password_passed", "nes.staff.login"]
    login = AuditEvent.objects.get(action="nes.staff.login")
    assert login.actor == agent
    assert login.data["method"] == "totp"
    assert StaffGuard.objects.get(user=agent).failure_count == 0


def test_a_wrong_password_says_nothing_about_the_account(client: Client) -> None:
    agent = CallCentreAgentFactory()
    authenticator(agent)

    wrong = password_step(client, agent.username, "Yanlis-Parola-1")
    unknown = password_step(client, "kimse-yok", "Yanlis-Parola-1")

    for response in (wrong, unknown):
        assert response.status_code == 400
        assert GENERIC in response.content.decode()
        assert "Yanlis-Parola-1" not in response.content.decode()
    # The unknown name is kept only as a keyed digest (it could be a password typed there).
    event = AuditEvent.objects.filter(action="nes.staff.password_failed").order_by("pk").last()
    assert event is not None
    assert event.subject == username_digest("kimse-yok")
    assert "kimse-yok" not in str(event.data)


def test_a_code_from_another_users_device_is_refused(client: Client) -> None:
    agent, colleague = CallCentreAgentFactory(), CallCentreAgentFactory()
    authenticator(agent)
    colleagues_secret = authenticator(colleague)

    password_step(client, agent.username)
    response = code_step(client, totp(colleagues_secret))

    assert response.status_code == 400
    assert "Doğrulama kodu hatalı" in response.content.decode()
    assert client.get(INDEX)["Location"].startswith(LOGIN)


def test_a_totp_code_works_once(client: Client) -> None:
    agent = CallCentreAgentFactory()
    secret = authenticator(agent)
    with frozen_clock() as clock:
        code = totp(secret)
        password_step(client, agent.username)
        assert code_step(client, code)["Location"] == INDEX
        client.logout()

        clock.shift(5)  # same 30-second step: the same code would still be current
        other = Client()
        password_step(other, agent.username)
        replay = code_step(other, code)

    assert replay.status_code == 400
    assert other.get(INDEX)["Location"].startswith(LOGIN)


def test_a_backup_code_works_once_and_says_how_many_are_left(client: Client) -> None:
    agent = CallCentreAgentFactory()
    authenticator(agent)
    backup = HashedStaticDevice.objects.create(user=agent, name="Yedek kodlar")
    codes = backup.replace_codes()

    password_step(client, agent.username)
    response = code_step(client, codes[3].upper().replace("-", " "))  # as typed from paper

    assert response["Location"] == INDEX
    page = client.get(INDEX)
    assert "9 yedek kodunuz kaldı" in page.content.decode()
    assert AuditEvent.objects.get(action="nes.staff.backup_code_used").data["left"] == 9

    again = Client()
    password_step(again, agent.username)
    assert code_step(again, codes[3]).status_code == 400
    assert again.get(INDEX)["Location"].startswith(LOGIN)


def test_backup_codes_and_totp_keys_are_not_stored_readable(client: Client) -> None:
    agent = CallCentreAgentFactory()
    secret = authenticator(agent)
    codes = HashedStaticDevice.objects.create(user=agent, name="x").replace_codes()

    stored_key = TOTPDevice.objects.get(user=agent).key
    tokens = set(StaticToken.objects.values_list("token", flat=True))

    import base64

    assert base64.b32decode(secret).hex() not in stored_key
    assert not {c.replace("-", "") for c in codes} & tokens
    assert len(tokens) == 10


def test_a_wrong_code_makes_the_device_wait_without_a_strike(client: Client) -> None:
    agent = CallCentreAgentFactory()
    secret = authenticator(agent)
    with frozen_clock() as clock:
        password_step(client, agent.username)
        assert code_step(client, other_code(totp(secret))).status_code == 400
        assert StaffGuard.objects.get(user=agent).failure_count == 1

        throttled = code_step(client, totp(secret))  # right, but too soon (django-otp: 1 s)
        assert throttled.status_code == 429
        assert "saniye sonra" in throttled.content.decode()
        assert StaffGuard.objects.get(user=agent).failure_count == 1, "a wait is no guess"

        clock.shift(2)
        assert code_step(client, totp(secret))["Location"] == INDEX
    assert StaffGuard.objects.get(user=agent).failure_count == 0


def test_five_failures_lock_the_staff_account_until_a_superuser_unlocks_it(
    client: Client,
) -> None:
    agent = CallCentreAgentFactory()
    secret = authenticator(agent)
    with frozen_clock() as clock:
        for _ in range(3):
            assert password_step(client, agent.username, "Yanlis-Parola-1").status_code == 400
        password_step(client, agent.username)
        assert code_step(client, other_code(totp(secret))).status_code == 400
        clock.shift(5)
        locked = code_step(client, other_code(totp(secret)))
        assert locked["Location"] == LOGIN

        guard = StaffGuard.objects.get(user=agent)
        assert guard.is_locked
        assert guard.lock_reason == StaffGuard.LockReason.WRONG_TOKEN
        assert guard.failure_count == 5
        # Now even the right password and the right code get nowhere.
        refused = password_step(Client(), agent.username)
        assert refused.status_code == 400
        assert GENERIC in refused.content.decode()
        assert "nes.staff.locked" in actions(subject=agent.username)

        superuser = StaffUserFactory(is_superuser=True)
        from nesportal.testing import staff_login

        admin = staff_login(Client(), superuser)
        changelist = reverse("admin:auth_user_changelist")
        form = {"action": "unlock_staff", "_selected_action": [agent.pk]}
        assert "Kilit açma gerekçesi" in admin.post(changelist, form).content.decode()
        admin.post(changelist, {**form, "apply": "1", "reason": "Kimliği doğrulandı."})

        clock.shift(60)
        fresh = Client()
        assert password_step(fresh, agent.username)["Location"] == VERIFY
        assert code_step(fresh, totp(secret))["Location"] == INDEX
    unlocked = AuditEvent.objects.get(action="nes.staff.unlocked")
    assert unlocked.actor == superuser
    assert unlocked.data["reason"] == "Kimliği doğrulandı."


def test_the_password_step_expires_and_dies_with_a_password_change(client: Client) -> None:
    agent = CallCentreAgentFactory()
    secret = authenticator(agent)
    with frozen_clock() as clock:
        password_step(client, agent.username)
        clock.shift(5 * 60 + 1)
        assert code_step(client, totp(secret))["Location"] == LOGIN

        password_step(client, agent.username)
        agent.set_password("Yeni-Parola-2026-x")
        agent.save()
        assert code_step(client, totp(secret))["Location"] == LOGIN
    assert client.get(INDEX)["Location"].startswith(LOGIN)


def test_only_a_superuser_resets_a_colleagues_devices_and_the_colleague_enrols_again(
    client: Client,
) -> None:
    from nesportal.testing import staff_login

    agent = CallCentreAgentFactory()
    secret = authenticator(agent)
    changelist = reverse("admin:auth_user_changelist")
    form = {"action": "reset_devices", "_selected_action": [agent.pk]}

    supervisor_like = StaffUserFactory()
    supervisor_like.user_permissions.add(*_perms("view_user", "change_user"))
    colleague = staff_login(Client(), supervisor_like)
    assert "reset_devices" not in colleague.get(changelist).content.decode()
    colleague.post(changelist, {**form, "apply": "1", "reason": "x"})
    assert TOTPDevice.objects.filter(user=agent).exists()

    admin = staff_login(Client(), StaffUserFactory(is_superuser=True))
    admin.post(changelist, {**form, "apply": "1", "reason": "Telefonunu kaybetti."})

    assert not TOTPDevice.objects.filter(user=agent).exists()
    assert password_step(client, agent.username)["Location"] == reverse("admin:otp_enrol")
    assert code_step(client, totp(secret))["Location"] == reverse("admin:otp_enrol")
    assert AuditEvent.objects.get(action="nes.staff.devices_reset").data["reason"] == (
        "Telefonunu kaybetti."
    )


def _perms(*codenames: str) -> list[Any]:
    from django.contrib.auth.models import Permission

    return list(Permission.objects.filter(codename__in=codenames))


def test_no_admin_shows_a_totp_key_or_a_backup_code() -> None:
    from django.contrib import admin
    from django_otp.plugins.otp_static.models import StaticDevice

    assert not admin.site.is_registered(TOTPDevice)
    assert not admin.site.is_registered(StaticDevice)
    assert settings.OTP_TOTP_ISSUER == "NES Portal"
