"""Shared pieces of the SMS Onay Kodu step (login, recovery, phone change and the step-ups).

Every page that asks for an SMS code verifies it with :func:`accounts.otp.verify_code`, turns a
failed :class:`~accounts.otp.Outcome` into an error on the form's ``code`` field and renders
``templates/accounts/_code_form.html`` with a countdown and a "Yeni kod gönder" button. The
views keep their own handling of ``OK``, ``LOCKED`` and (where it differs) ``INVALID``; the
helpers here only cover what is the same everywhere.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from django import forms
from django.utils import timezone
from django.utils.translation import gettext, gettext_lazy

from .models import SmsChallenge
from .otp import Outcome, SmsRateLimited, Verification

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
    :data:`CODE_ERRORS` (``invalid_message`` replaces the INVALID one). Returns whether the page
    should offer a new code instead of the countdown: true for EXPIRED, USED and INVALID. OK and
    LOCKED are the views' business and add nothing.
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
    """The template context of ``accounts/_code_form.html`` for a step-up code page.

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
