"""PIN/PUK Bilgisi (view, Parolalarımı Kaydet, Parolalarımı Sil) and Kilit Çözme.

* Every card is looked up together with the logged-in citizen (``_card``): another citizen's
  serial is a 404 on every method, before anything else happens.
* Secrets are shown only after a fresh SMS Onay Kodu for that card (purpose PINPUK or UNLOCK,
  subject = the card serial, bound to this session; the step is ``accounts.stepup``, whose
  rules it follows). A right code gives this session a *grant* for the card: its expiry time
  (``GRANT_SECONDS``: the visit, at most 30 minutes; the session itself ends after 10 idle
  minutes or at "Çıkış"), stored in the session under the card serial. The session never holds
  a PIN or PUK, only serials and timestamps. The grant covers viewing, the PDF and deleting
  (one code for "view, then save or delete" in one visit) and, after Kilit Çözme, the card's
  PUK; after it expires a new code is needed.
* Pages that show a secret render it into the HTML only, with ``Cache-Control: no-store``
  (``never_cache``); nothing is cached server-side, and a secret never goes into a URL, the
  messages framework, the session, a log line or the audit log.
* Every change is a POST (CSRF) through ``pinvault.services``, which writes the audit entry and
  queues the holder's SMS notice.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters, sensitive_variables
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts import stepup
from accounts.decorators import citizen_required
from accounts.models import Citizen, SmsChallenge
from accounts.stepup import countdown_text
from audit.actor import Actor
from nesportal.http import CitizenRequest
from receipts.models import Receipt
from receipts.services import receipt_for

from . import services
from .forms import PdfPasswordForm
from .models import MAX_WRONG_PUK, AkisCard, CardAction, CardUnlock, VaultEntry

State = AkisCard.State
Purpose = SmsChallenge.Purpose

SESSION_GRANTS = "nes_pinpuk_grants"  # {card serial: grant expiry (epoch seconds)}
SESSION_FRESH = "nes_pinpuk_fresh"  # [card serial]: granted, secrets not shown yet (SMS due)
SESSION_STEPUP = "nes_pinpuk_stepup"  # the pending SMS code of a PIN/PUK or unlock step-up
GRANT_SECONDS = 30 * 60  # one visit (README "SMS budget")

# Where a right code leads: a fixed set of URL names, never a URL taken from the request.
THEN = {
    "view": "pinvault:pinpuk_card",
    "delete": "pinvault:pinpuk_delete",
    "unlock": "pinvault:unlock_card",
}
CODE_URLS = {
    Purpose.PINPUK: ("pinvault:pinpuk_code", "pinvault:pinpuk_code_resend", "pinvault:pinpuk_card"),
    Purpose.UNLOCK: ("pinvault:unlock_code", "pinvault:unlock_code_resend", "pinvault:unlock_card"),
}


# --- helpers -------------------------------------------------------------------------------


def _card(request: CitizenRequest, serial: str) -> AkisCard:
    """The logged-in citizen's card with this serial, or 404 (also for other citizens')."""
    return get_object_or_404(
        AkisCard.objects.select_related("citizen"),
        citizen=request.citizen,
        serial_number=serial,
    )


def grant_seconds_left(request: HttpRequest, serial: str) -> int:
    """Seconds left of this session's step-up grant for the card (0: none or expired)."""
    expires = request.session.get(SESSION_GRANTS, {}).get(serial)
    if not expires:
        return 0
    return max(0, int(expires - time.time()))


def _give_grant(request: HttpRequest, serial: str) -> None:
    now = time.time()
    grants = {s: exp for s, exp in request.session.get(SESSION_GRANTS, {}).items() if exp > now}
    grants[serial] = now + GRANT_SECONDS
    request.session[SESSION_GRANTS] = grants
    fresh = [s for s in request.session.get(SESSION_FRESH, []) if s in grants and s != serial]
    request.session[SESSION_FRESH] = [*fresh, serial]


def _drop_grant(request: HttpRequest, serial: str) -> None:
    grants = dict(request.session.get(SESSION_GRANTS, {}))
    grants.pop(serial, None)
    request.session[SESSION_GRANTS] = grants
    request.session[SESSION_FRESH] = [
        s for s in request.session.get(SESSION_FRESH, []) if s != serial
    ]


def _take_fresh(request: HttpRequest, serial: str) -> bool:
    """True once per grant: the first display of secrets, which gets the SMS notice."""
    fresh = request.session.get(SESSION_FRESH, [])
    if serial not in fresh:
        return False
    request.session[SESSION_FRESH] = [s for s in fresh if s != serial]
    return True


