"""Errors a screen reader can find (issue 14): every id a widget's ``aria-describedby`` names
exists and holds the help text or the error, an error summary at the top of the failed form
lists each error with a link to an existing field, and the title starts with "Hata:".

Also the birth date typed on a number pad ("14031980") and the new word's validator messages
worded for a Güvenlik Sözcüğü.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse
from django.utils import translation

from accounts.forms import RecoveryStartForm
from accounts.models import Citizen
from accounts.validators import as_security_word_errors
from nesportal.testing import login_as, sms_code, wrong
from nesportal.testing.factories import AkisCardFactory, CertificateFactory, StaffUserFactory
from pinvault.models import AkisCard

from ..pinvault.pages import post as pinvault_post
from ..pinvault.pages import step_up
from ..pinvault.pages import url as pinvault_url
from .helpers import CODE_URL, LOGIN_URL, login_data
from .test_recovery import FORGOT, NEW_WORD, set_word, start_data, verified

pytestmark = pytest.mark.django_db

VOID = {"input", "img", "br", "hr", "meta", "link", "source", "track", "wbr", "col", "area"}


@dataclass
class Element:
    tag: str
    attrs: dict[str, str]
    text: list[str] = field(default_factory=list)
    parents: list[Element] = field(default_factory=list)

    @property
    def content(self) -> str:
        return " ".join("".join(self.text).split())


class Page(HTMLParser):
    """Every element with its attributes, its text (its descendants' too) and its ancestors."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.elements: list[Element] = []
        self._open: list[Element] = []
        self.title = ""
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        element = Element(tag, {k: v or "" for k, v in attrs}, parents=list(self._open))
        self.elements.append(element)
        if tag not in VOID:
            self._open.append(element)

    def handle_endtag(self, tag: str) -> None:
        for i in range(len(self._open) - 1, -1, -1):
            if self._open[i].tag == tag:
                del self._open[i:]
                break

    def handle_data(self, data: str) -> None:
        for element in self._open:
            element.text.append(data)
        if self._open and self._open[-1].tag == "title":
            self.title += data

    def by_id(self, id_: str) -> Element:
        found = [e for e in self.elements if e.attrs.get("id") == id_]
        assert len(found) == 1, f"{len(found)} elements with id {id_!r}"
        return found[0]

    def ids(self) -> set[str]:
        return {e.attrs["id"] for e in self.elements if "id" in e.attrs}

    def described(self) -> list[Element]:
        return [e for e in self.elements if e.attrs.get("aria-describedby")]

    def summaries(self) -> list[Element]:
        return [e for e in self.elements if "data-error-summary" in e.attrs]

    def alerts(self) -> list[Element]:
        """The alerts that say something (an empty live region, filled by a script, is not)."""
        return [e for e in self.elements if e.attrs.get("role") == "alert" and e.content]


def page_of(response: Any) -> Page:
    return Page(response.content.decode())


def assert_described_and_summarised(page: Page, *, expect_errors: int = 1) -> Element:
    """The page's references resolve, its one summary links each error to a field, and the
    summary is the page's only alert; returns the summary."""
    ids = page.ids()
    invalid = [e for e in page.elements if e.attrs.get("aria-invalid") == "true"]
    assert len([e for e in invalid if e.attrs.get("type") != "hidden"]) >= expect_errors
    for element in page.described():
        for ref in element.attrs["aria-describedby"].split():
            assert ref in ids, f"aria-describedby={ref!r} of <{element.tag}> points at nothing"
            assert page.by_id(ref).content, f"#{ref} is empty"
    for element in invalid:
        if element.attrs.get("type") in ("hidden", "radio", "checkbox"):
            continue  # radio buttons: their fieldset is described (revoke_start.html)
        refs = element.attrs.get("aria-describedby", "").split()
        error_id = f"{element.attrs['id'].removesuffix('_1')}_error"
        assert error_id in refs, f"#{element.attrs['id']} is invalid but not described by its error"
    (summary,) = page.summaries()
    assert page.alerts() == [summary]
    assert summary.attrs["tabindex"] == "-1"
    links = [e for e in page.elements if e.tag == "a" and summary in e.parents]
    for link in links:
        target = link.attrs["href"].removeprefix("#")
        assert target in ids, f"the summary links to #{target}, which is not on the page"
        assert page.by_id(target).tag in {"input", "textarea", "select"}
    items = [e for e in page.elements if e.tag == "li" and summary in e.parents]
    assert len(items) >= expect_errors
    assert page.title.strip().startswith("Hata:"), page.title
    return summary


def error_of(page: Page, field_id: str) -> str:
    return page.by_id(f"{field_id}_error").content


# --- Şifreli Giriş ---------------------------------------------------------------------------


def test_it_wires_every_login_error_to_its_field_and_the_summary(client: Client) -> None:
    data = {**login_data(client, "1234567895"), "captcha_1": "yanlış", "security_word": ""}
    response = client.post(LOGIN_URL, data)

    assert response.status_code == 400
    page = page_of(response)
    summary = assert_described_and_summarised(page, expect_errors=3)
    identifier_error = error_of(page, "id_identifier")
    captcha_error = error_of(page, "id_captcha")
    word_error = error_of(page, "id_security_word")
    assert "T.C. Kimlik No" in identifier_error
    assert "Resimdeki yazıyı doğru giriniz" in captcha_error
    assert word_error
    # The captcha's text box is described by the help text under the image and by its error.
    captcha = page.by_id("id_captcha_1")
    assert captcha.attrs["aria-describedby"].split() == ["id_captcha_helptext", "id_captcha_error"]
    assert "Resimdeki Yazı alanına" in page.by_id("id_captcha_helptext").content
    # Each entry of the summary is the field's message, linked to the field.
    links = {
        e.attrs["href"]: e.content for e in page.elements if e.tag == "a" and summary in e.parents
    }
    assert links == {
        "#id_identifier": identifier_error,
        "#id_captcha_1": captcha_error,
        "#id_security_word": word_error,
    }
    assert "Sorun var" in summary.content
    # The summary takes the focus, so no field of the failed form keeps autofocus.
    assert not [e for e in page.elements if "autofocus" in e.attrs]


def test_the_generic_failure_is_in_the_summary_without_a_link(
    client: Client, citizen: Citizen
) -> None:
    response = client.post(LOGIN_URL, login_data(client, citizen.identifier, "yanlış-sözcük"))

    page = page_of(response)
    (summary,) = page.summaries()
    assert "doğrulanamadı" in summary.content and "444 5 576" in summary.content
    assert page.alerts() == [summary]
    assert page.title.strip().startswith("Hata:")


def test_an_unbound_form_has_no_summary_and_its_help_texts_resolve(client: Client) -> None:
    for url in (LOGIN_URL, FORGOT):
        page = page_of(client.get(url))
        assert page.summaries() == [] and page.alerts() == []
        assert not page.title.strip().startswith("Hata")
        for element in page.described():
            for ref in element.attrs["aria-describedby"].split():
                assert page.by_id(ref).content
    birth = page_of(client.get(FORGOT)).by_id("id_birth_date")
    assert birth.attrs["aria-describedby"] == "id_birth_date_helptext"
    assert birth.attrs["inputmode"] == "numeric" and "data-date-input" in birth.attrs


def test_the_login_page_names_the_secret_one_way(client: Client) -> None:
    html = client.get(LOGIN_URL).content.decode()
    main = html.split("<main", 1)[1].split("</main>", 1)[0].casefold()
    assert "güvenlik sözcüğ" in main
    for other in ("parola", "şifreler", "şifrenizi", "şifreniz"):
        assert other not in main, other


# --- SMS Onay Kodu ---------------------------------------------------------------------------


def test_a_wrong_sms_code_is_wired_and_summarised(
    client: Client,
    citizen: Citizen,
    sms_outbox: list[dict[str, Any]],
    django_capture_on_commit_callbacks: Any,
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(LOGIN_URL, login_data(client, citizen.identifier)).status_code == 302
    response = client.post(CODE_URL, {"code": wrong(sms_code(sms_outbox))})

    assert response.status_code == 400
    page = page_of(response)
    assert_described_and_summarised(page)
    assert "Kalan deneme hakkınız: 2" in error_of(page, "id_code")


def test_a_malformed_sms_code_is_wired_and_summarised(
    client: Client,
    citizen: Citizen,
    sms_outbox: list[dict[str, Any]],
    django_capture_on_commit_callbacks: Any,
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        client.post(LOGIN_URL, login_data(client, citizen.identifier))
    page = page_of(client.post(CODE_URL, {"code": "12ab"}))
    assert_described_and_summarised(page)
    assert "6 rakamdan oluşur" in error_of(page, "id_code")


# --- Güvenlik Sözcüğümü Unuttum ---------------------------------------------------------------


def test_an_impossible_birth_date_is_wired_and_summarised(client: Client, citizen: Citizen) -> None:
    response = client.post(FORGOT, start_data(client, citizen.identifier, "31.02.1985"))

    assert response.status_code == 400
    page = page_of(response)
    assert_described_and_summarised(page)
    assert "GG.AA.YYYY" in error_of(page, "id_birth_date")
    assert page.by_id("id_birth_date").attrs["aria-describedby"].split() == [
        "id_birth_date_helptext",
        "id_birth_date_error",
    ]


@pytest.mark.parametrize(
    "typed", ["14031980", "14.03.1980", "14/03/1980", "14-03-1980", "14 03 1980", " 14.3.1980 "]
)
def test_the_birth_date_takes_digits_only_and_the_usual_separators(typed: str) -> None:
    form = RecoveryStartForm({"birth_date": typed})
    form.is_valid()
    assert "birth_date" not in form.errors
    assert form.cleaned_data["birth_date"] == dt.date(1980, 3, 14)


@pytest.mark.parametrize("typed", ["1431980", "140319800", "14131980", "31021980", "1980-03-1x"])
def test_the_birth_date_refuses_what_is_not_a_day(typed: str) -> None:
    form = RecoveryStartForm({"birth_date": typed})
    assert not form.is_valid()
    assert form.errors["birth_date"] == ["Doğum tarihini GG.AA.YYYY biçiminde giriniz."]


def test_digits_only_starts_the_recovery(
    client: Client,
    citizen: Citizen,
    sms_outbox: list[dict[str, Any]],
    django_capture_on_commit_callbacks: Any,
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(FORGOT, start_data(client, citizen.identifier, "23041985"))
    assert response.status_code == 302
    assert response["Location"] == reverse("accounts:recovery_code")
    assert [m["to"] for m in sms_outbox] == [citizen.mobile_phone]


# --- the new word -------------------------------------------------------------------------------


@pytest.fixture
def new_word_client(
    client: Client,
    citizen_factory: Any,
    sms_outbox: list[dict[str, Any]],
    django_capture_on_commit_callbacks: Any,
) -> Client:
    citizen = citizen_factory(first_name="Gülperi", last_name="Karaosmanoğlu")
    verified(client, citizen, sms_outbox, django_capture_on_commit_callbacks)
    return client


@pytest.mark.parametrize(
    ("word", "message"),
    [
        ("password123", "Bu Güvenlik Sözcüğü çok yaygın, kolayca tahmin edilir."),
        ("7391504682", "Güvenlik Sözcüğü yalnızca rakamlardan oluşamaz"),
        ("Ab1-x", "Güvenlik Sözcüğü çok kısa: en az 8 karakter olmalıdır."),
        ("GülperiKaraosmanoğlu", "adınıza, soyadınıza ya da e-posta adresinize çok benziyor"),
    ],
)
def test_the_new_word_is_refused_in_security_word_terms(
    new_word_client: Client, word: str, message: str
) -> None:
    response = set_word(new_word_client, NEW_WORD, word)

    assert response.status_code == 400
    page = page_of(response)
    assert_described_and_summarised(page)
    error = error_of(page, "id_new_word1")
    assert message in error
    assert "parola" not in error.casefold()
    assert "id_new_word1_helptext" in page.by_id("id_new_word1").attrs["aria-describedby"]


def test_a_too_short_word_is_said_once(new_word_client: Client) -> None:
    page = page_of(set_word(new_word_client, NEW_WORD, "Ab1-x"))
    errors = [e.content for e in page.elements if e.attrs.get("class") == "error-text"]
    assert errors.count("Güvenlik Sözcüğü çok kısa: en az 8 karakter olmalıdır.") == 1


REWORDED = [
    (
        "password_too_short",
        {"min_length": 8},
        "Güvenlik Sözcüğü çok kısa: en az 8 karakter olmalıdır.",
        "The security word is too short: it must have at least 8 characters.",
    ),
    (
        "password_too_common",
        None,
        "Bu Güvenlik Sözcüğü çok yaygın, kolayca tahmin edilir. Başka bir sözcük seçiniz.",
        "This security word is too common and easy to guess. Please choose another one.",
    ),
    (
        "password_entirely_numeric",
        None,
        "Güvenlik Sözcüğü yalnızca rakamlardan oluşamaz; harf de kullanınız.",
        "The security word cannot be only digits; please use letters too.",
    ),
    (
        "password_too_similar",
        {"verbose_name": "first name"},
        "Güvenlik Sözcüğü adınıza, soyadınıza ya da e-posta adresinize çok benziyor.",
        "The security word is too similar to your name, surname or e-mail address.",
    ),
]


@pytest.mark.parametrize(("code", "params", "turkish", "english"), REWORDED)
def test_django_validator_errors_are_reworded_and_ours_pass_through(
    code: str, params: dict[str, Any] | None, turkish: str, english: str
) -> None:
    django_error = ValidationError("This password is …", code=code, params=params)
    ours = ValidationError(
        "Güvenlik Sözcüğü doğum tarihinizi içeremez.", code="contains_birth_date"
    )
    with translation.override("tr"):
        reworded = as_security_word_errors(ValidationError([django_error, ours]))
    assert reworded.messages == [turkish, "Güvenlik Sözcüğü doğum tarihinizi içeremez."]
    assert [e.code for e in reworded.error_list] == [code, "contains_birth_date"]


@pytest.mark.parametrize(("code", "params", "turkish", "english"), REWORDED)
def test_django_validator_errors_are_reworded_in_english(
    code: str, params: dict[str, Any] | None, turkish: str, english: str
) -> None:
    """Needs the English catalogue compiled with this issue's msgids (/tmp/i18n/h14a.po)."""
    with translation.override("en"):
        reworded = as_security_word_errors(ValidationError("x", code=code, params=params))
    assert reworded.messages == [english]


# --- Bilgi Güncelle ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "data", "field_id", "section"),
    [
        (
            "accounts:profile_phone",
            {"mobile_phone": "0212 123 45 67"},
            "id_mobile_phone",
            "phone-heading",
        ),
        ("accounts:profile_email", {"email": "ad@"}, "id_email", "email-heading"),
        ("accounts:profile_address", {"address": "kısa"}, "id_address", "address-heading"),
    ],
)
def test_a_failed_profile_form_has_its_summary_at_the_top_of_its_section(
    client: Client, citizen: Citizen, url: str, data: dict[str, str], field_id: str, section: str
) -> None:
    response = login_as(client, citizen).post(reverse(url), data)

    assert response.status_code == 400
    page = page_of(response)
    summary = assert_described_and_summarised(page)
    sections = [e for e in summary.parents if e.tag == "section"]
    assert sections and sections[-1].attrs["aria-labelledby"] == section
    assert error_of(page, field_id)
    # The summary comes right after the section's heading, before its text and its form.
    in_section = [e for e in page.elements if sections[-1] in e.parents and e.tag != "span"]
    assert [e.tag for e in in_section[:2]] == ["h2", "div"] and in_section[1] is summary


# --- Parolalarımı Kaydet, Sertifikamı İptal Et, staff ---------------------------------------------


def test_the_pdf_password_errors_are_wired_and_summarised(
    citizen_client: Client,
    citizen: Citizen,
    sms_outbox: list[dict[str, Any]],
    django_capture_on_commit_callbacks: Any,
) -> None:
    card: AkisCard = AkisCardFactory(citizen=citizen)
    step_up(django_capture_on_commit_callbacks, citizen_client, card, sms_outbox)
    data = {"password": "kısa", "password2": "başka"}
    response = pinvault_post(
        django_capture_on_commit_callbacks, citizen_client, pinvault_url("pinpuk_pdf", card), data
    )

    assert response.status_code == 400
    page = page_of(response)
    (summary,) = page.summaries()
    assert page.alerts() == [summary]
    assert "en az 8 karakter" in error_of(page, "id_password")
    assert page.by_id("id_password").attrs["aria-describedby"].split() == [
        "id_password_helptext",
        "id_password_error",
    ]
    for link in [e for e in page.elements if e.tag == "a" and summary in e.parents]:
        assert page.by_id(link.attrs["href"][1:]).tag == "input"


def test_the_revoke_choices_are_a_described_fieldset(
    client: Client, citizen: Citizen, demo_pki: Any
) -> None:
    CertificateFactory(citizen=citizen)  # issued by the test PKI (demo_pki)
    response = login_as(client, citizen).post(reverse("certificates:revoke_start"), {})

    assert response.status_code in (200, 400)
    page = page_of(response)
    summary = assert_described_and_summarised(page, expect_errors=0)
    fieldsets = [e for e in page.elements if e.tag == "fieldset"]
    assert [f.attrs.get("aria-describedby") for f in fieldsets] == [
        "id_certificate_error",
        "id_reason_error",
    ]
    links = [e.attrs["href"] for e in page.elements if e.tag == "a" and summary in e.parents]
    assert links == ["#id_certificate_0", "#id_reason_0"]
    assert page.by_id("id_certificate_0").attrs["type"] == "radio"


def test_the_staff_login_has_the_summary_and_the_error_title(client: Client) -> None:
    user = StaffUserFactory()
    response = client.post(reverse("admin:login"), {"username": user.username, "password": "x"})

    page = page_of(response)
    (summary,) = page.summaries()
    assert "errornote" in summary.attrs["class"]
    assert page.alerts() == [summary]
    assert page.title.strip().startswith("Hata:")
