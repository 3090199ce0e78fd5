"""The card login's server side: the page's card part, the JSON refusal after proven key
possession, the card service download and Kart Kontrol."""

from __future__ import annotations

import io
import json
import re
import zipfile
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import Citizen
from certificates.models import Certificate
from esign import services, views
from nesportal.testing import login_as
from tests.esign.helpers import GENERIC, get_challenge, signed_post, strikes

pytestmark = pytest.mark.django_db

PAGE = reverse("esign:login")
DOWNLOAD = reverse("esign:card_service_download")
CHECK = reverse("esign:card_check")


def texts(html: str, element_id: str) -> dict[str, str]:
    start = html.index(f'id="{element_id}"')
    start = html.index(">", start) + 1
    return dict(json.loads(html[start : html.index("</script>", start)]))


def test_the_page_wires_the_card_login(client: Client, demo_pki: Any, settings: Any) -> None:
    settings.NES_CARD_SERVICE_URL = "http://127.0.0.1:48999"
    html = client.get(PAGE).content.decode()

    assert 'data-card-service="http://127.0.0.1:48999"' in html
    assert f'data-card-identify-url="{reverse("esign:card_certificates")}"' in html
    assert f'data-challenge-url="{reverse("esign:challenge")}"' in html
    assert 'type="password" id="card-pin"' in html
    assert 'inputmode="numeric" autocomplete="off"' in html
    assert "js/cardservice.js" in html and "js/esign_login.js" in html
    assert "Tekrar dene" in html and "127.0.0.1:48620" in html
    assert reverse("esign:card_check") in html and DOWNLOAD in html
    # The manual method for integrators is behind "Gelişmiş", closed until it was used.
    assert '<details class="card advanced" id="gelismis">' in html
    assert texts(html, "esign-card-texts")["unlock_url"] == reverse("accounts:login")
    assert "<script>" not in html  # strict CSP: no inline script (json_script is data)


def test_the_manual_method_opens_after_its_refusal(client: Client, demo_pki: Any) -> None:
    response = client.post(PAGE, {"challenge_id": "x", "signature": "x", "certificate": "x"})
    assert response.status_code == 400
    assert '<details class="card advanced" id="gelismis" open>' in response.content.decode()


@pytest.mark.parametrize(
    ("state", "status", "words"),
    [
        ("suspended", "suspended", "askıdadır"),
        ("revoked", "revoked", "iptal edilmiştir"),
        ("expired", "expired", "süresi dolmuştur"),
        ("pending", "pending", "kullanıma açılmadı"),
    ],
)
def test_json_refusal_after_proven_possession_says_why(
    client: Client,
    citizen: Citizen,
    certificate_factory: Any,
    state: str,
    status: str,
    words: str,
) -> None:
    row, key = certificate_factory(citizen, state)
    response = signed_post(client, get_challenge(client), key, row, HTTP_ACCEPT="application/json")

    assert response.status_code == 400
    answer = response.json()
    assert answer["ok"] is False and answer["status"] == status
    assert words in answer["error"] and answer["error"] != GENERIC
    assert strikes(citizen) == 1  # the strike rules are unchanged


def test_json_refusal_before_possession_stays_generic(
    client: Client, citizen: Citizen, certificate_factory: Any
) -> None:
    row, _ = certificate_factory(citizen, "suspended")
    _, other_key = certificate_factory(citizen, "active", kind=Certificate.Kind.MOBILE)
    response = signed_post(
        client, get_challenge(client), other_key, row, HTTP_ACCEPT="application/json"
    )
    assert response.json() == {"ok": False, "error": GENERIC}
    assert strikes(citizen) == 0


def test_html_refusal_stays_generic(
    client: Client, citizen: Citizen, certificate_factory: Any
) -> None:
    row, key = certificate_factory(citizen, "suspended")
    response = signed_post(client, get_challenge(client), key, row)
    assert response.status_code == 400 and GENERIC in response.content.decode()


