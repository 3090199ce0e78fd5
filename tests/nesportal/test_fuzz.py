"""No 5xx from any input: generated junk sent to every URL pattern of the project.

Every pattern comes from the URLconf (``get_resolver().url_patterns``, walked recursively); its
converters and regex groups are filled with generated text or with real values of the test data
(the citizen's certificate and card serials, application and row ids), so that the junk also
reaches the views behind the lookups. Each request has a random method, query string, body
(urlencoded or multipart with known and random field names, or raw bytes under a random content
type and charset), headers and cookies, and is sent anonymously, as the citizen, as a call-centre
agent or as a superuser. Asserted: no 5xx and no ERROR log record with a traceback.

Each example runs inside a savepoint that is rolled back, so every request sees the same data
(no account is locked by the previous example). ``NES_FUZZ_EXAMPLES`` sets the number of
examples (default 300; CI: 10,000); the seed is printed (``NES_FUZZ_SEED`` replays it).
"""

from __future__ import annotations

import base64
import logging
import os
import re
import secrets
import time
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import quote, urlencode

import pytest
from django import forms
from django.conf import settings as django_settings
from django.contrib.contenttypes.models import ContentType
from django.core.cache import cache
from django.db import transaction
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from django.urls.resolvers import _PATH_PARAMETER_COMPONENT_RE, RegexPattern, RoutePattern
from hypothesis import HealthCheck, given
from hypothesis import seed as hseed
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from nesportal.testing import login_as, staff_login

pytestmark = pytest.mark.django_db

EXAMPLES = int(os.environ.get("NES_FUZZ_EXAMPLES", "300"))
SEED = int(os.environ.get("NES_FUZZ_SEED") or secrets.randbits(32))
API_KEY = "fuzz-" + "k" * 40

# --- the URLconf ------------------------------------------------------------------------------


@dataclass
class Pattern:
    """One endpoint: its route split into literal text and (parameter, converter regex) parts."""

    name: str
    parts: list[str | tuple[str, str]] = field(default_factory=list)


def _split_route(route: str, converters: dict[str, Any]) -> list[str | tuple[str, str]]:
    parts: list[str | tuple[str, str]] = []
    while route:
        match = _PATH_PARAMETER_COMPONENT_RE.search(route)
        if match is None:
            parts.append(route)
            break
        parts.append(route[: match.start()])
        parameter = match["parameter"]
        parts.append((parameter, converters[parameter].regex))
        route = route[match.end() :]
    return parts


def _strip_anchors(regex: str) -> str:
    regex = regex.removeprefix("^")
    for end in (r"\Z", "$"):
        regex = regex.removesuffix(end)
    return regex


def url_patterns() -> list[Pattern]:
    found: list[Pattern] = []

    def walk(entries: list[Any], prefix: list[str | tuple[str, str]]) -> None:
        for entry in entries:
            pattern = entry.pattern
            if isinstance(pattern, RoutePattern):
                parts = _split_route(str(pattern._route), pattern.converters)
            elif isinstance(pattern, RegexPattern):
                # The whole regex as one part, filled by hypothesis' from_regex.
                parts = [("", _strip_anchors(pattern._regex))]
            else:  # pragma: no cover - LocalePrefixPattern is not used
                raise AssertionError(pattern)
            if isinstance(entry, URLResolver):
                walk(entry.url_patterns, prefix + parts)
            elif isinstance(entry, URLPattern):
                label = "".join(p if isinstance(p, str) else f"<{p[0]}>" for p in prefix + parts)
                found.append(Pattern(label, prefix + parts))

    walk(get_resolver().url_patterns, [])
    return found


