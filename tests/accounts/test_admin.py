"""Call-centre admin: an agent with only the "Çağrı Merkezi" group finds, inspects and unlocks
citizens; the audit log and SMS records are read-only for everyone."""

from __future__ import annotations

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.auth.models import Permission
from django.test import Client, RequestFactory
from django.urls import reverse

from accounts.models import CALL_CENTRE_GROUP, Citizen, SmsMessage
from accounts.services import check_security_word
from audit.actor import Actor
from audit.log import record
from audit.models import AuditEvent
from nesportal.testing import staff_login
from nesportal.testing.factories import (
    DEFAULT_SECURITY_WORD,
    CallCentreAgentFactory,
    CitizenFactory,
    StaffUserFactory,
)

from .helpers import lock_by_wrong_words

pytestmark = pytest.mark.django_db

CHANGELIST = "admin:accounts_citizen_changelist"


def _request(ip: str = "203.0.113.9"):
    return RequestFactory().post("/giris/", REMOTE_ADDR=ip)


def _change_url(citizen: Citizen) -> str:
    return reverse("admin:accounts_citizen_change", args=[citizen.pk])


def _unlock_post(client: Client, citizen: Citizen, **extra: str):
    data = {"action": "unlock", ACTION_CHECKBOX_NAME: [str(citizen.pk)], **extra}
    return client.post(reverse(CHANGELIST), data)


def test_it_gives_the_agent_only_the_call_centre_group(call_centre_agent):
    assert [g.name for g in call_centre_agent.groups.all()] == [CALL_CENTRE_GROUP]
    assert not call_centre_agent.is_superuser
    assert not call_centre_agent.user_permissions.exists()
    assert call_centre_agent.get_all_permissions() == {
        "accounts.view_citizen",
        "accounts.unlock_citizen",
        "accounts.send_reset_link",
        "accounts.view_smsmessage",
        "audit.view_auditevent",
        # Read-only: what citizens call about (the console, tests/callcentre/).
        "certificates.view_certificate",
        "certificates.view_certificatestatuschange",
        "pinvault.view_akiscard",
        "pinvault.view_cardunlock",
        "eonay.view_application",
        "eonay.view_consent",
    }


def test_it_finds_a_citizen_by_tckn(agent_client):
    wanted = CitizenFactory(first_name="Zerrin", last_name="Aksoy")
    other = CitizenFactory(first_name="Hüseyin", last_name="Kaya")

    response = agent_client.get(reverse(CHANGELIST), {"q": wanted.tckn})

    assert response.status_code == 200
    assert list(response.context["cl"].result_list) == [wanted]
    content = response.content.decode()
    assert "Zerrin Aksoy" in content
    assert wanted.tckn in content
    assert other.tckn not in content


def test_it_finds_a_citizen_by_name(agent_client):
    wanted = CitizenFactory(first_name="Gülizar", last_name="Öztürk")
    other = CitizenFactory(first_name="Mehmet", last_name="Demir")

    by_first = agent_client.get(reverse(CHANGELIST), {"q": "Gülizar"})
    by_last = agent_client.get(reverse(CHANGELIST), {"q": "Öztürk"})

    assert by_first.status_code == by_last.status_code == 200
    assert list(by_first.context["cl"].result_list) == [wanted]
    assert list(by_last.context["cl"].result_list) == [wanted]
    assert other.tckn not in by_first.content.decode()


def test_it_does_not_match_a_partial_tckn(agent_client):
    # "=tckn": exact match only, so a few digits do not list everyone who shares them.
    citizen = CitizenFactory()

    response = agent_client.get(reverse(CHANGELIST), {"q": citizen.tckn[:6]})

    assert response.status_code == 200
    assert list(response.context["cl"].result_list) == []