def _step(card: AkisCard, purpose: Purpose) -> stepup.CodeStep:
    """The SMS Onay Kodu of a PIN/PUK or unlock step-up (``accounts.stepup``): bound to the card
    (subject = its serial) and valid only for this card and purpose (``op``)."""
    serial = card.serial_number
    code_url, resend_url, start_url = (
        reverse(name, kwargs={"card": serial}) for name in CODE_URLS[purpose]
    )
    if purpose == Purpose.UNLOCK and not card.unlocks_with_puk:
        submit_label = _("Onayla ve Yeni PIN Oluştur")
    else:
        submit_label = _("Onayla")
    return stepup.CodeStep(
        purpose=purpose,
        session_key=SESSION_STEPUP,
        template="pinvault/code.html",
        subject=serial,
        op=f"{purpose}:{serial}",
        code_url=code_url,
        resend_url=resend_url,
        restart_url=start_url,
        submit_label=submit_label,
    )


def _code_page(
    request: CitizenRequest,
    card: AkisCard,
    purpose: Purpose,
    on_ok: Callable[[stepup.State], HttpResponse],
    heading: str,
) -> HttpResponse:
    """The SMS Onay Kodu page of a step-up: a right code gives the grant, then ``on_ok``."""
    step = _step(card, purpose)

    @sensitive_variables()
    def on_success(state: stepup.State, citizen: Citizen) -> HttpResponse:
        _give_grant(request, card.serial_number)
        return on_ok(state)

    context = {"card": card, "heading": heading, "cancel_url": step.restart_url}
    return stepup.code_page(request, step, on_success, context)


def _vault_status(card: AkisCard, stored: set[str] | None = None) -> dict[str, Any]:
    """Which secrets the vault holds; ``stored`` from ``_stored_by_card`` saves the query."""
    if stored is None:
        stored = services.stored_fields(card)
    return {
        "has_pin": VaultEntry.Field.PIN in stored,
        "has_puk": VaultEntry.Field.PUK in stored,
        "has_any": bool(stored & {VaultEntry.Field.PIN, VaultEntry.Field.PUK}),
        "deleted_at": card.secrets_deleted_at,
    }


def _pending_unlock(card: AkisCard) -> CardUnlock | None:
    return CardUnlock.objects.filter(card=card, applied_at__isnull=True).first()


def _stored_by_card(cards: list[AkisCard]) -> dict[int, set[str]]:
    """``services.stored_fields`` of every card in one query (row existence only, no secret)."""
    stored: dict[int, set[str]] = {card.pk: set() for card in cards}
    rows = VaultEntry.objects.filter(card__in=cards).values_list("card_id", "field")
    for card_id, field in rows:
        stored[card_id].add(field)
    return stored


# --- PIN/PUK Bilgisi ------------------------------------------------------------------------


@never_cache
@citizen_required
@require_GET
def pinpuk(request: CitizenRequest) -> HttpResponse:
    cards = list(AkisCard.objects.filter(citizen=request.citizen))
    stored = _stored_by_card(cards)
    rows = [{"card": card, **_vault_status(card, stored[card.pk])} for card in cards]
    return render(request, "pinvault/pinpuk_list.html", {"rows": rows})


@sensitive_variables()
def _show_secrets(
    request: HttpRequest, card: AkisCard, *, form: PdfPasswordForm | None = None, status: int = 200
) -> HttpResponse:
    revealed = services.reveal_secrets(card)
    fields = [name for name in ("pin", "puk") if getattr(revealed, name) is not None]
    if fields:
        services.record_viewed(
            card,
            actor=Actor.from_request(request),
            fields=fields,
            via="pinpuk",
            notify=_take_fresh(request, card.serial_number),
        )
    seconds = grant_seconds_left(request, card.serial_number)
    context = {
        "card": card,
        "revealed": revealed,
        "form": form or PdfPasswordForm(),
        "warnings_title": services.WARNINGS_TITLE,
        "warnings": services.warnings_for(card),
        "grant_seconds": seconds,
        "grant_countdown": countdown_text(seconds),
        "pending_unlock": _pending_unlock(card),
        **_vault_status(card),
    }
    return render(request, "pinvault/pinpuk_show.html", context, status=status)


