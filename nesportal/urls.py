from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from django.utils.translation import gettext_lazy as _

admin.site.site_header = _("NES Portal — Çağrı Merkezi")
admin.site.site_title = _("NES Portal yönetim")
admin.site.index_title = _("Çağrı Merkezi ve yönetim")

urlpatterns = [
    path(settings.ADMIN_URL, admin.site.urls),
    path("i18n/", include("django.conf.urls.i18n")),
    path("captcha/", include("captcha.urls")),
    path("", include("accounts.urls")),
    path("", include("certificates.urls")),
    path("", include("certificates.public_urls")),
    path("", include("pinvault.urls")),
    path("", include("pinvault.api_urls")),
    path("", include("eonay.urls")),
]