def test_it_shows_lock_state_reason_attempts_and_sms_outcomes(agent_client):
    citizen = lock_by_wrong_words(CitizenFactory())
    for outcome in [
        {"status": SmsMessage.Status.SENT, "provider_message_id": "SM0123456789abcdef"},
        {
            "status": SmsMessage.Status.FAILED,
            "failure_reason": "Twilio HTTP 400 (code 21211): invalid To",
        },
    ]:
        SmsMessage.objects.create(
            citizen=citizen,
            kind=SmsMessage.Kind.LOGIN_CODE,
            to_number=citizen.mobile_phone,
            **outcome,
        )

    response = agent_client.get(_change_url(citizen))

    assert response.status_code == 200
    content = response.content.decode()
    assert citizen.tckn in content
    assert "3 kez hatalı Güvenlik Sözcüğü" in content  # lock reason
    assert "Kilit durumu" in content
    # The recent login attempts, with the address they came from.
    assert content.count("nes.login.word_failed") == 3
    assert "nes.account.locked" in content
    assert "203.0.113.9" in content
    # SMS outcomes: the provider id of the sent one, the reason of the failed one.
    assert "SM0123456789abcdef" in content
    assert "Twilio HTTP 400 (code 21211): invalid To" in content
    assert "Başarısız" in content
    assert "Hesap kilitlendi bildirimi" in content  # queued by the lock


def test_it_lists_lock_state_on_the_changelist(agent_client):
    locked = lock_by_wrong_words(CitizenFactory())
    CitizenFactory()

    response = agent_client.get(reverse(CHANGELIST), {"kilit": "evet"})

    assert response.status_code == 200
    assert list(response.context["cl"].result_list) == [locked]


def test_it_never_shows_the_security_word_hash(agent_client):
    citizen = lock_by_wrong_words(CitizenFactory())
    assert citizen.security_word_hash.startswith("argon2")

    pages = [
        agent_client.get(_change_url(citizen)),
        agent_client.get(reverse(CHANGELIST)),
        agent_client.get(reverse(CHANGELIST), {"q": citizen.tckn}),
    ]

    for response in pages:
        assert response.status_code == 200
        content = response.content.decode()
        assert citizen.tckn in content
        assert citizen.security_word_hash not in content
        assert citizen.security_word_hash.split("$")[-1] not in content
        assert "argon2" not in content.lower()
        assert "security_word" not in content


def test_it_gives_the_agent_no_field_to_change_the_security_word(agent_client):
    citizen = CitizenFactory()

    response = agent_client.get(_change_url(citizen))

    assert response.status_code == 200
    content = response.content.decode()
    assert 'name="new_security_word"' not in content
    assert 'name="security_word_hash"' not in content
    assert "Yeni Güvenlik Sözcüğü" not in content
    assert 'name="_save"' not in content  # a view-only page: nothing to save


def test_it_gives_a_superuser_a_new_word_field_but_never_the_hash(client):
    admin_user = StaffUserFactory(is_superuser=True)
    staff_login(client, admin_user)
    citizen = CitizenFactory()

    response = client.get(_change_url(citizen))

    assert response.status_code == 200
    content = response.content.decode()
    assert 'name="new_security_word"' in content
    assert 'name="_save"' in content
    assert citizen.security_word_hash not in content
    assert 'name="security_word_hash"' not in content


def test_it_refuses_changes_from_the_agent(agent_client):
    citizen = CitizenFactory(first_name="Ali", email="ali@example.com.tr")
    before = citizen.security_word_hash
    data = {
        "tckn": citizen.tckn,
        "passport_no": "",
        "first_name": "Değişti",
        "last_name": citizen.last_name,
        "birth_date": "1985-04-23",
        "mobile_phone": citizen.mobile_phone,
        "email": "baska@example.com.tr",
        "address": "Yeni adres",
        "new_security_word": "agent-chose-this",
    }

    response = agent_client.post(_change_url(citizen), data)

    assert response.status_code == 403
    citizen.refresh_from_db()
    assert citizen.first_name == "Ali"
    assert citizen.email == "ali@example.com.tr"
    assert citizen.security_word_hash == before


def test_it_refuses_add_and_delete_to_the_agent(agent_client):
    citizen = CitizenFactory()
    count = Citizen.objects.count()

    add_get = agent_client.get(reverse("admin:accounts_citizen_add"))
    add_post = agent_client.post(
        reverse("admin:accounts_citizen_add"),
        {
            "tckn": "10000000146",
            "first_name": "Yeni",
            "last_name": "Kişi",
            "birth_date": "1990-01-01",
            "mobile_phone": "+905321112233",
            "new_security_word": "bir-sözcük",
        },
    )
    delete_get = agent_client.get(reverse("admin:accounts_citizen_delete", args=[citizen.pk]))
    delete_post = agent_client.post(
        reverse("admin:accounts_citizen_delete", args=[citizen.pk]), {"post": "yes"}
    )
    bulk_delete = agent_client.post(
        reverse(CHANGELIST),
        {"action": "delete_selected", ACTION_CHECKBOX_NAME: [str(citizen.pk)], "post": "yes"},
    )

    assert add_get.status_code == add_post.status_code == 403
    assert delete_get.status_code == delete_post.status_code == 403
    assert bulk_delete.status_code in (200, 302)
    assert Citizen.objects.count() == count
    assert Citizen.objects.filter(pk=citizen.pk).exists()
    changelist = agent_client.get(reverse(CHANGELIST)).content.decode()
    assert reverse("admin:accounts_citizen_add") not in changelist
    assert 'value="delete_selected"' not in changelist


