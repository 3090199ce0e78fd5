"""Queries per page do not grow with what the citizen holds: 1, 10 and 100 certificates, cards
and E-Onay applications cost every citizen page the same number of queries (issue 12)."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.models import Citizen
from nesportal.testing import login_as
from nesportal.testing.factories import AkisCardFactory, ApplicationFactory, CertificateFactory

pytestmark = pytest.mark.django_db

PAGES = [
    "accounts:menu",
    "accounts:profile",
    "certificates:list",
    "certificates:open_list",
    "certificates:reinstate_list",
    "certificates:revoke_start",
    "pinvault:pinpuk",
    "pinvault:unlock_list",
    "eonay:index",
]


def _add(citizen: Citizen, count: int) -> None:
    for _ in range(count):
        CertificateFactory(citizen=citizen, state="pending")
        AkisCardFactory(citizen=citizen)
        ApplicationFactory(citizen=citizen)


def _queries(client: Client, url: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200, url
    return len(captured.captured_queries)


def _measure(client: Client, detail: str) -> dict[str, int]:
    urls = {name: reverse(name) for name in PAGES} | {"certificates:detail": detail}
    for url in urls.values():  # once before measuring: the session write of the first page
        client.get(url)
    return {name: _queries(client, url) for name, url in urls.items()}


def test_every_citizen_page_costs_the_same_queries_for_1_10_and_100_items(
    demo_pki: Any, citizen: Citizen
) -> None:
    first = CertificateFactory(citizen=citizen, state="active")
    AkisCardFactory(citizen=citizen)
    ApplicationFactory(citizen=citizen)
    client = login_as(Client(), citizen)
    detail = reverse("certificates:detail", args=[first.serial_number])

    one = _measure(client, detail)
    _add(citizen, 9)
    ten = _measure(client, detail)
    _add(citizen, 90)
    hundred = _measure(client, detail)

    assert ten == one, {k: (one[k], ten[k]) for k in one if one[k] != ten[k]}
    assert hundred == one, {k: (one[k], hundred[k]) for k in one if one[k] != hundred[k]}
    assert max(one.values()) <= 6, one


def test_certificate_lists_never_load_the_der(demo_pki: Any, citizen: Citizen) -> None:
    CertificateFactory(citizen=citizen, state="active")
    CertificateFactory(citizen=citizen, state="pending")
    client = login_as(Client(), citizen)
    lists = ["certificates:list", "certificates:open_list", "certificates:reinstate_list"]
    lists.append("certificates:revoke_start")

    for name in lists:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(reverse(name)).status_code == 200
        selects = [
            q["sql"] for q in captured.captured_queries if "certificates_certificate" in q["sql"]
        ]
        assert selects, name
        assert not any('"der"' in sql for sql in selects), (
            name
        )  # session, citizen, the page's own (2-5 today)
