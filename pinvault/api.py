"""The card tool API: how the AKİS Kart İzleme Aracı applies portal unlocks to the card.

A holder whose card was produced on or after 01.01.2011 unlocks it on the portal (Kilit
Çözme): the portal draws a new PIN, keeps it encrypted in the vault and records a pending
unlock. The card itself still has the old PIN and a blocked PIN counter until the card tool,
with the card in the reader, writes the new PIN to it. For cards produced before 01.01.2011
the holder enters the PUK in the card tool; the tool reports wrong PUK entries so that the
portal shows the holder how many tries are left, and that the third made the card unusable.

Configuration
    ``CARD_TOOL_API_KEYS`` (or ``CARD_TOOL_API_KEYS_FILE``): comma-separated ``name:secret``
    pairs, one per tool installation or vendor, e.g.
    ``akis-izleme:3q2-…,yedek-arac:Vb8…``. Secrets are at least 32 characters without commas
    (``python -c "import secrets; print(secrets.token_urlsafe(32))"``). The name is written to
    the audit log with every call. Empty (the default) switches the API off: every endpoint
    answers 503. To rotate a key, add the new pair, move the tool over, remove the old pair.

Every request
    ``Authorization: Bearer <secret>``; TLS only (the site redirects plain HTTP). Answers are
    JSON with ``Cache-Control: no-store``. Errors are ``{"detail": "...", "code": "..."}``:

    * 401 ``unauthorized``: no key or a wrong key (with ``WWW-Authenticate: Bearer``)
    * 404 ``unknown_card``: no card with this serial number
    * 404 ``no_pending_unlock`` / ``unknown_unlock``: see the endpoints
    * 405 ``method_not_allowed``: wrong HTTP method (``Allow`` names the right one)
    * 429 ``throttled``: too many calls without a valid key from this address (with
      ``Retry-After`` and ``retry_after`` in seconds); calls with a valid key are not limited
    * 409: not possible in the card's current state (codes below)
    * 503 ``disabled``: ``CARD_TOOL_API_KEYS`` is empty

``GET /api/kart-araci/kartlar/<serial>/kilit-cozme/``
    The pending unlock of the card, with the new PIN to write to it::

        200 {"card_serial": "AKIS-0123456789", "unlock_id": 17,
             "created_at": "2026-03-01T09:30:00+00:00", "new_pin": "604829"}

    ``404 {"code": "no_pending_unlock", "detail": "no pending unlock"}`` if there is none.
    ``409 {"code": "new_pin_unavailable", "unlock_id": 17, …}`` if the vault no longer holds
    the new PIN (the portal refuses "Parolalarımı Sil" while an unlock is pending, so only a
    data repair leads here): the tool must not change the card. The body carries a PIN: the
    tool keeps it in memory only and must not log it.

``POST /api/kart-araci/kartlar/<serial>/kilit-cozme/<unlock_id>/uygulandi/``
    Call after the new PIN is on the card (no body). The portal records the unlock as
    applied, forgets the unlock PIN (the holder still sees the PIN on the PIN/PUK page until
    they delete it) and marks the card active::

        200 {"card_serial": "AKIS-0123456789", "unlock_id": 17,
             "applied_at": "2026-03-01T09:41:12+00:00", "already_applied": false,
             "card_state": "active"}

    Idempotent: repeating it (e.g. after a network error) answers 200 with
    ``"already_applied": true``. ``404 {"code": "unknown_unlock"}`` for an id that is not an
    unlock of this card.

``POST /api/kart-araci/kartlar/<serial>/hatali-puk/``
    One wrong PUK was entered for this card (no body). Only for cards produced before
    01.01.2011::

        200 {"card_serial": "AKIS-0123456789", "wrong_puk_count": 2, "state": "pin_locked",
             "attempts_left": 1}

    The third report sets ``"state": "unusable"`` (the card must be renewed, for a fee).
    ``409 {"code": "no_puk"}`` for a card produced on or after 01.01.2011 (unlocked on the
    portal, without PUK); ``409 {"code": "unusable", "wrong_puk_count": 3, "state":
    "unusable", "attempts_left": 0}`` once the card is unusable. Not idempotent: every call
    counts one wrong entry, so the tool sends it once per wrong entry and does not retry a
    call that got an answer.

A typical session of the tool, with the card in the reader::

    curl -fsS -H "Authorization: Bearer $KEY" \\
        https://portal.example/api/kart-araci/kartlar/AKIS-0123456789/kilit-cozme/
    # … write new_pin to the card, reset its PIN counter …
    curl -fsS -X POST -H "Authorization: Bearer $KEY" \\
        https://portal.example/api/kart-araci/kartlar/AKIS-0123456789/kilit-cozme/17/uygulandi/

Operators without the tool use ``manage.py card_tool pending|applied|wrong-puk`` instead.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.debug import sensitive_variables

from audit.actor import Actor
from audit.log import record
from nesportal.decorators import check_throttle

from . import cardtool
from .models import AkisCard

View = Callable[..., HttpResponse]


@sensitive_variables("entry", "secret", "keys")
def configured_keys() -> list[tuple[str, bytes]]:
    """``(name, secret)`` for each well-formed entry of ``CARD_TOOL_API_KEYS``.

    The settings module refuses malformed entries at startup; this skips them defensively.
    """
    keys = []
    for entry in settings.CARD_TOOL_API_KEYS.split(","):
        name, sep, secret = entry.strip().partition(":")
        if sep and name.strip() and secret.strip():
            keys.append((name.strip(), secret.strip().encode()))
    return keys


@sensitive_variables("value", "presented", "secret", "keys")
def authenticated_tool(request: HttpRequest, keys: list[tuple[str, bytes]]) -> str | None:
    """The name of the key presented as ``Authorization: Bearer <secret>``, or None.

    Compares with every configured key in constant time, without stopping at a match.
    """
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    presented = value.strip().encode("utf-8", "replace")
    if scheme.lower() != "bearer" or not presented:
        return None
    found = None
    for name, secret in keys:
        if hmac.compare_digest(presented, secret) and found is None:
            found = name
    return found


def error(status: int, code: str, detail: str, **data: Any) -> JsonResponse:
    return JsonResponse({"detail": detail, "code": code, **data}, status=status)


def card_tool_endpoint(method: str) -> Callable[[View], View]:
    """JSON endpoint for the tool: method, key and card checked first; ``view(request, card,
    actor=actor, **kwargs)`` with the tool's :class:`~audit.actor.Actor` (its key's name as
    ``tool``); ``CardToolError`` becomes its JSON error."""

    def decorator(view: View) -> View:
        @wraps(view)
        @sensitive_variables("keys")
        def wrapper(request: HttpRequest, serial: str, **kwargs: Any) -> HttpResponse:
            if request.method != method:
                response = error(405, "method_not_allowed", f"use {method}")
                response["Allow"] = method
                return response
            keys = configured_keys()
            if not keys:
                return error(503, "disabled", "the card tool API is not configured")
            tool = authenticated_tool(request, keys)
            if tool is None:
                # Only calls without a valid key count (THROTTLES["cardtool"], per client): the
                # comparison above is constant-time and touches no database, so a refused call
                # costs as little as a counted one, and the tool itself, whose key is checked
                # first, is never slowed down by strangers sharing its address.
                exceeded = check_throttle(request, "cardtool")
                if exceeded is not None:
                    response = error(
                        429, "throttled", "too many requests", retry_after=exceeded.retry_after
                    )
                    response["Retry-After"] = str(exceeded.retry_after)
                    return response
                record(
                    "nes.cardtool.auth_failed",
                    actor=Actor.from_request(request),
                    reason="wrong_key" if request.headers.get("Authorization") else "no_key",
                )
                response = error(401, "unauthorized", "a valid card tool key is required")
                response["WWW-Authenticate"] = 'Bearer realm="kart-araci"'
                return response
            card = cardtool.find_card(serial)
            if card is None:
                return error(404, "unknown_card", "unknown card")
            try:
                return view(request, card, actor=Actor.from_request(request, tool=tool), **kwargs)
            except cardtool.CardToolError as exc:
                return error(exc.status, exc.code, exc.message, **exc.data)

        return csrf_exempt(never_cache(wrapper))

    return decorator


@card_tool_endpoint("GET")
@sensitive_variables("new_pin")
def pending_unlock(request: HttpRequest, card: AkisCard, *, actor: Actor) -> HttpResponse:
    unlock = cardtool.pending_unlock(card)
    if unlock is None:
        return error(404, "no_pending_unlock", "no pending unlock")
    new_pin = cardtool.reveal_unlock_pin(card, unlock, actor=actor)
    if new_pin is None:
        return error(
            409,
            "new_pin_unavailable",
            "the new PIN is no longer stored; do not change the card",
            unlock_id=unlock.pk,
        )
    return JsonResponse(
        {
            "card_serial": card.serial_number,
            "unlock_id": unlock.pk,
            "created_at": unlock.created_at.isoformat(),
            "new_pin": new_pin,
        }
    )


@card_tool_endpoint("POST")
def unlock_applied(
    request: HttpRequest, card: AkisCard, *, actor: Actor, unlock_id: str
) -> HttpResponse:
    # The URL takes any text so that a malformed id gets this JSON 404, not an HTML page.
    if not (unlock_id.isascii() and unlock_id.isdigit() and len(unlock_id) <= 18):
        return error(404, "unknown_unlock", "no such unlock for this card")
    result = cardtool.mark_applied(card, int(unlock_id), actor=actor)
    return JsonResponse(
        {
            "card_serial": card.serial_number,
            "unlock_id": result.unlock.pk,
            "applied_at": result.applied_at.isoformat(),
            "already_applied": result.already_applied,
            "card_state": card.state,
        }
    )


@card_tool_endpoint("POST")
def wrong_puk(request: HttpRequest, card: AkisCard, *, actor: Actor) -> HttpResponse:
    result = cardtool.report_wrong_puk(card, actor=actor)
    return JsonResponse(
        {
            "card_serial": card.serial_number,
            "wrong_puk_count": result.wrong_puk_count,
            "state": result.state,
            "attempts_left": result.attempts_left,
        }
    )
