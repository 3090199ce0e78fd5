"""Tokens that travel once, by SMS or e-mail, and are stored only as their SHA-256.

* :func:`token_hash`: what the database keeps of a link token (e-mail confirmation, agent
  reset link), so a database dump opens nothing.
* The agent's security-word reset link: its token is HMAC(server key, link id ‖ created_at),
  derived when the link is made (to store its hash) and again when the SMS is rendered
  (:func:`reset_link_sms_url`); it is never stored. :func:`open_reset_link` finds the open
  link for a token (unused, unexpired), comparing in constant time.

Nothing here queues or sends anything, so the SMS texts (``accounts.sms_texts``) can use it.
"""

from __future__ import annotations

import datetime as dt
import hashlib

from django.conf import settings
from django.urls import reverse
from django.utils import timezone
from django.utils.crypto import constant_time_compare, salted_hmac

from .models import WordResetLink

LINK_SALT = "nesportal.accounts.reset-link"


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
