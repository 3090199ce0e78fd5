"""The Çağrı Merkezi (call centre) number, in one place.

Python texts interpolate :data:`CALL_CENTRE_PHONE` as ``%(phone)s`` (:func:`with_phone` for a
lazy translation); templates read ``call_centre_phone`` and ``call_centre_tel`` (the ``tel:``
link) from the ``accounts.context_processors.portal`` context processor.

In the lowest layer (imports nothing of the project), so every module may use it.
"""

from __future__ import annotations

from typing import Any

from django.utils.functional import lazy

CALL_CENTRE_PHONE = "444 5 576"
CALL_CENTRE_TEL = CALL_CENTRE_PHONE.replace(" ", "")  # for href="tel:…"


def _interpolate(message: Any) -> str:
    return str(message) % {"phone": CALL_CENTRE_PHONE}


def with_phone(message: Any) -> Any:
    """``message % {"phone": CALL_CENTRE_PHONE}``, translated when it is used (still lazy)."""
    return lazy(_interpolate, str)(message)
