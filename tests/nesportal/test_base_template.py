"""templates/base.html: the skip link comes first, flash messages are a live region of
paragraphs (axe ``list``), the favicon is linked and /favicon.ico is not a 404."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest
from django.contrib.staticfiles import finders
from django.templatetags.static import static
from django.urls import reverse

pytestmark = pytest.mark.django_db


class Elements(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.in_body = False
        self.elements: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "body":
            self.in_body = True
        elif self.in_body:
            self.elements.append((tag, dict(attrs)))


def elements(html: str) -> list[tuple[str, dict[str, str | None]]]:
    parser = Elements()
    parser.feed(html)
    return parser.elements


def first_focusable(html: str) -> tuple[str, dict[str, str | None]]:
    for tag, attrs in elements(html):
        if (
            (tag == "a" and "href" in attrs)
            or tag in {"button", "select", "textarea", "summary"}
            or (tag == "input" and attrs.get("type") != "hidden")
        ):
            return tag, attrs
    raise AssertionError("nothing focusable")


@pytest.mark.parametrize("language", ["tr", "en"])
def test_the_skip_link_is_the_first_focusable_element_and_reaches_main(client, language, settings):
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = language
    html = client.get(reverse("accounts:login")).content.decode()

    tag, attrs = first_focusable(html)

    assert (tag, attrs.get("href"), attrs.get("class")) == ("a", "#main", "skip-link")
    assert ("İçeriğe geç" if language == "tr" else "Skip to content") in html
    assert any(t == "main" and a.get("id") == "main" for t, a in elements(html))


def test_the_skip_link_comes_first_for_a_citizen_too(citizen_client):
    tag, attrs = first_focusable(citizen_client.get(reverse("accounts:menu")).content.decode())

    assert attrs.get("href") == "#main"


def test_flash_messages_are_paragraphs_in_one_live_region(citizen_client):
    citizen_client.post(reverse("accounts:logout"))  # "Sistemden güvenli bir şekilde çıkış…"

    html = citizen_client.get(reverse("accounts:login")).content.decode()
    found = elements(html)

    containers = [a for t, a in found if "messages" in (a.get("class") or "").split()]
    assert containers == [{"class": "messages", "role": "status", "aria-live": "polite"}]
    assert ("p", {"class": "message success"}) in found
    assert not any(t == "li" and a.get("role") for t, a in found)
    assert "Sistemden güvenli bir şekilde çıkış yaptınız." in html


def test_the_favicon_is_linked_and_exists(client):
    html = client.get(reverse("accounts:home")).content.decode()

    assert f'<link rel="icon" href="{static("favicon.svg")}" type="image/svg+xml">' in html
    path = finders.find("favicon.svg")
    assert path, "static/favicon.svg is missing"
    with open(path, encoding="utf-8") as svg:
        assert svg.read().startswith("<svg")


def test_favicon_ico_is_sent_to_the_svg_instead_of_a_404(client):
    response = client.get("/favicon.ico")

    assert response.status_code == 301
    assert response["Location"] == static("favicon.svg")
    assert not response.cookies, "no session, no CSRF cookie for a favicon"
