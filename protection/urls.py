from django.urls import path

from . import views

app_name = "protection"

urlpatterns = [
    # The shortest path a notice SMS can carry: https://<host>/y/<22-character token>.
    path("y/<str:token>", views.open_link, name="open"),
    path("y/", views.protect, name="form"),
    path("y/tamam/", views.done, name="done"),
]
