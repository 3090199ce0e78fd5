""" "Bu işlemi ben yapmadım" pages: the link from a notice, the form, and what was done.

``/y/<token>`` (the shortest path; the token is 22 characters) finds the link, remembers its id
in this browser's session and redirects to ``/y/``, so the token leaves the address bar, the
history and any Referer at once (Django's password reset does the same); the access log masks
it (``nesportal.gunicorn_logging``). ``/y/`` asks for the T.C. Kimlik No and the captcha; one
click protects the account (``protection.services``) and ``/y/tamam/`` says what happened and
what to do next.
"""

from __future__ import annotations

import time
from datetime import datetime

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_GET, require_http_methods

from accounts.forms import IdentifierCaptchaForm
from accounts.models import NotMeLink
from accounts.services import SESSION_CITIZEN
from accounts.tokens import open_not_me_link
from audit.actor import Actor
from audit.log import record
from nesportal.decorators import throttled

from .services import IdentityMismatch, LinkUnusable, protect_account, usable

SESSION_LINK = "nes_not_me"  # {"link": NotMeLink id, "since": epoch seconds}
SESSION_DONE = "nes_not_me_done"  # {"serials": [...], "at": ISO time}
MAX_AGE = 15 * 60


def _unusable(request: HttpRequest, reason: str) -> HttpResponse:
    status = 404 if reason == "unknown" else 410
    return render(request, "protection/unusable.html", {"reason": reason}, status=status)


@never_cache
@require_GET
@throttled("link", methods=("GET", "POST"))
def open_link(request: HttpRequest, token: str) -> HttpResponse:
    link = open_not_me_link(token)
    if link is None:
        return _unusable(request, "unknown")
    record(
        "nes.notme.opened", actor=Actor.from_request(request), citizen=link.citizen, link=link.pk
    )
    reason = usable(link)
    if reason:
        return _unusable(request, reason)
    request.session[SESSION_LINK] = {"link": link.pk, "since": int(time.time())}
    return redirect("protection:form")


def _pending_link(request: HttpRequest) -> NotMeLink | None:
    state = request.session.get(SESSION_LINK)
    if (
        not isinstance(state, dict)
        or not isinstance(state.get("link"), int)
        or time.time() - state.get("since", 0) > MAX_AGE
    ):
        request.session.pop(SESSION_LINK, None)
        return None
    return NotMeLink.objects.select_related("citizen").filter(pk=state["link"]).first()


@sensitive_post_parameters("identifier")
@never_cache
@require_http_methods(["GET", "POST"])
@throttled("link", methods=("POST",))
def protect(request: HttpRequest) -> HttpResponse:
    link = _pending_link(request)
    if link is None:
        return render(request, "protection/unusable.html", {"reason": "session"}, status=400)
    reason = usable(link)
    if reason:
        request.session.pop(SESSION_LINK, None)
        return _unusable(request, reason)
    form = IdentifierCaptchaForm(request.POST or None)
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            try:
                done = protect_account(
                    link,
                    identifier=form.cleaned_data["identifier"],
                    actor=Actor.from_request(request),
                )
            except IdentityMismatch as exc:
                form.add_error("identifier", exc.message)
            except LinkUnusable as exc:
                request.session.pop(SESSION_LINK, None)
                return _unusable(request, exc.reason)
            else:
                request.session.pop(SESSION_LINK, None)
                if SESSION_CITIZEN in request.session:
                    # This browser's own session ended with the others: start a clean one, so
                    # the next page does not flush what it is to show.
                    request.session.flush()
                request.session[SESSION_DONE] = {
                    "serials": list(done.serials),
                    "at": done.at.isoformat(),
                }
                return redirect("protection:done")
    return render(request, "protection/form.html", {"form": form}, status=status)


@never_cache
@require_GET
def done(request: HttpRequest) -> HttpResponse:
    state = request.session.get(SESSION_DONE)
    if not isinstance(state, dict):
        return redirect("accounts:home")
    at = datetime.fromisoformat(state["at"]) if state.get("at") else None
    return render(request, "protection/done.html", {"serials": state.get("serials", []), "at": at})
