"""Plain helpers of the receipt tests: download a receipt, read its PDF's text."""

from __future__ import annotations

import io
from typing import Any

from django.test import Client
from django.urls import reverse
from pypdf import PdfReader

from receipts.models import Receipt


def download_url(reference: str) -> str:
    return reverse("receipts:download", args=[reference])


def pdf_text(data: bytes) -> str:
    reader = PdfReader(io.BytesIO(data))
    return "\n".join(page.extract_text() for page in reader.pages)


def flat(text: str) -> str:
    """The text with line breaks as spaces (table cells wrap)."""
    return " ".join(text.split())


def download(client: Client, receipt: Receipt | str) -> Any:
    reference = receipt if isinstance(receipt, str) else receipt.reference
    response = client.get(download_url(reference))
    assert response.status_code == 200, response.content[:500]
    assert response["Content-Type"] == "application/pdf"
    return response


def receipt_text(client: Client, receipt: Receipt | str) -> str:
    return flat(pdf_text(download(client, receipt).content))
