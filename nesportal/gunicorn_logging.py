"""gunicorn access log without secrets: single-use tokens in link paths are masked.

A security-word reset link (``/guvenlik-sozcugu/baglanti/<token>/``), an e-mail confirmation
link (``/bilgi-guncelle/e-posta/onay/<token>/``) and a notice's "Bu işlemi ben yapmadım" link
(``/y/<token>``) carry a token in the path; the access log keeps
the path's shape and drops the token. ``RedactTokenPaths`` does the same for Django's own log
records (settings.LOGGING): ``django.request`` logs the path of every 4xx/5xx response ("Not
Found: /bilgi-guncelle/e-posta/onay/<token>/") and ``django.security.csrf`` that of a refused
POST.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from gunicorn.glogging import Logger

TOKEN_PATHS = re.compile(
    r"(/guvenlik-sozcugu/baglanti/|/bilgi-guncelle/e-posta/onay/|/y/)(?!tamam/)[^/\s?]+"
)


def redact(text: str) -> str:
    return TOKEN_PATHS.sub(r"\1***", text)


class RedactingLogger(Logger):
    def atoms(self, resp: Any, req: Any, environ: dict[str, Any], request_time: Any) -> dict:
        atoms = super().atoms(resp, req, environ, request_time)
        # Every atom: the path also appears as "r", "U" and the environ atoms ({raw_uri}e …).
        return {k: redact(v) if isinstance(v, str) else v for k, v in atoms.items()}


class RedactTokenPaths(logging.Filter):
    """A handler filter: masks link tokens in the formatted message of any log record."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = redact(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        return True
