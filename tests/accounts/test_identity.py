"""T.C. Kimlik No checksum, passport normalisation, Turkish capitals and phone masking.

Known-good numbers are computed by hand from the published rule, not with our own helper:
d10 = (7 × (d1+d3+d5+d7+d9) − (d2+d4+d6+d8)) mod 10, d11 = (d1+…+d10) mod 10.
"""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from hypothesis import given
from hypothesis import strategies as st

from accounts.identity import (
    is_valid_tckn,
    mask_phone,
    normalize_identifier,
    tckn_check_digits,
    turkish_upper,
    validate_identifier,
    validate_tckn,
)

# 1,0,0,0,0,0,0,0,1 → d10 = (7·2 − 0) mod 10 = 4, d11 = 6 mod 10 = 6
VALID_SIMPLE = "10000000146"
# 1..9 → d10 = (7·25 − 20) mod 10 = 5, d11 = 50 mod 10 = 0
VALID_SEQUENCE = "12345678950"
# 1,9,0,9,0,9,0,9,0 → 7·1 − 36 = −29, whose mathematical mod 10 is 1 (a truncating % gives −9)
VALID_NEGATIVE_D10 = "19090909018"

ARABIC_INDIC = dict(zip("0123456789", "٠١٢٣٤٥٦٧٨٩", strict=True))
FULLWIDTH = dict(zip("0123456789", "０１２３４５６７８９", strict=True))

first_nine = st.from_regex(r"[1-9][0-9]{8}", fullmatch=True)


def with_check_digits(nine: str) -> str:
    return nine + tckn_check_digits(nine)


@pytest.mark.parametrize("value", [VALID_SIMPLE, VALID_SEQUENCE, VALID_NEGATIVE_D10])
def test_it_accepts_hand_computed_numbers(value: str) -> None:
    assert is_valid_tckn(value) is True
    validate_tckn(value)  # does not raise


@pytest.mark.parametrize(
    ("nine", "digits"),
    [("100000001", "46"), ("123456789", "50"), ("190909090", "18")],
)
def test_it_computes_the_check_digits_like_the_published_rule(nine: str, digits: str) -> None:
    assert tckn_check_digits(nine) == digits


@pytest.mark.parametrize(
    "value",
    [
        "10000000147",  # wrong d11
        "10000000156",  # wrong d10
        "12345678951",
        "19090909098",  # d10 computed with a truncating modulo (−9 → 9)
        "11111111111",
        "99999999999",
    ],
)
def test_it_rejects_wrong_check_digits(value: str) -> None:
    assert is_valid_tckn(value) is False
    with pytest.raises(ValidationError) as exc:
        validate_tckn(value)
    assert exc.value.code == "invalid_tckn"


def test_it_rejects_a_leading_zero_even_with_correct_check_digits() -> None:
    nine = "012345678"
    value = with_check_digits(nine)
    # The checksum alone would pass: only the first-digit rule rejects it.
    assert value[9:] == tckn_check_digits(value[:9])
    assert is_valid_tckn(value) is False
    assert is_valid_tckn("00000000000") is False


@pytest.mark.parametrize(
    "value",
    [
        VALID_SIMPLE[:10],  # 10 digits
        VALID_SIMPLE + "0",  # 12 digits
        VALID_SIMPLE[:-1],
        "",
        " " + VALID_SIMPLE[:10],
        VALID_SIMPLE[:10] + " ",
        "1000000014A",
        "A0000000146",
        "1000000O146",  # letter O for zero
        "10000-00146",
        "+1000000146",
        "1.000000146",
    ],
)
def test_it_rejects_wrong_length_and_non_digits(value: str) -> None:
    assert is_valid_tckn(value) is False


@pytest.mark.parametrize("digits", [ARABIC_INDIC, FULLWIDTH], ids=["arabic-indic", "fullwidth"])
def test_it_rejects_non_ascii_digits_that_python_would_accept(digits: dict[str, str]) -> None:
    value = "".join(digits[c] for c in VALID_SEQUENCE)
    # str.isdigit() and int() both accept these, so the checksum alone would pass.
    assert value.isdigit()
    assert [int(c) for c in value] == [int(c) for c in VALID_SEQUENCE]
    assert is_valid_tckn(value) is False
    one_swapped = VALID_SEQUENCE[:3] + digits[VALID_SEQUENCE[3]] + VALID_SEQUENCE[4:]
    assert is_valid_tckn(one_swapped) is False
    assert is_valid_tckn("١" * 11) is False
    with pytest.raises(ValidationError):
        validate_identifier(normalize_identifier(value))


@pytest.mark.parametrize("value", [None, 10000000146, b"10000000146", ["10000000146"]])
def test_it_rejects_values_that_are_not_strings(value: object) -> None:
    assert is_valid_tckn(value) is False  # type: ignore[arg-type]