def form_field_names() -> list[str]:
    """The field names of every form of the project (a MultiWidget's as name_0, name_1 …)."""
    import accounts.admin  # noqa: F401 - defines forms
    import accounts.forms  # noqa: F401
    import accounts.profile  # noqa: F401
    import accounts.recovery  # noqa: F401
    import certificates.forms  # noqa: F401
    import eonay.admin  # noqa: F401
    import esign.forms  # noqa: F401
    import pinvault.forms  # noqa: F401

    names = {"csrfmiddlewaretoken", "next", "language", "action", "_selected_action", "post"}
    names |= {"select_across", "index", "q", "_save", "_continue", "apply", "reason"}
    todo = list(forms.BaseForm.__subclasses__())
    while todo:
        cls = todo.pop()
        todo.extend(cls.__subclasses__())
        if cls.__module__.split(".")[0] not in {"accounts", "certificates", "pinvault", "eonay"}:
            continue
        for name, form_field in getattr(cls, "base_fields", {}).items():
            names.add(name)
            widgets = getattr(form_field.widget, "widgets", None)
            for index in range(len(widgets or [])):
                names.add(f"{name}_{index}")
    return sorted(names)


# --- strategies -----------------------------------------------------------------------------

HUGE = "x" * 300_000
SPECIAL = [
    "",
    "0",
    "-1",
    "1",
    "2",
    "9" * 30,
    "1e309",
    "NaN",
    "true",
    "null",
    "passed",
    "123456",
    "\x00",
    "a\x00b",
    "\r\n",
    "\x1b[2J",
    "\ufeff",
    "\u202e",
    "İı",
    "ş" * 300,
    "' OR '1'='1",
    "<script>alert(1)</script>",
    "%00",
    "%ff",
    "../../etc/passwd",
    "a" * 5000,
    HUGE,
    "2026-02-30",
    "99999999999",
    "10000000146",
    "+905320000012",
    "a@b.c",
    "AKIS-0000000000",
]


# Mostly printable text (so that most requests get past the boundary into the views), sometimes
# anything at all (control characters, NUL, odd Unicode) and the SPECIAL values.
PRINTABLE = st.text(st.characters(blacklist_categories=("Cc", "Cs")), max_size=40)
JUNK = st.one_of(
    PRINTABLE,
    PRINTABLE,
    st.sampled_from(SPECIAL),
    st.integers(min_value=-(2**70), max_value=2**70).map(str),
    st.text(max_size=40),
)
# What a WSGI server can hand over as a header: latin-1 text.
HEADER_TEXT = st.one_of(
    st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=60),
    st.sampled_from([v for v in SPECIAL if v.isascii() or max(map(ord, v)) < 256]),
    st.text(st.characters(max_codepoint=255)),
)


def path_strategy(pattern: Pattern, known: dict[str, list[str]]) -> st.SearchStrategy[str]:
    parts = []
    for part in pattern.parts:
        if isinstance(part, str):
            parts.append(st.just(quote(part, safe="/")))
            continue
        parameter, regex = part
        choices = [
            st.from_regex(re.compile(regex), fullmatch=True, alphabet=st.characters(codec="utf-8")),
            JUNK,
        ]
        if known.get(parameter):
            choices = [st.sampled_from(known[parameter]), *choices]
        parts.append(st.one_of(*choices).map(lambda value: quote(value, safe="/")))
    return st.tuples(*parts).map(lambda values: "/" + "".join(values))


CONTENT_TYPES = [
    "application/x-www-form-urlencoded",
    "multipart/form-data",
    "multipart/form-data; boundary=",
    "multipart/form-data; boundary=zz",
    "application/json",
    "text/plain",
    "application/ocsp-request",
    "application/octet-stream",
    "application/xml",
    "",
    "a/b/c; ;;",
]
# No NUL in the charset: Django's WSGIRequest() itself fails on it (codecs.lookup), before any
# middleware; gunicorn refuses control characters in header values before Django sees them.
CHARSETS = ["", "utf-8", "utf8", "UTF-8", "latin-1", "utf-16", "ascii", "x" * 50, "\x01", "é"]


@dataclass
class Spec:
    who: str
    method: str
    path: str
    query: str
    body: Any
    content_type: str | None
    headers: dict[str, str]
    cookies: dict[str, str]
    # CSRF enforced as in production (most POSTs then end at 403), or skipped like the test
    # client's default, so that the junk reaches the views.
    enforce_csrf: bool = False


