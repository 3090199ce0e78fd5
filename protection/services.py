""" "Bu işlemi ben yapmadım": what one click on a notice's link does (``accounts.NotMeLink``).

Whoever holds the notice SMS can only *protect* the holder, never harm them irreversibly:

* every **active** certificate of the holder is suspended (certificateHold, ``by`` the holder,
  so the holder lifts it with Askıdan İndir after logging in) — never revoked; pending,
  suspended, revoked and expired ones are left as they are;
* every session of the holder ends (``Citizen.session_epoch``: their session hash changes);
* open SMS Onay Kodları, security-word reset links and unconfirmed contact changes are void;
* the event is audited (``nes.notme.protected``: the call centre sees it on the citizen's page
  and in Hesap Hareketlerim) and the holder gets one ``ACCOUNT_PROTECTED`` SMS (the single
  suspensions send none of their own).

The link works once: it is claimed with a conditional UPDATE in the same transaction, so two
parallel clicks protect once and the second is told the link was used. Opening the link asks for
the holder's T.C. Kimlik No (and the captcha): a forwarded SMS alone does nothing. A wrong
identifier costs nobody a strike; it is audited (``nes.notme.identity_failed``) and the
request throttle (``link``) bounds guessing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.crypto import constant_time_compare
from django.utils.translation import gettext_lazy

from accounts.models import (
    Citizen,
    ContactChange,
    NotMeLink,
    SmsChallenge,
    SmsMessage,
    WordResetLink,
)
from accounts.sms_queue import queue_sms
from audit.actor import Actor
from audit.log import record
from certificates.models import Certificate, CertificateError
from certificates.services import suspend_certificate
from nesportal.exceptions import PortalError

SUSPENSION_REASON = "Bu işlemi ben yapmadım"


MISMATCH = gettext_lazy(
    "Girdiğiniz kimlik numarası bu bildirimin gönderildiği kişiye ait değil. Bildirimi alan "
    "sertifika sahibinin T.C. Kimlik No'sunu ya da Pasaport No'sunu giriniz."
)


class LinkUnusable(PortalError):
    """The link was used already (``used``) or has expired (``expired``): ``reason`` (also the
    ``code``) chooses the page's text."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason, code=reason)
        self.reason = reason


class IdentityMismatch(PortalError):
    """The identifier given is not the link's holder's (the message never repeats it)."""

    def __init__(self) -> None:
        super().__init__(MISMATCH, code="identity")


@dataclass(frozen=True)
class Protected:
    """What the click did: the certificates it suspended (serials), when."""

    serials: tuple[str, ...]
    at: datetime


def usable(link: NotMeLink, now: datetime | None = None) -> str:
    """``""`` if the link can still be used, else ``"used"`` or ``"expired"``."""
    now = now or timezone.now()
    if link.used_at is not None:
        return "used"
    if link.expires_at <= now:
        return "expired"
    return ""


def protect_account(
    link: NotMeLink, *, identifier: str, actor: Actor, now: datetime | None = None
) -> Protected:
    """Check the identifier, claim the link and protect the account (module docstring).

    Raises :class:`IdentityMismatch` (nothing changed; audited) or :class:`LinkUnusable`."""
    now = now or timezone.now()
    citizen = link.citizen
    if not constant_time_compare(identifier, citizen.identifier):
        record("nes.notme.identity_failed", actor=actor, citizen=citizen, link=link.pk)
        raise IdentityMismatch
    with transaction.atomic():
        claimed = NotMeLink.objects.filter(pk=link.pk, used_at=None, expires_at__gt=now).update(
            used_at=now
        )
        if not claimed:
            link.refresh_from_db()
            raise LinkUnusable(usable(link, now) or "used")
        # The UPDATE locks the citizen's row until the commit.
        Citizen.objects.filter(pk=citizen.pk).update(session_epoch=F("session_epoch") + 1)
        serials = _suspend_active(citizen, actor=actor, now=now)
        _void_open_codes_and_links(citizen, now)
        record(
            "nes.notme.protected",
            actor=actor,
            citizen=citizen,
            link=link.pk,
            notice=link.kind,
            suspended=list(serials),
        )
        queue_sms(
            citizen,
            SmsMessage.Kind.ACCOUNT_PROTECTED,
            actor=actor,
            context={"count": str(len(serials))},
        )
    return Protected(serials, now)


def _suspend_active(citizen: Citizen, *, actor: Actor, now: datetime) -> tuple[str, ...]:
    suspended = []
    active = Certificate.objects.filter(
        citizen=citizen, status=Certificate.Status.ACTIVE, not_after__gt=now
    ).order_by("not_after")
    for cert in active:
        try:
            suspend_certificate(
                cert, citizen=citizen, actor=actor, reason=SUSPENSION_REASON, notify=False
            )
        except CertificateError:
            continue  # changed meanwhile (suspended, revoked, expired): nothing to protect
        suspended.append(cert.serial_number)
    return tuple(suspended)


def _void_open_codes_and_links(citizen: Citizen, now: datetime) -> None:
    SmsChallenge.objects.filter(citizen=citizen, consumed_at=None, invalidated_at=None).update(
        invalidated_at=now
    )
    WordResetLink.objects.filter(citizen=citizen, used_at=None, expires_at__gt=now).update(
        expires_at=now
    )
    ContactChange.objects.filter(
        citizen=citizen, confirmed_at=None, cancelled_at=None, expires_at__gt=now
    ).update(cancelled_at=now)
