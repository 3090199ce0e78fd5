from django.urls import path

from . import views

app_name = "accounts"

urlpatterns = [
    path("", views.home, name="home"),
    path("giris/", views.login, name="login"),
    path("giris/sms/", views.login_code, name="login_code"),
    path("giris/sms/yeniden-gonder/", views.login_code_resend, name="login_code_resend"),
    path("giris/kilitli/", views.locked, name="locked"),
    path("guvenlik-sozcugu/unuttum/", views.forgot_word, name="forgot_word"),
    path("islemler/", views.menu, name="menu"),
    path("cikis/", views.logout, name="logout"),
    path("dev/sms/", views.dev_sms_outbox, name="dev_sms"),
]
