import re
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


class PortalSessionMiddleware(SessionMiddleware):
    """Django's session middleware, except for the public repository.

    A CRL or OCSP request gets an empty session that is never loaded, saved or varied on: it
    must neither set a cookie, nor add ``Vary: Cookie``, nor keep a citizen's session alive
    (``SESSION_SAVE_EVERY_REQUEST`` would otherwise save it on every such request), nor end it
    (an empty session would otherwise delete the visitor's session cookie).
    """

    def process_request(self, request: HttpRequest) -> None:
        if is_public_repository(request):
            request.session = self.SessionStore(None)
            return
        super().process_request(request)

    def process_response(self, request: HttpRequest, response: HttpResponse) -> HttpResponse:
        if is_public_repository(request):
            return response
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
