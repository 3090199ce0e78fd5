from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ReceiptsConfig(AppConfig):
    """İşlem makbuzları: the PDF receipts of irreversible actions (revocation, PIN/PUK deletion,
    an E-Onay decision)."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "receipts"
    verbose_name = _("İşlem makbuzları")
