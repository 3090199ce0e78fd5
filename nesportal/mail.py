"""E-mail backends that print or store mail without its secrets.

``EMAIL_URL=consolemail://`` and ``filemail://<dir>`` select these subclasses of Django's console
and file backends (``nesportal/settings.py`` swaps them in). With ``DEV_BACKENDS_SHOW_SECRETS``
(DEBUG, and the test suite) they behave exactly like Django's. Otherwise they write a copy of
each message whose subject, body and alternative parts went through
``nesportal.redaction.redact_secrets`` and whose attachments are left out: a confirmation link's
token never reaches the web log or the mail directory. The message handed to ``send_messages``
is never changed.
"""

from __future__ import annotations

import copy
from typing import Any

from django.core.mail import EmailMessage
from django.core.mail.backends.console import EmailBackend as ConsoleEmailBackend
from django.core.mail.backends.filebased import EmailBackend as FileEmailBackend
from django.core.mail.message import EmailAlternative

from .redaction import dev_backends_show_secrets, redact_secrets


def redacted_copy(message: EmailMessage) -> EmailMessage:
    """A shallow copy of ``message`` with its text parts masked and no attachments."""
    masked = copy.copy(message)
    masked.subject = redact_secrets(str(message.subject))
    masked.body = redact_secrets(str(message.body))
    alternatives = getattr(message, "alternatives", None)
    if alternatives:
        masked.alternatives = [  # type: ignore[attr-defined]
            EmailAlternative(redact_secrets(str(content)), mimetype)
            for content, mimetype in alternatives
        ]
    masked.attachments = []
    return masked


class _RedactingMixin:
    def write_message(self, message: EmailMessage) -> Any:
        if not dev_backends_show_secrets():
            message = redacted_copy(message)
        return super().write_message(message)  # type: ignore[misc]


class RedactingConsoleBackend(_RedactingMixin, ConsoleEmailBackend):
    """``consolemail://``: Django's console backend, secrets masked outside DEBUG."""


class RedactingFileBackend(_RedactingMixin, FileEmailBackend):
    """``filemail://<dir>``: Django's file backend, secrets masked outside DEBUG."""
