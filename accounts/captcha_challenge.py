"""The captcha's text (``CAPTCHA_CHALLENGE_FUNCT``): characters that cannot be mistaken for one
another, on the image or in the audio.

Contract
--------
* ``ALPHABET`` has no look-alikes: none of 0/O, 1/I/l, 5/S, 2/Z, 8/B, and neither G (6) nor
  V (U, Y). No letter that only Turkish has (Ç, Ğ, İ, Ö, Ş, Ü, ı) and none that Turkish has not
  (Q, W, X), nor J, which Turkish rarely uses: every character has one spoken name in Turkish and
  in English (``accounts.captcha_audio.SPOKEN``) that espeak-ng says clearly.
* The image shows capitals; the stored answer is lower case and the field lower-cases what was
  typed (``accounts.forms.SingleUseCaptchaField``), so "k7dap" and "K7DAP" are both right. No
  letter of the alphabet changes under Turkish casing rules (that is why I and i are out).
* Drawn with ``secrets`` (the library's own functions use ``random``, which the image view
  seeds with the key).
"""

from __future__ import annotations

import random
import secrets
from typing import Any

from captcha.conf import settings as captcha_settings
from django.conf import settings

DIGITS = "34679"
LETTERS = "ACDEFHKMNPRTUY"
ALPHABET = DIGITS + LETTERS


def challenge() -> tuple[str, str]:
    """``(shown, answer)``: ``CAPTCHA_LENGTH`` characters of ``ALPHABET``, and the same in lower
    case (what ``CaptchaStore.response`` holds)."""
    text = "".join(secrets.choice(ALPHABET) for _ in range(settings.CAPTCHA_LENGTH))
    return text, text.lower()


def noise_dots(draw: Any, image: Any) -> Any:
    """django-simple-captcha's dot noise — one dot in the text's colour per ten pixels, at
    random places — drawn with one ``point`` call. The library's own draws each dot with a call
    of its own, which at 300×100 was most of an image's time (bench/pages.py "captcha image").
    The places need no CSPRNG: the noise hides nothing, the challenge does (``challenge``)."""
    width, height = image.size
    count = width * height // 10
    xs = random.choices(range(width + 1), k=count)  # noqa: S311 (noise, not a secret)
    ys = random.choices(range(height + 1), k=count)  # noqa: S311
    draw.point(list(zip(xs, ys, strict=True)), fill=captcha_settings.CAPTCHA_FOREGROUND_COLOR)
    return draw
