from captcha import views as captcha_views
from django.conf import settings
from django.contrib import admin
from django.urls import include, path, re_path

from accounts.views import captcha as captcha_audio_views
from nesportal.decorators import throttled

# admin.site is staff.sites.StaffAdminSite (staff.apps.NesAdminConfig): no admin page without
# the password *and* a second factor (django-otp); its login pages are throttled per client.

# django-simple-captcha's URLs (captcha/urls.py, same names and patterns), each image, audio
# and refresh counted per client: every one costs a render (and, for audio, an espeak-ng
# process). The audio is our own view (accounts/views/captcha.py: inline, in the page's
# language); "@2" answers 404 (CAPTCHA_2X_IMAGE is off: the one image is drawn large enough).
_captcha = throttled("captcha")
captcha_patterns = [
    re_path(
        r"image/(?P<key>\w+)/$",
        _captcha(captcha_views.captcha_image),
        name="captcha-image",
        kwargs={"scale": 1},
    ),
    re_path(
        r"image/(?P<key>\w+)@2/$",
        _captcha(captcha_views.captcha_image),
        name="captcha-image-2x",
        kwargs={"scale": 2},
    ),
    re_path(
        r"audio/(?P<key>\w+)\.wav$",
        _captcha(captcha_audio_views.captcha_audio),
        name="captcha-audio",
    ),
    re_path(r"refresh/$", _captcha(captcha_views.captcha_refresh), name="captcha-refresh"),
]

urlpatterns = [
    path(settings.ADMIN_URL, admin.site.urls),
    path("i18n/", include("django.conf.urls.i18n")),
    path("captcha/", include(captcha_patterns)),
    path("", include("accounts.urls")),
    path("", include("certificates.urls")),
    path("", include("esign.urls")),
    path("", include("certificates.public_urls")),
    path("", include("pinvault.urls")),
    path("", include("pinvault.api_urls")),
    path("", include("eonay.urls")),
    path("", include("esign.consent_urls")),
    path("", include("receipts.urls")),
    path("", include("protection.urls")),
    path("", include("help.urls")),  # Yardım pages and /favicon.ico
]

# Error pages that never read the request body and show the request id (nesportal/errors.py).
handler400 = "nesportal.errors.bad_request"
handler403 = "nesportal.errors.permission_denied"
handler404 = "nesportal.errors.page_not_found"
handler500 = "nesportal.errors.server_error"
