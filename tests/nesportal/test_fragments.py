"""Fragments rendered once per worker (``nesportal.fragments``) never show a stale or another
person's content: every value the fragment reads is in its key, with the language and the time
zone; and a page built from cached fragments is the page built without them."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from typing import Any

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse

from accounts.models import Citizen
from certificates.models import Certificate
from nesportal import fragments
from nesportal.testing import frozen_clock, login_as
from nesportal.testing.factories import (
    ApplicationFactory,
    CertificateFactory,
    CitizenFactory,
    ConsentFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _empty_cache() -> Iterator[None]:
    fragments.clear()
    yield
    fragments.clear()


_TOKEN = re.compile(r'name="csrfmiddlewaretoken" value="[^"]+"')


_SECONDS = re.compile(r'data-session-seconds="\d+"')


def _page(client: Client, name: str, *args: Any) -> str:
    """The page without its CSRF tokens (masked anew on every render) and the session's
    seconds left (base.html's timeout warning; it moves between two renders)."""
    response = client.get(reverse(name, args=args))
    assert response.status_code == 200
    return _SECONDS.sub("", _TOKEN.sub("", response.content.decode()))


def _uncached(monkeypatch: pytest.MonkeyPatch) -> None:
    """From here on every fragment is rendered afresh (the cache forgets at once)."""
    monkeypatch.setattr(fragments, "MAX_ENTRIES", 0)


VAULT_STATE = "pinvault/_vault_state.html"


def test_a_key_seen_before_gives_the_fragment_rendered_then() -> None:
    first = fragments.render_cached(VAULT_STATE, ("pin",), {"has_pin": True})
    assert "PIN sistemde şifreli olarak saklanıyor." in first
    # Same key: not rendered again (this context would say otherwise); another key: rendered.
    assert fragments.render_cached(VAULT_STATE, ("pin",), {"has_puk": True}) is first
    assert "PUK sistemde" in fragments.render_cached(VAULT_STATE, ("puk",), {"has_puk": True})


def test_the_cache_holds_at_most_max_entries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fragments, "MAX_ENTRIES", 3)
    for n in range(10):
        fragments.render_cached(VAULT_STATE, (n,), {"has_pin": True})
    assert len(fragments._cache) == 3
    assert [key[1] for key in fragments._cache] == [(7,), (8,), (9,)]


@pytest.mark.parametrize("state", ["pending", "active", "suspended", "revoked", "expired"])
def test_certificate_rows_are_the_rows_rendered_afresh(
    demo_pki: Any, citizen: Citizen, monkeypatch: pytest.MonkeyPatch, state: str
) -> None:
    CertificateFactory(citizen=citizen, state=state)
    CertificateFactory(citizen=citizen, state="active", kind="mobile")
    client = login_as(Client(), citizen)
    cached = _page(client, "certificates:list")
    assert _page(client, "certificates:list") == cached  # now from the cache
    _uncached(monkeypatch)
    assert _page(client, "certificates:list") == cached


def test_a_status_change_shows_at_once(demo_pki: Any, citizen: Citizen) -> None:
    cert = CertificateFactory(citizen=citizen, state="active")
    client = login_as(Client(), citizen)
    assert "status-active" in _page(client, "certificates:list")
    cert.suspend(by=Certificate.SuspendedBy.HOLDER, by_citizen=citizen)
    html = _page(client, "certificates:list")
    assert "status-suspended" in html and "Askıda" in html
    assert "status-active" not in html


def test_expiry_by_the_clock_shows_at_once(demo_pki: Any, citizen: Citizen) -> None:
    cert = CertificateFactory(citizen=citizen, state="active")
    client = login_as(Client(), citizen)
    assert "Süresi doldu" not in _page(client, "certificates:list")
    with frozen_clock(cert.not_after + dt.timedelta(minutes=1)):
        login_as(client, citizen)
        html = _page(client, "certificates:list")
    assert "status-expired" in html and "Süresi doldu" in html


def test_each_language_gets_its_own_rows(demo_pki: Any, citizen: Citizen) -> None:
    CertificateFactory(citizen=citizen, state="suspended")
    client = login_as(Client(), citizen)
    assert ">Askıda<" in _page(client, "certificates:list")
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    html = _page(client, "certificates:list")
    assert ">Suspended<" in html and ">Askıda<" not in html


def test_one_citizens_rows_never_reach_another(demo_pki: Any) -> None:
    one, other = CitizenFactory(), CitizenFactory()
    mine = CertificateFactory(citizen=one, state="active")
    theirs = CertificateFactory(citizen=other, state="active")
    assert mine.serial_number in _page(login_as(Client(), one), "certificates:list")
    html = _page(login_as(Client(), other), "certificates:list")
    assert theirs.serial_number in html and mine.serial_number not in html


def test_eonay_facts_and_decided_rows_are_those_rendered_afresh(
    citizen: Citizen, monkeypatch: pytest.MonkeyPatch
) -> None:
    ApplicationFactory(citizen=citizen, state="waiting")
    ApplicationFactory(citizen=citizen, state="approved")
    ApplicationFactory(citizen=citizen, state="rejected")
    ConsentFactory(citizen=citizen)
    ApplicationFactory(citizen=citizen)  # approved at entry by the standing consent
    client = login_as(Client(), citizen)
    cached = _page(client, "eonay:index")
    assert "Sürekli onayınızla otomatik onaylandı" in cached
    assert "SMS Onay Kodu ile siz reddettiniz" in cached
    assert _page(client, "eonay:index") == cached
    _uncached(monkeypatch)
    assert _page(client, "eonay:index") == cached


# --- {% form_field %} -------------------------------------------------------------------------

_CAPTCHA_KEY = re.compile(r'name="captcha_0" value="(\w+)"')


def test_the_captcha_is_never_cached(client: Client) -> None:
    keys = {_CAPTCHA_KEY.search(_page(client, "accounts:login")).group(1) for _ in range(3)}
    assert len(keys) == 3


def test_a_form_with_errors_is_rendered_afresh(citizen: Citizen) -> None:
    client = login_as(Client(), citizen)
    _page(client, "accounts:profile")  # the empty fields, now cached
    response = client.post(reverse("accounts:profile_address"), {"address": "kısa"})
    html = response.content.decode()
    assert response.status_code == 400 and "has-error" in html and "kısa" in html
    # Submitted empty: the field looks like the cached empty one, but it is bound and has an error.
    response = client.post(reverse("accounts:profile_address"), {"address": ""})
    html = response.content.decode()
    assert response.status_code == 400 and "Yeni adresinizi giriniz." in html
    assert "has-error" not in _page(client, "accounts:profile")


def test_a_field_with_a_value_is_rendered_afresh(citizen: Citizen) -> None:
    from accounts.forms import AddressForm
    from accounts.templatetags.form_tags import field_key

    empty = AddressForm(citizen=citizen)
    assert field_key(empty["address"]) is not None
    filled = AddressForm(citizen=citizen, initial={"address": citizen.address or "Adres"})
    assert field_key(filled["address"]) is None
    bound = AddressForm({"address": ""}, citizen=citizen)
    assert field_key(bound["address"]) is None


def test_the_profile_page_is_the_page_rendered_afresh(
    citizen: Citizen, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = login_as(Client(), citizen)
    cached = _page(client, "accounts:profile")
    assert _page(client, "accounts:profile") == cached
    _uncached(monkeypatch)
    assert _page(client, "accounts:profile") == cached
