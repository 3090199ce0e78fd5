"""The one-page "Parolalarımı Kaydet" PDF: holder, masked identity number, card, PIN, PUK, warnings.

Security contract
-----------------
* The PDF is built in memory and returned as bytes; nothing is written to disk or cached, and
  the caller sends it with ``Cache-Control: no-store``. PIN and PUK appear only in the page
  content, never in the document's metadata (title, subject, keywords) or file name.
* With a password the file is encrypted with it (PDF 2.0 standard security handler, revision 6:
  AES-256). reportlab's own AES-256 (``StandardEncryption(strength=256)``) is not used: it
  writes padded 48-byte /UE and /OE entries that poppler, pypdf and PDF.js refuse to open, and
  its 128-bit mode is RC4. So reportlab draws the page and pypdf encrypts it. The owner password
  is random and thrown away: only the holder's password opens the file.
* The text is set in DejaVu Sans, shipped in ``pinvault/fonts`` (see its LICENSE) and embedded
  as a subset, so the Turkish letters (ç ğ ı İ ö ş ü) print on any reader without a system font.
"""

from __future__ import annotations

import io
import secrets
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from django.views.decorators.debug import sensitive_variables
from reportlab.lib import colors
from reportlab.lib.enums import TA_LEFT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.platypus import (
    KeepTogether,
    ListFlowable,
    ListItem,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)

FONTS_DIR = Path(__file__).resolve().parent / "fonts"
REGULAR = "DejaVuSans"
BOLD = "DejaVuSans-Bold"
RED = colors.HexColor("#b3111d")
MUTED = colors.HexColor("#5b6472")
LINE = colors.HexColor("#d8dde6")

_registered = False


def grid_style(*extra: tuple[Any, ...]) -> TableStyle:
    """The style of a label/value table in the portal's PDFs (this sheet, the receipts): the
    embedded font in every cell — reportlab sets one even around flowables, and its default
    (Helvetica) would be referenced, unembedded, in the page resources — a thin grid, padding,
    and ``extra`` commands (a highlighted row)."""
    return TableStyle(
        [
            ("FONTNAME", (0, 0), (-1, -1), REGULAR),
            ("GRID", (0, 0), (-1, -1), 0.6, LINE),
            ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
            ("TOPPADDING", (0, 0), (-1, -1), 5),
            ("BOTTOMPADDING", (0, 0), (-1, -1), 5),
            *extra,
        ]
    )


def register_fonts() -> None:
    """Register the shipped DejaVu fonts with reportlab (once per process)."""
    global _registered
    if _registered:
        return
    pdfmetrics.registerFont(TTFont(REGULAR, str(FONTS_DIR / "DejaVuSans.ttf")))
    pdfmetrics.registerFont(TTFont(BOLD, str(FONTS_DIR / "DejaVuSans-Bold.ttf")))
    pdfmetrics.registerFontFamily(REGULAR, normal=REGULAR, bold=BOLD)
    _registered = True


@dataclass(frozen=True)
class PinPukSheet:
    """What the PDF shows. PIN and PUK are left out of ``repr`` (tracebacks, logs)."""

    holder_name: str
    id_label: str  # "T.C. Kimlik No" or "Pasaport No"
    masked_id: str  # e.g. 1000*****46
    card_serial: str
    produced_on: date
    created_at: datetime  # local time of the holder's request
    pin: str | None = field(repr=False)
    puk: str | None = field(repr=False)
    missing_text: str = ""  # shown in place of a secret that is no longer in the vault
    title: str = "PIN/PUK Bilgisi"
    subtitle: str = ""
    labels: dict[str, str] = field(default_factory=dict)
    notice: str = ""  # a sentence above the warnings
    warnings_title: str = ""
    warnings: tuple[str, ...] = ()
    footer: str = ""