def test_it_offers_the_unlock_action_to_the_agent(agent_client):
    CitizenFactory()

    response = agent_client.get(reverse(CHANGELIST))

    assert response.status_code == 200
    assert '<option value="unlock">Kilidi aç</option>' in response.content.decode()


def test_it_asks_for_a_reason_before_unlocking(agent_client):
    citizen = lock_by_wrong_words(CitizenFactory(first_name="Sevgi", last_name="Arslan"))

    response = _unlock_post(agent_client, citizen)

    assert response.status_code == 200
    assert [t.name for t in response.templates][0] == "admin/reason_action.html"
    content = response.content.decode()
    assert "Kilit açma gerekçesi" in content
    assert 'name="reason"' in content
    assert "Sevgi Arslan" in content
    assert f'name="{ACTION_CHECKBOX_NAME}" value="{citizen.pk}"' in content
    citizen.refresh_from_db()
    assert citizen.is_locked
    assert not AuditEvent.objects.filter(action="nes.account.unlocked").exists()


def test_it_unlocks_with_a_reason_and_records_who_and_why(agent_client, call_centre_agent):
    citizen = lock_by_wrong_words(CitizenFactory())
    assert citizen.failure_count == 3
    reason = "Vatandaş 444 5 576'yı aradı, kimliği doğrulandı."

    form = _unlock_post(agent_client, citizen)
    response = _unlock_post(agent_client, citizen, apply="1", reason=reason)

    assert form.status_code == 200
    assert response.status_code == 302
    assert response.url == reverse(CHANGELIST)
    citizen.refresh_from_db()
    assert citizen.locked_at is None
    assert citizen.lock_reason == ""
    assert citizen.failure_count == 0
    event = AuditEvent.objects.get(action="nes.account.unlocked")
    assert event.citizen == citizen
    assert event.actor == call_centre_agent
    assert event.data["reason"] == reason
    assert event.data["previous_reason"] == Citizen.LockReason.WRONG_WORD
    followed = agent_client.get(response.url)
    assert "1 vatandaşın kilidi açıldı." in followed.content.decode()


def test_it_does_not_unlock_without_a_reason(agent_client):
    citizen = lock_by_wrong_words(CitizenFactory())

    response = _unlock_post(agent_client, citizen, apply="1", reason="   ")

    assert response.status_code == 200
    assert "Bu alan zorunludur." in response.content.decode()
    citizen.refresh_from_db()
    assert citizen.is_locked
    assert citizen.failure_count == 3
    assert not AuditEvent.objects.filter(action="nes.account.unlocked").exists()


def test_it_leaves_unlocked_citizens_alone(agent_client):
    citizen = CitizenFactory()

    response = _unlock_post(agent_client, citizen)

    assert response.status_code == 302
    followed = agent_client.get(response.url)
    assert "Seçilenler arasında kilitli vatandaş yok." in followed.content.decode()
    assert not AuditEvent.objects.filter(action="nes.account.unlocked").exists()


def test_it_lets_the_citizen_log_in_again_after_the_unlock(agent_client):
    citizen = lock_by_wrong_words(CitizenFactory())
    # While locked, even the right word is refused.
    assert (
        check_security_word(
            citizen.tckn, DEFAULT_SECURITY_WORD, actor=Actor.from_request(_request())
        )
        is None
    )

    _unlock_post(agent_client, citizen, apply="1", reason="Kimlik doğrulandı.")

    assert (
        check_security_word(
            citizen.tckn, DEFAULT_SECURITY_WORD, actor=Actor.from_request(_request())
        )
        == citizen
    )
    assert AuditEvent.objects.filter(citizen=citizen, action="nes.login.word_passed").count() == 1


