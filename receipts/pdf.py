"""The receipt PDF: what was done, when, to what; drawn at download time in the page's language.

The document is built in memory from the receipt's row and facts (``receipts.models``) plus,
for a revocation, the CRL and OCSP facts known at that moment
(``certificates.services.observe_revocation``); nothing is written to disk. It shows
identifiers and outcomes only (the facts never hold a PIN, a PUK or a code). Text is set in
the DejaVu fonts shipped in ``pinvault/fonts`` (``pinvault.pdf.register_fonts``, embedded as a
subset), so Turkish letters print on any reader; the layout follows the PIN/PUK sheet.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from xml.sax.saxutils import escape

from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table

from certificates.models import Certificate
from eonay.models import Application
from nesportal.contact import CALL_CENTRE_PHONE
from pinvault.pdf import BOLD, MUTED, REGULAR, grid_style, register_fonts

from .models import Receipt


@dataclass(frozen=True)
class ReceiptDocument:
    title: str
    subtitle: str
    reference: str
    rows: tuple[tuple[str, str], ...]
    notes: tuple[str, ...]
    footer: str
    language: str


def local_time(value: str | datetime) -> str:
    """``03.12.2026 16:24:17 (Türkiye saati, UTC+03:00)``: the time in Europe/Istanbul."""
    at = datetime.fromisoformat(value) if isinstance(value, str) else value
    local = timezone.localtime(at)
    offset = local.strftime("%z")
    return _("%(time)s (Türkiye saati, UTC%(offset)s)") % {
        "time": local.strftime("%d.%m.%Y %H:%M:%S"),
        "offset": f"{offset[:3]}:{offset[3:]}",
    }


def _revocation_rows(facts: dict[str, Any]) -> list[tuple[str, str]]:
    reason = facts["reason"]
    if reason in Certificate.RevocationReason.values:
        reason = str(Certificate.RevocationReason(reason).label)
    kind = facts.get("kind", Certificate.Kind.NES)
    if "crl_number" in facts:
        crl = _("%(number)s (yayın zamanı: %(at)s)") % {
            "number": facts["crl_number"],
            "at": local_time(facts["crl_this_update"]),
        }
    else:
        crl = _(
            "Henüz yayımlanmadı: sertifikanız, numarası %(number)s veya daha büyük olan bir "
            "sonraki SİL'de yer alacaktır."
        ) % {"number": facts["crl_next_at_least"]}
    if "ocsp_revoked_at" in facts:
        ocsp = local_time(facts["ocsp_revoked_at"])
    else:
        ocsp = _("Henüz ölçülmedi; makbuzu yeniden indirdiğinizde yer alacaktır.")
    by = _("Sertifika sahibi") if facts.get("by") == "holder" else _("Sertifika hizmet sağlayıcı")
    return [
        (_("Sertifika seri numarası"), facts["serial"]),
        (_("Sertifika türü"), str(Certificate.Kind(kind).label)),
        (_("İptal nedeni"), reason),
        (_("İptal zamanı"), local_time(facts["revoked_at"])),
        (_("İptal eden"), by),
        (_("SİL numarası"), crl),
        (_("OCSP'nin ilk “iptal edildi” yanıtı"), ocsp),
    ]


def _deletion_rows(facts: dict[str, Any]) -> list[tuple[str, str]]:
    names = {"pin": "PIN", "puk": "PUK"}
    fields = [names[f] for f in facts.get("fields", []) if f in names]
    return [
        (_("Kart seri numarası"), facts["card"]),
        (_("Silinen bilgiler"), ", ".join(fields) or "—"),
        (_("Silinme zamanı"), local_time(facts["deleted_at"])),
    ]


def _decision_rows(facts: dict[str, Any]) -> list[tuple[str, str]]:
    kind = facts.get("application_kind", "")
    approved = facts["decision"] == Application.Action.APPROVE
    status = Application.Status.APPROVED if approved else Application.Status.REJECTED
    return [
        (_("Başvuru numarası"), facts["application"]),
        (
            _("Başvuru türü"),
            str(Application.Kind(kind).label) if kind in Application.Kind.values else kind,
        ),
        (_("Kurum"), facts.get("institution", "")),
        (_("Karar"), str(status.label)),
        (_("Karar zamanı"), local_time(facts["decided_at"])),
    ]


def build_document(receipt: Receipt, facts: dict[str, Any]) -> ReceiptDocument:
    """What the receipt says, in the active language (``facts``: the row's, plus live ones)."""
    kind = receipt.kind
    if kind == Receipt.Kind.REVOCATION:
        holder_label = _("Sertifika sahibi")
        details = _revocation_rows(facts)
        notes = [
            _("İptal edilen sertifika bir daha kullanıma açılamaz."),
            _(
                "SİL numarası, sertifikanızı listeleyen ilk yayımlanmış sertifika iptal "
                "listesinin numarasıdır; OCSP zamanı, çevrim içi sertifika durum sorgusunun "
                "sertifikanız için ilk kez “iptal edildi” yanıtını verdiği andır."
            ),
        ]
    elif kind == Receipt.Kind.PINPUK_DELETION:
        holder_label = _("Kart sahibi")
        details = _deletion_rows(facts)
        notes = [
            _(
                "Bu bilgi bir daha hiçbir şekilde gösterilemez; sertifika hizmet sağlayıcı da "
                "gösteremez."
            )
        ]
    else:
        holder_label = _("Başvuru sahibi")
        details = _decision_rows(facts)
        notes = [_("E-Onay kararları kesindir ve değiştirilemez.")]
    rows = [
        (_("Makbuz No"), receipt.reference),
        (_("İşlem"), str(Receipt.Kind(kind).label)),
        (_("İşlem zamanı"), local_time(receipt.created_at)),
        (holder_label, receipt.citizen.full_name),
        *details,
    ]
    return ReceiptDocument(
        title=_("İşlem Makbuzu"),
        subtitle=_("NES Portal · Bireysel Nitelikli Elektronik Sertifika İşlemleri"),
        reference=receipt.reference,
        rows=tuple(rows),
        notes=tuple(notes),
        footer=_(
            "Bu makbuz PIN, PUK veya SMS Onay Kodu içermez. İşlemi siz yapmadıysanız ya da bir "
            "sorunuz varsa makbuz numarasıyla %(phone)s numaralı Çağrı Merkezimizi arayınız."
        )
        % {"phone": CALL_CENTRE_PHONE},
        language=get_language() or "tr",
    )


def _styles() -> dict[str, ParagraphStyle]:
    base = ParagraphStyle("base", fontName=REGULAR, fontSize=9.5, leading=13)
    return {
        "base": base,
        "title": ParagraphStyle("title", parent=base, fontName=BOLD, fontSize=20, leading=24),
        "subtitle": ParagraphStyle("subtitle", parent=base, textColor=MUTED, spaceAfter=6),
        "label": ParagraphStyle("label", parent=base, fontName=BOLD),
        "value": ParagraphStyle("value", parent=base, fontSize=10.5, leading=14),
        "footer": ParagraphStyle("footer", parent=base, fontSize=8, leading=11, textColor=MUTED),
    }


def render_pdf(document: ReceiptDocument) -> bytes:
    """The receipt as PDF bytes (one A4 page)."""
    register_fonts()
    st = _styles()
    table = Table(
        [
            [Paragraph(escape(label), st["label"]), Paragraph(escape(value), st["value"])]
            for label, value in document.rows
        ],
        colWidths=[52 * mm, None],
        hAlign="LEFT",
    )
    table.setStyle(grid_style(("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#eef3fb"))))
    story: list[Any] = [
        Paragraph(escape(document.title), st["title"]),
        Paragraph(escape(document.subtitle), st["subtitle"]),
        Spacer(1, 4 * mm),
        table,
        Spacer(1, 5 * mm),
    ]
    for note in document.notes:
        story += [Paragraph(escape(note), st["base"]), Spacer(1, 2 * mm)]
    story += [Spacer(1, 4 * mm), Paragraph(escape(document.footer), st["footer"])]
    buffer = io.BytesIO()
    SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=18 * mm,
        rightMargin=18 * mm,
        topMargin=16 * mm,
        bottomMargin=14 * mm,
        title=f"{document.title} {document.reference}",
        author="NES Portal",
        subject=document.reference,
        creator="NES Portal",
        lang="en-GB" if document.language.startswith("en") else "tr-TR",
        initialFontName=REGULAR,
        initialFontSize=9.5,
    ).build(story)
    return buffer.getvalue()
