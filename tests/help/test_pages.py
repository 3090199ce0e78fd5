"""The Yardım pages (help app): each page in Turkish and English, linked from the home page, the
menu and the PIN/PUK page; the English pages carry no untranslated Turkish."""

from __future__ import annotations

import re

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse

from help.topics import TOPICS

pytestmark = pytest.mark.django_db

INDEX = reverse("help:index")
PAGES = [INDEX, *(reverse("help:topic", args=[t.slug]) for t in TOPICS)]

# Letters that only Turkish uses; proper nouns that keep them in English are removed first.
TURKISH_ONLY = re.compile("[ğĞşŞıİ]")
PROPER_NOUNS = ("AKİS", "SİL", "Sertifika İptal Listesi", "Türkçe")

# (page, a Turkish phrase of it, its English) — checked both ways.
PHRASES = [
    ("pin-kodu", "Parolalarımı Sil", "Delete my PINs"),
    ("sertifika-suresi", "Eski sertifikanızı süresi dolmadan imha etmeyiniz.", "expires"),
    ("gonderi-sorgulama", "Bu portal henüz gönderi takibi yapmıyor", "does not track"),
    ("kart-okuyucu", "Kartım görünmüyor", "card reader"),
    ("askiya-alma-ve-iptal", "İptal: kalıcı, geri alınamaz", "Revocation"),
    ("sil-ve-ocsp", "Bu sizin için ne demek?", "OCSP"),
]


def english(client: Client) -> Client:
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    return client


def main_text(html: str) -> str:
    main = html.split("<main", 1)[1].split("</main>", 1)[0]
    return re.sub(r"<[^>]+>", " ", main)


@pytest.mark.parametrize("url", PAGES)
def test_it_shows_every_help_page_in_turkish(client, url):
    response = client.get(url)

    assert response.status_code == 200
    assert response["Content-Language"] == "tr"
    assert "<h1>" in response.content.decode()


@pytest.mark.parametrize("url", PAGES)
def test_the_english_page_has_no_untranslated_turkish(client, url):
    response = english(client).get(url)

    assert response.status_code == 200
    assert response["Content-Language"] == "en"
    text = main_text(response.content.decode())
    for noun in PROPER_NOUNS:
        text = text.replace(noun, "")
    leftovers = sorted({w for w in text.split() if TURKISH_ONLY.search(w)})
    assert not leftovers, f"Turkish words on the English page {url}: {leftovers}"


@pytest.mark.parametrize(("slug", "turkish", "in_english"), PHRASES)
def test_each_topic_speaks_the_visitors_language(client, slug, turkish, in_english):
    url = reverse("help:topic", args=[slug])

    assert turkish in client.get(url).content.decode()
    shown = english(Client()).get(url).content.decode()
    assert turkish not in shown
    assert in_english in shown


def test_an_unknown_topic_is_404(client):
    assert client.get(reverse("help:topic", args=["yok-boyle-bir-konu"])).status_code == 404


def test_the_home_page_links_every_help_page_and_both_logins(client):
    html = client.get(reverse("accounts:home")).content.decode()

    for url in PAGES:
        assert f'href="{url}"' in html
    assert f'href="{reverse("accounts:login")}"' in html
    assert f'href="{reverse("esign:login")}"' in html
    assert html.count('class="choice"') > 2


def test_every_page_links_yardim_in_header_and_footer(client):
    html = client.get(reverse("accounts:login")).content.decode()

    assert html.count(f'href="{INDEX}"') >= 2


def test_the_menu_keeps_its_status_lines_and_links_help(citizen_client):
    html = citizen_client.get(reverse("accounts:menu")).content.decode()

    assert "Güvenliğiniz için 10 dakika işlem yapılmadığında oturumunuz kapanır." in html
    assert f'href="{reverse("help:topic", args=["pin-kodu"])}"' in html
    assert f'href="{reverse("help:topic", args=["sil-ve-ocsp"])}"' in html


def test_the_help_pages_need_no_login_and_set_no_session(client):
    client.get(INDEX)

    assert settings.SESSION_COOKIE_NAME not in client.cookies


def test_the_pin_page_says_what_the_portal_does(client):
    html = client.get(reverse("help:topic", args=["pin-kodu"])).content.decode()

    for fact in (
        "PIN/PUK Bilgisi",
        "SMS Onay Kodu",
        "Parolalarımı Kaydet",
        "Kilit Çözme",
        "01.01.2011",
    ):
        assert fact in html


def test_suspend_is_reversible_and_revoke_is_not(client):
    html = client.get(reverse("help:topic", args=["askiya-alma-ve-iptal"])).content.decode()

    assert "Askıdan İndir" in html
    assert "geri alınamaz" in html
    assert "ücret karşılığında yenilenir" in html
