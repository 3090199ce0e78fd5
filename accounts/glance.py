"""The İşlemler Menüsü at a glance: what waits for the citizen, each a line with a link.

* the active certificate and its end date ("Sertifikanız 09.11.2029 tarihine kadar geçerli");
* E-Onay applications waiting for the citizen's decision;
* a new PIN (Kilit Çözme) waiting for the AKİS Kart İzleme Aracı to write it to the card;
* a new certificate waiting to be opened for use (pending);
* a suspended certificate;
* and, from ``EXPIRY_BANNER_DAYS`` days before the active certificate's notAfter, a banner.

Every count comes from **one** query (conditional aggregates over the citizen's certificates,
two scalar subqueries), so the menu costs the same queries whether the citizen holds one
certificate or a hundred (tests/accounts/test_menu_glance.py); only a due banner adds one query
(the certificate to link to). The
feature apps sit above accounts (import-linter's layers): their models are looked up by name,
their pages by URL name. Certificates past their notAfter count as nothing here.
"""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass, field
from typing import Any

from django.apps import apps
from django.db import connection
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext, ngettext

from .activity import LoginNote, as_datetime, login_note_from_row, login_note_params, login_note_sql
from .models import Citizen

EXPIRY_BANNER_DAYS = 90

# The feature apps' status values (their TextChoices, not importable from here).
ACTIVE, PENDING, SUSPENDED = "active", "pending", "suspended"
WAITING = "waiting"  # eonay.Application.Status.WAITING


@dataclass(frozen=True)
class Line:
    text: str
    url: str
    tone: str = ""  # "" or "warning": something the citizen should act on


@dataclass(frozen=True)
class Glance:
    lines: list[Line] = field(default_factory=list)
    banner: Line | None = None
    logins: LoginNote | None = None


@functools.cache
def _counts_sql() -> str:
    def table(app_label: str, model: str) -> str:
        return connection.ops.quote_name(apps.get_model(app_label, model)._meta.db_table)

    # One statement, written out: the same as ORM subqueries cost ~5 ms of Python per menu
    # page (bench/pages.py), nearly all of it compiling the query. Portable SQL (CASE, not
    # FILTER): PostgreSQL in production, SQLite for development. Only table names (from the
    # models) are formatted in; every value is a parameter.
    return f"""
        SELECT
            SUM(CASE WHEN status = %s THEN 1 ELSE 0 END),
            MAX(CASE WHEN status = %s THEN not_after END),
            MIN(CASE WHEN status = %s THEN not_after END),
            SUM(CASE WHEN status = %s THEN 1 ELSE 0 END),
            SUM(CASE WHEN status = %s THEN 1 ELSE 0 END),
            (SELECT COUNT(*) FROM {table("eonay", "Application")}
             WHERE citizen_id = %s AND status = %s),
            (SELECT COUNT(*) FROM {table("pinvault", "CardUnlock")} unlock
             JOIN {table("pinvault", "AkisCard")} card ON card.id = unlock.card_id
             WHERE card.citizen_id = %s AND unlock.applied_at IS NULL)
        FROM {table("certificates", "Certificate")}
        WHERE citizen_id = %s AND not_after > %s AND status IN (%s, %s, %s)
    """  # noqa: S608


def _counts(citizen: Citizen, now: dt.datetime) -> tuple[dict[str, Any], LoginNote]:
    """The counts and the login note (``accounts.activity``), both single rows, in one query."""
    params: list[Any] = [ACTIVE, ACTIVE, ACTIVE, PENDING, SUSPENDED, citizen.pk, WAITING]
    params += [citizen.pk, citizen.pk, now, ACTIVE, PENDING, SUSPENDED]
    params += login_note_params(citizen)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT * FROM ({_counts_sql()}) counts CROSS JOIN ({login_note_sql()}) note",  # noqa: S608
            params,
        )
        row = cursor.fetchone()
    names = ["active", "active_until", "active_first_end", "pending", "suspended"]
    names += ["applications", "unlocks"]
    found = dict(zip(names, row[: len(names)], strict=True))
    for name in ("active_until", "active_first_end"):
        found[name] = as_datetime(found[name])
    for name in ("active", "pending", "suspended", "applications", "unlocks"):
        found[name] = int(found[name] or 0)
    return found, login_note_from_row(row[len(names) :])


