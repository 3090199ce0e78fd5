"""The English catalogue (locale/en) and the language switch.

Turkish is the source language (LANGUAGE_CODE = "tr"); English comes from
locale/en/LC_MESSAGES/django.po, compiled to django.mo, which is committed so that a fresh
machine needs no gettext tools. These tests keep the two files complete and in step, and check
that a citizen really sees the portal in Turkish by default and in English after switching.

After adding or changing a translatable string, run ``make messages``, translate the new
entries in django.po (no empty msgstr, no "fuzzy" flag) and commit both django.po and django.mo.
"""

from __future__ import annotations

import gettext
import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta
from html import escape
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.http import HttpResponse
from django.test import Client
from django.urls import reverse
from django.utils import timezone, translation

LC_MESSAGES = Path(settings.BASE_DIR) / "locale" / "en" / "LC_MESSAGES"
PO_PATH = LC_MESSAGES / "django.po"
MO_PATH = LC_MESSAGES / "django.mo"

LOGIN_URL = "/giris/"
SET_LANGUAGE_URL = "/i18n/setlang/"

# Letters that exist in Turkish but not in English.
TURKISH_LETTERS = "çğıİöşüÇĞÖŞÜ"
# Turkish words an English page may still show on purpose: the switch back to Turkish (named in
# its own language) and proper nouns.
ALLOWED_TURKISH_ON_ENGLISH_PAGES = ("Türkçe", "AKİS", "Türkiye")

# %(name)s, %(count)d, %s, %d …: Python's printf-style placeholders (%% is a literal percent).
PLACEHOLDER_RE = re.compile(r"%(?:\([^)]+\))?[-#0 +]*\d*(?:\.\d+)?[diouxXeEfFgGcrsa%]")
TAG_RE = re.compile(r"</?([a-zA-Z][a-zA-Z0-9]*)\b[^>]*>")


# --- a small .po reader --------------------------------------------------------------------


@dataclass
class PoEntry:
    msgid: str
    msgid_plural: str | None = None
    msgctxt: str | None = None
    msgstr: list[str] = field(default_factory=list)
    flags: set[str] = field(default_factory=set)
    line: int = 0
    obsolete: bool = False

    @property
    def label(self) -> str:
        return f"django.po:{self.line} {self.msgid[:60]!r}"


_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\", "a": "\a", "b": "\b"}


def _unquote(text: str, where: str) -> str:
    text = text.strip()
    if len(text) < 2 or not (text.startswith('"') and text.endswith('"')):
        raise ValueError(f"{where}: expected a quoted string, got {text!r}")
    return re.sub(r"\\(.)", lambda m: _ESCAPES.get(m.group(1), m.group(0)), text[1:-1])


_KEYWORD_RE = re.compile(r"^(msgctxt|msgid_plural|msgid|msgstr(?:\[(\d+)\])?)\s+(\".*\")\s*$")


def parse_po(text: str) -> list[PoEntry]:
    """Entries of a .po file, header included (msgid ""); enough for the files gettext writes."""
    entries: list[PoEntry] = []
    current: PoEntry | None = None
    target: tuple[str, int] | None = None  # the keyword continuation lines add to
    pending_flags: set[str] = set()
    pending_line = 0

    def finish() -> None:
        nonlocal current
        if current is not None:
            entries.append(current)
        current = None

    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        where = f"django.po:{number}"
        if not line:
            continue
        if line.startswith("#~"):
            # Obsolete entry (makemessages --no-obsolete should have dropped it).
            finish()
            entries.append(PoEntry(msgid=line, line=number, obsolete=True))
            target = None
            continue
        if line.startswith("#"):
            if current is not None and target is not None and target[0] == "msgstr":
                finish()  # comments start the next entry
                target = None
            if line.startswith("#,"):
                pending_flags |= {f.strip() for f in line[2:].split(",") if f.strip()}
            pending_line = pending_line or number
            continue
        match = _KEYWORD_RE.match(line)
        if match:
            keyword, index, value = match.group(1), match.group(2), _unquote(match.group(3), where)
            if keyword in ("msgctxt", "msgid") and (
                current is None or (target is not None and target[0] == "msgstr")
            ):
                finish()
                current = PoEntry(msgid="", flags=pending_flags, line=pending_line or number)
                pending_flags, pending_line = set(), 0
            if current is None:
                raise ValueError(f"{where}: {keyword} before msgid")
            if keyword == "msgctxt":
                current.msgctxt, target = value, ("msgctxt", 0)
            elif keyword == "msgid":
                current.msgid, target = value, ("msgid", 0)
            elif keyword == "msgid_plural":
                current.msgid_plural, target = value, ("msgid_plural", 0)
            else:
                position = int(index) if index is not None else 0
                while len(current.msgstr) <= position:
                    current.msgstr.append("")
                current.msgstr[position] = value
                target = ("msgstr", position)
            continue
        if line.startswith('"'):
            if current is None or target is None:
                raise ValueError(f"{where}: string continuation outside an entry")
            value = _unquote(line, where)
            kind, position = target
            if kind == "msgstr":
                current.msgstr[position] += value
            else:
                setattr(current, kind, (getattr(current, kind) or "") + value)
            continue
        raise ValueError(f"{where}: cannot read {raw!r}")
    finish()
    return entries


