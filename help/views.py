"""The help pages: the same for everybody (no session data), in the visitor's language."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse, HttpResponsePermanentRedirect
from django.shortcuts import render
from django.templatetags.static import static
from django.views.decorators.http import require_GET

from .topics import BY_SLUG, TOPICS


@require_GET
def index(request: HttpRequest) -> HttpResponse:
    return render(request, "help/index.html", {"topics": TOPICS})


@require_GET
def topic(request: HttpRequest, slug: str) -> HttpResponse:
    found = BY_SLUG.get(slug)
    if found is None:
        raise Http404
    others = [other for other in TOPICS if other.slug != slug]
    return render(request, found.template, {"topic": found, "others": others})


@require_GET
def favicon(request: HttpRequest) -> HttpResponse:
    """Browsers ask for /favicon.ico on their own: send them to the SVG icon, not to a 404."""
    return HttpResponsePermanentRedirect(static("favicon.svg"))