WHO = ("anon", "citizen", "agent", "superuser")
HEADERS = [
    "HTTP_ACCEPT_LANGUAGE",
    "HTTP_REFERER",
    "HTTP_ORIGIN",
    "HTTP_USER_AGENT",
    "HTTP_X_FORWARDED_FOR",
    "HTTP_X_FORWARDED_PROTO",
    "HTTP_X_REQUEST_ID",
    "HTTP_AUTHORIZATION",
    "HTTP_IF_NONE_MATCH",
    "HTTP_HOST",
    "HTTP_X_SSL_CLIENT_CERT",
]


def specs(patterns: list[Pattern], known: dict[str, list[str]]) -> st.SearchStrategy[Spec]:
    # Every strategy is built once: building them per example costs more than the request.
    path_st = st.one_of([path_strategy(pattern, known) for pattern in patterns])
    path_junk = st.sampled_from(["%ff", "%00", "..%2f", "%c0%af", "/x"])
    names = st.one_of(st.sampled_from(known["fields"]), JUNK)
    values = st.one_of(st.sampled_from(known["values"]), JUNK)
    pairs = st.lists(st.tuples(names, values), max_size=6)
    methods = st.sampled_from(["GET", "POST", "POST", "POST", "HEAD", "PUT", "DELETE"])
    kinds = st.sampled_from(["form", "multipart", "raw", "none"])
    raw_bodies = st.one_of(st.binary(max_size=200), st.text(max_size=200).map(str.encode))
    content_types = st.sampled_from(CONTENT_TYPES)
    charsets = st.sampled_from(CHARSETS)
    header_names = st.lists(st.sampled_from(HEADERS), max_size=3, unique=True)
    cookie_names = st.sampled_from(["nes_session", "nes_csrftoken", "django_language", "x"])
    who = st.sampled_from(["anon", "citizen", "citizen", "agent", "superuser"])
    rare = st.integers(0, 30)

    @st.composite
    def spec(draw: Any) -> Spec:
        path = draw(path_st)
        if draw(rare) == 0:
            path += draw(path_junk)
        query = urlencode(draw(pairs)) if draw(st.booleans()) else ""
        method = draw(methods)
        body: Any = None
        content_type = None
        kind = draw(kinds)
        if method != "GET" and kind == "form":
            body = urlencode(draw(pairs))
            content_type = "application/x-www-form-urlencoded"
        elif method != "GET" and kind == "multipart":
            body = dict(draw(pairs))
        elif method != "GET" and kind == "raw":
            body = draw(raw_bodies)
            content_type = draw(content_types)
            charset = draw(charsets)
            if charset:
                content_type += f"; charset={charset}"
        headers = {}
        for header in draw(header_names):
            value = draw(HEADER_TEXT)
            if header == "HTTP_AUTHORIZATION" and draw(st.booleans()):
                value = f"Bearer {API_KEY}"
            headers[header] = value
        cookies = {}
        if draw(rare) < 5:
            cookies[draw(cookie_names)] = draw(HEADER_TEXT)
        enforce_csrf = draw(st.booleans())
        return Spec(
            draw(who), method, path, query, body, content_type, headers, cookies, enforce_csrf
        )

    return spec()


# --- the data and the clients ---------------------------------------------------------------


