from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class EsignConfig(AppConfig):
    """E-İmzalı Giriş: log in by signing a challenge with the card's certificate key.

    Sits above ``certificates`` (it checks certificates against our CA and our rows);
    ``certificates`` never imports it.
    """

    name = "esign"
    label = "esign"
    verbose_name = _("E-İmzalı Giriş")

    def ready(self) -> None:
        # Registers the purge task by the name beat sends (also when autodiscovery is off).
        from . import tasks  # noqa: F401