@given(first_nine)
def test_it_accepts_any_nine_digits_with_computed_check_digits(nine: str) -> None:
    value = with_check_digits(nine)
    assert len(value) == 11
    assert is_valid_tckn(value)


@given(first_nine, st.integers(min_value=0, max_value=10), st.integers(min_value=1, max_value=9))
def test_it_rejects_any_single_digit_change(nine: str, position: int, delta: int) -> None:
    value = with_check_digits(nine)
    changed_digit = str((int(value[position]) + delta) % 10)
    changed = value[:position] + changed_digit + value[position + 1 :]
    assert changed != value
    assert is_valid_tckn(changed) is False


@given(first_nine)
def test_it_rejects_swapping_the_two_check_digits_when_they_differ(nine: str) -> None:
    value = with_check_digits(nine)
    swapped = value[:9] + value[10] + value[9]
    assert is_valid_tckn(swapped) is (swapped == value)


# --- passport numbers and the login identifier ------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "normalised"),
    [
        ("u1234567", "U1234567"),
        (" U 123 4567 ", "U1234567"),
        ("\tab12345\n", "AB12345"),
        (" 100 000 001 46 ", "10000000146"),
        ("", ""),
        (None, ""),
    ],
)
def test_it_normalises_identifiers(raw: str | None, normalised: str) -> None:
    assert normalize_identifier(raw) == normalised  # type: ignore[arg-type]


@pytest.mark.parametrize("value", ["U1234567", "AB12345", "P00000001", "12345A", "A" * 20])
def test_it_accepts_passport_numbers(value: str) -> None:
    validate_identifier(value)  # does not raise


@pytest.mark.parametrize(
    "value",
    [
        "AB12",  # too short
        "A" * 21,  # too long
        "AB-12345",
        "AB 12345",  # normalisation removes spaces; the validator alone does not
        "ab12345",  # normalisation upper-cases; the validator alone does not
        "Ç1234567",  # not an ASCII letter
        "İ1234567",
    ],
)
def test_it_rejects_malformed_passport_numbers(value: str) -> None:
    with pytest.raises(ValidationError) as exc:
        validate_identifier(value)
    assert exc.value.code == "invalid_identifier"


@pytest.mark.parametrize("value", ["12345", "10000000147", VALID_SIMPLE + "0"])
def test_it_validates_all_digit_identifiers_as_tckn(value: str) -> None:
    with pytest.raises(ValidationError) as exc:
        validate_identifier(value)
    assert exc.value.code == "invalid_tckn"


def test_it_accepts_a_valid_tckn_as_identifier() -> None:
    validate_identifier(normalize_identifier(" 123 456 789 50 "))


# --- Turkish capitals -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "upper"),
    [
        ("ismail çelik", "İSMAİL ÇELİK"),
        ("Işıl Irmak", "IŞIL IRMAK"),
        ("şule öztürk", "ŞULE ÖZTÜRK"),
        ("Ahmet Yılmaz", "AHMET YILMAZ"),
        ("ğ ü ş ö ç", "Ğ Ü Ş Ö Ç"),
        ("İSMAİL ÇELİK", "İSMAİL ÇELİK"),
        ("", ""),
    ],
)
def test_it_upper_cases_with_turkish_rules(text: str, upper: str) -> None:
    assert turkish_upper(text) == upper


def test_it_differs_from_pythons_upper_on_dotted_i() -> None:
    assert "ismail".upper() == "ISMAIL"
    assert turkish_upper("ismail") == "İSMAİL"


@given(st.text(alphabet="abcçdefgğhıijklmnoöprsştuüvyzABCÇDEFGĞHIİJKLMNOÖPRSŞTUÜVYZ '-"))
def test_it_leaves_no_lower_case_turkish_letters(text: str) -> None:
    upper = turkish_upper(text)
    assert len(upper) == len(text)
    assert upper == upper.upper()
    assert "i" not in upper and "ı" not in upper
    assert upper.count("İ") == text.count("i") + text.count("İ")
    assert upper.count("I") == text.count("ı") + text.count("I")
    assert turkish_upper(upper) == upper


# --- phone masking ----------------------------------------------------------------------------


def test_it_masks_a_turkish_mobile_number() -> None:
    assert mask_phone("+905321234512") == "+90 5** *** ** 12"


@given(st.from_regex(r"5[0-9]{9}", fullmatch=True))
def test_it_shows_only_the_operator_prefix_digit_and_last_two(national: str) -> None:
    masked = mask_phone("+90" + national)
    assert masked == f"+90 5** *** ** {national[-2:]}"
    assert national[1:8] not in masked


def test_it_masks_a_foreign_number_keeping_country_code_and_last_two() -> None:
    masked = mask_phone("+4915112345678")
    assert masked == "+49*********78"
    assert len(masked) == len("+4915112345678")
    assert "151123456" not in masked
