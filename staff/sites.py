"""Admin's site: django-otp's ``OTPAdminSite`` (no page, the index included, without a verified
second factor) with our own login pages (``staff.views``)."""

from __future__ import annotations

from functools import partial
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.urls import URLPattern, URLResolver, path
from django.utils.translation import gettext_lazy as _
from django_otp.admin import OTPAdminSite

from . import views


class StaffAdminSite(OTPAdminSite):
    site_header = _("NES Portal — Çağrı Merkezi")
    site_title = _("NES Portal yönetim")
    index_title = _("Çağrı Merkezi ve yönetim")

    def __init__(self, name: str = "admin") -> None:
        # "admin", not django-otp's "otpadmin": every reverse("admin:…") keeps working.
        super().__init__(name)

    def login(self, request: HttpRequest, extra_context: Any = None) -> HttpResponse:
        return views.login(request, site=self)

    def get_urls(self) -> list[URLResolver | URLPattern]:
        ours: list[URLResolver | URLPattern] = [
            path("dogrulama/", partial(views.verify, site=self), name="otp_verify"),
            path("dogrulama/kur/", partial(views.enrol, site=self), name="otp_enrol"),
        ]
        return ours + super().get_urls()
