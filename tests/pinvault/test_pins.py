"""New PINs: random, six ASCII digits, and never trivially guessable (pinvault/pins.py)."""

from __future__ import annotations

import itertools
from collections import Counter
from unittest import mock

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pinvault import pins
from pinvault.pins import COMMON_PINS, DIGITS, is_acceptable_pin, new_pin

digit = st.sampled_from(DIGITS)


def digits(size: int) -> st.SearchStrategy[str]:
    return st.text(DIGITS, min_size=size, max_size=size)


# 012, 123 … 890, 901 and their reverses: the digits as a cycle.
CYCLIC_RUNS = {
    "".join(DIGITS[(start + step * i) % 10] for i in range(3))
    for start in range(10)
    for step in (1, -1)
}


def oracle(pin: str) -> bool:
    """The rules, written out independently of the module: True if the PIN is acceptable."""
    return (
        len(pin) == 6
        and all(c in DIGITS for c in pin)
        and not any(pin[i] == pin[i + 1] for i in range(5))
        and not any(pin[i : i + 3] in CYCLIC_RUNS for i in range(4))
        and len(set(pin)) >= 3
        and pin not in COMMON_PINS
    )


# The simplest random source (all zeros) never yields an acceptable PIN: that is the point of
# the rejection loop, not a problem of the test.
@settings(
    deadline=None,
    suppress_health_check=[
        HealthCheck.large_base_example,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)
@given(st.data())
def test_it_returns_only_acceptable_pins_whatever_the_random_source_yields(data):
    # Hypothesis plays the random source, so it explores the rejection loop too.
    with mock.patch.object(pins.secrets, "choice", lambda seq: data.draw(st.sampled_from(seq))):
        pin = new_pin()

    assert len(pin) == 6
    assert pin.isascii() and pin.isdigit()
    assert is_acceptable_pin(pin)
    assert oracle(pin)


def test_it_generates_acceptable_pins_from_the_real_random_source():
    generated = [new_pin() for _ in range(3000)]

    assert all(len(p) == 6 and p.isascii() and p.isdigit() for p in generated)
    assert all(is_acceptable_pin(p) and oracle(p) for p in generated)
    # Every digit turns up in every position: no position is stuck (chance of failing ~1e-80).
    for position in range(6):
        assert set(Counter(p[position] for p in generated)) == set(DIGITS)
    assert len(set(generated)) > 2900


@given(digits(6))
def test_it_agrees_with_the_written_out_rules_on_any_six_digits(pin):
    assert is_acceptable_pin(pin) == oracle(pin)


def test_it_agrees_with_the_rules_on_every_six_digit_string():
    accepted = 0
    for combo in itertools.product(DIGITS, repeat=6):
        pin = "".join(combo)
        assert is_acceptable_pin(pin) == oracle(pin), pin
        accepted += is_acceptable_pin(pin)
    assert accepted == 537_573  # the number in the module docstring


@given(st.integers(0, 4), digit, st.data())
def test_it_rejects_a_digit_repeated_consecutively(position, repeated, data):
    prefix = data.draw(digits(position))
    suffix = data.draw(digits(4 - position))

    assert not is_acceptable_pin(prefix + repeated * 2 + suffix)


@given(st.integers(0, 3), st.integers(0, 9), st.sampled_from([1, -1]), st.data())
def test_it_rejects_three_consecutive_digits_up_or_down_with_wrapping(position, start, step, data):
    run = "".join(DIGITS[(start + step * i) % 10] for i in range(3))
    pin = data.draw(digits(position)) + run + data.draw(digits(3 - position))

    assert not is_acceptable_pin(pin)


@given(st.lists(digit, min_size=1, max_size=2, unique=True), st.data())
def test_it_rejects_pins_of_two_or_fewer_distinct_digits(alphabet, data):
    pin = "".join(data.draw(st.sampled_from(alphabet)) for _ in range(6))

    assert not is_acceptable_pin(pin)


@pytest.mark.parametrize(
    "pin",
    [
        "123456",
        "654321",
        "111111",
        "000000",
        "112233",
        "121212",
        "123123",
        "789012",  # 789, 890, 901, 012
        "890890",  # wraps 9 -> 0
        "109109",  # wraps 0 -> 9, descending
        "503372",  # a repeat in the middle
        *sorted(COMMON_PINS),
    ],
)
def test_it_rejects_the_listed_patterns(pin):
    assert not is_acceptable_pin(pin)


@pytest.mark.parametrize("pin", ["503728", "294615", "836150", "246820", "570394"])
def test_it_accepts_pins_that_break_no_rule(pin):
    assert is_acceptable_pin(pin)


@pytest.mark.parametrize(
    "value",
    [
        "50372",  # too short
        "5037281",  # too long
        "٥٠٣٧٢٨",  # Arabic-Indic digits: str.isdigit() says yes, the card does not
        "５０３７２８",  # fullwidth digits
        "50372a",
        " 50372",
        "",
        503728,
        None,
    ],
)
def test_it_rejects_anything_but_six_ascii_digits(value):
    assert not is_acceptable_pin(value)


@pytest.mark.parametrize("length", [4, 8, 12])
def test_it_makes_pins_of_other_lengths(length):
    pin = new_pin(length)

    assert len(pin) == length and pin.isascii() and pin.isdigit()
    assert is_acceptable_pin(pin, length=length)
    assert not is_acceptable_pin(pin)  # not six digits


@pytest.mark.parametrize("length", [0, 3, 17])
def test_it_refuses_unsupported_lengths(length):
    with pytest.raises(ValueError):
        new_pin(length)
