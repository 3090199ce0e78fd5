"""Bilgi Güncelle, the rules: the citizen updates mobile phone, e-mail and postal address.

The forms are in ``accounts.forms``, the pages in ``accounts.views.profile``.

* Name, surname, T.C. Kimlik No / passport number and birth date come from the certificate
  application and are only shown here; its forms have no field for them, so a crafted
  POST cannot change them. The page says how to have them corrected.
* Address: saved at once; audited with before/after; an SMS notice goes to the registered mobile.
* Mobile phone: the new number takes effect only after the SMS Onay Kodu sent *to the new number*
  is typed in (purpose PHONE_CHANGE, subject = the new E.164 number, bound to this session), so
  whoever asks for the change must hold the new phone, and a code sent to the old number (a
  login code, say) can never confirm it. Wrong codes are strikes like any SMS code (3 → lock).
  The change (a ``ContactChange`` row) expires after 10 minutes. On success the citizen row is
  locked, the number set, the old number told (PHONE_CHANGED) and the new one greeted
  (CONTACT_UPDATED), all in one transaction.
* E-mail: a link with a random token (only its SHA-256 is stored) is mailed to the *new* address
  and is valid for 24 hours. Opening it (GET) only shows a confirmation button, so mail scanners
  that fetch links do not confirm anything; the POST confirms with a conditional UPDATE, so a link
  works once. The link works only for the same citizen, logged in: a link that leaks from a
  mailbox is useless without the security word and the SMS code. Someone who opens it logged out
  is sent to the login page with a message asking them to open the link again afterwards.
* Every change is a POST (CSRF), scoped to ``request.citizen``, and written to the audit log with
  before/after values (agents see them in admin, "Son bilgi değişiklikleri").
* Budgets (figures in ``nesportal/limits.py``), so the forms cannot be used to bomb a phone or a
  mailbox: codes to one *new* number, whoever asks, at most
  ``PHONE_CHANGE_CODES_PER_NUMBER_PER_DAY`` (on top of the citizen's own code budget); e-mail
  confirmations at most ``EMAIL_CONFIRMATIONS_PER_CITIZEN_PER_DAY`` per citizen and
  ``EMAIL_CONFIRMATIONS_PER_ADDRESS_PER_DAY`` per target address (case-insensitive, ``+tag``
  removed: :func:`email_budget_key`). Counted in the database under locks (the citizen's row;
  on PostgreSQL an advisory lock on the number or address, which several citizens may ask
  for), refused with a message on the form (429), no SMS or mail, nothing written, and audited
  as ``nes.sms.budget_exceeded`` / ``nes.email.budget_exceeded`` with the target masked.
  A confirmation mail the SMTP server refused costs nothing (its row is removed).
"""

from __future__ import annotations

import hashlib
import math
import secrets
import smtplib
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.mail import send_mail
from django.db import connection, transaction
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.debug import sensitive_variables

from audit.actor import Actor
from audit.log import record
from nesportal import limits
from nesportal.contact import CALL_CENTRE_PHONE
from nesportal.exceptions import PortalError

from .identity import mask_phone
from .models import (
    Citizen,
    ContactChange,
    SmsChallenge,
    SmsMessage,
)
from .otp import SmsRateLimited, budget_wait, issue_challenge
from .sms_queue import queue_sms
from .tokens import token_hash

PHONE_LIFETIME = timedelta(minutes=10)
EMAIL_LIFETIME = timedelta(hours=24)
ADDRESS_MAX_LENGTH = 500


class ContactChangeError(PortalError):
    """The contact change cannot be done or confirmed; ``message`` is for the citizen."""


class EmailBudgetExceeded(ContactChangeError):
    """No confirmation mail: the citizen's or the address's daily budget is used up."""

    def __init__(self, message: str, *, budget: str, limit: int, retry_after: int) -> None:
        super().__init__(message)
        self.budget = budget
        self.limit = limit
        self.retry_after = retry_after


DAY = timedelta(days=1)


def email_budget_key(address: str) -> str:
    """The mailbox an address reaches, for the per-address budget: case-insensitive and
    without a ``+tag`` (RFC 5233 subaddress), so ``Ad+1@X.com`` and ``ad+2@x.com`` are one."""
    local, _at, domain = address.strip().lower().rpartition("@")
    return f"{local.split('+', 1)[0]}@{domain}"[:254]


def mask_email(address: str) -> str:
    """``a***@ornek.com.tr``: enough for an agent to recognise, not the address itself."""
    local, _at, domain = address.rpartition("@")
    return f"{local[:1]}***@{domain}"


