from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PinvaultConfig(AppConfig):
    """AKİS cards and the encrypted PIN/PUK vault: built in the "PIN/PUK Bilgisi" issue."""

    name = "pinvault"
    verbose_name = _("PIN/PUK kasası")

    def ready(self) -> None:
        from . import checks  # noqa: F401  (registers the system checks)
