"""E-Onay signed with the card (``esign.consent_views``), under the E-Onay page's address.

The URL words are the E-Onay pages' own (``eonay.urls``' converters: ``onayla``/``reddet``,
``ilk-basvuru``/``yenileme``, ``ver``/``geri-al``)."""

from django.urls import path

from eonay import urls as _eonay_urls  # noqa: F401  (registers the eonay_* converters)

from . import consent_views

app_name = "esign_eonay"

urlpatterns = [
    path(
        "e-onay/kart/surekli-onay/<eonay_scope:scope>/<eonay_consent_action:action>/hazirla/",
        consent_views.consent_prepare,
        name="consent_prepare",
    ),
    path(
        "e-onay/kart/surekli-onay/<eonay_scope:scope>/<eonay_consent_action:action>/imzala/",
        consent_views.consent_sign,
        name="consent_sign",
    ),
    path(
        "e-onay/kart/basvuru/<int:pk>/<eonay_decision:decision>/hazirla/",
        consent_views.decide_prepare,
        name="decide_prepare",
    ),
    path(
        "e-onay/kart/basvuru/<int:pk>/<eonay_decision:decision>/imzala/",
        consent_views.decide_sign,
        name="decide_sign",
    ),
]
