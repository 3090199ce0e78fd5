from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps
from django.utils.translation import gettext_lazy as _


class StaffConfig(AppConfig):
    """Staff accounts' second factor (django-otp) and their lock."""

    name = "staff"
    verbose_name = _("Personel hesapları")


class NesAdminConfig(admin_apps.AdminConfig):
    """Django's admin, served by ``StaffAdminSite`` (``admin.site`` is that site). Listed in
    INSTALLED_APPS by its full path; ``staff`` itself means ``StaffConfig``."""

    default = False

    default_site = "staff.sites.StaffAdminSite"
