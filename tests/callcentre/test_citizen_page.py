"""The citizen's page starts with what the agent needs: the lock box and the "Kilidi aç" /
"Sıfırlama bağlantısı gönder" buttons, each two clicks plus a reason (button → confirmation
page with the reason → back on the citizen's page with a message)."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import Citizen, SmsMessage, WordResetLink
from audit.models import AuditEvent
from nesportal.testing.factories import CitizenFactory

pytestmark = pytest.mark.django_db


def change_url(citizen: Citizen) -> str:
    return reverse("admin:accounts_citizen_change", args=[citizen.pk])


def unlock_url(citizen: Citizen) -> str:
    return reverse("admin:accounts_citizen_kilidi-ac", args=[citizen.pk])


def reset_url(citizen: Citizen) -> str:
    return reverse("admin:accounts_citizen_sifirlama-baglantisi", args=[citizen.pk])


def test_it_puts_the_lock_box_and_the_buttons_above_the_fieldsets(
    agent_client: Client, locked_citizen: Citizen
) -> None:
    html = agent_client.get(change_url(locked_citizen)).content.decode()

    box = html.index('class="nes-lock-box nes-lock-box-locked"')
    assert box < html.index("<fieldset")
    assert box < html.index('id="citizen_form"')  # outside the change form: forms cannot nest
    assert '<span class="nes-state nes-state-locked">Kilitli</span>' in html
    assert "3 kez hatalı Güvenlik Sözcüğü" in html
    assert "Kilitlenme zamanı" in html
    assert f'action="{unlock_url(locked_citizen)}"' in html
    assert f'action="{reset_url(locked_citizen)}"' in html
    # The link would not work for a locked account: its button is there, disabled.
    assert 'disabled title="Hesap kilitli: önce kilidi açınız."' in html


def test_an_open_account_shows_acik_and_an_enabled_reset_button(agent_client: Client) -> None:
    citizen = CitizenFactory()

    html = agent_client.get(change_url(citizen)).content.decode()

    box = html[html.index('class="nes-lock-box') : html.index("</section>")]
    assert '<span class="nes-state nes-state-open">Açık</span>' in box
    assert "Kilitlenme zamanı" not in box
    assert 'disabled title="Hesap kilitli değil."' in html  # "Kilidi aç"
    assert "Hesap kilitli: önce kilidi açınız." not in html


def test_without_the_permissions_there_are_no_buttons_and_the_urls_answer_403(
    viewer_client: Client, locked_citizen: Citizen
) -> None:
    html = viewer_client.get(change_url(locked_citizen)).content.decode()

    assert "nes-lock-box" in html  # the state is still shown
    assert unlock_url(locked_citizen) not in html
    assert reset_url(locked_citizen) not in html
    for url in (unlock_url(locked_citizen), reset_url(locked_citizen)):
        assert viewer_client.post(url, {"apply": "1", "reason": "deneme"}).status_code == 403
    locked_citizen.refresh_from_db()
    assert locked_citizen.is_locked
    assert not AuditEvent.objects.filter(action="nes.account.unlocked").exists()


def test_a_get_does_nothing(agent_client: Client, locked_citizen: Citizen) -> None:
    response = agent_client.get(unlock_url(locked_citizen), {"apply": "1", "reason": "x"})

    assert response.status_code == 405
    locked_citizen.refresh_from_db()
    assert locked_citizen.is_locked


def test_it_unlocks_from_the_citizen_page_with_a_reason(
    agent_client: Client, call_centre_agent: object, locked_citizen: Citizen
) -> None:
    confirm = agent_client.post(unlock_url(locked_citizen))

    assert confirm.status_code == 200
    assert confirm.templates[0].name == "admin/reason_action.html"
    page = confirm.content.decode()
    assert "Kilit açma gerekçesi" in page
    assert locked_citizen.identifier in page
    assert f'href="{change_url(locked_citizen)}"' in page  # "Vazgeç" goes back to the citizen
    locked_citizen.refresh_from_db()
    assert locked_citizen.is_locked  # the first POST only asks

    done = agent_client.post(
        unlock_url(locked_citizen), {"apply": "1", "reason": "Kimlik doğrulandı"}, follow=True
    )

    assert done.redirect_chain == [(change_url(locked_citizen), 302)]
    assert "1 vatandaşın kilidi açıldı." in done.content.decode()
    assert '<span class="nes-state nes-state-open">Açık</span>' in done.content.decode()
    locked_citizen.refresh_from_db()
    assert not locked_citizen.is_locked
    event = AuditEvent.objects.get(action="nes.account.unlocked")
    assert event.actor == call_centre_agent
    assert event.citizen == locked_citizen
    assert event.data["reason"] == "Kimlik doğrulandı"


def test_a_reason_is_required(agent_client: Client, locked_citizen: Citizen) -> None:
    response = agent_client.post(unlock_url(locked_citizen), {"apply": "1", "reason": ""})

    assert response.status_code == 200
    assert response.context["form"].errors["reason"]
    locked_citizen.refresh_from_db()
    assert locked_citizen.is_locked
    assert not AuditEvent.objects.filter(action="nes.account.unlocked").exists()


def test_unlocked_meanwhile_is_a_warning_not_an_error(
    agent_client: Client, citizen: Citizen
) -> None:
    response = agent_client.post(unlock_url(citizen), {"apply": "1", "reason": "x"}, follow=True)

    assert response.redirect_chain == [(change_url(citizen), 302)]
    assert "Seçilenler arasında kilitli vatandaş yok." in response.content.decode()
    assert not AuditEvent.objects.filter(action="nes.account.unlocked").exists()


def test_it_sends_a_reset_link_from_the_citizen_page(
    agent_client: Client, call_centre_agent: object, citizen: Citizen
) -> None:
    confirm = agent_client.post(reset_url(citizen))
    assert "Bağlantı gönderme gerekçesi" in confirm.content.decode()
    assert not WordResetLink.objects.exists()

    done = agent_client.post(
        reset_url(citizen), {"apply": "1", "reason": "Vatandaş aradı"}, follow=True
    )

    assert done.redirect_chain == [(change_url(citizen), 302)]
    assert "Güvenlik Sözcüğü yenileme bağlantısı gönderildi." in done.content.decode()
    link = WordResetLink.objects.get(citizen=citizen)
    assert link.created_by == call_centre_agent
    event = AuditEvent.objects.get(action="nes.recovery.link_sent")
    assert event.actor == call_centre_agent
    assert event.data["reason"] == "Vatandaş aradı"
    assert SmsMessage.objects.filter(citizen=citizen, kind="word_reset_link").count() == 1


def test_no_reset_link_for_a_locked_account(agent_client: Client, locked_citizen: Citizen) -> None:
    response = agent_client.post(
        reset_url(locked_citizen), {"apply": "1", "reason": "x"}, follow=True
    )

    assert "önce kilidi açınız" in response.content.decode()
    assert not WordResetLink.objects.exists()


def test_the_changelist_actions_still_work(agent_client: Client, locked_citizen: Citizen) -> None:
    from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME

    response = agent_client.post(
        reverse("admin:accounts_citizen_changelist"),
        {
            "action": "unlock",
            ACTION_CHECKBOX_NAME: [str(locked_citizen.pk)],
            "apply": "1",
            "reason": "Liste",
        },
    )

    assert response.status_code == 302
    locked_citizen.refresh_from_db()
    assert not locked_citizen.is_locked