def _header(entries: list[PoEntry]) -> dict[str, str]:
    header = next(e for e in entries if e.msgid == "" and e.msgctxt is None)
    fields = {}
    for row in header.msgstr[0].splitlines():
        key, _, value = row.partition(":")
        fields[key.strip()] = value.strip()
    return fields


@pytest.fixture(scope="module")
def po_entries() -> list[PoEntry]:
    assert PO_PATH.is_file(), f"missing {PO_PATH}: run `make messages`"
    return parse_po(PO_PATH.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def messages(po_entries: list[PoEntry]) -> list[PoEntry]:
    """The translatable entries (everything but the header)."""
    return [e for e in po_entries if not (e.msgid == "" and e.msgctxt is None)]


def _placeholders(text: str) -> Counter[str]:
    return Counter(p for p in PLACEHOLDER_RE.findall(text) if p != "%%")


def _tags(text: str) -> Counter[str]:
    return Counter(m.group(0).split()[0].rstrip(">").lower() for m in TAG_RE.finditer(text))


# --- (a) the .po file ----------------------------------------------------------------------


def test_parser_reads_multiline_plural_and_flags() -> None:
    sample = (
        'msgid ""\nmsgstr ""\n"Language: en\\n"\n\n'
        '#: a.py\n#, python-format\nmsgid ""\n"%(n)d \\"x\\" "\n"y"\nmsgid_plural "%(n)d ys"\n'
        'msgstr[0] "%(n)d one"\nmsgstr[1] ""\n"%(n)d many"\n\n'
        '#, fuzzy\nmsgctxt "c"\nmsgid "z"\nmsgstr "Z"\n'
    )
    header, plural, fuzzy = parse_po(sample)
    assert header.msgid == "" and header.msgstr == ["Language: en\n"]
    assert plural.msgid == '%(n)d "x" y' and plural.msgid_plural == "%(n)d ys"
    assert plural.msgstr == ["%(n)d one", "%(n)d many"] and plural.flags == {"python-format"}
    assert (fuzzy.msgctxt, fuzzy.msgid, fuzzy.flags) == ("c", "z", {"fuzzy"})


def test_po_header(po_entries: list[PoEntry]) -> None:
    header = _header(po_entries)
    assert header.get("Language") == "en"
    assert header.get("Plural-Forms", "").replace(" ", "") == "nplurals=2;plural=(n!=1);"
    assert "charset=UTF-8" in header.get("Content-Type", "")
    first = next(e for e in po_entries if e.msgid == "")
    assert "fuzzy" not in first.flags, "the header is still marked fuzzy"


def test_po_has_messages(messages: list[PoEntry]) -> None:
    # Sanity: the catalogue was generated from the project (the login page alone has ~20).
    assert len(messages) > 100
    assert any(e.msgid == "Güvenlik Sözcüğü" for e in messages)


def test_every_message_is_translated(messages: list[PoEntry]) -> None:
    untranslated = []
    for entry in messages:
        forms = 2 if entry.msgid_plural is not None else 1
        if len(entry.msgstr) < forms or not all(s.strip() for s in entry.msgstr[:forms]):
            untranslated.append(entry.label)
    assert not untranslated, "empty msgstr (translate them in django.po):\n" + "\n".join(
        untranslated
    )


def test_no_fuzzy_or_obsolete_entries(po_entries: list[PoEntry]) -> None:
    fuzzy = [e.label for e in po_entries if "fuzzy" in e.flags]
    obsolete = [e.label for e in po_entries if e.obsolete]
    assert not fuzzy, "fuzzy entries are ignored by msgfmt; review them and drop the flag:\n" + (
        "\n".join(fuzzy)
    )
    assert not obsolete, "obsolete (#~) entries: run `make messages`:\n" + "\n".join(obsolete)


def test_no_duplicate_msgids(messages: list[PoEntry]) -> None:
    counts = Counter((e.msgctxt, e.msgid) for e in messages)
    assert [key for key, n in counts.items() if n > 1] == []


def test_placeholders_are_kept(messages: list[PoEntry]) -> None:
    wrong = []
    for entry in messages:
        sources = [entry.msgid] + ([entry.msgid_plural] if entry.msgid_plural else [])
        expected = set().union(*(_placeholders(s) for s in sources))
        for i, translated in enumerate(entry.msgstr):
            if not translated:
                continue  # reported by test_every_message_is_translated
            got = _placeholders(translated)
            singular_only = entry.msgid_plural is not None and i == 0
            # A singular form may spell out the number ("one citizen"); everything else must
            # use exactly the placeholders of the source.
            if set(got) != expected and not (singular_only and set(got) <= expected):
                wrong.append(f"{entry.label}: {sorted(expected)} -> {sorted(got)} in {i}")
    assert not wrong, "placeholders differ between msgid and msgstr:\n" + "\n".join(wrong)


def test_html_tags_are_kept(messages: list[PoEntry]) -> None:
    wrong = []
    for entry in messages:
        expected = _tags(entry.msgid)
        for translated in entry.msgstr:
            if translated and _tags(translated) != expected:
                wrong.append(f"{entry.label}: {dict(expected)} -> {dict(_tags(translated))}")
    assert not wrong, "HTML tags differ between msgid and msgstr:\n" + "\n".join(wrong)


def test_python_format_flag_matches_placeholders(messages: list[PoEntry]) -> None:
    # makemessages flags strings with placeholders as python-format; msgfmt --check relies on it.
    missing = [
        e.label for e in messages if _placeholders(e.msgid) and "python-format" not in e.flags
    ]
    assert not missing


@pytest.mark.parametrize(
    ("turkish", "english"),
    [
        # The glossary (PRODUCT.md) and the product's proper nouns.
        ("Şifreli Giriş", "Password Login"),
        ("Güvenlik Sözcüğü", "Security word"),
        ("Resimdeki Yazı", "Text in the image"),
        ("SMS Onay Kodu", "SMS confirmation code"),
        ("İşlemler Menüsü", "Operations menu"),
        ("Çağrı Merkezi", "Call centre"),
        ("Yenile", "Refresh"),
        ("T.C. Kimlik No", "National ID number"),
        ("Sertifikamı İptal Et", "Revoke my certificate"),
        ("Askıdan İndir", "Unsuspend a certificate"),
    ],
)
def test_glossary_terms(turkish: str, english: str) -> None:
    with translation.override("en"):
        assert translation.gettext(turkish) == english
    with translation.override("tr"):
        assert translation.gettext(turkish) == turkish


def test_greeting_keeps_the_name_placeholder() -> None:
    source = (
        "Sayın %(name)s; aşağıdaki butonları kullanarak sertifika durumunuzu değiştirebilir, "
        "kişisel bilgilerinizi güncelleyebilirsiniz."
    )
    with translation.override("en"):
        english = translation.gettext(source) % {"name": "ADA LOVELACE"}
    assert english.startswith("Dear ADA LOVELACE")


# --- (b) the committed .mo is the compiled .po ---------------------------------------------


@pytest.fixture(scope="module")
def mo_catalog() -> dict[object, str]:
    assert MO_PATH.is_file(), f"missing {MO_PATH}: run `make messages` and commit django.mo"
    with MO_PATH.open("rb") as handle:
        compiled = gettext.GNUTranslations(handle)
    return compiled._catalog  # type: ignore[attr-defined]


def _expected_catalog(messages: list[PoEntry]) -> dict[object, str]:
    """What msgfmt writes for these entries (fuzzy and untranslated ones are left out)."""
    expected: dict[object, str] = {}
    for entry in messages:
        if "fuzzy" in entry.flags or entry.obsolete or not any(entry.msgstr):
            continue
        key = entry.msgid if entry.msgctxt is None else f"{entry.msgctxt}\x04{entry.msgid}"
        if entry.msgid_plural is not None:
            for i, translated in enumerate(entry.msgstr):
                expected[(key, i)] = translated
        else:
            expected[key] = entry.msgstr[0]
    return expected


def test_mo_matches_po(messages: list[PoEntry], mo_catalog: dict[object, str]) -> None:
    """Compare contents, not mtimes (a git checkout gives both files arbitrary mtimes)."""
    expected = _expected_catalog(messages)
    compiled = {k: v for k, v in mo_catalog.items() if k != ""}  # "" is the header
    stale = sorted(repr(k)[:80] for k in expected if compiled.get(k) != expected[k])
    extra = sorted(repr(k)[:80] for k in compiled if k not in expected)
    assert not stale and not extra, (
        "django.mo is out of date; run `make messages` (or `manage.py compilemessages --locale "
        "en`) and commit it.\nchanged or missing in .mo:\n"
        + "\n".join(stale)
        + "\nonly in .mo:\n"
        + "\n".join(extra)
    )


def test_mo_header(mo_catalog: dict[object, str]) -> None:
    header = mo_catalog.get("", "")
    assert "Language: en" in header
    assert "charset=UTF-8" in header


# --- (c, d) the login page in both languages -----------------------------------------------


def _text(html: str) -> str:
    """The visible text of a page, roughly: no tags, no <script>/<style>, whitespace collapsed."""
    html = re.sub(r"(?is)<(script|style)\b.*?</\1>", " ", html)
    return " ".join(TAG_RE.sub(" ", html).split())


def _attribute_texts(html: str) -> list[str]:
    """Text that people read or hear in attributes (alt, title, placeholder, aria-label)."""
    return re.findall(r'\b(?:alt|title|placeholder|aria-label)="([^"]*)"', html)


@pytest.mark.django_db
def test_login_page_uses_real_turkish_letters(client) -> None:
    html = client.get(LOGIN_URL).content.decode("utf-8")
    missing = [letter for letter in "şğıİçöü" if letter not in html]
    assert not missing, f"Turkish letters missing from the login page: {missing}"
    # UTF-8 read as Latin-1 and written again ("GÃ¼venlik") would show these.
    assert not re.search("[ÃÄÅ][\x80-\xbf]", html)


def _switch_to_english(client) -> None:
    response = client.post(SET_LANGUAGE_URL, {"language": "en", "next": LOGIN_URL})
    assert response.status_code == 302
    assert response["Location"] == LOGIN_URL
    assert client.cookies[settings.LANGUAGE_COOKIE_NAME].value == "en"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("language", "shown", "not_shown"),
    [
        pytest.param(
            "tr",
            ["Güvenlik Sözcüğü", "Şifreli Giriş", "Resimdeki Yazı"],
            ["Security word"],
            id="turkish-by-default",
        ),
        pytest.param(
            "en",
            # The switch offers Turkish back, named in Turkish.
            ["Security word", "Password Login", "Text in the image", 'value="tr"', "Türkçe"],
            ["Güvenlik Sözcüğü", "Şifreli Giriş"],
            id="english-after-switching",
        ),
    ],
)
def test_login_page_speaks_the_chosen_language(
    client, language: str, shown: list[str], not_shown: list[str]
) -> None:
    if language == "en":
        _switch_to_english(client)
    response = client.get(LOGIN_URL)
    assert response.status_code == 200
    assert response["Content-Language"] == language
    assert "charset=utf-8" in response["Content-Type"].lower()
    html = response.content.decode("utf-8")
    assert f'<html lang="{language}">' in html
    for text in shown:
        assert text in html, text
    for text in not_shown:
        assert text not in html, text


