"""E-İmzalı Giriş pages: the page with its form, the JSON challenge and the TLS login.

Thin: each view reads the request, asks ``esign.services`` and turns the result into a
response. The order of the checks and what a failure costs are the services' contract.
"""

from __future__ import annotations

from typing import Any

from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from audit.actor import Actor
from nesportal.decorators import throttled
from nesportal.http import PortalRequest

from . import services
from .forms import EsignLoginForm
from .models import LoginChallenge


def _wants_json(request: HttpRequest) -> bool:
    return "application/json" in request.headers.get("Accept", "")


def _render_page(request: HttpRequest, *, error: Any = None, status: int = 200) -> HttpResponse:
    """The page with a fresh challenge (after a failure too: the old one is used up)."""
    payload = services.challenge_payload(request, services.issue_challenge(request))
    form = EsignLoginForm(initial={"challenge_id": payload["challenge_id"]})
    seconds_left = int(LoginChallenge.LIFETIME.total_seconds())
    context = {
        "form": form,
        "error": error,
        "challenge": payload,
        "seconds_left": seconds_left,
        "countdown_text": "{:02d}:{:02d}".format(*divmod(seconds_left, 60)),
        "tls_enabled": bool(services.tls_header()),
        "message_prefix": "NES-PORTAL-LOGIN\\0",
    }
    response = render(request, "esign/login.html", context, status=status)
    return services.bind_browser(response, request)


def _finish(request: PortalRequest, result: services.EsignResult) -> HttpResponse:
    menu = reverse("accounts:menu")
    if result.citizen is not None:
        services.log_in(request, result.citizen)
        response: HttpResponse
        if _wants_json(request):
            response = JsonResponse({"ok": True, "redirect": menu})
        else:
            response = redirect(menu)
        return services.unbind_browser(response)
    if _wants_json(request):
        return JsonResponse({"ok": False, "error": str(services.ESIGN_FAILED)}, status=400)
    return _render_page(request, error=services.ESIGN_FAILED, status=400)


@never_cache
@require_http_methods(["GET", "POST"])
@throttled("esign_challenge", methods=("GET",))  # the page makes a challenge too
@throttled("esign_login")
def login(request: PortalRequest) -> HttpResponse:
    """The page (GET) and the signed challenge's POST, from a signing tool or the form."""
    actor = Actor.from_request(request)
    if request.method == "GET":
        if getattr(request, "citizen", None) is not None:
            return redirect("accounts:menu")
        return _render_page(request)
    form = EsignLoginForm(request.POST)
    if not form.is_valid():
        return _finish(request, services.refused(actor, "form_invalid", fields=sorted(form.errors)))
    result = services.verify_login(
        actor=actor,
        binding=services.cookie_token(request),
        challenge_id=form.cleaned_data["challenge_id"],
        signature_b64=form.cleaned_data["signature"],
        certificate=form.cleaned_data["certificate"],
    )
    return _finish(request, result)


@never_cache
@require_GET
@throttled("esign_challenge")
def challenge(request: HttpRequest) -> JsonResponse:
    """The challenge as JSON, for signing tools (plus the CSRF token their POST needs)."""
    response = JsonResponse(services.challenge_payload(request, services.issue_challenge(request)))
    return services.bind_browser(response, request)


@never_cache
@require_POST
@throttled("esign_login")
def tls_login(request: PortalRequest) -> HttpResponse:
    """Log in with the TLS client certificate the reverse proxy verified and forwarded.

    Off unless ``ESIGN_TRUST_PROXY_CERT_HEADER`` names the header; then the proxy MUST strip
    that header from client requests and set it only after a verified handshake, or anyone
    could claim any certificate (which is public) by sending the header themselves.
    """
    header = services.tls_header()
    if not header:
        raise Http404
    value = request.headers.get(header, "")
    actor = Actor.from_request(request)
    if not value:
        return _finish(request, services.refused(actor, "tls_no_certificate"))
    return _finish(request, services.verify_tls_login(value, actor=actor))
