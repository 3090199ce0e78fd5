"""How many SMS segments a text takes (3GPP TS 23.038), so every code SMS fits one.

A text that the GSM 03.38 default alphabet (with its extension table) can carry goes as GSM-7:
160 septets in one segment, 153 per segment when concatenated; ``€ [ ] { } ^ ~ | \\`` take two
septets each. Any other character (Turkish ş ğ ı İ Ş Ğ, ç in lower case) makes the whole text
UCS-2: 70 UTF-16 units in one segment, 67 per segment when concatenated. The Turkish national
language shift tables would fit more, but not every handset and operator route applies them,
so the portal does not count on them: a Turkish code SMS is written to fit 70 characters.

The codec is the ``gsm0338`` package's ``gsm03.38`` (escape sequences included in its length).
"""

from __future__ import annotations

from dataclasses import dataclass

import gsm0338  # noqa: F401  (registers the "gsm03.38" codec)

GSM7_SINGLE = 160
GSM7_PART = 153
UCS2_SINGLE = 70
UCS2_PART = 67


@dataclass(frozen=True)
class Length:
    """A text's encoding (``"gsm7"`` or ``"ucs2"``), its units (septets or UTF-16 units) and
    its number of segments."""

    encoding: str
    units: int
    segments: int


def measure(text: str) -> Length:
    """The encoding, length and segment count of ``text`` as an SMS."""
    try:
        septets = len(text.encode("gsm03.38"))
    except UnicodeEncodeError:
        units = len(text.encode("utf-16-le")) // 2
        return Length("ucs2", units, _segments(units, UCS2_SINGLE, UCS2_PART))
    return Length("gsm7", septets, _segments(septets, GSM7_SINGLE, GSM7_PART))


def _segments(units: int, single: int, part: int) -> int:
    if units <= single:
        return 1
    return -(-units // part)
