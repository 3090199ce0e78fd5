from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from nesportal.http import PortalRequest
from nesportal.middleware import is_public_repository

from .language import remember_language
from .services import SESSION_CITIZEN, session_citizen


class CitizenMiddleware:
    """Sets ``request.citizen`` from the session (or None).

    A session whose citizen was deleted, locked, or changed their security word since logging
    in is flushed: the citizen must log in again. The page's language is remembered for the
    citizen's SMS and e-mails (``accounts.language``). The CA's public repository (CRL, OCSP) never
    looks at the session.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: PortalRequest) -> HttpResponse:
        request.citizen = None
        if is_public_repository(request):
            return self.get_response(request)
        if SESSION_CITIZEN in request.session:
            citizen = session_citizen(request)
            if citizen is None:
                request.session.flush()
            else:
                remember_language(citizen, getattr(request, "LANGUAGE_CODE", None))
            request.citizen = citizen
        return self.get_response(request)