@pytest.fixture
def fuzz_data(certificate_factory: Any, citizen_factory: Any, settings: Any) -> dict[str, Any]:
    from django.contrib.auth import get_user_model

    from nesportal.demo import issue_demo_application, issue_demo_cards, issue_demo_certificates
    from nesportal.testing.factories import CallCentreAgentFactory

    settings.CAPTCHA_TEST_MODE = True
    settings.SMS_BACKEND = "locmem"
    settings.CARD_TOOL_API_KEYS = f"fuzz:{API_KEY}"
    citizen = citizen_factory()
    other = citizen_factory()
    agent = CallCentreAgentFactory()
    superuser = get_user_model().objects.create_superuser("fuzz-root", "r@example.com", "x" * 20)
    certificates = issue_demo_certificates(citizen) + issue_demo_certificates(other)[:1]
    cards = issue_demo_cards(citizen) + issue_demo_cards(other)[:1]
    applications = [issue_demo_application(citizen, agent), issue_demo_application(other, agent)]
    ids = sorted(
        {str(row.pk) for row in [citizen, other, agent, superuser, *certificates, *cards]}
        | {str(a.pk) for a in applications}
    )
    serials = [c.serial_number for c in certificates] + [c.serial_number for c in cards]
    known = {
        "serial": serials,
        "card": [c.serial_number for c in cards],
        "pk": [str(a.pk) for a in applications],
        "object_id": ids,
        "content_type_id": [str(ct.pk) for ct in ContentType.objects.all()],
        "unlock_id": ids,
        "slug": [settings.NES_CA_SLUG],
        "encoded": [base64.b64encode(secrets.token_bytes(40)).decode()],
        "fields": form_field_names(),
        "values": [*serials, *ids, citizen.identifier, "keyCompromise", "unlock", "passed"],
    }
    return {"citizen": citizen, "agent": agent, "superuser": superuser, "known": known}


class Recorder(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def send(client: Client, spec: Spec) -> Any:
    path = spec.path + (f"?{spec.query}" if spec.query else "")
    extra = dict(spec.headers)
    if spec.content_type is not None:
        return client.generic(
            spec.method, path, spec.body or b"", content_type=spec.content_type, **extra
        )
    if spec.body is not None:  # multipart: the client encodes it
        return client.post(path, spec.body, **extra)
    return client.generic(spec.method, path, **extra)


def test_no_input_makes_a_5xx(fuzz_data: dict[str, Any], capsys: Any) -> None:
    patterns = url_patterns()
    assert len(patterns) > 100
    known = fuzz_data["known"]
    recorder = Recorder()
    logging.getLogger().addHandler(recorder)
    statuses: dict[int, int] = {}
    started = time.monotonic()

    # One client and session per identity, made once: each example's savepoint rollback
    # restores the session row, and the cookie jar is reset before each request.
    cookie_name = django_settings.SESSION_COOKIE_NAME
    clients = {who: Client(raise_request_exception=False) for who in WHO}
    login_as(clients["citizen"], fuzz_data["citizen"])
    staff_login(clients["agent"], fuzz_data["agent"])
    staff_login(clients["superuser"], fuzz_data["superuser"])
    session_keys = {who: c.cookies[cookie_name].value for who, c in clients.items() if c.cookies}

    def client_for(who: str) -> Client:
        client = clients[who]
        client.cookies = SimpleCookie()
        if who in session_keys:
            client.cookies[cookie_name] = session_keys[who]
        return client

    strategy = specs(patterns, known)

    @hseed(SEED)
    @hsettings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        derandomize=False,
        suppress_health_check=list(HealthCheck),
    )
    @given(spec=strategy)
    def run(spec: Spec) -> None:
        recorder.records.clear()
        with transaction.atomic():
            cache.clear()
            client = client_for(spec.who)
            client.handler.enforce_csrf_checks = spec.enforce_csrf
            for name, value in spec.cookies.items():
                client.cookies[name] = value
            response = send(client, spec)
            transaction.set_rollback(True)
        statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
        tracebacks = [
            f"{r.name}: {r.getMessage()}"
            for r in recorder.records
            if r.exc_info or r.exc_text or r.stack_info
        ]
        assert response.status_code < 500, (response.status_code, spec, tracebacks)
        assert not tracebacks, (spec, tracebacks)

    try:
        run()
    finally:
        logging.getLogger().removeHandler(recorder)
        with capsys.disabled():
            seconds = time.monotonic() - started
            print(
                f"\nfuzz: seed={SEED} examples={EXAMPLES} patterns={len(patterns)} "
                f"seconds={seconds:.1f} statuses={dict(sorted(statuses.items()))}"
            )