def _serialise_on(key: str) -> None:
    """Hold a transaction-scoped lock on ``key`` (a number or an address that several citizens
    may ask for, so no citizen row serialises them). SQLite serialises all writers anyway."""
    if connection.vendor != "postgresql":
        return
    digest = hashlib.sha256(f"nesportal.budget:{key}".encode()).digest()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_advisory_xact_lock(%s)", [int.from_bytes(digest[:8], "big", signed=True)]
        )


def _check_number_budget(citizen: Citizen, number: str, now: datetime) -> None:
    """Raise ``SmsRateLimited`` if the new number had its codes for the day (whoever asked).

    Call inside the transaction that sends the code: the lock on the number is held until it
    commits, so two citizens asking for one number at once cannot both get the last code."""
    _serialise_on(f"phone:{number}")
    window = SmsMessage.objects.filter(
        kind=SmsMessage.Kind.PHONE_CHANGE_CODE, to_number=number, created_at__gt=now - DAY
    ).exclude(status__in=SmsMessage.FREE_STATUSES)
    limit = limits.PHONE_CHANGE_CODES_PER_NUMBER_PER_DAY
    wait = budget_wait(window, limit, DAY, now)
    if wait is not None:
        raise SmsRateLimited(
            wait,
            hourly=True,
            budget="phone_number",
            limit=limit,
            citizen=citizen,
            to=mask_phone(number),
        )


def _check_email_budget(citizen: Citizen, key: str, now: datetime) -> None:
    """Raise ``EmailBudgetExceeded`` if the citizen or the address had their mails for the day
    (the caller holds the citizen's row lock; the address lock is taken here)."""
    _serialise_on(f"email:{key}")
    since = now - DAY
    mine = ContactChange.objects.filter(
        citizen=citizen, field=ContactChange.Field.EMAIL, created_at__gt=since
    )
    limit = limits.EMAIL_CONFIRMATIONS_PER_CITIZEN_PER_DAY
    wait = budget_wait(mine, limit, DAY, now)
    if wait is not None:
        hours = max(1, math.ceil(wait / 3600))
        raise EmailBudgetExceeded(
            ngettext(
                "Bir gün içinde en fazla %(limit)d e-posta onay bağlantısı gönderilebilir. "
                "Lütfen %(hours)d saat sonra yeniden deneyiniz.",
                "Bir gün içinde en fazla %(limit)d e-posta onay bağlantısı gönderilebilir. "
                "Lütfen %(hours)d saat sonra yeniden deneyiniz.",
                hours,
            )
            % {"limit": limit, "hours": hours},
            budget="email_citizen",
            limit=limit,
            retry_after=wait,
        )
    theirs = ContactChange.objects.filter(
        field=ContactChange.Field.EMAIL, target_key=key, created_at__gt=since
    )
    limit = limits.EMAIL_CONFIRMATIONS_PER_ADDRESS_PER_DAY
    wait = budget_wait(theirs, limit, DAY, now)
    if wait is not None:
        hours = max(1, math.ceil(wait / 3600))
        raise EmailBudgetExceeded(
            ngettext(
                "Bu e-posta adresine bir gün içinde en fazla %(limit)d onay bağlantısı "
                "gönderilebilir. Lütfen %(hours)d saat sonra yeniden deneyiniz ya da başka bir "
                "adres giriniz.",
                "Bu e-posta adresine bir gün içinde en fazla %(limit)d onay bağlantısı "
                "gönderilebilir. Lütfen %(hours)d saat sonra yeniden deneyiniz ya da başka bir "
                "adres giriniz.",
                hours,
            )
            % {"limit": limit, "hours": hours},
            budget="email_address",
            limit=limit,
            retry_after=wait,
        )


def open_changes(citizen: Citizen, field: str, now: datetime | None = None) -> Any:
    now = now or timezone.now()
    return ContactChange.objects.filter(
        citizen=citizen, field=field, confirmed_at=None, cancelled_at=None, expires_at__gt=now
    )


def change_address(citizen: Citizen, address: str, *, actor: Actor) -> None:
    with transaction.atomic():
        locked = Citizen.objects.select_for_update().get(pk=citizen.pk)
        before = locked.address
        locked.address = address
        locked.save(update_fields=["address", "updated_at"])
        record(
            "nes.profile.address_changed",
            citizen=locked,
            actor=actor,
            before=before,
            after=address,
        )
        queue_sms(
            locked,
            SmsMessage.Kind.CONTACT_UPDATED,
            actor=actor,
            context={"field": "address"},  # named by accounts.sms_texts.FIELDS
        )
    citizen.address = address