def test_refusal_message_is_precise_only_for_possession_reasons() -> None:
    assert (
        services.refusal_message("certificate_revoked") is services.CERTIFICATE_MESSAGES["revoked"]
    )
    for reason in (
        "signature_invalid",
        "certificate_unknown",
        "identity_mismatch",
        "citizen_locked",
    ):
        assert services.refusal_message(reason) is services.ESIGN_FAILED


def test_the_card_service_download_is_a_zip_of_the_folder(
    client: Client, settings: Any, tmp_path: Any
) -> None:
    root = tmp_path / "cardservice"
    (root / "nes_kart_servisi" / "__pycache__").mkdir(parents=True)
    (root / "nes_kart_servisi.egg-info").mkdir()
    (root / "pyproject.toml").write_text("[project]\nname = 'nes-kart-servisi'\n")
    (root / "nes_kart_servisi" / "__init__.py").write_text("")
    (root / "nes_kart_servisi" / "__pycache__" / "x.cpython-311.pyc").write_bytes(b"\0")
    (root / "nes_kart_servisi.egg-info" / "PKG-INFO").write_text("")
    settings.BASE_DIR = tmp_path
    views.card_service_zip.cache_clear()
    try:
        response = client.get(DOWNLOAD)
        again = client.get(DOWNLOAD)
    finally:
        views.card_service_zip.cache_clear()

    assert response.status_code == 200
    assert response["Content-Type"] == "application/zip"
    assert response["Content-Disposition"] == 'attachment; filename="nes-kart-servisi.zip"'
    names = zipfile.ZipFile(io.BytesIO(response.content)).namelist()
    assert sorted(names) == [
        "nes-kart-servisi/nes_kart_servisi/__init__.py",
        "nes-kart-servisi/pyproject.toml",
    ]
    assert again.content == response.content


def test_the_real_card_service_folder_is_downloadable(client: Client, settings: Any) -> None:
    if not (settings.BASE_DIR / "cardservice" / "pyproject.toml").exists():
        pytest.skip("cardservice/ is not in this checkout")
    views.card_service_zip.cache_clear()
    names = zipfile.ZipFile(io.BytesIO(client.get(DOWNLOAD).content)).namelist()
    assert "nes-kart-servisi/pyproject.toml" in names
    assert not [n for n in names if "__pycache__" in n or ".egg-info" in n or n.endswith(".pyc")]


def test_no_folder_no_download(client: Client, settings: Any, tmp_path: Any) -> None:
    settings.BASE_DIR = tmp_path
    views.card_service_zip.cache_clear()
    try:
        assert client.get(DOWNLOAD).status_code == 404
    finally:
        views.card_service_zip.cache_clear()


def test_card_check_for_anonymous_and_logged_in(client: Client, citizen: Citizen) -> None:
    anonymous = client.get(CHECK).content.decode()
    assert "Kart Kontrol" in anonymous and 'data-check="yours"' not in anonymous
    assert "js/card_check.js" in anonymous and "PIN" in anonymous
    assert reverse("accounts:login") in anonymous

    mine = login_as(Client(), citizen).get(CHECK).content.decode()
    assert 'data-check="yours"' in mine and reverse("pinvault:unlock_list") in mine
    assert "card-check-texts" in mine


def test_card_check_is_linked_from_the_login_page_and_help(client: Client, demo_pki: Any) -> None:
    assert CHECK in client.get(PAGE).content.decode()
    assert CHECK in client.get(reverse("help:topic", args=["kart-servisi"])).content.decode()
    assert CHECK in client.get(reverse("help:index")).content.decode()


def test_no_pin_field_of_the_card_pages_can_ever_be_submitted(
    client: Client, demo_pki: Any, citizen: Citizen
) -> None:
    """The PIN goes to the card service only, through the page's script. Its fields have no
    ``name``: even if the script failed and the browser submitted the form itself, the PIN
    could not reach the portal (or a logged URL of a GET)."""
    pages = [client.get(PAGE).content.decode()]
    login_as(client, citizen)
    pages.append(client.get(reverse("eonay:index")).content.decode())
    fields = [f for html in pages for f in re.findall(r"<input[^>]*data-card-pin[^>]*>", html)]

    assert len(fields) == 2
    for field in fields:
        assert 'type="password"' in field
        assert "name=" not in field
