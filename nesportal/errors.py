"""Error pages (``handler400`` … ``handler500`` in nesportal/urls.py, ``CSRF_FAILURE_VIEW``).

Each page says what happened in the visitor's language and shows the request id ("Hata kodu /
Request id") that the citizen can read to the call centre; the same id is in every log line of
the request (``nesportal.logs``). The views never touch ``request.POST``, ``request.body`` or
the session: the request may be the malformed one that was refused, and reading its body again
is how Django's default views turned one bad request into 23 chained tracebacks. They render
``templates/errors/error.html`` with the page's heading and text from ``PAGES`` and, should that
fail, answer plain text.

The CA's public repository (``/ocsp``, ``/crl/…``, ``/ca/…``) gets a small plain-text body:
relying parties are programs, and those answers must not vary on the visitor.

A database that is down or unreachable (``OperationalError``/``InterfaceError``, also as the
cause of another exception) is not a bug: ``server_error`` answers 503 with ``Retry-After``.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.conf import settings
from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template.loader import render_to_string
from django.utils import translation
from django.utils.translation import gettext_lazy as _
from django.views.decorators.csrf import requires_csrf_token

from .contact import with_phone
from .logs import request_id_of
from .middleware import is_public_repository

logger = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = 30
API_PREFIX = "/api/"
_PLAIN = "text/plain; charset=utf-8"
_REASONS = {
    400: "Bad Request",
    403: "Forbidden",
    404: "Not Found",
    500: "Internal Server Error",
    503: "Service Unavailable",
}


# Each error page: its heading (also the title) and what the visitor can do.
PAGES = {
    "400": (
        _("Geçersiz istek"),
        _("Gönderilen bilgiler işlenemedi. Lütfen sayfayı yenileyip yeniden deneyiniz."),
    ),
    "403": (_("Erişim engellendi"), _("Bu işlem için yetkiniz bulunmuyor.")),
    "403_csrf": (
        _("Sayfanın süresi doldu"),
        _(
            "Güvenliğiniz için form uzun süre beklediğinde ya da çerezler kapalıyken "
            "gönderilemez. Lütfen sayfayı yenileyip işlemi yeniden yapınız; tarayıcınızda "
            "çerezlerin açık olduğundan emin olunuz."
        ),
    ),
    "404": (
        _("Sayfa bulunamadı"),
        _("Aradığınız sayfa yok ya da bu kayda erişim yetkiniz bulunmuyor."),
    ),
    "500": (
        _("Sistem hatası"),
        with_phone(
            _(
                "İşleminiz şu anda tamamlanamadı. Lütfen biraz sonra yeniden deneyiniz; sorun "
                "sürerse %(phone)s numaralı Çağrı Merkezimizi arayınız."
            )
        ),
    ),
    "503": (
        _("Hizmet geçici olarak kullanılamıyor"),
        _("Sistemimiz şu anda yanıt veremiyor. Lütfen birkaç dakika sonra yeniden deneyiniz."),
    ),
}


def _language(request: HttpRequest) -> str:
    # The locale middleware may not have run (the request was refused before it).
    chosen = request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME, "")
    return chosen if chosen in {code for code, _name in settings.LANGUAGES} else "tr"


def _plain(request: HttpRequest, status: int) -> HttpResponse:
    body = f"{status} {_REASONS[status]}\nRequest id: {request_id_of(request)}\n"
    return HttpResponse(body, content_type=_PLAIN, status=status)


def _json(request: HttpRequest, status: int) -> HttpResponse:
    # The card tool's API (pinvault/api.py) answers every error as {"detail", "code"}.
    reason = _REASONS[status]
    response = JsonResponse(
        {
            "detail": reason.lower(),
            "code": reason.lower().replace(" ", "_"),
            "request_id": request_id_of(request),
        },
        status=status,
    )
    response["Cache-Control"] = "no-store"
    return response


def render_error(
    request: HttpRequest, status: int, template: str, context: dict[str, Any] | None = None
) -> HttpResponse:
    if is_public_repository(request):
        return _plain(request, status)
    if request.path_info.startswith(API_PREFIX):
        return _json(request, status)
    try:
        with translation.override(_language(request)):
            heading, text = PAGES[template]
            content = render_to_string(
                "errors/error.html",
                {
                    "request_id": request_id_of(request),
                    "status": status,
                    "heading": heading,
                    "text": text,
                    **(context or {}),
                },
                request=request,
            )
    except Exception:
        # An error page must not fail; the plain answer still carries the request id.
        logger.exception("rendering the %s page failed", status)
        return _plain(request, status)
    return HttpResponse(content, status=status)


def error_view(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Django's ``requires_csrf_token`` (the page's forms get a token), minus the CSRF check.

    That decorator runs CsrfViewMiddleware's ``process_view``, which for a POST reads
    ``request.POST`` — of the very request that was refused for its body (a latin-1 form), so
    Django raised again inside its handler: 23 chained tracebacks and a 500. An error page
    changes nothing, so it checks nothing.
    """
    protected = requires_csrf_token(view)

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        request._dont_enforce_csrf_checks = True  # type: ignore[attr-defined]
        return protected(request, *args, **kwargs)

    return wrapper


@error_view
def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return render_error(request, 400, "400")


@error_view
def permission_denied(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if request.path_info.lstrip("/").startswith(settings.ADMIN_URL):
        return _admin_permission_denied(request)
    return render_error(request, 403, "403")


def _admin_permission_denied(request: HttpRequest) -> HttpResponse:
    """A staff member refused in admin stays in admin: admin's look, a link to its index (the
    citizen page's "Ana sayfaya dön" led to the citizen home)."""
    from django.contrib import admin

    heading, text = PAGES["403"]
    try:
        content = render_to_string(
            "admin/403.html",
            {
                **admin.site.each_context(request),
                "title": heading,
                "text": text,
                "request_id": request_id_of(request),
            },
            request=request,
        )
    except Exception:
        logger.exception("rendering the admin 403 page failed")
        return _plain(request, 403)
    return HttpResponse(content, status=403)


@error_view
def page_not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return render_error(request, 404, "404")


def database_unavailable(exc: BaseException | None) -> bool:
    """Whether ``exc`` (or anything in its chain) says the database cannot be reached."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, OperationalError | InterfaceError):
            return True
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return False


@error_view
def server_error(request: HttpRequest) -> HttpResponse:
    # Django calls handler500 inside its ``except`` block: the exception is the current one.
    if database_unavailable(sys.exc_info()[1]):
        response = render_error(request, 503, "503")
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response
    return render_error(request, 500, "500")


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    return render_error(request, 403, "403_csrf")
