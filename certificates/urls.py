"""Sertifika işlemleri pages (the public CRL/OCSP/CA endpoints live in public_views)."""

from django.urls import path, register_converter

from . import views


class SerialConverter:
    """A certificate serial number in hex (at most 159 bits → 40 digits); any case."""

    regex = "[0-9a-fA-F]{1,40}"

    def to_python(self, value: str) -> str:
        return value.lower()

    def to_url(self, value: str) -> str:
        return value


register_converter(SerialConverter, "serial")

app_name = "certificates"

urlpatterns = [
    path("sertifikalar/", views.certificate_list, name="list"),
    path("sertifikalar/kullanima-ac/", views.open_list, name="open_list"),
    path("sertifikalar/askidan-indir/", views.reinstate_list, name="reinstate_list"),
    path("sertifikalar/iptal/", views.revoke_start, name="revoke_start"),
    path("sertifikalar/<serial:serial>/", views.certificate_detail, name="detail"),
    path("sertifikalar/<serial:serial>/pem/", views.certificate_pem, name="pem"),
    path("sertifikalar/<serial:serial>/kullanima-ac/", views.open_for_use, name="open"),
    path("sertifikalar/<serial:serial>/askiya-al/", views.suspend, name="suspend"),
    path("sertifikalar/<serial:serial>/askidan-indir/", views.reinstate, name="reinstate"),
    path("sertifikalar/<serial:serial>/iptal/", views.revoke_confirm, name="revoke_confirm"),
    path("sertifikalar/<serial:serial>/iptal/onay-kodu/", views.revoke_code, name="revoke_code"),
    path(
        "sertifikalar/<serial:serial>/iptal/onay-kodu/yeniden-gonder/",
        views.revoke_code_resend,
        name="revoke_code_resend",
    ),
    path("sertifikalar/<serial:serial>/iptal/sonuc/", views.revoke_done, name="revoke_done"),
]
