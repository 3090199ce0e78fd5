"""The card tool API (pinvault/api.py documents it): JSON, for the AKİS Kart İzleme Aracı."""

from django.urls import path

from . import api

app_name = "pinvault_api"

urlpatterns = [
    path(
        "api/kart-araci/kartlar/<str:serial>/kilit-cozme/",
        api.pending_unlock,
        name="pending_unlock",
    ),
    path(
        "api/kart-araci/kartlar/<str:serial>/kilit-cozme/<str:unlock_id>/uygulandi/",
        api.unlock_applied,
        name="unlock_applied",
    ),
    path(
        "api/kart-araci/kartlar/<str:serial>/hatali-puk/",
        api.wrong_puk,
        name="wrong_puk",
    ),
]