def _styles() -> dict[str, ParagraphStyle]:
    base = ParagraphStyle("base", fontName=REGULAR, fontSize=9.5, leading=13, alignment=TA_LEFT)
    return {
        "base": base,
        "title": ParagraphStyle("title", parent=base, fontName=BOLD, fontSize=20, leading=24),
        "subtitle": ParagraphStyle("subtitle", parent=base, textColor=MUTED, spaceAfter=6),
        "label": ParagraphStyle("label", parent=base, fontName=BOLD),
        "value": ParagraphStyle("value", parent=base, fontSize=10.5, leading=14),
        "secret": ParagraphStyle("secret", parent=base, fontName=BOLD, fontSize=18, leading=22),
        "notice": ParagraphStyle("notice", parent=base, fontName=BOLD, textColor=RED),
        "h2": ParagraphStyle("h2", parent=base, fontName=BOLD, fontSize=11, leading=15),
        "footer": ParagraphStyle("footer", parent=base, fontSize=8, leading=11, textColor=MUTED),
    }


@sensitive_variables("sheet", "password", "rows", "story", "data")
def render_pdf(sheet: PinPukSheet, *, password: str | None = None) -> bytes:
    """The PDF as bytes; encrypted with ``password`` (AES-256) when one is given."""
    register_fonts()
    st = _styles()
    labels = sheet.labels

    def row(label: str, value: str, style: str = "value") -> list[Paragraph]:
        return [Paragraph(escape(label), st["label"]), Paragraph(escape(value), st[style])]

    def secret_row(label: str, value: str | None) -> list[Paragraph]:
        return row(label, value, "secret") if value else row(label, sheet.missing_text)

    rows = [
        row(labels.get("holder", "Kart sahibi"), sheet.holder_name),
        row(sheet.id_label, sheet.masked_id),
        row(labels.get("serial", "Kart seri numarası"), sheet.card_serial),
        row(labels.get("produced_on", "Kartın üretim tarihi"), f"{sheet.produced_on:%d.%m.%Y}"),
        secret_row("PIN", sheet.pin),
        secret_row("PUK", sheet.puk),
        row(labels.get("created_at", "Belge tarihi"), f"{sheet.created_at:%d.%m.%Y %H:%M}"),
    ]
    table = Table(rows, colWidths=[48 * mm, None], hAlign="LEFT")
    table.setStyle(grid_style(("BACKGROUND", (0, 4), (-1, 5), colors.HexColor("#fff8e6"))))
    warnings = ListFlowable(
        [ListItem(Paragraph(escape(text), st["base"]), leftIndent=14) for text in sheet.warnings],
        bulletType="1",
        bulletFormat="%s.",
        bulletFontName=REGULAR,
        bulletFontSize=9.5,
        leftIndent=14,
    )
    story = [
        Paragraph(escape(sheet.title), st["title"]),
        Paragraph(escape(sheet.subtitle), st["subtitle"]),
        Spacer(1, 4 * mm),
        table,
        Spacer(1, 5 * mm),
        Paragraph(escape(sheet.notice), st["notice"]),
        Spacer(1, 4 * mm),
        KeepTogether([Paragraph(escape(sheet.warnings_title), st["h2"]), Spacer(1, 2 * mm)]),
        warnings,
        Spacer(1, 6 * mm),
        Paragraph(escape(sheet.footer), st["footer"]),
    ]
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=18 * mm,
        rightMargin=18 * mm,
        topMargin=16 * mm,
        bottomMargin=14 * mm,
        title=sheet.title,
        author="NES Portal",
        subject=sheet.card_serial,
        creator="NES Portal",
        lang="tr-TR",
        initialFontName=REGULAR,
        initialFontSize=9.5,
    )
    doc.build(story)
    data = buffer.getvalue()
    if password:
        data = _encrypt(data, password)
    return data


@sensitive_variables("data", "password", "writer")
def _encrypt(data: bytes, password: str) -> bytes:
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(data)))
    writer.encrypt(
        user_password=password,
        owner_password=secrets.token_urlsafe(32),
        algorithm="AES-256",
    )
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()
