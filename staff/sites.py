"""Admin's site: django-otp's ``OTPAdminSite`` (no page, the index included, without a verified
second factor) with our own login pages (``staff.views``)."""

from __future__ import annotations

from functools import partial
from typing import Any

from django.contrib.contenttypes import views as contenttype_views
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
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
            # Before Django's own (same path and name): a malformed id is a 404, not a 500.
            path(
                "r/<int:content_type_id>/<path:object_id>/",
                self.admin_view(_view_on_site),
                name="view_on_site",
            ),
        ]
        return ours + super().get_urls()


def _view_on_site(request: HttpRequest, content_type_id: int, object_id: str) -> HttpResponse:
    """Django's "view on site" redirect, except that an id the model's primary key refuses
    (a non-UUID for a UUID key raises ValidationError there) is a 404 instead of a 500."""
    try:
        return contenttype_views.shortcut(request, content_type_id, object_id)
    except ValidationError as exc:
        raise Http404("no such object") from exc
