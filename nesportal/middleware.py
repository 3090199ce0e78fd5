import re
import time
from functools import cache

from django.conf import settings
from django.contrib.sessions.middleware import SessionMiddleware
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.middleware.locale import LocaleMiddleware
from django.utils import translation


@cache
def _repository_patterns() -> tuple[re.Pattern[str], ...]:
    return tuple(re.compile(pattern) for pattern in settings.PUBLIC_REPOSITORY_PATHS)


def is_public_repository(request: HttpRequest) -> bool:
    """A CRL, CA certificate or OCSP request (``PUBLIC_REPOSITORY_PATHS``).

    Those responses are the same for everybody: they must not read the session (which would add
    ``Vary: Cookie``) nor say which language the visitor chose.
    """
    path = request.path_info.lstrip("/")
    return any(pattern.match(path) for pattern in _repository_patterns())


# The session's own note of when it was last written (seconds since the epoch).
SESSION_TOUCHED = "_nes_touched"


class PortalSessionMiddleware(SessionMiddleware):
    """Django's session middleware, written at most once a minute, and never for the public
    repository.

    * **The idle rule.** A session ends ``SESSION_COOKIE_AGE`` (10 minutes) after it was last
      written. Writing it on every request (``SESSION_SAVE_EVERY_REQUEST``) costs an UPDATE per
      page; instead a request writes it only when it changed or when its last write is at
      least ``SESSION_REFRESH_SECONDS`` (60 s) old. So a session ends between 9 and 10 minutes
      after the visitor's last request — never later than 10 minutes.
    * A CRL or OCSP request gets an empty session that is never loaded, saved or varied on: it
      must neither set a cookie, nor add ``Vary: Cookie``, nor keep a citizen's session alive,
      nor end it (an empty session would otherwise delete the visitor's session cookie).
    """

    def process_request(self, request: HttpRequest) -> None:
        if is_public_repository(request):
            request.session = self.SessionStore(None)
            return
        super().process_request(request)

    def process_response(self, request: HttpRequest, response: HttpResponse) -> HttpResponse:
        if is_public_repository(request):
            return response
        session = getattr(request, "session", None)
        if session is not None and session.accessed and not session.is_empty():
            now = int(time.time())
            stale = now - session.get(SESSION_TOUCHED, 0) >= settings.SESSION_REFRESH_SECONDS
            if session.modified or stale:
                session[SESSION_TOUCHED] = now  # (now) modified: Django saves it, new expiry
        return super().process_response(request, response)


class TurkishFirstLocaleMiddleware(LocaleMiddleware):
    """Turkish unless the visitor chose another language with the language switch.

    Django's LocaleMiddleware would follow the browser's Accept-Language, so most visitors with
    an English-language browser would get English; this service is Turkish first and English
    only on request (the language cookie set by ``/i18n/setlang/``). Responses of the public
    repository carry no ``Content-Language`` and no ``Vary: Accept-Language``.
    """

    def process_request(self, request: HttpRequest) -> None:
        chosen = request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME, "")
        supported = {code for code, _name in settings.LANGUAGES}
        language = chosen if chosen in supported else settings.LANGUAGE_CODE
        translation.activate(language)
        request.LANGUAGE_CODE = translation.get_language()

    def process_response(
        self, request: HttpRequest, response: HttpResponseBase
    ) -> HttpResponseBase:
        if is_public_repository(request):
            return response
        return super().process_response(request, response)
