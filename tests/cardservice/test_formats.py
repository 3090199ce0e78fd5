"""The card service's format checks in-process (no card): the E-Onay text validator, the login
message, and the sign request parser; with hypothesis where it is cheap."""

from __future__ import annotations

import base64
import datetime as dt
import secrets
import unicodedata
import uuid
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from esign.protocol import signed_message
from tests.cardservice.helpers import consent_text

formats = pytest.importorskip("nes_kart_servisi.formats")

FormatRefused = formats.FormatRefused

_reference = st.from_regex(r"\A[A-Z0-9-]{1,40}\Z")
_tc = st.from_regex(r"\A[0-9]{11}\Z").map(lambda d: f"TC {d}")
_passport = st.from_regex(r"\A[A-Z0-9]{5,20}\Z").map(lambda d: f"PASAPORT {d}")
_nonce = st.binary(min_size=32, max_size=32).map(
    lambda raw: base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")
)
_time = st.datetimes(min_value=dt.datetime(1970, 1, 1), max_value=dt.datetime(2999, 12, 31)).map(
    lambda t: t.strftime("%Y-%m-%dT%H:%M:%SZ")
)
_statement = st.text(
    st.characters(
        blacklist_categories=("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"),
    ),
    min_size=1,
    max_size=300,
)


@st.composite
def valid_texts(draw: Any) -> str:
    action = draw(
        st.sampled_from(
            ["consent.give", "consent.withdraw", "application.approve", "application.reject"]
        )
    )
    if action.startswith("consent."):
        second = "scope: " + draw(st.sampled_from(["kurum_odemeli_ilk", "kurum_odemeli_yenileme"]))
    else:
        second = "application: " + draw(_reference)
    return consent_text(
        action=action,
        second=second,
        citizen=draw(st.one_of(_tc, _passport)),
        time=draw(_time),
        nonce=draw(_nonce),
        statement=draw(_statement),
    )


@settings(max_examples=300, deadline=None)
@given(valid_texts())
def test_every_text_in_the_format_is_accepted(text: str) -> None:
    assert formats.check_consent_text(text) == text


@settings(max_examples=300, deadline=None)
@given(valid_texts(), st.integers(min_value=0), st.characters())
def test_inserting_a_control_or_newline_anywhere_is_refused(
    text: str, where: int, char: str
) -> None:
    if unicodedata.category(char) not in ("Cc", "Cf", "Zl", "Zp"):
        char = "\n"
    position = where % (len(text) + 1)
    mutated = text[:position] + char + text[position:]
    with pytest.raises(FormatRefused):
        formats.check_consent_text(mutated)


@settings(max_examples=200, deadline=None)
@given(valid_texts(), st.integers(min_value=0, max_value=6), st.integers(min_value=0, max_value=6))
def test_swapping_two_lines_is_refused(text: str, a: int, b: int) -> None:
    lines = text.split("\n")
    if lines[a] == lines[b]:
        return
    lines[a], lines[b] = lines[b], lines[a]
    with pytest.raises(FormatRefused):
        formats.check_consent_text("\n".join(lines))


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=400))
def test_random_text_is_refused(text: str) -> None:
    with pytest.raises(FormatRefused):
        formats.check_consent_text(text)


@pytest.mark.parametrize("value", [None, b"NES-PORTAL-EONAY/1", 7, ["x"], "\ud800"])
def test_non_text_is_refused(value: Any) -> None:
    with pytest.raises(FormatRefused):
        formats.check_consent_text(value)


def test_the_statement_limit_is_300_characters_not_bytes() -> None:
    assert formats.check_consent_text(consent_text(statement="ğ" * 300))
    with pytest.raises(FormatRefused):
        formats.check_consent_text(consent_text(statement="ğ" * 301))


@given(st.uuids(), st.binary(min_size=32, max_size=32))
def test_the_login_message_is_the_portals(challenge: uuid.UUID, nonce: bytes) -> None:
    assert formats.login_message(challenge, nonce) == signed_message(challenge, nonce)


@given(st.binary().filter(lambda b: len(b) != 32))
def test_the_login_message_wants_32_bytes(nonce: bytes) -> None:
    with pytest.raises(FormatRefused):
        formats.login_message(uuid.uuid4(), nonce)


def _login(**change: Any) -> dict[str, Any]:
    body = {
        "kind": "login",
        "token_serial": "5f3a2c1b9e8d7c6a",
        "certificate_id": "0a1b",
        "pin": "123456",
        "challenge_id": str(uuid.uuid4()),
        "nonce_b64": base64.b64encode(secrets.token_bytes(32)).decode("ascii"),
    }
    body.update(change)
    return body


def test_a_login_request_becomes_the_login_message() -> None:
    body = _login()
    request = formats.parse_sign_request(body)
    assert request.payload == signed_message(
        body["challenge_id"], base64.b64decode(body["nonce_b64"])
    )
    assert request.certificate_id == b"\x0a\x1b"
    assert "123456" not in repr(request)


def test_an_upper_case_challenge_id_is_accepted() -> None:
    challenge = uuid.uuid4()
    request = formats.parse_sign_request(_login(challenge_id=str(challenge).upper()))
    assert request.payload[17:33] == challenge.bytes


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.text(max_size=20), st.text(max_size=50), max_size=8))
def test_random_bodies_are_refused(body: dict[str, str]) -> None:
    with pytest.raises((FormatRefused, formats.PinMalformed)):
        formats.parse_sign_request(body)


@settings(max_examples=200, deadline=None)
@given(
    st.text(max_size=20).filter(lambda p: not (p.isascii() and p.isdigit() and 4 <= len(p) <= 16))
)
def test_pins_other_than_4_to_16_digits_are_malformed(pin: str) -> None:
    with pytest.raises(formats.PinMalformed):
        formats.parse_sign_request(_login(pin=pin))
