"""E-Onay İşlemleri pages."""

from django.urls import path, register_converter

from . import views
from .models import Consent


class _MappedConverter:
    """A Turkish URL word for an internal value, both ways."""

    words: dict[str, str] = {}
    # Both derived from ``words`` by ``__init_subclass__``; ``regex`` is what Django's
    # converter protocol reads.
    regex: str
    values: dict[str, str]

    def __init_subclass__(cls) -> None:
        cls.regex = "|".join(cls.words)
        cls.values = {v: k for k, v in cls.words.items()}

    def to_python(self, value: str) -> str:
        return self.words[value]

    def to_url(self, value: str) -> str:
        return self.values[value]


class DecisionConverter(_MappedConverter):
    words = {"onayla": "approve", "reddet": "reject"}


class ScopeConverter(_MappedConverter):
    words = {"ilk-basvuru": Consent.Scope.FIRST.value, "yenileme": Consent.Scope.RENEWAL.value}


class ConsentActionConverter(_MappedConverter):
    words = {"ver": "give", "geri-al": "withdraw"}


register_converter(DecisionConverter, "eonay_decision")
register_converter(ScopeConverter, "eonay_scope")
register_converter(ConsentActionConverter, "eonay_consent_action")

app_name = "eonay"

urlpatterns = [
    path("e-onay/", views.index, name="index"),
    path("e-onay/basvuru/<int:pk>/<eonay_decision:decision>/", views.decide, name="decide"),
    path(
        "e-onay/basvuru/<int:pk>/<eonay_decision:decision>/onay-kodu/",
        views.decide_code,
        name="decide_code",
    ),
    path(
        "e-onay/basvuru/<int:pk>/<eonay_decision:decision>/onay-kodu/yeniden-gonder/",
        views.decide_resend,
        name="decide_resend",
    ),
    path(
        "e-onay/surekli-onay/<eonay_scope:scope>/<eonay_consent_action:action>/",
        views.consent,
        name="consent",
    ),
    path(
        "e-onay/surekli-onay/<eonay_scope:scope>/<eonay_consent_action:action>/onay-kodu/",
        views.consent_code,
        name="consent_code",
    ),
    path(
        "e-onay/surekli-onay/<eonay_scope:scope>/<eonay_consent_action:action>/onay-kodu/"
        "yeniden-gonder/",
        views.consent_resend,
        name="consent_resend",
    ),
]
