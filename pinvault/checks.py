"""System checks for the PIN/PUK vault."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import Error, Tags, register

from .crypto import VaultError, parse_keyring


@register(Tags.security)
def check_vault_keys(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    """pinvault.E001: ``VAULT_KEYS`` must parse into a keyring (the message shows no key)."""
    try:
        parse_keyring(getattr(settings, "VAULT_KEYS", None) or "")
    except VaultError as exc:
        return [
            Error(
                f"VAULT_KEYS is not a usable vault keyring: {exc}",
                hint=(
                    "Set VAULT_KEYS (or VAULT_KEYS_FILE) to comma-separated "
                    "'key-id:base64-of-32-random-bytes' entries, the newest last. Make a key "
                    "with: python -c 'import base64, os; "
                    "print(base64.b64encode(os.urandom(32)).decode())'"
                ),
                id="pinvault.E001",
            )
        ]
    return []
