"""Hesap Hareketlerim: the citizen's own security log (``accounts.activity``)."""

from __future__ import annotations

from collections.abc import Hashable

from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from nesportal.fragments import render_cached
from nesportal.http import CitizenRequest

from .. import activity as log
from ..decorators import citizen_required


def _row_key(event: log.Activity) -> tuple[Hashable, ...]:
    details = tuple((str(detail.label), str(detail.value)) for detail in event.details)
    reason = str(event.reason) if event.reason is not None else ""
    return (event.pk, event.at, str(event.text), reason, details, event.failed)


@never_cache
@citizen_required
@require_GET
def activity(request: CitizenRequest) -> HttpResponse:
    page = log.page(request.citizen, request.GET.get("once"))
    # Each row once per worker (nesportal.fragments), keyed on every value the row shows.
    rows = [
        render_cached("accounts/activity_row.html", _row_key(event), {"event": event})
        for event in page.events
    ]
    return render(request, "accounts/activity.html", {"page": page, "rows": rows})


@never_cache
@citizen_required
@require_GET
def activity_detail(request: CitizenRequest, pk: int) -> HttpResponse:
    found = log.event(request.citizen, pk)
    if found is None:  # another citizen's, an internal event, or none at all
        raise Http404
    return render(request, "accounts/activity_detail.html", {"event": found})
