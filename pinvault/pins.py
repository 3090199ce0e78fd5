"""New card PINs that are random and not trivially guessable.

Security contract:

* ``new_pin()`` draws every digit from :mod:`secrets` and rejects candidates that break the
  rules below, drawing again (rejection sampling), so the result is uniformly distributed
  over the acceptable PINs of that length. It never returns a PIN that
  ``is_acceptable_pin()`` refuses.
* ``is_acceptable_pin(pin)`` accepts only ASCII digits ``0-9`` (not other Unicode digits,
  which ``str.isdigit()`` would let through), of exactly ``length`` characters, and refuses:

  1. a digit repeated consecutively anywhere (``112233``, ``111111``, ``503372``);
  2. a run of three consecutive ascending or descending digits anywhere (``123``, ``987``).
     The digits wrap around: ``890``, ``901``, ``098`` and ``109`` count as runs too. People
     read ``7890`` as a sequence and keypad "ring" patterns are a known guess, so the rule
     treats 0-9 as a cycle, and it costs little;
  3. two or fewer distinct digits (``121212``, ``696969``): alternations are among the first
     guesses;
  4. the ``COMMON_PINS`` blocklist: keypad shapes and popular choices that pass rules 1-3
     (``147258``, ``159753``, ``520520`` …).

With six digits this leaves 537,573 possible PINs (about 19 bits) of the 10^6 six-digit
strings: the card blocks after 3 wrong entries, so guessing is not the threat these rules
address; a PIN that a shoulder-surfer or a list of "top PINs" gives away is.
"""

from __future__ import annotations

import secrets

PIN_LENGTH = 6
MIN_PIN_LENGTH = 4
MAX_PIN_LENGTH = 16
DIGITS = "0123456789"

# Popular or keypad-shaped PINs that the structural rules above do not already refuse.
# (Those they do refuse, like 123456, 111111, 112233 or 654321, need not be listed.)
COMMON_PINS = frozenset(
    {
        "102030",  # 10-20-30
        "147258",  # keypad columns
        "147369",
        "258369",
        "369258",
        "741852",
        "852963",
        "963852",
        "159753",  # keypad diagonals and crosses
        "159357",
        "357159",
        "753159",
        "951357",
        "147852",  # keypad "L" and "U" shapes
        "741963",
        "369147",
        "258147",
        "520520",  # "I love you" in Chinese number slang
        "520131",
        "131420",
        "135790",  # odd digits, then zero
        "246802",  # even digits
        "135246",
        "142536",  # interleaved 1-2-3 / 4-5-6
        "251251",
        "232425",  # rising pairs
        "242526",
    }
)


def _steps_up_or_down(a: int, b: int, c: int) -> bool:
    """True if a, b, c are consecutive on the 0-9 cycle, in either direction."""
    first, second = (b - a) % 10, (c - b) % 10
    return first == second and first in (1, 9)


def is_acceptable_pin(pin: object, *, length: int = PIN_LENGTH) -> bool:
    """Whether ``pin`` is ``length`` ASCII digits and not trivially guessable (module docstring)."""
    if not isinstance(pin, str) or len(pin) != length:
        return False
    if any(ch not in DIGITS for ch in pin):
        return False
    digits = [int(ch) for ch in pin]
    if any(a == b for a, b in zip(digits, digits[1:], strict=False)):
        return False
    if any(
        _steps_up_or_down(a, b, c) for a, b, c in zip(digits, digits[1:], digits[2:], strict=False)
    ):
        return False
    if len(set(digits)) <= 2:
        return False
    return pin not in COMMON_PINS


def new_pin(length: int = PIN_LENGTH) -> str:
    """A uniformly random acceptable PIN of ``length`` digits (6 for AKİS cards)."""
    if not MIN_PIN_LENGTH <= length <= MAX_PIN_LENGTH:
        raise ValueError(f"PIN length must be {MIN_PIN_LENGTH}-{MAX_PIN_LENGTH} digits")
    while True:
        candidate = "".join(secrets.choice(DIGITS) for _ in range(length))
        if is_acceptable_pin(candidate, length=length):
            return candidate