@pytest.mark.django_db
def test_switching_back_to_turkish(client) -> None:
    _switch_to_english(client)
    client.post(SET_LANGUAGE_URL, {"language": "tr", "next": LOGIN_URL})
    html = client.get(LOGIN_URL).content.decode("utf-8")
    assert '<html lang="tr">' in html
    assert "Güvenlik Sözcüğü" in html


def _turkish_left(html: str, also_allowed: tuple[str, ...] = ()) -> list[str]:
    """Words with Turkish letters on a page, apart from the allowed names and data."""
    text = " ".join([_text(html), *_attribute_texts(html)])
    for allowed in (*also_allowed, *ALLOWED_TURKISH_ON_ENGLISH_PAGES):
        text = text.replace(allowed, " ")
    return sorted({w for w in text.split() if any(ch in TURKISH_LETTERS for ch in w)})


@pytest.mark.django_db
@pytest.mark.parametrize(
    "url",
    [
        "/",
        LOGIN_URL,
        "/guvenlik-sozcugu/unuttum/",
        "/e-imzali-giris/",
        "/giris/kilitli/",
        "/bu-sayfa-yok/",  # the 404 page
    ],
)
def test_public_pages_have_no_turkish_left_in_english(client, url: str) -> None:
    """A string shown in English mode but still Turkish is missing from the catalogue."""
    _switch_to_english(client)
    response = client.get(url)
    assert response["Content-Language"] == "en"
    left = _turkish_left(response.content.decode("utf-8"))
    assert not left, f"untranslated text on {url} in English (run `make messages`): {left}"


