"""İşlem makbuzları."""

from django.urls import path

from . import views

app_name = "receipts"

urlpatterns = [
    path("makbuz/<str:reference>/", views.download, name="download"),
]
