from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = _("Vatandaş hesapları")

    def ready(self) -> None:
        import nesportal.celery  # noqa: F401  (binds @shared_task to our configured app)

        from . import checks  # noqa: F401  (registers the system checks)
