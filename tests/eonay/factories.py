"""Helpers that make E-Onay rows the way the product does (through the services)."""

from __future__ import annotations

from typing import Any

from accounts.models import Citizen
from eonay.models import Application
from eonay.services import enter_application

ENTRY = {
    "institution_name": "Örnek Belediyesi",
    "institution_tax_number": "1234567890",
    "contact_name": "Deniz Kaya",
    "contact_phone": "+903121234567",
    "contact_email": "bilgiislem@ornek.bel.tr",
}


def make_application(
    citizen: Citizen,
    entered_by: Any,
    kind: str = Application.Kind.FIRST,
    notify: bool = False,
    **fields: Any,
) -> Application:
    application = Application(citizen=citizen, kind=kind, **{**ENTRY, **fields})
    return enter_application(application, entered_by=entered_by, notify=notify)
