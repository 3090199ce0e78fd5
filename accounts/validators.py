"""Django's password validators, worded for a Güvenlik Sözcüğü.

``accounts.recovery.validate_new_word`` runs ``AUTH_PASSWORD_VALIDATORS``, whose messages speak
of a "parola" ("Bu parola çok kısa…"). Those validators also check the staff's passwords, so the
settings keep them as they are; the citizen's form rewords their errors by ``code`` instead
(the codes are Django's stable API, the messages are not). Errors with any other code — ours,
which already speak of the Güvenlik Sözcüğü — pass through unchanged.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.utils.translation import gettext, ngettext

DEFAULT_MIN_LENGTH = 8


def _reworded(code: str, params: dict[str, object]) -> str | None:
    if code == "password_too_short":
        raw = params.get("min_length", DEFAULT_MIN_LENGTH)
        count = raw if isinstance(raw, int) else DEFAULT_MIN_LENGTH
        return ngettext(
            "Güvenlik Sözcüğü çok kısa: en az %(min)d karakter olmalıdır.",
            "Güvenlik Sözcüğü çok kısa: en az %(min)d karakter olmalıdır.",
            count,
        ) % {"min": count}
    if code == "password_too_common":
        return gettext(
            "Bu Güvenlik Sözcüğü çok yaygın, kolayca tahmin edilir. Başka bir sözcük seçiniz."
        )
    if code == "password_entirely_numeric":
        return gettext("Güvenlik Sözcüğü yalnızca rakamlardan oluşamaz; harf de kullanınız.")
    if code == "password_too_similar":
        return gettext(
            "Güvenlik Sözcüğü adınıza, soyadınıza ya da e-posta adresinize çok benziyor."
        )
    return None


def as_security_word_errors(error: ValidationError) -> ValidationError:
    """``error``'s messages, those of Django's password validators reworded for a security word."""
    reworded: list[ValidationError] = []
    for item in error.error_list:
        message = _reworded(item.code or "", dict(item.params or {}))
        if message is None:
            reworded.append(item)
        else:
            reworded.append(ValidationError(message, code=item.code))
    # Two checks may say the same in our words (recovery adds its own too-short message).
    unique: dict[str, ValidationError] = {}
    for item in reworded:
        unique.setdefault(" ".join(item.messages), item)
    return ValidationError(list(unique.values()))
