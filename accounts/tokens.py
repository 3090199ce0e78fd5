"""Tokens that travel once, by SMS or e-mail, and are stored only as their SHA-256.

* :func:`token_hash`: what the database keeps of a link token (e-mail confirmation, agent
  reset link), so a database dump opens nothing.
* The "Bu işlemi ben yapmadım" link of a notice (``NotMeLink``): 128 bits, the first 16 bytes of
  HMAC(server key, link id ‖ created_at) in base64url (22 characters, the shortest text that
  keeps 128 bits in a URL), derived when the link is made and again when the SMS is rendered
  (:func:`not_me_sms_url`); :func:`open_not_me_link` finds the open link for a token.
* The agent's security-word reset link: its token is HMAC(server key, link id ‖ created_at),
  derived when the link is made (to store its hash) and again when the SMS is rendered
  (:func:`reset_link_sms_url`); it is never stored. :func:`open_reset_link` finds the open
  link for a token (unused, unexpired), comparing in constant time.

Nothing here queues or sends anything, so the SMS texts (``accounts.sms_texts``) can use it.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib

from django.conf import settings
from django.urls import reverse
from django.utils import timezone
from django.utils.crypto import constant_time_compare, salted_hmac

from .models import NotMeLink, WordResetLink

LINK_SALT = "nesportal.accounts.reset-link"
NOT_ME_SALT = "nesportal.accounts.not-me-link"
NOT_ME_TOKEN_LENGTH = 22  # 16 bytes in unpadded base64url


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def reset_link_token(link: WordResetLink) -> str:
    created = link.created_at.astimezone(dt.UTC).isoformat(timespec="microseconds")
    return salted_hmac(LINK_SALT, f"{link.pk}:{created}", algorithm="sha256").hexdigest()


def reset_link_sms_url(link_id: int | str) -> str | None:
    """The absolute URL for the SMS, or None if the link is used or expired (then no SMS)."""
    try:
        link = WordResetLink.objects.filter(pk=int(link_id)).first()
    except (TypeError, ValueError):
        return None
    if link is None or link.used_at is not None or link.expires_at <= timezone.now():
        return None
    path = reverse("accounts:reset_link", args=[reset_link_token(link)])
    return settings.PORTAL_BASE_URL.rstrip("/") + path


def open_reset_link(token: str, *, now: dt.datetime | None = None) -> WordResetLink | None:
    """The open link for ``token`` (unused, unexpired), or None."""
    now = now or timezone.now()
    if not token or len(token) > 128:
        return None
    link = (
        WordResetLink.objects.select_related("citizen", "created_by")
        .filter(token_hash=token_hash(token))
        .first()
    )
    if link is None or not constant_time_compare(reset_link_token(link), token):
        return None
    if link.used_at is not None or link.expires_at <= now:
        return None
    return link


def not_me_token(link: NotMeLink) -> str:
    created = link.created_at.astimezone(dt.UTC).isoformat(timespec="microseconds")
    digest = salted_hmac(NOT_ME_SALT, f"{link.pk}:{created}", algorithm="sha256").digest()
    return base64.urlsafe_b64encode(digest[:16]).rstrip(b"=").decode()


def not_me_sms_url(link_id: int | str) -> str | None:
    """The absolute URL of the link for a notice, or None if it is used or expired (then the
    notice goes without it)."""
    try:
        link = NotMeLink.objects.filter(pk=int(link_id)).first()
    except (TypeError, ValueError):
        return None
    if link is None or link.used_at is not None or link.expires_at <= timezone.now():
        return None
    path = reverse("protection:open", args=[not_me_token(link)])
    return settings.PORTAL_BASE_URL.rstrip("/") + path


def open_not_me_link(token: str, *, now: dt.datetime | None = None) -> NotMeLink | None:
    """The link for ``token`` whatever its state (the caller tells used and expired apart), or
    None for a token that names no link."""
    if not token or len(token) != NOT_ME_TOKEN_LENGTH:
        return None
    link = NotMeLink.objects.select_related("citizen").filter(token_hash=token_hash(token)).first()
    if link is None or not constant_time_compare(not_me_token(link), token):
        return None
    return link
