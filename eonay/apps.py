from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class EonayConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "eonay"
    verbose_name = _("E-Onay İşlemleri")
