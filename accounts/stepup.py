"""The SMS Onay Kodu step: one engine for the seven flows that confirm something with a code.

Login, Güvenlik Sözcüğümü Unuttum, the new mobile number, Sertifikamı İptal Et, PIN/PUK Bilgisi,
Kilit Çözme and E-Onay each describe their step with a :class:`CodeStep` (what the code is for,
what it confirms, where its pages are) and keep only their own success action. This module owns
everything else: the session state, sending, reuse on a double click, resend, verifying and
every outcome. The code itself (derivation, budgets, strikes, the lock) is ``accounts.otp``.

Rules, the same in every flow
-----------------------------
* **State.** The pending step lives in the session under ``step.session_key``: the operation
  it is for (``op``), the citizen, the challenge id, the binding token that ties the challenge
  to this session, when it started, and the flow's own ``extra`` data. It is valid for
  ``step.max_age`` seconds and only for exactly ``step.op`` (a code page of another card,
  certificate or decision finds nothing) and, for a logged-in citizen, only for that citizen.
* **Starting twice (a double click, a second tab or device).** A code that is still open in
  this session for the same operation is used again: no second SMS. Failing that, a code of the
  same purpose and subject sent less than 60 s ago (the resend window) is moved to this session
  (``otp.rebind_recent_challenge``); the other session's copy stops working. Only then is a new
  SMS sent, within the budgets of ``accounts.otp``.
* **Resend** ("Yeni kod gönder") always asks for a new code; the budgets decide.
* **Outcomes.** OK: the state is removed, then the flow's success action runs. WRONG: the form
  says how many attempts are left; the code stays open. EXPIRED and USED: the form says so and
  offers a new code; the state stays (resend works). LOCKED: the state is removed and the
  citizen sees the lock page. INVALID (the session's challenge is not this operation's: taken
  over by a newer session, or state that does not match): the state is removed and the citizen
  starts again from ``step.restart_url`` with the flow's message — a code that is not this
  operation's never confirms it, and nothing more can be tried with that state.
* **Secrets.** The code pages are wrapped in :func:`code_view` (``sensitive_post_parameters``,
  ``sensitive_variables``, ``never_cache``); the session holds a binding token, never a code.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from functools import wraps
from typing import TYPE_CHECKING, Any, NamedTuple

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext, gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters, sensitive_variables
from django.views.decorators.http import require_http_methods, require_POST

from audit.actor import Actor

from .forms import CodeForm
from .identity import mask_phone
from .language import remember_language
from .models import Citizen, SmsChallenge
from .otp import (
    Outcome,
    SmsRateLimited,
    Verification,
    issue_challenge,
    rebind_recent_challenge,
    verify_code,
)
from .sms_queue import SmsUnavailable

if TYPE_CHECKING:
    from django_stubs_ext import StrPromise

CODE_ERRORS: dict[Outcome, StrPromise] = {
    Outcome.EXPIRED: gettext_lazy("SMS Onay Kodunun süresi doldu. Yeni kod isteyiniz."),
    Outcome.USED: gettext_lazy("Bu SMS Onay Kodu artık geçerli değil. Yeni kod isteyiniz."),
    Outcome.INVALID: gettext_lazy(
        "Bu SMS Onay Kodu bu işlem için geçerli değil. Yeni kod isteyiniz."
    ),
}
"""The form error for each outcome that ends the challenge (a new code has to be asked for)."""

# The broker (Redis) could not take the SMS (accounts.sms_queue.SmsUnavailable): nothing was
# sent and nothing is left, so the citizen simply tries again.
SMS_UNAVAILABLE = gettext_lazy("SMS gönderilemedi, lütfen tekrar deneyiniz.")
RESTART_DEFAULT = gettext_lazy(
    "Onay işleminin süresi doldu ya da başlatılmadı. Lütfen yeniden deneyiniz."
)
NEW_CODE_SENT = gettext_lazy("Yeni SMS Onay Kodu gönderildi.")

# (citizen, actor) -> (challenge, binding token); raises SmsRateLimited / SmsUnavailable.
Issuer = Callable[[Citizen, Actor], tuple[SmsChallenge, str]]
State = dict[str, Any]
OnSuccess = Callable[[State, Citizen], HttpResponse]


@dataclass(frozen=True)
class CodeStep:
    """One SMS-code flow: what the code is for and where its pages are.

    ``subject`` is part of the code's derivation (a serial, the new number, ``app:<id>:…``), so a
    code for one thing cannot confirm another; ``op`` is what the session state must name
    (defaults to ``subject``). ``anonymous`` flows (login, recovery) run before the citizen is
    logged in: the citizen comes from the state. ``to`` sends the code to another number than
    the registered one (the new mobile number). ``issue`` replaces the plain
    ``otp.issue_challenge`` when sending needs more (the new number's own budget).
    """

    purpose: str
    session_key: str
    template: str
    code_url: str
    resend_url: str
    restart_url: str
    subject: str = ""
    op: str = ""
    anonymous: bool = False
    to: str | None = None
    max_age: int = 10 * 60
    restart_message: StrPromise | str = RESTART_DEFAULT
    invalid_message: StrPromise | str = CODE_ERRORS[Outcome.INVALID]
    submit_label: StrPromise | str = gettext_lazy("Onayla")
    issue: Issuer | None = field(default=None, compare=False)

    @property
    def operation(self) -> str:
        return self.op or self.subject or self.purpose

    def send(self, citizen: Citizen, actor: Actor) -> tuple[SmsChallenge, str]:
        if self.issue is not None:
            return self.issue(citizen, actor)
        return issue_challenge(citizen, self.purpose, subject=self.subject, to=self.to, actor=actor)


class Refused(NamedTuple):
    """No code was sent: what the citizen reads, and the HTTP status of the page that says it."""

    message: str
    status: int


# --- decorators ------------------------------------------------------------------------------


def code_view(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """A code page (GET shows it, POST verifies): the typed code never reaches an error report
    and the page is never cached. Put it outermost, above ``citizen_required``/``throttled``."""

    @sensitive_post_parameters("code")
    @sensitive_variables()
    @never_cache
    @require_http_methods(["GET", "POST"])
    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        return view(request, *args, **kwargs)

    return wrapper


def resend_view(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """A "Yeni kod gönder" endpoint: POST only (CSRF), never cached."""

    @never_cache
    @require_POST
    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        return view(request, *args, **kwargs)

    return wrapper


# --- state -----------------------------------------------------------------------------------


def stored(request: HttpRequest, session_key: str, max_age: int = 10 * 60) -> State | None:
    """The state under ``session_key`` if it is fresh (an old one is removed), whatever its op.
    For flows that must read the state before they know the step (the new mobile number)."""
    state = request.session.get(session_key)
    if not isinstance(state, dict) or time.time() - state.get("since", 0) > max_age:
        request.session.pop(session_key, None)
        return None
    return state


def pending(request: HttpRequest, step: CodeStep) -> State | None:
    """This session's state for exactly ``step``'s operation (and citizen), or None."""
    state = stored(request, step.session_key, step.max_age)
    if state is None or state.get("op") != step.operation:
        return None
    citizen = getattr(request, "citizen", None)
    if not step.anonymous and (citizen is None or state.get("citizen") != citizen.pk):
        return None
    return state


def clear(request: HttpRequest, step: CodeStep) -> None:
    request.session.pop(step.session_key, None)


def _challenge(state: State | None) -> SmsChallenge | None:
    if not state or not state.get("challenge"):
        return None
    return SmsChallenge.objects.select_related("citizen").filter(pk=state["challenge"]).first()


def _save(
    request: HttpRequest,
    step: CodeStep,
    citizen: Citizen,
    challenge: SmsChallenge,
    token: str,
    extra: Mapping[str, Any],
    since: int | None = None,
) -> None:
    request.session[step.session_key] = {
        **extra,
        "op": step.operation,
        "citizen": citizen.pk,
        "challenge": str(challenge.pk),
        "binding": token,
        "since": since or int(time.time()),
    }


def refusal(exc: SmsRateLimited | SmsUnavailable) -> Refused:
    if isinstance(exc, SmsRateLimited):
        return Refused(exc.message, 429)
    return Refused(str(SMS_UNAVAILABLE), 503)


# --- sending ---------------------------------------------------------------------------------


def start(
    request: HttpRequest,
    step: CodeStep,
    citizen: Citizen,
    *,
    extra: Mapping[str, Any] | None = None,
) -> HttpResponse | Refused:
    """Send the step's code (or reuse one, see the module rules) and go to the code page.

    ``extra`` is the flow's own data, kept in the state (and updated on reuse). Returns the
    redirect, or :class:`Refused` when a budget or the broker refused the SMS (nothing changed).
    """
    extra = dict(extra or {})
    state = pending(request, step)
    challenge = _challenge(state)
    if state is not None and challenge is not None and challenge.is_open():
        state.update(extra)
        request.session[step.session_key] = state
        return redirect(step.code_url)
    if step.anonymous:
        # Not logged in yet: the code SMS comes in the language of this page.
        remember_language(citizen)
    moved = rebind_recent_challenge(citizen, step.purpose, subject=step.subject)
    if moved is None:
        try:
            moved = step.send(citizen, Actor.from_request(request))
        except (SmsRateLimited, SmsUnavailable) as exc:
            return refusal(exc)
    _save(request, step, citizen, *moved, extra)
    return redirect(step.code_url)


def restart(request: HttpRequest, step: CodeStep, message: Any = None) -> HttpResponse:
    """Back to the flow's start with a note why. Only this operation's state is removed: a
    pending step of another card or certificate in the same session stays."""
    if pending(request, step) is not None:
        clear(request, step)
    messages.warning(request, message or step.restart_message)
    return redirect(step.restart_url)


def resend(request: HttpRequest, step: CodeStep) -> HttpResponse:
    """ "Yeni kod gönder": a new code for the pending step (budgets permitting)."""
    state = pending(request, step)
    if state is None:
        return restart(request, step)
    citizen = Citizen.objects.filter(pk=state["citizen"], locked_at=None).first()
    if citizen is None:
        clear(request, step)
        return redirect("accounts:locked")
    try:
        challenge, token = step.send(citizen, Actor.from_request(request))
    except (SmsRateLimited, SmsUnavailable) as exc:
        messages.error(request, refusal(exc).message)
    else:
        # The flow's time box counts from its start, not from the last resend.
        _save(request, step, citizen, challenge, token, state, since=state["since"])
        messages.success(request, NEW_CODE_SENT)
    return redirect(step.code_url)


# --- the code page ---------------------------------------------------------------------------


def code_page(
    request: HttpRequest,
    step: CodeStep,
    on_success: OnSuccess,
    context: Mapping[str, Any] | None = None,
) -> HttpResponse:
    """The code page of ``step``: GET shows it, POST verifies and acts on the outcome (module
    rules). ``on_success(state, citizen)`` runs after a right code, with the state removed."""
    state = pending(request, step)
    challenge = _challenge(state)
    if state is None or challenge is None:
        return restart(request, step)

    form = CodeForm(request.POST or None)
    status = 200
    offer_new_code = False
    if request.method == "POST":
        status = 400
        if form.is_valid():
            result = verify_code(
                state["challenge"],
                state["binding"],
                step.purpose,
                form.cleaned_data["code"],
                subject=step.subject,
                actor=Actor.from_request(request),
            )
            if result.outcome is Outcome.OK:
                assert result.citizen is not None
                clear(request, step)
                return on_success(state, result.citizen)
            if result.outcome is Outcome.LOCKED:
                # The middleware also ends the session of a locked citizen on the next request.
                clear(request, step)
                return redirect("accounts:locked")
            if result.outcome is Outcome.INVALID:
                return restart(request, step, step.invalid_message)
            offer_new_code = add_outcome_error(form, result)
            challenge.refresh_from_db()
        form.data = {}

    masked = mask_phone(step.to) if step.to else challenge.citizen.masked_phone
    page = {
        **(context or {}),
        "form": form,
        "code_url": step.code_url,
        "resend_url": step.resend_url,
        "submit_label": step.submit_label,
        **code_step_context(challenge, masked_phone=masked, offer_new_code=offer_new_code),
    }
    return render(request, step.template, page, status=status)


# --- the pieces of the page -----------------------------------------------------------------


def rate_limit_message(exc: SmsRateLimited) -> str:
    """What the citizen reads when a budget refuses a code SMS. The budget knows its own
    figures (``nesportal/limits.py``): :attr:`accounts.otp.SmsRateLimited.message`."""
    return exc.message


def wrong_code_message(attempts_left: int) -> str:
    """The form error for a wrong code that leaves the challenge open."""
    return gettext("SMS Onay Kodu hatalı. Kalan deneme hakkınız: %(left)d.") % {
        "left": attempts_left
    }


def add_outcome_error(
    form: forms.Form, result: Verification, *, invalid_message: Any = None
) -> bool:
    """Add the error for a failed verification to the form's ``code`` field.

    WRONG adds the remaining attempts; EXPIRED, USED and INVALID add the message from
    :data:`CODE_ERRORS` (``invalid_message`` replaces the INVALID one, for a flow not yet on
    :func:`code_page`). Returns whether the page should offer a new code instead of the
    countdown: true for EXPIRED, USED and INVALID. OK and LOCKED add nothing.
    """
    outcome = result.outcome
    if outcome is Outcome.WRONG:
        form.add_error("code", wrong_code_message(result.attempts_left))
        return False
    if outcome is Outcome.INVALID and invalid_message is not None:
        form.add_error("code", invalid_message)
        return True
    if outcome in CODE_ERRORS:
        form.add_error("code", CODE_ERRORS[outcome])
        return True
    return False


def seconds_left(challenge: SmsChallenge | None, now: datetime) -> int:
    """Whole seconds until the challenge expires; 0 if it is missing or no longer open."""
    if challenge is None or not challenge.is_open(now):
        return 0
    return max(0, int((challenge.expires_at - now).total_seconds()))


def resend_wait(challenge: SmsChallenge, now: datetime) -> int:
    """Whole seconds before a new code may be sent for this challenge (0 if already allowed)."""
    return max(0, int((challenge.created_at + SmsChallenge.RESEND_AFTER - now).total_seconds()))


def countdown_text(seconds: int) -> str:
    """``seconds`` as ``MM:SS`` (negative counts as zero), the text the countdown starts from."""
    return "{:02d}:{:02d}".format(*divmod(max(0, seconds), 60))


def code_step_context(
    challenge: SmsChallenge | None,
    *,
    masked_phone: str,
    offer_new_code: bool,
    now: datetime | None = None,
) -> dict[str, Any]:
    """The template context of ``accounts/_code_form.html``.

    ``offer_new_code`` is what :func:`add_outcome_error` returned (False on GET). A missing or
    closed challenge also offers a new code; the resend button waits only while the challenge is
    open and no new code is offered.
    """
    now = now or timezone.now()
    is_open = challenge is not None and challenge.is_open(now)
    left = seconds_left(challenge, now)
    return {
        "masked_phone": masked_phone,
        "seconds_left": left,
        "countdown_text": countdown_text(left),
        "resend_in": (
            resend_wait(challenge, now)
            if challenge is not None and is_open and not offer_new_code
            else 0
        ),
        "offer_new_code": offer_new_code or not is_open,
    }
