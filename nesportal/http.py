"""Typed requests: what our middleware adds to Django's ``HttpRequest``.

Django's ``HttpRequest`` does not know the attributes our middleware sets, so code that reads
them would need ``# type: ignore[attr-defined]``. Annotate a view's ``request`` with one of
these classes instead (healthchecks does the same with ``AuthenticatedHttpRequest``). They are
annotations only: Django still builds a plain ``HttpRequest`` (WSGIRequest), and nothing here
checks at run time that the attributes were set.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.http import HttpRequest

if TYPE_CHECKING:
    from accounts.models import Citizen


class PortalRequest(HttpRequest):
    """Every request that went through the portal's middleware.

    * ``request_id``: set first, by ``nesportal.logs.RequestIdMiddleware``.
    * ``citizen``: set by ``accounts.middleware.CitizenMiddleware``; ``None`` unless a citizen
      is logged in.
    """

    citizen: Citizen | None
    request_id: str


class CitizenRequest(PortalRequest):
    """A request to a view behind ``citizen_required``: a citizen is logged in."""

    citizen: Citizen
