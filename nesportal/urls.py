from django.conf import settings
from django.contrib import admin
from django.urls import include, path

admin.site.site_header = "NES Portal — Çağrı Merkezi"
admin.site.site_title = "NES Portal yönetim"
admin.site.index_title = "Çağrı Merkezi ve yönetim"

urlpatterns = [
    path(settings.ADMIN_URL, admin.site.urls),
    path("i18n/", include("django.conf.urls.i18n")),
    path("captcha/", include("captcha.urls")),
    path("", include("accounts.urls")),
]