@never_cache
@citizen_required
@require_http_methods(["GET", "POST"])
def pinpuk_card(request: CitizenRequest, card: str) -> HttpResponse:
    """GET: the PIN/PUK after a step-up, the step-up otherwise. POST: send the SMS code."""
    obj = _card(request, card)
    status_ = _vault_status(obj)
    error = None
    status = 200
    if request.method == "POST":
        if not status_["has_any"]:
            return redirect("pinvault:pinpuk_card", card=obj.serial_number)
        then = request.POST.get("then", "view")
        then = then if then in ("view", "delete") else "view"
        step = _step(obj, Purpose.PINPUK)
        sent = stepup.start(request, step, request.citizen, extra={"then": then})
        if not isinstance(sent, stepup.Refused):
            return sent
        error, status = sent
    elif status_["has_any"] and grant_seconds_left(request, obj.serial_number):
        return _show_secrets(request, obj)
    context = {
        "card": obj,
        "error": error,
        "warnings_title": services.WARNINGS_TITLE,
        "warnings": services.warnings_for(obj),
        **status_,
    }
    return render(request, "pinvault/pinpuk_start.html", context, status=status)


def _after_pinpuk_code(card: AkisCard) -> Callable[[stepup.State], HttpResponse]:
    def on_ok(state: stepup.State) -> HttpResponse:
        then = state.get("then", "view")
        return redirect(THEN.get(then, THEN["view"]), card=card.serial_number)

    return on_ok


@stepup.code_view
@citizen_required
def pinpuk_code(request: CitizenRequest, card: str) -> HttpResponse:
    obj = _card(request, card)
    heading = _("PIN/PUK Bilgisi için SMS Onay Kodu")
    return _code_page(request, obj, Purpose.PINPUK, _after_pinpuk_code(obj), heading)


@stepup.resend_view
@citizen_required
def pinpuk_code_resend(request: CitizenRequest, card: str) -> HttpResponse:
    return stepup.resend(request, _step(_card(request, card), Purpose.PINPUK))


def _grant_expired(request: HttpRequest, card: AkisCard) -> HttpResponse:
    messages.warning(
        request,
        _(
            "Güvenliğiniz için PIN/PUK bilgisine erişim süresi (30 dakika) doldu. Devam etmek için "
            "yeni bir SMS Onay Kodu isteyiniz."
        ),
    )
    return redirect("pinvault:pinpuk_card", card=card.serial_number)


