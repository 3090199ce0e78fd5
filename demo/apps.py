from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class DemoConfig(AppConfig):
    """The demo and benchmark data commands (`seed_demo`, `load_scale_data`).

    An app of their own, on top of every other: they build citizens, certificates, cards and
    applications through all the apps, which must never import demo data themselves.
    """

    name = "demo"
    verbose_name = _("Demo verileri")
