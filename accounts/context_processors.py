from typing import Any

from django.conf import settings
from django.http import HttpRequest

from .sms import backend_class


def portal(request: HttpRequest) -> dict[str, Any]:
    return {
        "citizen": getattr(request, "citizen", None),
        "call_centre_phone": "444 5 576",
        "show_dev_sms": settings.DEBUG and backend_class().readable_outbox,
    }
