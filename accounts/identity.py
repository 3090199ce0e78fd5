"""Identity numbers: the T.C. Kimlik No checksum and passport-number normalisation.

A T.C. Kimlik No has 11 digits, the first is not 0, and the last two are check digits:
d10 = (7 × (d1+d3+d5+d7+d9) − (d2+d4+d6+d8)) mod 10 and d11 = (d1+…+d10) mod 10.
"""

from __future__ import annotations

import re

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

PASSPORT_RE = re.compile(r"^[A-Z0-9]{5,20}$")


def tckn_check_digits(first_nine: str) -> str:
    """The two check digits for the first nine digits of a T.C. Kimlik No."""
    d = [int(c) for c in first_nine]
    d10 = (7 * sum(d[0:9:2]) - sum(d[1:8:2])) % 10
    d11 = (sum(d) + d10) % 10
    return f"{d10}{d11}"


def is_valid_tckn(value: str) -> bool:
    if not isinstance(value, str) or len(value) != 11 or not value.isascii():
        return False
    if not value.isdigit() or value[0] == "0":
        return False
    return value[9:] == tckn_check_digits(value[:9])


def validate_tckn(value: str) -> None:
    if not is_valid_tckn(value):
        raise ValidationError(_("Geçerli bir T.C. Kimlik No giriniz."), code="invalid_tckn")


def normalize_identifier(raw: str) -> str:
    """Strip spaces and upper-case passport letters; digits stay as they are."""
    return re.sub(r"\s+", "", raw or "").upper()


def validate_identifier(value: str) -> None:
    """A T.C. Kimlik No (all digits) or a passport number (letters and digits)."""
    if value.isdigit():
        validate_tckn(value)
    elif not PASSPORT_RE.fullmatch(value):
        raise ValidationError(
            _(
                "T.C. Kimlik No 11 haneli olmalı; pasaport numarası harf ve rakamlardan "
                "oluşmalıdır."
            ),
            code="invalid_identifier",
        )


def turkish_upper(text: str) -> str:
    """Upper-case with Turkish rules: i → İ, ı → I (Python's str.upper maps i → I)."""
    return text.replace("i", "İ").replace("ı", "I").upper()


def mask_phone(e164: str) -> str:
    """+905321234512 → '+90 5** *** ** 12': enough for the citizen to recognise the number."""
    if e164.startswith("+90") and len(e164) == 13:
        national = e164[3:]
        return f"+90 {national[0]}** *** ** {national[-2:]}"
    return e164[:3] + "*" * max(len(e164) - 5, 0) + e164[-2:]