@pytest.mark.django_db
def test_menu_in_english(client, citizen_factory) -> None:
    from nesportal.testing import login_as

    citizen = citizen_factory(first_name="Ada", last_name="Lovelace")
    _switch_to_english(client)
    login_as(client, citizen)
    response = client.get("/islemler/")
    assert response.status_code == 200
    html = response.content.decode("utf-8")
    assert "Operations menu" in html
    assert "Dear ADA LOVELACE" in html
    assert "Log out" in html
    assert not _turkish_left(html)


# --- (e) the certificate pages in English --------------------------------------------------


@dataclass
class CertificatePages:
    """A citizen with a Turkish name and a certificate in every state, browsing in English."""

    client: Client
    citizen: Any
    certificates: dict[str, Any]
    outbox: list[dict[str, Any]]
    # Data the pages show as it is, not UI text: the holder's name and the subject and issuer
    # attribute values written in the certificates (the CA's name is Turkish).
    data: tuple[str, ...]

    def url(self, name: str, state: str | None = None) -> str:
        args = [self.certificates[state].serial_number] if state else []
        return reverse(f"certificates:{name}", args=args)

    def check(self, response: HttpResponse, status: int = 200) -> str:
        """The page's HTML, after checking it is in English with no Turkish UI text left."""
        path = response.request["PATH_INFO"]
        assert response.status_code == status, path
        assert response["Content-Language"] == "en", path
        html = response.content.decode("utf-8")
        left = _turkish_left(html, also_allowed=self.data)
        assert not left, f"untranslated text on {path} in English (run `make messages`): {left}"
        return html


