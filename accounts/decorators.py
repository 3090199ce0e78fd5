"""``citizen_required``: the views of a logged-in citizen (``request.citizen``, set by
``accounts.middleware.CitizenMiddleware`` from a session bound to the citizen's state)."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils.translation import gettext as _


def citizen_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Send a visitor who is not logged in to the login page, with a note why."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if getattr(request, "citizen", None) is None:
            messages.info(request, _("Bu sayfa için giriş yapmanız gerekir."))
            return redirect("accounts:login")
        return view(request, *args, **kwargs)

    return wrapper