def start_phone_change(
    citizen: Citizen, number: str, *, actor: Actor
) -> tuple[ContactChange, SmsChallenge, str]:
    """Record the requested number and send its code to it. Raises ``SmsRateLimited`` (the
    number's daily budget or the citizen's code budget; nothing is written then)."""
    now = timezone.now()
    try:
        with transaction.atomic():
            _check_number_budget(citizen, number, now)
            open_changes(citizen, ContactChange.Field.PHONE, now).update(cancelled_at=now)
            challenge, binding = issue_challenge(
                citizen,
                SmsChallenge.Purpose.PHONE_CHANGE,
                subject=number,
                to=number,
                actor=actor,
                now=now,
            )
            change = _record_phone_change(citizen, number, challenge, actor=actor, now=now)
    except SmsRateLimited as exc:
        exc.audit(actor)  # after the rollback, so the audit event stays
        raise
    return change, challenge, binding


def _record_phone_change(
    citizen: Citizen,
    number: str,
    challenge: SmsChallenge,
    *,
    actor: Actor,
    now: datetime,
) -> ContactChange:
    change = ContactChange.objects.create(
        citizen=citizen,
        field=ContactChange.Field.PHONE,
        old_value=citizen.mobile_phone,
        new_value=number,
        challenge=challenge,
        created_at=now,
        expires_at=now + PHONE_LIFETIME,
    )
    record(
        "nes.profile.phone_change_requested",
        citizen=citizen,
        actor=actor,
        change=change.pk,
        before=citizen.mobile_phone,
        after=number,
    )
    return change


def confirm_phone_change(change_id: int, citizen: Citizen, *, actor: Actor) -> Citizen:
    """Make the new number the registered one (the caller has verified its code)."""
    now = timezone.now()
    with transaction.atomic():
        locked = Citizen.objects.select_for_update().get(pk=citizen.pk)
        change = (
            ContactChange.objects.select_for_update()
            .filter(pk=change_id, citizen=locked, field=ContactChange.Field.PHONE)
            .first()
        )
        if change is None or change.confirmed_at or change.cancelled_at:
            raise ContactChangeError(_("Bu numara değişikliği artık geçerli değil."))
        if change.expires_at <= now:
            raise ContactChangeError(
                _("Numara değişikliğinin süresi doldu. Lütfen yeniden başlatınız.")
            )
        before = locked.mobile_phone
        locked.mobile_phone = change.new_value
        locked.save(update_fields=["mobile_phone", "updated_at"])
        change.confirmed_at = now
        change.save(update_fields=["confirmed_at"])
        record(
            "nes.profile.phone_changed",
            citizen=locked,
            actor=actor,
            change=change.pk,
            before=before,
            after=locked.mobile_phone,
        )
        queue_sms(locked, SmsMessage.Kind.PHONE_CHANGED, actor=actor, to=before)
        queue_sms(
            locked,
            SmsMessage.Kind.CONTACT_UPDATED,
            actor=actor,
            to=locked.mobile_phone,
            context={"field": "phone"},  # named by accounts.sms_texts.FIELDS
        )
    return locked


def email_confirm_url(token: str) -> str:
    path = reverse("accounts:profile_email_confirm", args=[token])
    return settings.PORTAL_BASE_URL.rstrip("/") + path