def _certificate_data(certificate: Any) -> set[str]:
    from cryptography import x509

    from certificates import pki

    info = pki.describe(x509.load_der_x509_certificate(bytes(certificate.der)))
    return {value for _, value in [*info["subject"], *info["issuer"]]}


@pytest.fixture
def certificate_pages(
    client: Client, citizen_factory: Any, certificate_factory: Any, sms_outbox: list
) -> CertificatePages:
    from certificates.models import Certificate
    from nesportal.testing import login_as

    citizen = citizen_factory(first_name="Şule", last_name="Güneş")
    now = timezone.now()
    mobile = Certificate.Kind.MOBILE

    def issue(state: str, days_ago: int = 0, **kwargs: Any) -> Any:
        return certificate_factory(citizen, state, now=now - timedelta(days=days_ago), **kwargs)[0]

    certificates = {
        "expired": issue("expired", 60),
        "revoked": issue("revoked", 25),
        "active": issue("active", 20),
        # Opened below, once the newer one is: an older live one would block that.
        "suspended_by_ca": issue("pending", 10, kind=mobile),
        "suspended": issue("suspended", 5, kind=mobile),
        # Cannot be opened yet: the active certificate of the same kind is still valid.
        "pending": issue("pending"),
    }
    by_ca = certificates["suspended_by_ca"]
    by_ca.open_for_use(by_citizen=citizen)
    by_ca.suspend(by=Certificate.SuspendedBy.CA)
    by_ca.refresh_from_db()

    data = {citizen.first_name, citizen.last_name, citizen.full_name, citizen.greeting_name}
    for certificate in certificates.values():
        data |= _certificate_data(certificate)
    data |= {escape(value) for value in data}
    _switch_to_english(client)
    login_as(client, citizen)
    return CertificatePages(
        client, citizen, certificates, sms_outbox, tuple(sorted(data, key=len, reverse=True))
    )


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("name", "state", "expected"),
    [
        ("list", None, "List my certificates"),
        ("open_list", None, "Open my certificate for use"),
        ("reinstate_list", None, "One of your certificates was suspended by the certificate"),
        ("revoke_start", None, "Reason for revocation"),
        ("detail", "pending", "Open for use"),
        ("detail", "active", "Suspend"),
        ("detail", "suspended", "Unsuspend a certificate"),
        ("detail", "suspended_by_ca", "call our Call centre"),
        ("detail", "revoked", "Revoked"),
        ("detail", "expired", "Your certificate expired on"),
        ("suspend", "active", "Suspend my certificate"),
        ("suspend", "pending", "cannot be suspended now"),
    ],
)
def test_certificate_pages_have_no_turkish_left_in_english(
    certificate_pages: CertificatePages, name: str, state: str | None, expected: str
) -> None:
    html = certificate_pages.check(certificate_pages.client.get(certificate_pages.url(name, state)))
    assert expected in html