def _date(value: dt.datetime) -> str:
    return date_format(timezone.localtime(value), "DATE_FORMAT")


def days_left(not_after: dt.datetime, now: dt.datetime) -> int:
    """Calendar days from today to the day of ``not_after``, both in Europe/Istanbul."""
    return (timezone.localtime(not_after).date() - timezone.localtime(now).date()).days


def _banner(citizen: Citizen, end: dt.datetime, now: dt.datetime) -> Line | None:
    days = days_left(end, now)
    if days > EXPIRY_BANNER_DAYS:
        return None
    if days <= 0:
        text = gettext("Sertifikanızın süresi bugün, %(date)s tarihinde doluyor.")
    else:
        text = ngettext(
            "Sertifikanızın süresi %(days)d gün sonra, %(date)s tarihinde doluyor.",
            "Sertifikanızın süresi %(days)d gün sonra, %(date)s tarihinde doluyor.",
            days,
        )
    text = text % {"days": days, "date": _date(end)}
    certificate = apps.get_model("certificates", "Certificate")
    serial = (
        certificate.objects.filter(citizen=citizen, status=ACTIVE, not_after=end)
        .values_list("serial_number", flat=True)
        .first()
    )
    url = reverse("certificates:list")
    if serial is not None:  # the answer to "Sertifikam ne zaman sona eriyor?"
        url = reverse("certificates:detail", args=[serial]) + "#expiry-heading"
    return Line(text, url, "warning")


def at_a_glance(citizen: Citizen, *, now: dt.datetime | None = None) -> Glance:
    """The menu's status lines, banner and login note for ``citizen``: one query (two with a
    banner due), however many certificates, cards, applications and events they hold."""
    now = now or timezone.now()
    found, logins = _counts(citizen, now)
    lines: list[Line] = []
    if found["active"]:
        lines.append(
            Line(
                ngettext(
                    "Sertifikanız %(date)s tarihine kadar geçerli.",
                    "%(count)d geçerli sertifikanız var; en uzun geçerlilik %(date)s "
                    "tarihine kadar.",
                    found["active"],
                )
                % {"count": found["active"], "date": _date(found["active_until"])},
                reverse("certificates:list"),
            )
        )
    if found["applications"]:
        lines.append(
            Line(
                ngettext(
                    "%(count)d başvuru onayınızı bekliyor.",
                    "%(count)d başvuru onayınızı bekliyor.",
                    found["applications"],
                )
                % {"count": found["applications"]},
                reverse("eonay:index"),
                "warning",
            )
        )
    if found["unlocks"]:
        lines.append(
            Line(
                ngettext(
                    "Kartınızın yeni PIN'i, kartınız AKİS Kart İzleme Aracı'na takıldığında "
                    "karta yazılacak.",
                    "%(count)d kartınızın yeni PIN'i, kartlarınız AKİS Kart İzleme Aracı'na "
                    "takıldığında karta yazılacak.",
                    found["unlocks"],
                )
                % {"count": found["unlocks"]},
                reverse("pinvault:unlock_list"),
                "warning",
            )
        )
    if found["pending"]:
        lines.append(
            Line(
                ngettext(
                    "Yeni sertifikanız kullanıma açılmayı bekliyor.",
                    "%(count)d yeni sertifikanız kullanıma açılmayı bekliyor.",
                    found["pending"],
                )
                % {"count": found["pending"]},
                reverse("certificates:open_list"),
                "warning",
            )
        )
    if found["suspended"]:
        lines.append(
            Line(
                ngettext(
                    "Sertifikanız askıda.",
                    "%(count)d sertifikanız askıda.",
                    found["suspended"],
                )
                % {"count": found["suspended"]},
                reverse("certificates:reinstate_list"),
                "warning",
            )
        )
    banner = None
    if found["active_first_end"] is not None:
        banner = _banner(citizen, found["active_first_end"], now)
    return Glance(lines, banner, logins)
