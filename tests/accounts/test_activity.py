"""Hesap Hareketlerim (accounts.activity, accounts/views/activity.py): the citizen's own events
from the audit log in plain words, newest first, paginated, never a secret, never another
citizen's, never an internal event."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils.html import escape

from accounts import activity
from accounts.models import Citizen
from audit.labels import ACTION_LABELS
from audit.models import AuditEvent
from certificates.services import revoke_certificate
from nesportal.testing import login_as, sms_code
from nesportal.testing.factories import DEFAULT_SECURITY_WORD
from receipts.models import Receipt

from .helpers import CODE_URL, LOGIN_URL, T0, login_data

pytestmark = pytest.mark.django_db

LIST_URL = "/hesap-hareketlerim/"
CHROME_WINDOWS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)
SERIAL = "5f3a9c0d7e21b4a86f0c"
CARD = "AKIS-7000012345"
RECEIPT = "NES-20261203-7K4Q"
APPLICATION = "EO-2026-000042"
# What an event's data must never put on the page, whatever a caller records next to the
# allowed fields: codes, PIN/PUK, the security word, the contact values of a change.
SECRETS = {
    "code": "482913",
    "pin": "190573",
    "puk": "66418203",
    "security_word": DEFAULT_SECURITY_WORD,
    "before": "eski.adres@example.com.tr",
    "after": "+905329998877",
    "token": "tok3n-9f8e7d6c5b4a",
}


def _record(citizen: Citizen, action: str, **data: Any) -> AuditEvent:
    from audit.log import record

    return record(action, citizen=citizen, **data)


def _rich(citizen: Citizen, action: str, **extra: Any) -> AuditEvent:
    """``action`` with every field the page may show, and every secret it must not."""
    subject = APPLICATION if action.startswith("nes.eonay.") else ""
    if action.startswith("nes.eonay.consent"):
        subject = "kurum_odemeli_ilk"
    reasons = {"nes.account.locked": "wrong_code", "nes.certificate.revoked": "key_compromise"}
    data = {
        "serial": SERIAL,
        "card": CARD,
        "receipt": RECEIPT,
        "device": "Chrome 131 · Windows",
        **SECRETS,
        **extra,
    }
    # Elsewhere an agent's free text, which is the call centre's note, not a reason label.
    data["reason"] = reasons.get(action, "Vatandaş aradı, kimliği doğrulandı (iç not)")
    from audit.log import record

    return record(action, citizen=citizen, subject=subject, **data)


def _pages(client: Client) -> list[str]:
    """Every page of the list, first to last."""
    pages, url = [], LIST_URL
    while url:
        response = client.get(url)
        assert response.status_code == 200
        html = response.content.decode()
        pages.append(html)
        found = re.search(r'href="(\?once=\d+)" rel="next"', html)
        url = LIST_URL + found.group(1) if found else ""
    return pages


def _main(html: str) -> str:
    return html.split('id="main"', 1)[1].split("</main>", 1)[0]


def test_it_is_a_tile_of_the_menu(citizen: Citizen) -> None:
    client = login_as(Client(), citizen)
    html = client.get(reverse("accounts:menu")).content.decode()
    assert f'<a class="menu-button" href="{LIST_URL}">Hesap Hareketlerim</a>' in html


def test_it_needs_a_login(client: Client, citizen: Citizen) -> None:
    event = _record(citizen, "nes.login.succeeded")
    for url in (LIST_URL, reverse("accounts:activity_detail", args=[event.pk])):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"] == reverse("accounts:login")


def test_it_renders_every_catalogued_event_with_its_citizen_text(citizen: Citizen) -> None:
    for action in activity.CATALOGUE:
        _rich(citizen, action)
    client = login_as(Client(), citizen)

    pages = [_main(html) for html in _pages(client)]
    assert len(pages) == -(-len(activity.CATALOGUE) // activity.PER_PAGE)
    listed = "".join(pages)
    for action, kind in activity.CATALOGUE.items():
        text = escape(str(kind.text))
        assert text in listed, action
        event = AuditEvent.objects.get(citizen=citizen, action=action)
        detail = client.get(reverse("accounts:activity_detail", args=[event.pk]))
        assert detail.status_code == 200, action
        assert f"<h1>{text}</h1>" in detail.content.decode(), action
    # The admin's labels are not the citizen's words.
    assert escape(str(ACTION_LABELS["nes.pinpuk.viewed"])) not in listed
    assert "nes." not in listed


def test_it_shows_only_the_allowed_fields_labelled(citizen: Citizen) -> None:
    _rich(citizen, "nes.certificate.revoked")
    _rich(citizen, "nes.account.locked")
    _rich(citizen, "nes.eonay.approved")
    _rich(citizen, "nes.eonay.consent_given")
    _rich(citizen, "nes.account.unlocked")
    client = login_as(Client(), citizen)

    html = _main(client.get(LIST_URL).content.decode())

    assert "Sertifikanız iptal edildi (Anahtarım ele geçirildi / kartım kayboldu)" in html
    assert "Hesabınız kilitlendi (3 kez hatalı SMS Onay Kodu)" in html
    assert "Çağrı Merkezi tarafından kilidiniz açıldı" in html
    assert f"Seri No: {SERIAL}" in html
    assert f"Kart: {CARD}" in html
    assert f"Makbuz No: {RECEIPT}" in html
    assert "Cihaz: Chrome 131 · Windows" in html
    assert f"Başvuru No: {APPLICATION}" in html
    assert "Kapsam: Kurum ödemeli ilk başvuru" in html
    # An agent's free-text reason is the call centre's note, not a reason label.
    assert "iç not" not in html


def test_it_never_shows_a_secret(citizen: Citizen) -> None:
    for action in activity.CATALOGUE:
        _rich(citizen, action)
    client = login_as(Client(), citizen)

    shown = "".join(_pages(client))
    for event in AuditEvent.objects.filter(citizen=citizen):
        shown += client.get(reverse("accounts:activity_detail", args=[event.pk])).content.decode()
    for name, secret in SECRETS.items():
        assert secret not in shown, name
        assert escape(secret) not in shown, name


def test_a_real_login_shows_neither_the_word_nor_the_code(
    client: Client,
    citizen: Citizen,
    sms_outbox: list[dict[str, Any]],
    django_capture_on_commit_callbacks: Any,
) -> None:
    wrong = client.post(LOGIN_URL, login_data(client, citizen.identifier, "yanlış-sözcük-1"))
    assert wrong.status_code == 400
    with django_capture_on_commit_callbacks(execute=True):
        client.post(LOGIN_URL, login_data(client, citizen.identifier), HTTP_USER_AGENT="x")
    code = sms_code(sms_outbox)
    response = client.post(CODE_URL, {"code": code}, HTTP_USER_AGENT=CHROME_WINDOWS)
    assert response.status_code == 302

    html = _main(client.get(LIST_URL).content.decode())

    assert "Giriş yaptınız" in html
    assert "Cihaz: Chrome 131 · Windows" in html
    assert "Hatalı Güvenlik Sözcüğü girildi" in html
    for secret in (code, DEFAULT_SECURITY_WORD, "yanlış-sözcük-1"):
        assert secret not in html
    # The internal steps of the same login are in the log, not on the page.
    actions = set(AuditEvent.objects.filter(citizen=citizen).values_list("action", flat=True))
    assert {"nes.sms.queued", "nes.login.word_passed", "nes.login.code_passed"} <= actions
    assert "SMS kuyruğa alındı" not in html


def test_the_hidden_actions_never_appear(citizen: Citizen) -> None:
    hidden = [code for code in ACTION_LABELS if code not in activity.CATALOGUE]
    assert {"nes.sms.queued", "nes.cardtool.unlock_fetched", "nes.login.word_passed"} <= set(hidden)
    events = [_record(citizen, code, sms="a1b2", unlock_id=7) for code in hidden]
    client = login_as(Client(), citizen)

    html = _main(client.get(LIST_URL).content.decode())

    assert "Hesabınızda henüz kayıtlı bir işlem bulunmuyor." in html
    assert "activity-list" not in html
    for event in events:
        detail = client.get(reverse("accounts:activity_detail", args=[event.pk]))
        assert detail.status_code == 404, event.action


def test_another_citizens_event_is_not_found(citizen: Citizen, citizen_factory: Any) -> None:
    other = citizen_factory()
    theirs = _record(other, "nes.login.succeeded", device="Firefox 133 · Linux")
    mine = _record(citizen, "nes.login.succeeded", device="Chrome 131 · Windows")
    client = login_as(Client(), citizen)

    assert client.get(reverse("accounts:activity_detail", args=[mine.pk])).status_code == 200
    response = client.get(reverse("accounts:activity_detail", args=[theirs.pk]))
    assert response.status_code == 404
    assert "Firefox" not in response.content.decode()
    assert client.get(reverse("accounts:activity_detail", args=[10**9])).status_code == 404
    html = client.get(LIST_URL).content.decode()
    assert "Chrome 131 · Windows" in html
    assert "Firefox 133 · Linux" not in html
    assert f"/hesap-hareketlerim/{theirs.pk}/" not in html


def test_it_pages_newest_first_in_istanbul_time(citizen: Citizen, clock: Any) -> None:
    clock.move_to(T0)  # 09:00 UTC = 12:00 in Istanbul
    count = 2 * activity.PER_PAGE + 5
    for n in range(count):
        _record(citizen, "nes.pinpuk.viewed", card=f"AKIS-{n:010d}")
        clock.shift(dt.timedelta(minutes=1))
    client = login_as(Client(), citizen)

    pages = [_main(html) for html in _pages(client)]

    cards = [re.findall(r"Kart: AKIS-(\d{10})", html) for html in pages]
    assert [len(found) for found in cards] == [activity.PER_PAGE, activity.PER_PAGE, 5]
    order = [int(card) for found in cards for card in found]
    assert order == list(range(count - 1, -1, -1))
    assert "02.03.2026 12:00" in pages[-1]  # the oldest, at T0
    assert "En yeni işlemler" not in pages[0]
    assert all("En yeni işlemler" in html for html in pages[1:])
    assert 'rel="next"' not in pages[-1]


def test_a_new_event_shifts_nothing_on_the_older_pages(citizen: Citizen, clock: Any) -> None:
    clock.move_to(T0)
    for n in range(activity.PER_PAGE + 3):
        _record(citizen, "nes.pinpuk.viewed", card=f"AKIS-{n:010d}")
        clock.shift(dt.timedelta(minutes=1))
    client = login_as(Client(), citizen)
    first = client.get(LIST_URL).content.decode()
    older = re.search(r'href="\?once=(\d+)" rel="next"', first)
    assert older is not None

    _record(citizen, "nes.login.succeeded")  # meanwhile, at the top
    second = _main(client.get(f"{LIST_URL}?once={older.group(1)}").content.decode())

    assert re.findall(r"Kart: AKIS-(\d{10})", second) == ["0000000002", "0000000001", "0000000000"]


def test_a_strange_page_parameter_gives_the_first_page_or_nothing(
    citizen: Citizen, citizen_factory: Any
) -> None:
    mine = _record(citizen, "nes.pinpuk.viewed", card=CARD)
    theirs = _record(citizen_factory(), "nes.pinpuk.viewed", card="AKIS-9999999999")
    client = login_as(Client(), citizen)

    for junk in ("abc", "-1", "", "1e9", "١٢"):
        html = _main(client.get(LIST_URL, {"once": junk}).content.decode())
        assert f"Kart: {CARD}" in html, junk
    # Paging on from another citizen's event, or from the oldest: nothing, and a way back.
    for pk in (theirs.pk, mine.pk, 10**9):
        html = _main(client.get(LIST_URL, {"once": str(pk)}).content.decode())
        assert "Daha eski bir işlem bulunmuyor." in html
        assert "AKIS-" not in html
        assert f'<a href="{LIST_URL}">En yeni işlemler</a>' in html


def _queries(client: Client, url: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200, url
    return len(captured.captured_queries)


def test_a_page_costs_the_same_queries_for_1_and_many_events(
    citizen: Citizen, citizen_factory: Any
) -> None:
    first = _rich(citizen, "nes.login.succeeded")
    client = login_as(Client(), citizen)
    detail = reverse("accounts:activity_detail", args=[first.pk])
    client.get(LIST_URL)  # the session's first write
    one = (_queries(client, LIST_URL), _queries(client, detail))

    for action in activity.CATALOGUE:
        for _ in range(3):
            _rich(citizen, action)
    other = citizen_factory()
    for _ in range(30):
        _record(other, "nes.login.succeeded")
    middle = AuditEvent.objects.filter(citizen=citizen).order_by("-at", "-id")[30].pk
    many = (
        _queries(client, LIST_URL),
        _queries(client, f"{LIST_URL}?once={middle}"),
        _queries(client, detail),
    )

    assert (many[0], many[2]) == one
    assert many[1] == one[0]
    assert one[0] <= 4  # session, citizen, the page (and the session save)


# --- the device of a login --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("user_agent", "summary"),
    [
        (CHROME_WINDOWS, "Chrome 131 · Windows"),
        (
            "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
            "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
            "Mobile Safari 17 · iOS · iPhone",
        ),
        (
            "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like "
            "Gecko) Version/17.5 Safari/605.1.15",
            "Safari 17 · macOS",
        ),
        (
            "Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/131.0.0.0 Mobile Safari/537.36",
            "Chrome Mobile 131 · Android · Samsung SM-S918B",
        ),
        (
            "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
            "Firefox 133 · Linux",
        ),
        ("", ""),
        ("???", ""),
    ],
)
def test_it_summarises_the_user_agent(user_agent: str, summary: str) -> None:
    assert activity.device_summary(user_agent) == summary


def test_the_summary_is_short_whatever_the_client_sends() -> None:
    hostile = "Mozilla/5.0 (Linux; Android 14; " + "X" * 5000 + ") Chrome/131.0.0.0 Mobile"
    assert len(activity.device_summary(hostile)) <= activity.DEVICE_MAX
    assert len(activity.device_summary("Chrome/1 " * 2000)) <= activity.DEVICE_MAX


def test_the_login_records_the_device_not_the_user_agent(
    client: Client,
    citizen: Citizen,
    sms_outbox: list[dict[str, Any]],
    django_capture_on_commit_callbacks: Any,
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        client.post(LOGIN_URL, login_data(client, citizen.identifier))
    client.post(CODE_URL, {"code": sms_code(sms_outbox)}, HTTP_USER_AGENT=CHROME_WINDOWS)

    event = AuditEvent.objects.get(citizen=citizen, action="nes.login.succeeded")
    assert event.data == {"device": "Chrome 131 · Windows"}


def test_a_row_rendered_once_per_worker_is_the_row_rendered_fresh(citizen: Citizen) -> None:
    from nesportal import fragments

    for action in activity.CATALOGUE:
        _rich(citizen, action)
    client = login_as(Client(), citizen)
    fragments.clear()
    fresh = [_main(html) for html in _pages(client)]
    cached = [_main(html) for html in _pages(client)]  # the rows now come from the cache
    assert cached == fresh
    fragments.clear()
    assert [_main(html) for html in _pages(client)] == fresh


def test_an_action_with_a_receipt_links_to_it(
    citizen: Citizen, citizen_client: Client, certificate_factory: Any
) -> None:
    cert = certificate_factory(citizen, "active")[0]
    revoke_certificate(cert, reason="superseded", citizen=citizen)
    reference = Receipt.objects.get(citizen=citizen).reference
    event = AuditEvent.objects.get(citizen=citizen, action="nes.certificate.revoked")
    page = citizen_client.get(f"/hesap-hareketlerim/{event.pk}/").content.decode()
    assert reference in page
    link = f'href="/makbuz/{reference}/"'
    assert link in page
    pdf = citizen_client.get(f"/makbuz/{reference}/")
    assert pdf.status_code == 200 and pdf["Content-Type"] == "application/pdf"
