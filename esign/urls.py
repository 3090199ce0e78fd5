"""E-İmzalı Giriş pages; included at the site root, so the paths are the public ones."""

from django.urls import path

from . import views

app_name = "esign"

urlpatterns = [
    path("e-imzali-giris/", views.login, name="login"),
    path("e-imzali-giris/soru/", views.challenge, name="challenge"),
    path("e-imzali-giris/tls/", views.tls_login, name="tls_login"),
    path(
        "e-imzali-giris/kart-sertifikalari/",
        views.card_certificates,
        name="card_certificates",
    ),
    path("kart-servisi/indir/", views.card_service_download, name="card_service_download"),
    path("kart-kontrol/", views.card_check, name="card_check"),
]