def test_it_withholds_the_unlock_action_from_staff_without_the_permission(client):
    staff = StaffUserFactory()
    staff.user_permissions.add(
        Permission.objects.get(content_type__app_label="accounts", codename="view_citizen")
    )
    staff_login(client, staff)
    citizen = lock_by_wrong_words(CitizenFactory())

    changelist = client.get(reverse(CHANGELIST))
    form = _unlock_post(client, citizen)
    applied = _unlock_post(client, citizen, apply="1", reason="Yetkim yok ama deniyorum.")

    assert changelist.status_code == 200
    assert citizen.tckn in changelist.content.decode()
    assert 'value="unlock"' not in changelist.content.decode()
    for response in (form, applied):
        assert response.status_code in (200, 302)
        assert "Kilit açma gerekçesi" not in response.content.decode()
    citizen.refresh_from_db()
    assert citizen.is_locked
    assert not AuditEvent.objects.filter(action="nes.account.unlocked").exists()


def test_it_shows_the_audit_log_to_the_agent(agent_client):
    citizen = lock_by_wrong_words(CitizenFactory())

    response = agent_client.get(reverse("admin:audit_auditevent_changelist"))

    assert response.status_code == 200
    content = response.content.decode()
    assert "nes.account.locked" in content
    assert "nes.login.word_failed" in content
    assert str(citizen) in content
    assert reverse("admin:audit_auditevent_add") not in content


def test_it_finds_audit_events_by_tckn(agent_client):
    wanted = lock_by_wrong_words(CitizenFactory())
    other = CitizenFactory()
    record("nes.logout", citizen=other)

    response = agent_client.get(reverse("admin:audit_auditevent_changelist"), {"q": wanted.tckn})

    assert response.status_code == 200
    events = list(response.context["cl"].result_list)
    assert events
    assert {e.citizen_id for e in events} == {wanted.pk}


@pytest.mark.parametrize("as_superuser", [False, True])
def test_it_refuses_to_add_change_or_delete_audit_events(client, as_superuser):
    user = StaffUserFactory(is_superuser=True) if as_superuser else CallCentreAgentFactory()
    staff_login(client, user)
    event = record("nes.logout", citizen=CitizenFactory())

    add = client.get(reverse("admin:audit_auditevent_add"))
    change = client.post(
        reverse("admin:audit_auditevent_change", args=[event.pk]), {"action": "nes.tampered"}
    )
    delete_get = client.get(reverse("admin:audit_auditevent_delete", args=[event.pk]))
    delete_post = client.post(
        reverse("admin:audit_auditevent_delete", args=[event.pk]), {"post": "yes"}
    )
    view = client.get(reverse("admin:audit_auditevent_change", args=[event.pk]))

    assert add.status_code == change.status_code == 403
    assert delete_get.status_code == delete_post.status_code == 403
    assert view.status_code == 200
    assert 'name="_save"' not in view.content.decode()
    event.refresh_from_db()
    assert event.action == "nes.logout"
    assert AuditEvent.objects.filter(pk=event.pk).exists()


@pytest.mark.parametrize("as_superuser", [False, True])
def test_it_keeps_sms_records_read_only(client, as_superuser):
    user = StaffUserFactory(is_superuser=True) if as_superuser else CallCentreAgentFactory()
    staff_login(client, user)
    citizen = CitizenFactory()
    message = SmsMessage.objects.create(
        citizen=citizen,
        kind=SmsMessage.Kind.LOGIN_CODE,
        to_number=citizen.mobile_phone,
        status=SmsMessage.Status.FAILED,
        failure_reason="Twilio unreachable: ConnectionError",
    )

    listing = client.get(reverse("admin:accounts_smsmessage_changelist"))
    view = client.get(reverse("admin:accounts_smsmessage_change", args=[message.pk]))
    add = client.get(reverse("admin:accounts_smsmessage_add"))
    change = client.post(
        reverse("admin:accounts_smsmessage_change", args=[message.pk]),
        {"status": "sent", "failure_reason": ""},
    )
    delete = client.post(
        reverse("admin:accounts_smsmessage_delete", args=[message.pk]), {"post": "yes"}
    )

    assert listing.status_code == view.status_code == 200
    assert "Twilio unreachable: ConnectionError" in listing.content.decode()
    assert 'name="_save"' not in view.content.decode()
    assert add.status_code == change.status_code == delete.status_code == 403
    message.refresh_from_db()
    assert message.status == SmsMessage.Status.FAILED
    assert message.failure_reason == "Twilio unreachable: ConnectionError"
