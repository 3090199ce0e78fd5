from django.urls import path

from . import views

app_name = "help"

urlpatterns = [
    path("yardim/", views.index, name="index"),
    path("yardim/<slug:slug>/", views.topic, name="topic"),
    path("favicon.ico", views.favicon, name="favicon"),
]
