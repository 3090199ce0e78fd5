"""Content-Security-Policy and Permissions-Policy, minus the public repository.

django-csp's and django-permissions-policy's middleware, except for CRLs, CA certificates and
OCSP (``PUBLIC_REPOSITORY_PATHS``): those are DER/PEM files fetched by validators that render
nothing, so the two headers would only make every response longer (OCSP answers are fetched
millions of times; the WSGI fast path in ``certificates/fastpath.py`` skips all middleware anyway).
"""

from __future__ import annotations

from csp.middleware import CSPMiddleware
from django.http import HttpRequest
from django.http.response import HttpResponseBase
from django_permissions_policy import PermissionsPolicyMiddleware

from .middleware import is_public_repository


class PortalCSPMiddleware(CSPMiddleware):
    def process_response(
        self, request: HttpRequest, response: HttpResponseBase
    ) -> HttpResponseBase:
        if is_public_repository(request):
            return response
        return super().process_response(request, response)


class PortalPermissionsPolicyMiddleware(PermissionsPolicyMiddleware):
    sync_capable = True
    async_capable = False

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        response = self.get_response(request)
        assert isinstance(response, HttpResponseBase)
        if is_public_repository(request):
            return response
        return self._apply_headers(response)
