"""The session-timeout warning's two endpoints (static/js/session.js).

A session ends ``SESSION_COOKIE_AGE`` (10 minutes) after it was last written
(``nesportal.middleware.PortalSessionMiddleware``). Two minutes before that the page warns:

* ``POST /oturum/uzat/`` ("Oturumu uzat") marks the session modified, so this response writes it
  and the idle clock starts again — without that, a session written less than
  ``SESSION_REFRESH_SECONDS`` ago would not be saved and the expiry would not move. It answers
  JSON, never a redirect: a visitor whose session has already ended gets 401 and no flash
  message (``citizen_required`` would queue "Bu sayfa için giriş yapmanız gerekir." and send the
  page's fetch to the HTML login page).
* ``POST /oturum/sona-erdi/``: the page's own timer ran out. The session ends now (it would end on
  the server within seconds anyway) and the login page says why. POST with the CSRF token, like
  Çıkış, so that no other site can log a citizen out with a link or an image.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.http import HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from nesportal.http import PortalRequest

from ..services import logout_citizen


@never_cache
@require_POST
def session_extend(request: PortalRequest) -> HttpResponse:
    if request.citizen is None:
        return JsonResponse({"ended": True, "seconds_left": 0}, status=401)
    request.session.modified = True  # saved by this response: a new expiry from now
    return JsonResponse({"ended": False, "seconds_left": settings.SESSION_COOKIE_AGE})


@never_cache
@require_POST
def session_ended(request: PortalRequest) -> HttpResponse:
    logout_citizen(request)
    messages.warning(
        request,
        _(
            "Güvenliğiniz için, uzun süre işlem yapılmadığından oturumunuz sona erdi. "
            "Devam etmek için yeniden giriş yapınız."
        ),
    )
    return redirect("accounts:login")