@pytest.mark.django_db
def test_certificate_actions_answer_in_english(
    certificate_pages: CertificatePages, django_capture_on_commit_callbacks: Any
) -> None:
    """Refusals, flash messages, form errors and every step of a revocation."""
    from nesportal.testing import sms_code, wrong

    pages, client = certificate_pages, certificate_pages.client

    # An older certificate of the same kind is still valid: refused with the model's message.
    html = pages.check(client.post(pages.url("open", "pending")), status=409)
    assert "until your old certificate" in html
    html = pages.check(client.post(pages.url("suspend", "active"), follow=True))
    assert "has been suspended" in html
    html = pages.check(client.post(pages.url("reinstate", "active"), follow=True))
    assert "The suspension of your certificate" in html
    # Only the call centre lifts the certificate service provider's suspension.
    html = pages.check(client.post(pages.url("reinstate", "suspended_by_ca")), status=409)
    assert "This could not be done" in html

    html = pages.check(client.post(pages.url("revoke_start"), {}), status=400)
    assert "Please choose a reason for revocation." in html
    choice = {"certificate": pages.certificates["active"].serial_number, "reason": "superseded"}
    html = pages.check(client.post(pages.url("revoke_start"), choice, follow=True))
    assert "This CANNOT be undone." in html
    with django_capture_on_commit_callbacks(execute=True):  # the SMS task
        response = client.post(pages.url("revoke_confirm", "active"), follow=True)
    html = pages.check(response)
    assert "SMS confirmation code for revocation" in html
    code = sms_code(pages.outbox)
    html = pages.check(client.post(pages.url("revoke_code", "active"), {"code": wrong(code)}), 400)
    assert "Attempts left: 2" in html
    response = client.post(pages.url("revoke_code", "active"), {"code": code}, follow=True)
    html = pages.check(response)
    assert "Your certificate has been revoked" in html
    assert "Reason for revocation: I have received a new certificate" in html


# --- (f) the PIN/PUK Bilgisi and Kilit Çözme pages in English ------------------------------

# The AKİS card tool shows this warning in Turkish; the English pages quote it as the tool shows
# it (followed by an English translation), so it is data here, like a name.
CARD_TOOL_WARNING = "“PIN kilitlendi. PUK ile kilit çözebilirsiniz.”"
PIN = "604829"
PUK = "27360418"


