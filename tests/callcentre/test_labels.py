"""Readable labels: the lock state as a word (never a tick), audit actions in Turkish with the
raw code as the tooltip, Turkish column headers on the SMS list, the console's stylesheet."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.contrib.staticfiles import finders
from django.test import Client
from django.urls import reverse

from audit.actor import Actor
from audit.labels import ACTION_LABELS, action_label
from audit.log import record
from nesportal.testing.factories import CitizenFactory, SmsMessageFactory

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]
APPS = ["accounts", "audit", "certificates", "eonay", "esign", "nesportal", "pinvault", "staff"]


def test_the_changelist_shows_kilitli_or_acik_never_a_tick(agent_client: Client) -> None:
    locked = CitizenFactory(locked=True)
    open_ = CitizenFactory()

    response = agent_client.get(reverse("admin:accounts_citizen_changelist"))
    html = response.content.decode()

    row = {c.pk: c for c in response.context["cl"].result_list}
    assert set(row) == {locked.pk, open_.pk}
    assert html.count('<span class="nes-state nes-state-locked">Kilitli</span>') == 1
    assert html.count('<span class="nes-state nes-state-open">Açık</span>') == 1
    assert "icon-yes.svg" not in html
    assert "icon-no.svg" not in html


def test_login_history_shows_turkish_labels_with_the_code_as_tooltip(
    agent_client: Client,
) -> None:
    citizen = CitizenFactory()
    record("nes.login.word_failed", actor=Actor(ip="203.0.113.9"), citizen=citizen)

    html = agent_client.get(
        reverse("admin:accounts_citizen_change", args=[citizen.pk])
    ).content.decode()

    assert '<span title="nes.login.word_failed">Giriş: Güvenlik Sözcüğü hatalı</span>' in html


def test_the_audit_log_lists_labels_with_the_code_as_tooltip(agent_client: Client) -> None:
    record("nes.account.unlocked", citizen=CitizenFactory(), reason="x")

    html = agent_client.get(reverse("admin:audit_auditevent_changelist")).content.decode()

    assert '<span title="nes.account.unlocked">Hesabın kilidi açıldı</span>' in html
    assert "Hesabın kilidi açıldı</a>" in html  # the filter offers labels too


def test_every_audit_action_the_code_records_has_a_label() -> None:
    codes: set[str] = set()
    for app in APPS:
        for path in (ROOT / app).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            codes |= set(re.findall(r'"(nes\.[a-z_]+(?:\.[a-z_]+)?)"', path.read_text()))
    # f"nes.certificate.{action}" in certificates/services.py
    codes |= {f"nes.certificate.{a}" for a in ("opened", "suspended", "reinstated", "revoked")}
    codes -= {"nes.test.event"}  # the factory's example
    assert "nes.logout" in codes
    assert sorted(codes - ACTION_LABELS.keys()) == []
    assert action_label("nes.something.new") == "nes.something.new"


def test_the_sms_list_has_turkish_column_headers(agent_client: Client) -> None:
    SmsMessageFactory(citizen=CitizenFactory())

    html = agent_client.get(reverse("admin:accounts_smsmessage_changelist")).content.decode()

    assert "column-citizen" in html
    header = html[html.index('class="sortable column-citizen') :]
    assert ">Vatandaş<" in header[: header.index("</th>")]
    assert ">Citizen<" not in html


def test_admin_pages_load_the_console_stylesheet_from_a_file(agent_client: Client) -> None:
    citizen = CitizenFactory()
    record("nes.logout", citizen=citizen)

    response = agent_client.get(reverse("admin:accounts_citizen_change", args=[citizen.pk]))
    html = response.content.decode()

    assert re.search(r'<link rel="stylesheet" href="[^"]*css/admin-console\.css">', html)
    assert "<style" not in html  # the CSP forbids inline styles
    assert ' style="' not in html
    assert finders.find("css/admin-console.css")
    assert 'class="nes-table"' in html
    assert "nes-list" in html  # the lists take the whole width


def test_the_audit_filter_keeps_its_old_links(agent_client: Client) -> None:
    citizen = CitizenFactory()
    record("nes.account.unlocked", citizen=citizen, reason="x")
    record("nes.logout", citizen=citizen)

    response = agent_client.get(
        reverse("admin:audit_auditevent_changelist"), {"action__exact": "nes.logout"}
    )

    assert [e.action for e in response.context["cl"].result_list] == ["nes.logout"]
