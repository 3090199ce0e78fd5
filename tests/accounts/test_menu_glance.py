"""The İşlemler Menüsü at a glance (accounts.glance): a line with a link for each thing that
waits for the citizen, the expiry banner from 90 days before notAfter, "Son girişiniz" and
"Son başarısız deneme" — at the same queries however much the citizen holds."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts import glance
from accounts.models import Citizen
from audit.log import record
from nesportal.testing import login_as

pytestmark = pytest.mark.django_db

MENU_URL = "/islemler/"
NO_BANNER = "expiry-banner"


def _menu(citizen: Citizen) -> str:
    response = login_as(Client(), citizen).get(MENU_URL)
    assert response.status_code == 200
    return response.content.decode().split('id="main"', 1)[1].split("</main>", 1)[0]


def _glance(html: str) -> str:
    if '<ul class="glance"' not in html:
        return ""
    return html.split('<ul class="glance"', 1)[1].split("</ul>", 1)[0]


def _date(value: dt.datetime) -> str:
    return timezone.localtime(value).strftime("%d.%m.%Y")


def _link(url: str, text: str) -> str:
    return f'<a href="{url}">{text}</a>'


def test_a_citizen_with_nothing_waiting_sees_no_status_lines(citizen: Citizen) -> None:
    html = _menu(citizen)
    assert _glance(html) == ""
    assert NO_BANNER not in html
    assert "Son girişiniz" not in html
    assert "Sertifikamı Kullanıma Aç" in html


def test_it_shows_the_active_certificate_and_its_end_date(
    citizen: Citizen, certificate_factory: Any
) -> None:
    cert, _key = certificate_factory(citizen, "active")
    certificate_factory(citizen, "expired", kind="mobile")
    certificate_factory(citizen, "revoked", kind="mobile")

    lines = _glance(_menu(citizen))

    text = f"Sertifikanız {_date(cert.not_after)} tarihine kadar geçerli."
    assert _link(reverse("certificates:list"), text) in lines
    assert lines.count("<li") == 1  # expired and revoked certificates wait for nothing


def test_two_active_certificates_name_the_later_end(
    citizen: Citizen, certificate_factory: Any
) -> None:
    certificate_factory(citizen, "active")
    later, _key = certificate_factory(citizen, "active", kind="mobile")
    lines = _glance(_menu(citizen))
    assert (
        f"2 geçerli sertifikanız var; en uzun geçerlilik {_date(later.not_after)} tarihine kadar."
    ) in lines


def test_it_counts_the_applications_waiting_for_approval(
    citizen: Citizen, application_factory: Any
) -> None:
    application_factory(citizen=citizen)
    application_factory(citizen=citizen, state="approved")
    url = reverse("eonay:index")
    assert _link(url, "1 başvuru onayınızı bekliyor.") in _glance(_menu(citizen))

    application_factory(citizen=citizen)
    assert _link(url, "2 başvuru onayınızı bekliyor.") in _glance(_menu(citizen))


def test_it_shows_a_new_pin_waiting_for_the_card_tool(
    citizen: Citizen, card_factory: Any, card_unlock_factory: Any
) -> None:
    card_unlock_factory(card=card_factory(citizen=citizen, pin_locked=True))
    card_unlock_factory(card=card_factory(citizen=citizen, pin_locked=True), applied=True)

    lines = _glance(_menu(citizen))

    text = (
        "Kartınızın yeni PIN&#x27;i, kartınız AKİS Kart İzleme Aracı&#x27;na takıldığında "
        "karta yazılacak."
    )
    assert _link(reverse("pinvault:unlock_list"), text) in lines
    assert lines.count("<li") == 1  # the applied one waits for nothing


def test_it_shows_a_certificate_waiting_to_be_opened(
    citizen: Citizen, certificate_factory: Any
) -> None:
    certificate_factory(citizen, "pending")
    text = "Yeni sertifikanız kullanıma açılmayı bekliyor."
    assert _link(reverse("certificates:open_list"), text) in _glance(_menu(citizen))


def test_it_shows_a_suspended_certificate(citizen: Citizen, certificate_factory: Any) -> None:
    certificate_factory(citizen, "suspended")
    lines = _glance(_menu(citizen))
    assert _link(reverse("certificates:reinstate_list"), "Sertifikanız askıda.") in lines
    assert "geçerli" not in lines


def test_another_citizens_things_are_not_counted(
    citizen: Citizen, citizen_factory: Any, certificate_factory: Any, application_factory: Any
) -> None:
    other = citizen_factory()
    certificate_factory(other, "pending")
    application_factory(citizen=other)
    assert _glance(_menu(citizen)) == ""


def _queries(client: Client) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(MENU_URL)
    assert response.status_code == 200
    return len(captured.captured_queries)


def test_the_menu_costs_the_same_queries_for_1_and_20_of_everything(
    citizen: Citizen,
    certificate_factory: Any,
    application_factory: Any,
    card_factory: Any,
    card_unlock_factory: Any,
) -> None:
    made: list[int] = []

    def add(count: int) -> None:
        for _ in range(count):
            made.append(1)
            certificate_factory(citizen, "pending")
            # Each suspended one issued "earlier" than the last: an older valid certificate of
            # the same kind would keep a newer one from being opened.
            earlier = timezone.now() - dt.timedelta(days=len(made))
            certificate_factory(citizen, "suspended", kind="mobile", now=earlier)
            application_factory(citizen=citizen)
            card_unlock_factory(card=card_factory(citizen=citizen, pin_locked=True))
            record("nes.login.succeeded", citizen=citizen, device="Chrome 131 · Windows")
            record("nes.login.word_failed", citizen=citizen)

    certificate_factory(citizen, "active")
    add(1)
    client = login_as(Client(), citizen)
    client.get(MENU_URL)  # the session's first write
    one = _queries(client)
    assert "1 başvuru onayınızı bekliyor." in client.get(MENU_URL).content.decode()

    add(19)
    twenty = _queries(client)

    html = client.get(MENU_URL).content.decode()
    assert "20 başvuru onayınızı bekliyor." in html
    assert "20 yeni sertifikanız kullanıma açılmayı bekliyor." in html
    assert "20 sertifikanız askıda." in html
    assert "20 kartınızın yeni PIN&#x27;i" in html
    assert twenty == one
    assert one <= 4  # session, citizen, the glance (and the session save)


def test_the_glance_itself_is_one_query(citizen: Citizen, certificate_factory: Any) -> None:
    certificate_factory(citizen, "active")
    with CaptureQueriesContext(connection) as captured:
        found = glance.at_a_glance(citizen)
    assert len(found.lines) == 1
    assert found.banner is None
    assert len(captured.captured_queries) == 1  # the counts and the login note together


# --- the expiry banner ------------------------------------------------------------------------


def test_the_banner_starts_90_days_before_the_end_not_91(
    citizen: Citizen, certificate_factory: Any
) -> None:
    cert, _key = certificate_factory(citizen, "active")

    at_91 = glance.at_a_glance(citizen, now=cert.not_after - dt.timedelta(days=91))
    at_90 = glance.at_a_glance(citizen, now=cert.not_after - dt.timedelta(days=90))
    at_45 = glance.at_a_glance(citizen, now=cert.not_after - dt.timedelta(days=45))

    assert at_91.banner is None
    assert at_90.banner is not None
    end = _date(cert.not_after)
    assert at_90.banner.text == (f"Sertifikanızın süresi 90 gün sonra, {end} tarihinde doluyor.")
    assert at_45.banner is not None
    assert at_45.banner.text == f"Sertifikanızın süresi 45 gün sonra, {end} tarihinde doluyor."
    detail = reverse("certificates:detail", args=[cert.serial_number])
    assert at_45.banner.url == detail + "#expiry-heading"  # "Sertifikam ne zaman sona eriyor?"


def test_the_banner_on_the_menu_page(
    citizen: Citizen, certificate_factory: Any, clock: Any
) -> None:
    cert, _key = certificate_factory(citizen, "active")

    clock.move_to(cert.not_after - dt.timedelta(days=91))
    assert NO_BANNER not in _menu(citizen)

    clock.move_to(cert.not_after - dt.timedelta(days=90))
    html = _menu(citizen)
    assert NO_BANNER in html
    assert f"Sertifikanızın süresi 90 gün sonra, {_date(cert.not_after)} tarihinde" in html
    detail = reverse("certificates:detail", args=[cert.serial_number])
    assert f'<a href="{detail}#expiry-heading">Sertifikam ne zaman sona eriyor?</a>' in html

    clock.move_to(cert.not_after - dt.timedelta(hours=2))
    assert f"Sertifikanızın süresi bugün, {_date(cert.not_after)} tarihinde doluyor." in _menu(
        citizen
    )

    clock.move_to(cert.not_after + dt.timedelta(minutes=1))
    html = _menu(citizen)
    assert NO_BANNER not in html  # expired: nothing is valid any more
    assert "geçerli" not in _glance(html)


def test_the_banner_counts_days_in_istanbul(citizen: Citizen, certificate_factory: Any) -> None:
    cert, _key = certificate_factory(citizen, "active")
    istanbul_end = timezone.localtime(cert.not_after)
    # 23:30 in Istanbul the evening before the last day: 1 calendar day, however few hours.
    evening = istanbul_end.replace(hour=23, minute=30) - dt.timedelta(days=1)
    found = glance.at_a_glance(citizen, now=evening)
    assert found.banner is not None
    assert found.banner.text.startswith("Sertifikanızın süresi 1 gün sonra,")


# --- Son girişiniz ------------------------------------------------------------------------------


def test_it_shows_the_previous_login_not_the_current_one(citizen: Citizen, clock: Any) -> None:
    clock.move_to(dt.datetime(2026, 11, 20, 7, 15, tzinfo=dt.UTC))  # 10:15 in Istanbul
    record("nes.login.succeeded", citizen=citizen, device="Firefox 133 · Linux")
    clock.move_to(dt.datetime(2026, 12, 3, 9, 0, tzinfo=dt.UTC))
    record("nes.login.succeeded", citizen=citizen, device="Chrome 131 · Windows")  # this one

    html = _menu(citizen)

    assert "Son girişiniz: 20.11.2026 10:15, Firefox 133 · Linux" in html
    assert "Chrome 131 · Windows" not in html
    assert "Son başarısız deneme" not in html
    assert f'<a href="{reverse("accounts:activity")}">Hesap Hareketlerim</a>' in html


def test_the_first_login_has_no_previous_one(citizen: Citizen) -> None:
    record("nes.login.succeeded", citizen=citizen, device="Chrome 131 · Windows")
    assert "Son girişiniz" not in _menu(citizen)


def test_it_shows_the_last_failed_attempt_since_the_previous_login(
    citizen: Citizen, clock: Any
) -> None:
    clock.move_to(dt.datetime(2026, 11, 1, 8, 0, tzinfo=dt.UTC))
    record("nes.login.word_failed", citizen=citizen, failure_count=1)  # before: not shown
    clock.move_to(dt.datetime(2026, 11, 20, 7, 15, tzinfo=dt.UTC))
    record("nes.login.succeeded", citizen=citizen, device="")
    clock.move_to(dt.datetime(2026, 11, 25, 0, 5, tzinfo=dt.UTC))  # 03:05 in Istanbul
    record("nes.login.word_failed", citizen=citizen, failure_count=1)
    clock.move_to(dt.datetime(2026, 11, 26, 1, 40, tzinfo=dt.UTC))
    record("nes.login.code_failed", citizen=citizen, purpose="login")  # 04:40, the last
    record("nes.sms.queued", citizen=citizen)  # not an attempt
    clock.move_to(dt.datetime(2026, 12, 3, 9, 0, tzinfo=dt.UTC))
    record("nes.login.succeeded", citizen=citizen, device="Chrome 131 · Windows")

    html = _menu(citizen)

    assert "Son girişiniz: 20.11.2026 10:15<" in html  # no device known: the time alone
    assert "Son başarısız deneme: 26.11.2026 04:40" in html
    assert "01.11.2026" not in html


def test_no_failed_attempt_since_the_previous_login_shows_none(
    citizen: Citizen, clock: Any
) -> None:
    clock.move_to(dt.datetime(2026, 11, 1, 8, 0, tzinfo=dt.UTC))
    record("nes.login.word_failed", citizen=citizen, failure_count=1)
    clock.shift(dt.timedelta(days=1))
    record("nes.login.succeeded", citizen=citizen, device="Chrome 131 · Windows")
    clock.shift(dt.timedelta(days=1))
    record("nes.login.succeeded", citizen=citizen, device="Chrome 131 · Windows")

    html = _menu(citizen)
    assert "Son girişiniz: 02.11.2026" in html
    assert "Son başarısız deneme" not in html
