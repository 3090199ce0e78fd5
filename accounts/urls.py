from django.urls import path

from .views import activity, profile, recovery, session
from .views import login as views

app_name = "accounts"

urlpatterns = [
    path("", views.home, name="home"),
    path("giris/", views.login, name="login"),
    path("giris/sms/", views.login_code, name="login_code"),
    path("giris/sms/yeniden-gonder/", views.login_code_resend, name="login_code_resend"),
    path("giris/kilitli/", views.locked, name="locked"),
    path("guvenlik-sozcugu/unuttum/", recovery.forgot_word, name="forgot_word"),
    path("guvenlik-sozcugu/unuttum/sms/", recovery.recovery_code, name="recovery_code"),
    path(
        "guvenlik-sozcugu/unuttum/sms/yeniden-gonder/",
        recovery.recovery_code_resend,
        name="recovery_code_resend",
    ),
    path("guvenlik-sozcugu/yeni/", recovery.recovery_new_word, name="recovery_new_word"),
    path("guvenlik-sozcugu/baglanti/<str:token>/", recovery.reset_link, name="reset_link"),
    path("islemler/", views.menu, name="menu"),
    path("cikis/", views.logout, name="logout"),
    path("oturum/uzat/", session.session_extend, name="session_extend"),
    path("oturum/sona-erdi/", session.session_ended, name="session_ended"),
    path("hesap-hareketlerim/", activity.activity, name="activity"),
    path("hesap-hareketlerim/<int:pk>/", activity.activity_detail, name="activity_detail"),
    path("dev/sms/", views.dev_sms_outbox, name="dev_sms"),
    path("bilgi-guncelle/", profile.profile, name="profile"),
    path("bilgi-guncelle/adres/", profile.profile_address, name="profile_address"),
    path("bilgi-guncelle/telefon/", profile.profile_phone, name="profile_phone"),
    path("bilgi-guncelle/telefon/onay/", profile.profile_phone_code, name="profile_phone_code"),
    path(
        "bilgi-guncelle/telefon/yeniden-gonder/",
        profile.profile_phone_resend,
        name="profile_phone_resend",
    ),
    path(
        "bilgi-guncelle/telefon/vazgec/",
        profile.profile_phone_cancel,
        name="profile_phone_cancel",
    ),
    path("bilgi-guncelle/e-posta/", profile.profile_email, name="profile_email"),
    path(
        "bilgi-guncelle/e-posta/onay/<str:token>/",
        profile.profile_email_confirm,
        name="profile_email_confirm",
    ),
]
