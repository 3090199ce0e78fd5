"""The citizen's language: the one they last used the site in, for their SMS and e-mails.

``Citizen.language`` is written when a logged-in citizen's request comes in another language
than the one stored (``accounts.middleware.CitizenMiddleware``: after "English" in the header,
the next page stores it) and before an anonymous flow sends its first code (the login's and the
recovery's SMS are in the language of the page that asked for them). One conditional UPDATE,
only when it changed.
"""

from __future__ import annotations

from django.conf import settings
from django.utils import translation

from .models import Citizen

LANGUAGES = frozenset(code for code, _name in settings.LANGUAGES)


def remember_language(citizen: Citizen, language: str | None = None) -> None:
    """Store ``language`` (default: the active one) on the citizen if it is one of the site's
    and differs from what is stored."""
    language = (language or translation.get_language() or "").split("-")[0]
    if language not in LANGUAGES or citizen.language == language:
        return
    Citizen.objects.filter(pk=citizen.pk).exclude(language=language).update(language=language)
    citizen.language = language
