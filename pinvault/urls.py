"""PIN/PUK Bilgisi and Kilit Çözme pages (the card tool's API is in api_urls)."""

from django.urls import path, register_converter

from . import views


class CardSerialConverter:
    """An AKİS card serial as stored (``AkisCard.serial_number``), e.g. AKIS-1234567890."""

    regex = "[A-Za-z0-9][A-Za-z0-9_-]{0,31}"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


register_converter(CardSerialConverter, "card")

app_name = "pinvault"

urlpatterns = [
    path("pin-puk/", views.pinpuk, name="pinpuk"),
    path("pin-puk/<card:card>/", views.pinpuk_card, name="pinpuk_card"),
    path("pin-puk/<card:card>/onay-kodu/", views.pinpuk_code, name="pinpuk_code"),
    path(
        "pin-puk/<card:card>/onay-kodu/yeniden-gonder/",
        views.pinpuk_code_resend,
        name="pinpuk_code_resend",
    ),
    path("pin-puk/<card:card>/pdf/", views.pinpuk_pdf, name="pinpuk_pdf"),
    path("pin-puk/<card:card>/sil/", views.pinpuk_delete, name="pinpuk_delete"),
    path("pin-puk/<card:card>/silindi/", views.pinpuk_deleted, name="pinpuk_deleted"),
    path("kilit-cozme/", views.unlock_list, name="unlock_list"),
    path("kilit-cozme/<card:card>/", views.unlock_card, name="unlock_card"),
    path("kilit-cozme/<card:card>/onay-kodu/", views.unlock_code, name="unlock_code"),
    path(
        "kilit-cozme/<card:card>/onay-kodu/yeniden-gonder/",
        views.unlock_code_resend,
        name="unlock_code_resend",
    ),
]