@dataclass
class CardPages:
    """A citizen with a Turkish name and an AKİS card in every state, browsing in English."""

    client: Client
    citizen: Any
    cards: dict[str, Any]
    outbox: list[dict[str, Any]]
    # Data the pages show as it is: the holder's name, the card serials, the card tool's warning.
    data: tuple[str, ...]

    def url(self, name: str, card: str | None = None) -> str:
        kwargs = {"card": self.cards[card].serial_number} if card else {}
        return reverse(f"pinvault:{name}", kwargs=kwargs)

    def check(self, response: HttpResponse, status: int = 200) -> str:
        """The page's HTML, after checking it is in English with no Turkish UI text left."""
        path = response.request["PATH_INFO"]
        assert response.status_code == status, path
        assert response["Content-Language"] == "en", path
        html = response.content.decode("utf-8")
        left = _turkish_left(html, also_allowed=self.data)
        assert not left, f"untranslated text on {path} in English (run `make messages`): {left}"
        return html


@pytest.fixture
def card_pages(client: Client, citizen_factory: Any, sms_outbox: list) -> CardPages:
    from nesportal.testing import login_as
    from nesportal.testing.factories import AkisCardFactory
    from pinvault import vault

    citizen = citizen_factory(first_name="Gülşen", last_name="Öztürkoğlu")

    def card(**traits: Any) -> Any:
        return AkisCardFactory(**{"citizen": citizen, "pin": PIN, "puk": PUK, **traits})

    cards = {
        "active": card(),
        "pin_locked": card(pin_locked=True),
        "puk_unlock": card(before_2011=True, pin_locked=True, wrong_puk_count=1),
        "unusable": card(before_2011=True, unusable=True),
        "pin_only": card(puk=None),
        "deleted": card(),
        "puk_deleted": card(before_2011=True, pin_locked=True),
    }
    vault.destroy(cards["deleted"])
    vault.destroy(cards["puk_deleted"])

    data = {citizen.first_name, citizen.last_name, citizen.full_name, citizen.greeting_name}
    data |= {c.serial_number for c in cards.values()} | {CARD_TOOL_WARNING}
    data |= {escape(value) for value in data}
    _switch_to_english(client)
    login_as(client, citizen)
    return CardPages(client, citizen, cards, sms_outbox, tuple(sorted(data, key=len, reverse=True)))


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("name", "card", "expected"),
    [
        ("pinpuk", None, "The PIN and PUK are stored encrypted in the system."),
        ("pinpuk", None, "Deleted on"),
        ("unlock_list", None, "On this site, without the PUK"),
        ("unlock_list", None, "With the PUK, in the AKİS Card Monitor"),
        # The code-request pages: before the SMS step-up.
        ("pinpuk_card", "active", "Send SMS confirmation code"),
        ("pinpuk_card", "puk_unlock", "Smart cards produced before 01.01.2011"),
        ("pinpuk_card", "deleted", "deleted from the system at your request"),
        ("pinpuk_delete", "active", "Delete my PINs"),
        ("unlock_card", "pin_locked", "This card is unlocked on this site, without the PUK"),
        ("unlock_card", "active", "PIN is not locked."),
        ("unlock_card", "puk_unlock", "1 wrong PUK entry has been reported"),
        ("unlock_card", "unusable", "This card is unusable and can never be used again."),
        ("unlock_card", "puk_deleted", "You can find your PUK in the PDF file"),
    ],
)
def test_pinpuk_pages_have_no_turkish_left_in_english(
    card_pages: CardPages, name: str, card: str | None, expected: str
) -> None:
    html = card_pages.check(card_pages.client.get(card_pages.url(name, card)))
    assert expected in html


@pytest.mark.django_db
def test_pinpuk_pages_with_no_card_in_english(client: Client, citizen_factory: Any) -> None:
    from nesportal.testing import login_as

    citizen = citizen_factory(first_name="Gülşen", last_name="Öztürkoğlu")
    _switch_to_english(client)
    login_as(client, citizen)
    data = (citizen.full_name, citizen.greeting_name, citizen.first_name, citizen.last_name)
    for url in ("/pin-puk/", "/kilit-cozme/"):
        response = client.get(url)
        assert response.status_code == 200
        html = response.content.decode("utf-8")
        assert "There is no AKİS card registered in your name." in html
        assert not _turkish_left(html, also_allowed=data), url


