"""What the portal tells citizens to call about, on the citizen's page: certificates (status,
history), AKİS cards (state, wrong-PUK count) and E-Onay applications — read-only for agents,
and never a PIN, PUK or vault ciphertext."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import Citizen
from certificates import services
from eonay.models import Application
from nesportal.testing.factories import (
    DEFAULT_PIN,
    DEFAULT_PUK,
    AkisCardFactory,
    ApplicationFactory,
    CardUnlockFactory,
)
from pinvault.models import AkisCard, VaultEntry

pytestmark = pytest.mark.django_db

NEW_PIN = "615203"  # a portal unlock's new PIN, waiting for the card tool


def change_url(citizen: Citizen) -> str:
    return reverse("admin:accounts_citizen_change", args=[citizen.pk])


@pytest.fixture
def pictured(citizen: Citizen, certificate_factory: Any) -> dict[str, Any]:
    """A citizen with what they call about: a certificate the CA suspended, a card made
    unusable by three wrong PUKs, and an application they did not ask for."""
    active, _key = certificate_factory(citizen, "active")
    services.suspend_certificate(active, reason="Kart kayboldu")  # by the CA
    unusable = AkisCardFactory(citizen=citizen, before_2011=True, unusable=True)
    pin_locked = AkisCardFactory(citizen=citizen, pin_locked=True)
    unlock = CardUnlockFactory(card=AkisCardFactory(citizen=citizen, pin_locked=True), pin=NEW_PIN)
    application = ApplicationFactory(citizen=citizen)
    return {
        "certificate": active,
        "cards": [unusable, pin_locked],
        "unlock": unlock,
        "application": application,
    }


def test_the_agent_sees_certificates_cards_and_applications_on_the_citizen_page(
    agent_client: Client, citizen: Citizen, pictured: dict[str, Any]
) -> None:
    html = agent_client.get(change_url(citizen)).content.decode()

    cert = pictured["certificate"]
    assert reverse("admin:certificates_certificate_change", args=[cert.pk]) in html
    assert cert.serial_number in html
    assert "Askıda (askıya alan: Sertifika hizmet sağlayıcı)" in html
    assert "Geçerli → Askıda" in html  # the history
    unusable, pin_locked = pictured["cards"]
    assert unusable.serial_number in html and pin_locked.serial_number in html
    assert "Kullanım dışı" in html and "PIN kilitli" in html
    assert "PUK ile (kart aracı)" in html
    application = pictured["application"]
    assert application.reference in html
    assert "Onayınızı bekliyor — Vatandaşın onayını bekliyor" in html
    assert reverse("admin:eonay_application_change", args=[application.pk]) in html


def test_the_tables_are_read_only_for_agents_and_superusers_alike(
    agent_client: Client, citizen: Citizen, pictured: dict[str, Any], admin_user: Any
) -> None:
    from nesportal.testing import staff_login

    for client in (agent_client, staff_login(Client(), admin_user)):
        html = client.get(change_url(citizen)).content.decode()
        for prefix in ("certificates", "cards", "eonay_applications"):
            assert f'id="{prefix}-group"' in html
            # Only the formset's hidden bookkeeping (ids): no field anyone could edit.
            inputs = re.findall(rf'<(?:input|select|textarea)[^>]*name="{prefix}-0-[^>]*>', html)
            assert inputs and all('type="hidden"' in tag for tag in inputs), inputs
        assert "add-row" not in html  # no "add another" row
        assert "-DELETE" not in html


def test_the_agent_opens_each_page_read_only(
    agent_client: Client, pictured: dict[str, Any]
) -> None:
    pages = [
        reverse("admin:certificates_certificate_change", args=[pictured["certificate"].pk]),
        reverse("admin:pinvault_akiscard_change", args=[pictured["cards"][0].pk]),
        reverse("admin:pinvault_cardunlock_change", args=[pictured["unlock"].pk]),
        reverse("admin:eonay_application_change", args=[pictured["application"].pk]),
    ]
    for url in pages:
        assert agent_client.get(url).status_code == 200, url
        assert agent_client.post(url, {}).status_code == 403, url
    assert agent_client.get(reverse("admin:eonay_application_add")).status_code == 403


def test_no_pin_puk_or_ciphertext_reaches_the_agent(
    agent_client: Client, citizen: Citizen, pictured: dict[str, Any]
) -> None:
    pages = [
        change_url(citizen),
        reverse("admin:pinvault_akiscard_changelist"),
        *(reverse("admin:pinvault_akiscard_change", args=[c.pk]) for c in pictured["cards"]),
        reverse("admin:pinvault_cardunlock_change", args=[pictured["unlock"].pk]),
    ]
    html = "".join(agent_client.get(url).content.decode() for url in pages)

    secrets = {DEFAULT_PIN, DEFAULT_PUK, NEW_PIN}
    assert VaultEntry.objects.filter(card__citizen=citizen).exists()
    for secret in secrets:
        assert secret not in html
    for entry in VaultEntry.objects.filter(card__citizen=citizen):
        for blob in (entry.wrapped_key, entry.nonce, entry.ciphertext):
            assert bytes(blob).hex() not in html
            assert repr(bytes(blob)) not in html


def test_the_citizen_page_never_reads_a_vault_column_but_its_existence(
    agent_client: Client,
    citizen: Citizen,
    pictured: dict[str, Any],
    django_assert_max_num_queries: Any,
) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        agent_client.get(change_url(citizen))

    vault = [q["sql"] for q in queries if VaultEntry._meta.db_table in q["sql"]]
    assert vault  # the "PIN/PUK kasada" flag is asked
    for sql in vault:
        assert "ciphertext" not in sql and "wrapped_key" not in sql and "nonce" not in sql


def test_agents_get_no_supervisor_buttons(agent_client: Client, pictured: dict[str, Any]) -> None:
    cert_page = agent_client.get(
        reverse("admin:certificates_certificate_change", args=[pictured["certificate"].pk])
    ).content.decode()
    app_page = agent_client.get(
        reverse("admin:eonay_application_change", args=[pictured["application"].pk])
    ).content.decode()

    assert "Sertifikayı askıdan indir" not in cert_page
    assert "Başvuruyu iptal et" not in app_page
    assert AkisCard.objects.filter(citizen=pictured["application"].citizen).count() == 3
    assert Application.objects.get().is_waiting
