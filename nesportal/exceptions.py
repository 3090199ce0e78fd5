"""The base of the portal's refusals: :class:`PortalError`.

Every app's "this cannot be done" error (``CertificateError``, ``PinVaultError``,
``ApplicationError``, ``ConsentError``, ``ContactChangeError``, ``SmsRateLimited``,
``CardToolError``) is a ``PortalError``: ``message`` is what the citizen (or the card tool's
client) reads, shown as it is (a string or a lazy translation); ``code`` names the refusal for
programs and logs, "" where the refusal needs no name. Errors that are never shown (the audit
reason of a failed e-signature login, a provider's SMS failure) are not portal errors.

In the lowest layer (imports nothing of the project), so every model module may use it.
"""

from __future__ import annotations

from typing import Any


class PortalError(Exception):
    """A refusal with a citizen-facing ``message`` and a stable ``code`` ("" if unnamed)."""

    code: str = ""

    def __init__(self, message: Any, *, code: str = "") -> None:
        super().__init__(message)
        self._message = message
        self.code = code

    @property
    def message(self) -> Any:
        """What the citizen reads (subclasses may compute it)."""
        return self._message
