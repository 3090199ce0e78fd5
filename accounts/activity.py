"""Hesap Hareketlerim: the citizen's own events from the audit log, in plain words.

The audit log (``audit.models.AuditEvent``) holds every event, including internal ones (an SMS
queued, a card tool fetching an unlock); admin shows them with ``audit.labels``. The citizen
sees only the events of ``CATALOGUE`` — an allow-list, each with its own citizen-facing text —
and of each event only the data named in ``DETAILS`` (serial, card, device, receipt reference)
or chosen by its kind (a reason *label*, an application number): never the raw ``data``, so a
field that a later caller adds to an event is not shown until it is added here. Secrets never
reach the audit log in the first place (``audit.log.record``); this module is the second fence.

Everything is scoped to one citizen: ``page()`` and ``event()`` take the citizen and filter on
it, so another citizen's event id is simply not found (the view answers 404).

``device_summary()`` turns a User-Agent into "Chrome 131 · Windows" (ua-parser, the
uap-core rules) for the login's audit entry: a short, truncated summary, never the raw header.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.apps import apps
from django.db import connection
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext_lazy as _

from audit.models import AuditEvent

from .models import Citizen

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise

PER_PAGE = 20
# A User-Agent is the client's to choose: parse only its head, store only a short summary.
USER_AGENT_PARSED = 512
DEVICE_MAX = 64

LOGIN = "nes.login.succeeded"
# "Since the previous login" when there is none: a bound the index can start from (an OR with
# IS NULL would make PostgreSQL filter every event of the citizen instead).
EPOCH = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
OS_NAMES = {"Mac OS X": "macOS"}  # uap-core's historical name
# Device families that say nothing the browser and system did not (a Mac, a desktop).
GENERIC_DEVICES = ("Other", "Mac", "Spider", "Generic Smartphone", "Generic Feature Phone")


def _choice_label(app_label: str, model: str, choices: str) -> Callable[[str], StrOrPromise | None]:
    """The label of a model's ``TextChoices`` value, looked up by name: the feature apps sit
    above accounts (import-linter's layers), so their models are not imported here."""

    def label(value: str) -> StrOrPromise | None:
        enum = getattr(apps.get_model(app_label, model), choices)
        labels: dict[str, StrOrPromise] = dict(enum.choices)
        return labels.get(value)

    return label


def _lock_reason(value: str) -> StrOrPromise | None:
    labels: dict[str, StrOrPromise] = dict(Citizen.LockReason.choices)
    return labels.get(value)


@dataclass(frozen=True)
class EventKind:
    """How the citizen reads one audit action.

    ``reason`` maps ``data["reason"]`` to a label (a code of a fixed list; free text typed by
    an agent is never shown). ``subject`` names what ``event.subject`` holds for this action
    (an E-Onay application number), shown under that label; ``subject_label`` maps it to a
    label instead (a standing consent's scope). ``failed`` marks a failed attempt on the
    account: shown as a warning, and counted as "Son başarısız deneme" on the menu."""

    text: StrOrPromise
    reason: Callable[[str], StrOrPromise | None] | None = None
    subject: StrOrPromise | None = None
    subject_label: Callable[[str], StrOrPromise | None] | None = None
    failed: bool = False


APPLICATION_NO = _("Başvuru No")
_revocation_reason = _choice_label("certificates", "Certificate", "RevocationReason")
_consent_scope = _choice_label("eonay", "Consent", "Scope")

CATALOGUE: dict[str, EventKind] = {
    # Logging in and out
    LOGIN: EventKind(_("Giriş yaptınız")),
    "nes.logout": EventKind(_("Çıkış yaptınız")),
    "nes.login.word_failed": EventKind(_("Hatalı Güvenlik Sözcüğü girildi"), failed=True),
    "nes.login.code_failed": EventKind(_("Hatalı SMS Onay Kodu girildi"), failed=True),
    "nes.login.locked_attempt": EventKind(_("Hesabınız kilitliyken giriş denendi"), failed=True),
    "nes.login.esign_failed": EventKind(_("E-İmzalı Giriş denemesi başarısız oldu"), failed=True),
    # The lock
    "nes.account.locked": EventKind(_("Hesabınız kilitlendi"), reason=_lock_reason, failed=True),
    "nes.account.unlocked": EventKind(_("Çağrı Merkezi tarafından kilidiniz açıldı")),
    # Güvenlik Sözcüğümü Unuttum
    "nes.recovery.fact_failed": EventKind(
        _("Güvenlik Sözcüğü yenilemede hatalı doğum tarihi girildi"), failed=True
    ),
    "nes.recovery.locked_attempt": EventKind(
        _("Hesabınız kilitliyken Güvenlik Sözcüğü yenileme denendi"), failed=True
    ),
    "nes.recovery.code_sent": EventKind(
        _("Güvenlik Sözcüğü yenileme için SMS Onay Kodu gönderildi")
    ),
    "nes.recovery.word_changed": EventKind(_("Güvenlik Sözcüğünüz değiştirildi")),
    "nes.recovery.link_sent": EventKind(
        _("Çağrı Merkezi tarafından Güvenlik Sözcüğü yenileme bağlantısı gönderildi")
    ),
    # Bilgi Güncelle (the old and new values are not repeated here)
    "nes.profile.address_changed": EventKind(_("Adresiniz değiştirildi")),
    "nes.profile.email_change_requested": EventKind(_("E-posta adresi değişikliği istendi")),
    "nes.profile.email_changed": EventKind(_("E-posta adresiniz değiştirildi")),
    "nes.profile.phone_change_requested": EventKind(_("Cep telefonu değişikliği istendi")),
    "nes.profile.phone_changed": EventKind(_("Cep telefonu numaranız değiştirildi")),
    # Certificates
    "nes.certificate.issued": EventKind(_("Adınıza yeni sertifika üretildi")),
    "nes.certificate.opened": EventKind(_("Sertifikanız kullanıma açıldı")),
    "nes.certificate.suspended": EventKind(_("Sertifikanız askıya alındı")),
    "nes.certificate.reinstated": EventKind(_("Sertifikanız askıdan indirildi")),
    "nes.certificate.revoked": EventKind(_("Sertifikanız iptal edildi"), reason=_revocation_reason),
    # PIN/PUK and the card
    "nes.pinpuk.viewed": EventKind(_("PIN/PUK bilginiz görüntülendi")),
    "nes.pinpuk.saved": EventKind(_("PIN/PUK bilginiz PDF dosyası olarak kaydedildi")),
    "nes.pinpuk.deleted": EventKind(_("PIN/PUK bilginiz sistemden silindi")),
    "nes.card.unlocked": EventKind(_("Kartınızın kilidi çözüldü, yeni PIN oluşturuldu")),
    "nes.cardtool.unlock_applied": EventKind(
        _("Yeni PIN'iniz AKİS Kart İzleme Aracı ile kartınıza yazıldı")
    ),
    "nes.cardtool.wrong_puk": EventKind(
        _("AKİS Kart İzleme Aracı'nda hatalı PUK girildi"), failed=True
    ),
    # E-Onay
    "nes.eonay.application_entered": EventKind(
        _("Adınıza E-Onay başvurusu girildi"), subject=APPLICATION_NO
    ),
    "nes.eonay.approved": EventKind(_("E-Onay başvurusunu onayladınız"), subject=APPLICATION_NO),
    "nes.eonay.rejected": EventKind(_("E-Onay başvurusunu reddettiniz"), subject=APPLICATION_NO),
    "nes.eonay.approved_by_consent": EventKind(
        _("E-Onay başvurusu sürekli onayınızla onaylandı"), subject=APPLICATION_NO
    ),
    "nes.eonay.cancelled": EventKind(
        _("Yanlışlıkla girilen E-Onay başvurusu iptal edildi"), subject=APPLICATION_NO
    ),
    "nes.eonay.consent_given": EventKind(
        _("Sürekli E-Onay verdiniz"), subject_label=_consent_scope
    ),
    "nes.eonay.consent_withdrawn": EventKind(
        _("Sürekli E-Onayınızı geri aldınız"), subject_label=_consent_scope
    ),
    "nes.eonay.card_signature_refused": EventKind(
        _("Kartınızla atılan E-Onay imzası kabul edilmedi; işlem yapılmadı")
    ),
    # Bu işlemi ben yapmadım, reminders, receipts
    "nes.notme.protected": EventKind(
        _("'Bu işlemi ben yapmadım' bağlantısıyla hesabınız korumaya alındı")
    ),
    "nes.reminder.expiry_sent": EventKind(_("Sertifikanızın süresinin dolacağı size hatırlatıldı")),
    "nes.reminder.ready_sent": EventKind(
        _("Yeni sertifikanızı kullanıma açabileceğiniz size hatırlatıldı")
    ),
    "nes.receipt.issued": EventKind(_("İşlem makbuzunuz oluşturuldu")),
}
SHOWN = tuple(CATALOGUE)
FAILED = tuple(code for code, kind in CATALOGUE.items() if kind.failed)

# The only data fields ever shown, from any shown event that carries them, in this order.
DETAILS: dict[str, StrOrPromise] = {
    "serial": _("Seri No"),
    "card": _("Kart"),
    "device": _("Cihaz"),
    "receipt": _("Makbuz No"),
}
DETAIL_MAX = 64  # a shown value is an identifier: anything longer is cut
# How the citizen confirmed (``data["method"]``, a code of this list; absent: SMS Onay Kodu).
METHODS: dict[str, StrOrPromise] = {"card": _("Kartınızla imzaladınız (e-imza)")}

_COLUMNS = ("pk", "at", "action", "subject", "data", "ip_address", "actor_id")


@dataclass(frozen=True)
class Detail:
    label: StrOrPromise
    value: StrOrPromise


@dataclass(frozen=True)
class Activity:
    """One event as the citizen reads it."""

    pk: int
    at: dt.datetime
    text: StrOrPromise
    reason: StrOrPromise | None
    details: tuple[Detail, ...]
    failed: bool
    # The address the request came from, only for what the citizen's own browser (or card
    # tool) did: an agent's address is the call centre's, not the citizen's business.
    ip_address: str | None
    # The receipt of the action (revocation, PIN/PUK deletion, E-Onay decision), to download.
    receipt: str | None = None


def _value(raw: Any) -> str | None:
    if isinstance(raw, bool) or not isinstance(raw, str | int):
        return None
    text = str(raw).strip()
    return text[:DETAIL_MAX] if text else None


def to_activity(row: Mapping[str, Any]) -> Activity:
    """An audit row (the ``_COLUMNS`` of a shown action) in the citizen's words."""
    kind = CATALOGUE[row["action"]]
    data = row["data"] if isinstance(row["data"], dict) else {}
    details: list[Detail] = []
    subject = _value(row["subject"])
    if kind.subject is not None and subject:
        details.append(Detail(kind.subject, subject))
    if kind.subject_label is not None and subject:
        scope = kind.subject_label(subject)
        if scope is not None:
            details.append(Detail(_("Kapsam"), scope))
    method = METHODS.get(data["method"]) if isinstance(data.get("method"), str) else None
    if method is not None:
        details.append(Detail(_("Yöntem"), method))
    for key, label in DETAILS.items():
        value = _value(data.get(key))
        if value:
            details.append(Detail(label, value))
    reason = None
    if kind.reason is not None and isinstance(data.get("reason"), str):
        reason = kind.reason(data["reason"])
    return Activity(
        pk=row["pk"],
        at=row["at"],
        text=kind.text,
        reason=reason,
        details=tuple(details),
        failed=kind.failed,
        ip_address=row["ip_address"] if row["actor_id"] is None else None,
        receipt=_receipt(data.get("receipt")),
    )


def _receipt(raw: Any) -> str | None:
    """A receipt reference as the receipts app writes it (letters, digits, dashes), or None."""
    value = _value(raw)
    return value if value and value.replace("-", "").isalnum() else None


def _events(citizen: Citizen) -> Any:
    # Newest first, on the (citizen, at DESC, id DESC) index of audit migration 0003.
    return (
        AuditEvent.objects.filter(citizen=citizen, action__in=SHOWN)
        .order_by("-at", "-id")
        .values(*_COLUMNS)
    )


@dataclass(frozen=True)
class ActivityPage:
    """One page of the log, newest first. ``older`` is the id to go on from (the page's last
    event), None on the last page; ``first`` is False once the citizen has paged back."""

    events: list[Activity]
    older: int | None
    first: bool


@functools.cache
def _page_sql(after: bool) -> str:
    table = connection.ops.quote_name(AuditEvent._meta.db_table)
    shown = ", ".join(["%s"] * len(SHOWN))
    # Keyset pagination: "older than this event" reads the index from that point on, as cheap
    # on the hundredth page as on the first, and an event recorded meanwhile (the log grows at
    # the top) shifts nothing. Written out: the queryset's compiling was a third of the page's
    # Python time (bench/pages.py). Only the table name and placeholders are formatted in.
    before = (
        "AND (at, id) < (SELECT at, id FROM {table} WHERE id = %s AND citizen_id = %s)"
        if after
        else ""
    ).format(table=table)
    return f"""
        SELECT id, at, action, subject, data, ip_address, actor_id FROM {table}
        WHERE citizen_id = %s AND action IN ({shown}) {before}
        ORDER BY at DESC, id DESC LIMIT %s
    """  # noqa: S608


def _row(values: tuple[Any, ...]) -> dict[str, Any]:
    pk, at, action, subject, data, ip_address, actor_id = values
    return {
        "pk": pk,
        "at": as_datetime(at),
        "action": action,
        "subject": subject,
        "data": json.loads(data) if isinstance(data, str) else data,
        "ip_address": str(ip_address) if ip_address is not None else None,
        "actor_id": actor_id,
    }


def page(citizen: Citizen, older_than: str | None = None) -> ActivityPage:
    """The citizen's ``PER_PAGE`` newest events, or those older than their event
    ``older_than`` (an id from the previous page; anything else gives the first page): one
    query, whatever the number of events."""
    # ASCII digits only (str.isdigit also takes "١٢"), and within a bigint.
    given = older_than or ""
    after = given.isascii() and given.isdigit() and len(given) <= 18
    params: list[Any] = [citizen.pk, *SHOWN]
    if after:
        params += [int(given), citizen.pk]
    params.append(PER_PAGE + 1)  # one more: is there an older page?
    with connection.cursor() as cursor:
        cursor.execute(_page_sql(after), params)
        rows = cursor.fetchall()
    events = [to_activity(_row(values)) for values in rows[:PER_PAGE]]
    older = events[-1].pk if len(rows) > PER_PAGE else None
    return ActivityPage(events, older, not after)


def event(citizen: Citizen, pk: int) -> Activity | None:
    """The citizen's own shown event ``pk``, or None (another citizen's, internal, missing)."""
    row = _events(citizen).filter(pk=pk).first()
    return to_activity(row) if row is not None else None


@dataclass(frozen=True)
class LastLogin:
    at: dt.datetime
    device: str


@dataclass(frozen=True)
class LoginNote:
    """What the menu says about the account's logins."""

    previous: LastLogin | None  # the successful login before the current one
    failed_at: dt.datetime | None  # the latest failed attempt since then (or ever, if none)


@functools.cache
def login_note_sql() -> str:
    """One row: the previous login's time and data, the latest failed attempt's time
    (``login_note_params``; the menu runs it inside its one query, ``accounts.glance``)."""
    table = connection.ops.quote_name(AuditEvent._meta.db_table)
    failed = ", ".join(["%s"] * len(FAILED))
    # One statement: the ORM's version (two querysets) cost ~4 ms of Python per menu page
    # (bench/pages.py), most of it compiling. Both read the (citizen, at DESC, id DESC) index.
    # Only the table name and placeholders are formatted in; every value is a parameter.
    return f"""
        WITH previous AS (
            SELECT at, data FROM {table}
            WHERE citizen_id = %s AND action = %s
            ORDER BY at DESC, id DESC LIMIT 1 OFFSET 1
        )
        SELECT previous.at, previous.data, (
            SELECT failed.at FROM {table} failed
            WHERE failed.citizen_id = %s AND failed.action IN ({failed})
              AND failed.at > COALESCE(previous.at, %s)
            ORDER BY failed.at DESC, failed.id DESC LIMIT 1
        )
        FROM (SELECT 1 AS one) one LEFT JOIN previous ON 1 = 1
    """  # noqa: S608


def as_datetime(value: Any) -> dt.datetime | None:
    """A timestamp from a raw query: aware already (PostgreSQL), or naive or ISO text in UTC
    (SQLite, which stores UTC without an offset)."""
    if value is None:
        return None
    parsed = value if isinstance(value, dt.datetime) else parse_datetime(str(value))
    if parsed is not None and timezone.is_naive(parsed):
        parsed = timezone.make_aware(parsed, dt.UTC)
    return parsed


def login_note_params(citizen: Citizen) -> list[Any]:
    return [citizen.pk, LOGIN, citizen.pk, *FAILED, EPOCH]


def login_note_from_row(row: tuple[Any, ...]) -> LoginNote:
    """The login before the current session's (the newest login is the current one) and the
    latest failed attempt after it (or ever, if there is none), from ``login_note_sql``'s row."""
    at, data, failed_at = row
    previous = None
    when = as_datetime(at)
    if when is not None:
        if isinstance(data, str):
            data = json.loads(data)
        device = _value(data.get("device")) if isinstance(data, dict) else None
        previous = LastLogin(when, device or "")
    return LoginNote(previous, as_datetime(failed_at))


def device_summary(user_agent: str) -> str:
    """ "Chrome 131 · Windows", "Mobile Safari 17 · iOS · iPhone" or "" (nothing known).

    Parsed with ua-parser (the maintained uap-core rules, shipped as ua-parser-builtins), the
    header cut to its first ``USER_AGENT_PARSED`` characters first (the regexes never see an
    arbitrarily long header), the summary to ``DEVICE_MAX``."""
    from ua_parser import parse  # its rules load on first use (~0.1 s): only logins need them

    if not user_agent:
        return ""
    found = parse(user_agent[:USER_AGENT_PARSED])
    parts: list[str] = []
    if found.user_agent is not None and found.user_agent.family != "Other":
        browser = found.user_agent.family
        if found.user_agent.major:
            browser += f" {found.user_agent.major}"
        parts.append(browser)
    if found.os is not None and found.os.family != "Other":
        parts.append(OS_NAMES.get(found.os.family, found.os.family))
    device = found.device
    if device is not None and device.family not in (*GENERIC_DEVICES, *parts):
        parts.append(device.family)
    return " · ".join(parts)[:DEVICE_MAX]
