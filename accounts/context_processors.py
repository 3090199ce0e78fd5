from typing import Any

from django.conf import settings
from django.http import HttpRequest

from nesportal.contact import CALL_CENTRE_PHONE, CALL_CENTRE_TEL

from .sms import backend_class


def portal(request: HttpRequest) -> dict[str, Any]:
    return {
        "citizen": getattr(request, "citizen", None),
        "call_centre_phone": CALL_CENTRE_PHONE,
        "call_centre_tel": CALL_CENTRE_TEL,
        "show_dev_sms": settings.DEBUG and backend_class().readable_outbox,
        # Where the pages' script finds the Akıllı Kart Servisi (E-İmzalı Giriş, E-Onay).
        "card_service_url": settings.NES_CARD_SERVICE_URL,
    }
