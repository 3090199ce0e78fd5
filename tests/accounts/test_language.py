"""The citizen's language (``accounts.language``): stored when they use the site in it, and
used for their SMS and e-mails."""

from __future__ import annotations

from typing import Any

import pytest
from django.core import mail
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from accounts.models import Citizen, SmsMessage
from accounts.sms_queue import queue_sms
from accounts.sms_texts import render_body
from nesportal.testing import login_as
from tests.test_code_flows import Env, start_login

pytestmark = pytest.mark.django_db


def switch(client: Client, language: str) -> None:
    response = client.post("/i18n/setlang/", {"language": language, "next": "/islemler/"})
    assert response.status_code == 302


def test_switching_the_site_to_english_is_remembered_for_sms(citizen: Citizen) -> None:
    client = login_as(Client(), citizen)
    switch(client, "en")
    assert client.get("/islemler/").status_code == 200
    citizen.refresh_from_db()
    assert citizen.language == "en"
    body = render_body(
        queue_sms(citizen, SmsMessage.Kind.CONTACT_UPDATED, context={"field": "address"})
    )
    assert body and body.startswith("NES Portal: your contact details (address) have been updated.")

    switch(client, "tr")
    client.get("/islemler/")
    citizen.refresh_from_db()
    assert citizen.language == "tr"


def test_an_unchanged_language_writes_nothing(citizen: Citizen) -> None:
    client = login_as(Client(), citizen)
    client.get("/islemler/")
    with CaptureQueriesContext(connection) as queries:
        client.get("/islemler/")
    assert not [q for q in queries.captured_queries if q["sql"].startswith("UPDATE")]


def test_the_login_code_comes_in_the_language_of_the_login_page(
    citizen: Citizen,
    certificate_factory: Any,
    sms_outbox: list[dict[str, Any]],
    django_capture_on_commit_callbacks: Any,
) -> None:
    client = Client()
    switch(client, "en")
    start_login(client, Env(citizen, django_capture_on_commit_callbacks, certificate_factory))
    assert "is your NES Portal login code" in sms_outbox[-1]["body"]
    citizen.refresh_from_db()
    assert citizen.language == "en"


def test_the_email_confirmation_is_in_the_citizens_language(citizen: Citizen) -> None:
    client = login_as(Client(), citizen)
    switch(client, "en")
    client.get("/islemler/")
    response = client.post("/bilgi-guncelle/e-posta/", {"email": "anna@example.com"})
    assert response.status_code == 302
    [message] = mail.outbox
    assert "NES Portal" in message.subject
    assert "Dear" in message.body or "confirm" in message.body.lower()
