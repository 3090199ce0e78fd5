from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ProtectionConfig(AppConfig):
    """ "Bu işlemi ben yapmadım": the notice's link that puts an account under protection."""

    name = "protection"
    verbose_name = _("Hesap koruma")