@sensitive_post_parameters("password", "password2")
@sensitive_variables()
@never_cache
@citizen_required
@require_POST
def pinpuk_pdf(request: CitizenRequest, card: str) -> HttpResponse:
    """Parolalarımı Kaydet: the one-page PDF, optionally encrypted with the holder's password."""
    obj = _card(request, card)
    if not grant_seconds_left(request, obj.serial_number):
        return _grant_expired(request, obj)
    form = PdfPasswordForm(request.POST)
    if not form.is_valid():
        # The typed passwords are never echoed back.
        form.data = {}
        return _show_secrets(request, obj, form=form, status=400)
    try:
        data = services.save_pdf(
            obj, actor=Actor.from_request(request), password=form.cleaned_data["password"]
        )
    except services.PinVaultError as exc:
        messages.error(request, exc.message)
        return redirect("pinvault:pinpuk_card", card=obj.serial_number)
    response = HttpResponse(data, content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{services.pdf_filename(obj)}"'
    response["Pragma"] = "no-cache"
    return response


@never_cache
@citizen_required
@require_http_methods(["GET", "POST"])
def pinpuk_delete(request: CitizenRequest, card: str) -> HttpResponse:
    """Parolalarımı Sil: a confirmation that says it is final; the POST needs a fresh grant."""
    obj = _card(request, card)
    status_ = _vault_status(obj)
    if not status_["has_any"]:
        if obj.secrets_deleted_at:
            return redirect("pinvault:pinpuk_deleted", card=obj.serial_number)
        return redirect("pinvault:pinpuk_card", card=obj.serial_number)
    error = None
    status = 200
    if request.method == "POST":
        if not grant_seconds_left(request, obj.serial_number):
            messages.warning(
                request,
                _("PIN/PUK bilginizi silmek için önce SMS Onay Kodu ile onay vermeniz gerekir."),
            )
            return redirect("pinvault:pinpuk_delete", card=obj.serial_number)
        try:
            services.delete_secrets(obj, actor=Actor.from_request(request))
        except services.PinVaultError as exc:
            error, status = exc.message, 409
        else:
            _drop_grant(request, obj.serial_number)
            return redirect("pinvault:pinpuk_deleted", card=obj.serial_number)
    seconds = grant_seconds_left(request, obj.serial_number)
    context = {
        "card": obj,
        "error": error,
        "granted": bool(seconds),
        "pending_unlock": _pending_unlock(obj),
        **status_,
    }
    return render(request, "pinvault/delete_confirm.html", context, status=status)


@never_cache
@citizen_required
@require_GET
def pinpuk_deleted(request: CitizenRequest, card: str) -> HttpResponse:
    obj = _card(request, card)
    if obj.secrets_deleted_at is None:
        return redirect("pinvault:pinpuk_card", card=obj.serial_number)
    receipt = receipt_for(request.citizen, Receipt.Kind.PINPUK_DELETION, obj.serial_number)
    context = {"card": obj, "receipt": receipt, **_vault_status(obj)}
    return render(request, "pinvault/delete_done.html", context)


# --- Kilit Çözme ----------------------------------------------------------------------------


def _unlock_context(card: AkisCard) -> dict[str, Any]:
    """The unlock page's facts.

    What may be started is the card's answer (``AkisCard.allowed_actions``): Kilit Çözme on
    the portal for cards from 2011 on, showing the PUK for older ones.
    """
    stored = services.stored_fields(card)
    pending_unlock = _pending_unlock(card)
    actions = card.allowed_actions(stored, unlock_pending=pending_unlock is not None)
    return {
        "card": card,
        "rule": services.unlock_rule(card),
        "refusal": None if card.unlocks_with_puk else card.unlock_refusal(),
        "can_start": bool(actions & {CardAction.UNLOCK, CardAction.SHOW_PUK}),
        "pending_unlock": pending_unlock,
        "max_wrong_puk": MAX_WRONG_PUK,
        "puk_attempts_left": card.puk_attempts_left,
        **_vault_status(card, stored),
    }


@never_cache
@citizen_required
@require_GET
def unlock_list(request: CitizenRequest) -> HttpResponse:
    # The list shows each card's state and its unlock rule (from the production date): one
    # query. The vault and any pending unlock are read on the card's own page.
    cards = AkisCard.objects.filter(citizen=request.citizen)
    return render(request, "pinvault/unlock_list.html", {"cards": cards})


@sensitive_variables()
@never_cache
@citizen_required
@require_http_methods(["GET", "POST"])
def unlock_card(request: CitizenRequest, card: str) -> HttpResponse:
    """GET: the card's unlock rule (and its PUK after a step-up, for cards before 2011).
    POST: send the SMS code that confirms the unlock (or the PUK display)."""
    obj = _card(request, card)
    context = _unlock_context(obj)
    status = 200
    if request.method == "POST":
        if not context["can_start"]:
            context["error"] = context["refusal"] or _("Bu kart için bu işlem yapılamaz.")
            return render(request, "pinvault/unlock_card.html", context, status=409)
        step = _step(obj, Purpose.UNLOCK)
        sent = stepup.start(request, step, request.citizen, extra={"then": "unlock"})
        if not isinstance(sent, stepup.Refused):
            return sent
        context["error"], status = sent
    elif obj.unlocks_with_puk and grant_seconds_left(request, obj.serial_number):
        puk = services.reveal_secrets(obj).puk
        if puk is not None:
            services.record_viewed(
                obj,
                actor=Actor.from_request(request),
                fields=["puk"],
                via="unlock",
                notify=_take_fresh(request, obj.serial_number),
            )
        seconds = grant_seconds_left(request, obj.serial_number)
        context.update(
            puk=puk, show_puk=True, grant_seconds=seconds, grant_countdown=countdown_text(seconds)
        )
    return render(request, "pinvault/unlock_card.html", context, status=status)


@stepup.code_view
@citizen_required
def unlock_code(request: CitizenRequest, card: str) -> HttpResponse:
    obj = _card(request, card)

    @sensitive_variables()
    def on_ok(state: stepup.State) -> HttpResponse:
        if obj.unlocks_with_puk:
            return redirect("pinvault:unlock_card", card=obj.serial_number)
        try:
            result = services.unlock_card(obj, actor=Actor.from_request(request))
        except services.PinVaultError as exc:
            context = {**_unlock_context(obj), "error": exc.message}
            return render(request, "pinvault/unlock_card.html", context, status=409)
        # The new PIN goes into this response only; the grant lets the PDF button work.
        seconds = grant_seconds_left(request, obj.serial_number)
        context = {
            "card": obj,
            "new_pin": result.pin,
            "unlock": result.unlock,
            "form": PdfPasswordForm(),
            "grant_seconds": seconds,
            "grant_countdown": countdown_text(seconds),
        }
        return render(request, "pinvault/unlock_done.html", context)

    if obj.unlocks_with_puk:
        heading = _("PUK bilgisini görmek için SMS Onay Kodu")
    else:
        heading = _("Kilit Çözme için SMS Onay Kodu")
    return _code_page(request, obj, Purpose.UNLOCK, on_ok, heading)


@stepup.resend_view
@citizen_required
def unlock_code_resend(request: CitizenRequest, card: str) -> HttpResponse:
    return stepup.resend(request, _step(_card(request, card), Purpose.UNLOCK))