def _pdf_turkish_words(data: bytes, allowed: tuple[str, ...]) -> list[str]:
    """Words with Turkish letters in a PDF's text, apart from the words of ``allowed``."""
    import io

    from pypdf import PdfReader

    text = " ".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)
    allowed_words = {word for value in allowed for word in value.split()}
    return sorted(
        {
            w
            for w in text.split()
            if any(ch in TURKISH_LETTERS for ch in w)
            and w not in allowed_words
            and not any(name in w for name in ALLOWED_TURKISH_ON_ENGLISH_PAGES)
        }
    )


@pytest.mark.django_db
def test_pinpuk_actions_answer_in_english(
    card_pages: CardPages, django_capture_on_commit_callbacks: Any
) -> None:
    """The SMS step-up, the PIN/PUK page, the PDF, Parolalarımı Sil, both kinds of unlock."""
    from nesportal.testing import sms_code

    pages, client = card_pages, card_pages.client

    def post(path: str, data: dict[str, str] | None = None, **kwargs: Any) -> HttpResponse:
        with django_capture_on_commit_callbacks(execute=True):  # the SMS tasks
            return client.post(path, data or {}, **kwargs)

    # PIN/PUK Bilgisi: the code page, a wrong code, the right one.
    html = pages.check(post(pages.url("pinpuk_card", "active"), {"then": "view"}, follow=True))
    assert "SMS confirmation code for PIN/PUK information" in html
    assert "Confirmation code for your card with serial number" in html
    code = sms_code(pages.outbox)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    html = pages.check(post(pages.url("pinpuk_code", "active"), {"code": wrong}), status=400)
    assert "Attempts left: 2" in html
    html = pages.check(post(pages.url("pinpuk_code", "active"), {"code": code}, follow=True))
    assert PIN in html and PUK in html
    for text in ("Viewing time left", "Please read ALL of these warnings", "Save my PINs"):
        assert text in html, text

    # Parolalarımı Kaydet: a form error, then the PDF itself.
    mismatch = {"password": "uzun-parola-1", "password2": "uzun-parola-2"}
    html = pages.check(post(pages.url("pinpuk_pdf", "active"), mismatch), status=400)
    assert "The two passwords are not the same." in html
    response = post(pages.url("pinpuk_pdf", "active"))
    assert response["Content-Type"] == "application/pdf"
    pdf = response.content
    assert not _pdf_turkish_words(pdf, pages.data)

    # Parolalarımı Sil, within the same grant.
    html = pages.check(client.get(pages.url("pinpuk_delete", "active")))
    assert "Yes, delete my PINs" in html
    html = pages.check(post(pages.url("pinpuk_delete", "active"), follow=True))
    assert "Your PIN/PUK information has been deleted" in html

    # Kilit Çözme on the portal (from 2011): a new PIN, then the unlock waiting for the card tool.
    html = pages.check(post(pages.url("unlock_card", "pin_locked"), follow=True))
    assert "SMS confirmation code to unlock your card" in html
    assert "Confirm and create a new PIN" in html
    code = sms_code(pages.outbox)
    html = pages.check(post(pages.url("unlock_code", "pin_locked"), {"code": code}))
    assert "Your card has been unlocked: your new PIN" in html
    assert "Time left to save the PDF" in html
    html = pages.check(client.get(pages.url("unlock_card", "pin_locked")))
    assert "will be written to your card the next time" in html
    html = pages.check(client.get(pages.url("pinpuk_card", "pin_locked")))
    assert "The new PIN created when you unlocked your card" in html
    html = pages.check(post(pages.url("pinpuk_delete", "pin_locked")), status=409)
    assert "An unlock of your card is still waiting" in html

    # Kilit Çözme with the PUK (before 2011): the PUK, after its own step-up.
    html = pages.check(post(pages.url("unlock_card", "puk_unlock"), follow=True))
    assert "SMS confirmation code to see the PUK" in html
    code = sms_code(pages.outbox)
    html = pages.check(post(pages.url("unlock_code", "puk_unlock"), {"code": code}, follow=True))
    assert PUK in html
    assert "you have 2 attempts left" in html
