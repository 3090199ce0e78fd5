"""Masking the secret parts of SMS and e-mail text for the development backends.

The console and file backends (``accounts.sms``, ``nesportal.mail``) print or store what they
send. Outside DEBUG they may still be chosen explicitly (a staging host, the benchmark), so they
never print or store what a message is for: the one-time code and the token of a link. The
contract of ``redact_secrets``:

* every run of six or more digits becomes ``•••`` (SMS Onay Kodu: six digits);
* in every URL, each path segment that is not a plain lowercase word (``guvenlik-sozcugu``,
  ``onay``) becomes ``•••``, and a query string or fragment becomes ``?•••``: a link token
  (hex HMAC, ``secrets.token_urlsafe``) is never a plain word;
* any other word of 20 or more letters, digits, ``-`` or ``_`` that holds a digit becomes ``•••``
  (a token quoted outside a URL).

The rest of the text stays readable, so an operator can still see which message went out.
"""

from __future__ import annotations

import re

from django.conf import settings

MASK = "•••"

_URL = re.compile(r"https?://[^\s/?#]+(?P<rest>[^\s]*)")
_WORD_SEGMENT = re.compile(r"[a-z]+(?:-[a-z]+)*")
_DIGITS = re.compile(r"\d{6,}")
_TOKEN = re.compile(r"(?<![\w-])(?=[\w-]*\d)[\w-]{20,}")


def _mask_url(match: re.Match[str]) -> str:
    url = match.group(0)
    rest = match.group("rest")
    origin = url[: len(url) - len(rest)]
    path, sep, _query = _split_query(rest)
    segments = [s if not s or _WORD_SEGMENT.fullmatch(s) else MASK for s in path.split("/")]
    return origin + "/".join(segments) + (f"?{MASK}" if sep else "")


def _split_query(rest: str) -> tuple[str, str, str]:
    for index, char in enumerate(rest):
        if char in "?#":
            return rest[:index], char, rest[index + 1 :]
    return rest, "", ""


def redact_secrets(text: str) -> str:
    """``text`` without one-time codes and link tokens (see the module docstring)."""
    text = _URL.sub(_mask_url, text)
    text = _TOKEN.sub(MASK, text)
    return _DIGITS.sub(MASK, text)


def dev_backends_show_secrets() -> bool:
    """Whether the console/file SMS and e-mail backends show codes and tokens: only with DEBUG
    (people trying the demo need them), and in the test suite (``nesportal.test_settings``)."""
    return bool(getattr(settings, "DEV_BACKENDS_SHOW_SECRETS", settings.DEBUG))
