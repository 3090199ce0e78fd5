"""The receipt of an irreversible action: a reference the citizen can quote, and its facts.

A ``Receipt`` row is written in the transaction of the action it records
(``receipts.services.issue_receipt``), so it exists if and only if the action committed. Its
``facts`` are the non-secret identifiers and outcomes of the action (a serial, a card serial,
an application number, a decision, a reason code, times); never a PIN, a PUK or a code. The
PDF is not stored: it is drawn from the row (plus, for a revocation, the CRL and OCSP facts
that become known after the commit) each time it is downloaded.

References look like ``NES-2026-7K3M-9QXD``: the year (Europe/Istanbul) and eight characters of
Crockford's base 32 alphabet (no I, L, O, U: nothing to misread on the phone), seven of them
from ``secrets`` (35 bits) and the last a Luhn mod 32 check character over the year and those
seven, so a mistyped character or two swapped neighbours (but 0 and Z) are caught before any
lookup. They are unique (database constraint; a collision draws again) and never reveal how
many receipts exist.
"""

from __future__ import annotations

import secrets
from datetime import datetime

from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford's base 32
RANDOM_CHARACTERS = 7
REFERENCE_REGEX = r"^NES-[0-9]{4}-[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}$"
# What a person may type for a character of the alphabet (Crockford: O is 0, I and L are 1).
_READ_AS = str.maketrans({"O": "0", "I": "1", "L": "1"})


def check_character(payload: str) -> str:
    """The Luhn mod 32 check character of ``payload`` (characters of ``ALPHABET``).

    Catches every single wrong character and every swap of two neighbours except 0 ↔ Z (the
    one pair Luhn mod N cannot see).
    """
    total = 0
    factor = 2
    for char in reversed(payload):
        addend = factor * ALPHABET.index(char)
        total += addend // len(ALPHABET) + addend % len(ALPHABET)
        factor = 1 if factor == 2 else 2
    return ALPHABET[(len(ALPHABET) - total % len(ALPHABET)) % len(ALPHABET)]


def make_reference(now: datetime | None = None) -> str:
    """A new random reference for a receipt made at ``now`` (uniqueness: the caller's table)."""
    year = f"{timezone.localtime(now or timezone.now()).year:04d}"
    body = "".join(secrets.choice(ALPHABET) for _ in range(RANDOM_CHARACTERS))
    body += check_character(year + body)
    return f"NES-{year}-{body[:4]}-{body[4:]}"


def normalize_reference(value: str) -> str | None:
    """A reference as typed (any case, O for 0, I or L for 1, spaces) in its canonical form,
    or None if it is not one (wrong shape or wrong check character)."""
    value = "".join(value.split()).upper()
    parts = value.split("-")
    if len(parts) != 4 or parts[0] != "NES" or not parts[1].isdigit() or len(parts[1]) != 4:
        return None
    body = (parts[2] + parts[3]).translate(_READ_AS)
    if len(parts[2]) != 4 or len(parts[3]) != 4 or any(c not in ALPHABET for c in body):
        return None
    if check_character(parts[1] + body[:-1]) != body[-1]:
        return None
    return f"NES-{parts[1]}-{body[:4]}-{body[4:]}"


class Receipt(models.Model):
    class Kind(models.TextChoices):
        REVOCATION = "revocation", _("Sertifika iptali")
        PINPUK_DELETION = "pinpuk_deletion", _("PIN/PUK bilgisinin silinmesi")
        EONAY_DECISION = "eonay_decision", _("E-Onay kararı")

    reference = models.CharField(_("makbuz numarası"), max_length=18, unique=True, editable=False)
    citizen = models.ForeignKey(
        "accounts.Citizen",
        verbose_name=_("vatandaş"),
        on_delete=models.PROTECT,
        related_name="receipts",
    )
    kind = models.CharField(_("işlem"), max_length=20, choices=Kind.choices)
    # What the action was about: the certificate serial, the card serial or the application
    # number (the done pages find their receipt by it).
    subject = models.CharField(_("konu"), max_length=64)
    created_at = models.DateTimeField(_("işlem zamanı"), default=timezone.now, editable=False)
    facts = models.JSONField(_("bilgiler"), default=dict, editable=False)

    class Meta:
        verbose_name = _("işlem makbuzu")
        verbose_name_plural = _("işlem makbuzları")
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["citizen", "kind", "subject"], name="receipt_citizen_subject"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(reference__regex=REFERENCE_REGEX), name="receipt_reference_format"
            ),
            models.CheckConstraint(
                condition=Q(kind__in=["revocation", "pinpuk_deletion", "eonay_decision"]),
                name="receipt_kind_valid",
            ),
        ]

    def __str__(self) -> str:
        return self.reference