@sensitive_variables("token", "body")
def start_email_change(citizen: Citizen, email: str, *, actor: Actor) -> ContactChange:
    """Record the requested address and mail it a confirmation link (valid 24 hours).

    Raises ``EmailBudgetExceeded`` (audited; nothing written, no mail) when the citizen's or the
    address's daily budget is used up."""
    now = timezone.now()
    token = secrets.token_urlsafe(32)
    key = email_budget_key(email)
    try:
        with transaction.atomic():
            Citizen.objects.select_for_update().only("pk").get(pk=citizen.pk)
            _check_email_budget(citizen, key, now)
            open_changes(citizen, ContactChange.Field.EMAIL, now).update(cancelled_at=now)
            change = ContactChange.objects.create(
                citizen=citizen,
                field=ContactChange.Field.EMAIL,
                old_value=citizen.email,
                new_value=email,
                token_hash=token_hash(token),
                target_key=key,
                created_at=now,
                expires_at=now + EMAIL_LIFETIME,
            )
    except EmailBudgetExceeded as exc:
        record(
            "nes.email.budget_exceeded",
            citizen=citizen,
            actor=actor,
            budget=exc.budget,
            limit=exc.limit,
            retry_after=exc.retry_after,
            to=mask_email(email),
        )
        raise
    with translation.override(citizen.language or "tr"):
        subject = _("NES Portal: e-posta adresinizi onaylayınız")
        body = _(
            "Sayın %(name)s,\n\n"
            "NES Portal hesabınız için bu e-posta adresi kayıt edilmek istendi. Onaylamak için "
            "aşağıdaki bağlantıyı açınız, NES Portal'a giriş yapmış olarak «Onayla» düğmesine "
            "basınız:\n\n%(url)s\n\n"
            "Bağlantı 24 saat geçerlidir ve yalnızca bir kez kullanılabilir.\n\n"
            "Bu isteği siz yapmadıysanız bu e-postayı dikkate almayınız; adresiniz "
            "değiştirilmeyecektir. Sorularınız için Çağrı Merkezi: %(phone)s\n\n"
            "NES Portal"
        ) % {"name": citizen.full_name, "url": email_confirm_url(token), "phone": CALL_CENTRE_PHONE}
    try:
        send_mail(subject, body, None, [email])
    except (smtplib.SMTPException, OSError):
        # Never delivered: no link exists, and the attempt costs no budget.
        ContactChange.objects.filter(pk=change.pk).delete()
        raise
    record(
        "nes.profile.email_change_requested",
        citizen=citizen,
        actor=actor,
        change=change.pk,
        before=citizen.email,
        after=email,
    )
    return change


def email_link_state(change: ContactChange, now: datetime) -> str:
    """Why this e-mail link can no longer confirm anything, for the citizen."""
    if change.confirmed_at:
        return _("Bu bağlantı daha önce kullanıldı; e-posta adresiniz zaten onaylandı.")
    if change.cancelled_at:
        return _(
            "Bu bağlantının yerine daha yeni bir onay bağlantısı gönderildi. Lütfen en son "
            "gelen e-postadaki bağlantıyı kullanınız."
        )
    return _(
        "Bu bağlantının süresi doldu (24 saat). Bilgi Güncelle sayfasından yeniden "
        "isteyebilirsiniz."
    )


def confirm_email_change(change: ContactChange, *, actor: Actor) -> Citizen:
    now = timezone.now()
    with transaction.atomic():
        locked = Citizen.objects.select_for_update().get(pk=change.citizen_id)
        # Conditional: a link works once, and not after it expired or was superseded.
        claimed = ContactChange.objects.filter(
            pk=change.pk, confirmed_at=None, cancelled_at=None, expires_at__gt=now
        ).update(confirmed_at=now)
        if not claimed:
            change.refresh_from_db()
            raise ContactChangeError(email_link_state(change, now))
        before = locked.email
        locked.email = change.new_value
        locked.save(update_fields=["email", "updated_at"])
        record(
            "nes.profile.email_changed",
            citizen=locked,
            actor=actor,
            change=change.pk,
            before=before,
            after=locked.email,
        )
        queue_sms(
            locked,
            SmsMessage.Kind.CONTACT_UPDATED,
            actor=actor,
            context={"field": "email"},  # named by accounts.sms_texts.FIELDS
        )
    return locked


def new_phone_code(change: ContactChange, *, actor: Actor) -> tuple[SmsChallenge, str]:
    """A new code for the same change (resend): the number's budget first, then the citizen's
    code budget; the change names the new challenge. The 10 minutes still count from the
    request, not from this code."""
    citizen = change.citizen
    try:
        with transaction.atomic():
            _check_number_budget(citizen, change.new_value, timezone.now())
            challenge, binding = issue_challenge(
                citizen,
                SmsChallenge.Purpose.PHONE_CHANGE,
                subject=change.new_value,
                to=change.new_value,
                actor=actor,
            )
            ContactChange.objects.filter(pk=change.pk).update(challenge=challenge)
    except SmsRateLimited as exc:
        exc.audit(actor)  # after the rollback, so the audit event stays
        raise
    return challenge, binding


def cancel_phone_change(change: ContactChange) -> None:
    """The citizen gave up: the change and its open code can no longer confirm anything."""
    now = timezone.now()
    ContactChange.objects.filter(pk=change.pk, confirmed_at=None).update(cancelled_at=now)
    if change.challenge_id is not None:  # None matched no challenge anyway
        SmsChallenge.objects.filter(
            pk=change.challenge_id, consumed_at=None, invalidated_at=None
        ).update(invalidated_at=now)
