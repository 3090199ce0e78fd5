"""Parolalarımı Kaydet: the one-page PDF (reportlab + embedded DejaVu Sans), optionally
encrypted with the holder's password (AES-256), sent with no-store and a name without secrets."""

from __future__ import annotations

import datetime as dt
import io
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone
from pypdf import PdfReader

from accounts.models import Citizen, SmsMessage
from audit.models import AuditEvent
from nesportal.testing.factories import BEFORE_2011, AkisCardFactory
from pinvault import pdf, services, vault
from pinvault.models import AkisCard

from .pages import PIN, PUK, html, post, step_up, url

pytestmark = pytest.mark.django_db

TURKISH_LETTERS = "çğıİöşüÇĞÖŞÜ"
PASSWORD = "Çok-gizli-parola-2026"


@pytest.fixture
def citizen(citizen_factory: Any) -> Citizen:
    return citizen_factory(first_name="Şükrü Çağrı", last_name="Öztürk-Işıkgün", tckn="10000000146")


@pytest.fixture
def card(citizen: Citizen) -> AkisCard:
    return AkisCardFactory(citizen=citizen)


@pytest.fixture
def stepped_up(
    citizen_client: Client,
    card: AkisCard,
    sms_outbox: list[dict[str, Any]],
    django_capture_on_commit_callbacks: Any,
) -> Client:
    step_up(django_capture_on_commit_callbacks, citizen_client, card, sms_outbox)
    return citizen_client


def save(
    capture: Any, client: Client, card: AkisCard, password: str = "", again: str | None = None
) -> Any:
    data = {"password": password, "password2": password if again is None else again}
    return post(capture, client, url("pinpuk_pdf", card), data)


def reader(data: bytes) -> PdfReader:
    return PdfReader(io.BytesIO(data))


def fonts_of(page: Any) -> list[Any]:
    return [font.get_object() for font in page["/Resources"]["/Font"].values()]


def test_it_downloads_a_one_page_pdf_with_the_secrets(
    stepped_up: Client,
    citizen: Citizen,
    card: AkisCard,
    sms_outbox: list[dict[str, Any]],
    django_capture_on_commit_callbacks: Any,
) -> None:
    response = save(django_capture_on_commit_callbacks, stepped_up, card)

    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response.content.startswith(b"%PDF-")
    disposition = response["Content-Disposition"]
    assert disposition == f'attachment; filename="pin-puk-{card.serial_number}.pdf"'
    assert PIN not in disposition and PUK not in disposition
    assert "no-store" in response["Cache-Control"]
    document = reader(response.content)
    assert not document.is_encrypted
    assert len(document.pages) == 1
    text = document.pages[0].extract_text()
    assert PIN in text and PUK in text
    assert "Şükrü Çağrı Öztürk-Işıkgün" in text
    assert "1000*****46" in text and "10000000146" not in text
    assert card.serial_number in text
    assert timezone.localdate().strftime("%d.%m.%Y") in text
    assert card.produced_on.strftime("%d.%m.%Y") in text
    assert "kart sahibinin sorumluluğundadır" in " ".join(text.split())
    assert "PUK bilgisi girilmeden çözülür" in " ".join(text.split())
    # No secret in the document's metadata.
    assert PIN not in str(document.metadata) and PUK not in str(document.metadata)
    # Audit entry and SMS notice, neither with a secret.
    event = AuditEvent.objects.get(citizen=citizen, action="nes.pinpuk.saved")
    assert event.data == {"card": card.serial_number, "encrypted": False, "fields": ["pin", "puk"]}
    notice = SmsMessage.objects.filter(citizen=citizen).order_by("created_at").last()
    assert notice.kind == SmsMessage.Kind.PINPUK_SAVED
    assert "PDF olarak kaydedildi" in sms_outbox[-1]["body"]
    assert PIN not in sms_outbox[-1]["body"]


def test_the_font_is_embedded_dejavu_and_prints_turkish_letters(
    stepped_up: Client, card: AkisCard, django_capture_on_commit_callbacks: Any
) -> None:
    document = reader(save(django_capture_on_commit_callbacks, stepped_up, card).content)

    fonts = fonts_of(document.pages[0])
    assert fonts
    for font in fonts:
        # Every font on the page is an embedded DejaVu subset (no unembedded Helvetica).
        assert "DejaVuSans" in font["/BaseFont"]
        assert "/FontFile2" in font["/FontDescriptor"]
    text = document.pages[0].extract_text()
    for letter in "çğıİöşüÇÖŞ":  # all in the name, the headings and the warnings
        assert letter in text, letter


def test_render_pdf_keeps_every_turkish_letter() -> None:
    sheet = pdf.PinPukSheet(
        holder_name=f"Harfler {TURKISH_LETTERS}",
        id_label="T.C. Kimlik No",
        masked_id="1000*****46",
        card_serial="AKIS-0000000001",
        produced_on=dt.date(2012, 1, 2),
        created_at=dt.datetime(2026, 3, 2, 9, 30),
        pin="905172",
        puk=None,
        missing_text="Silindi; gösterilemez.",
        warnings=("İlk uyarı: ığüşöç", "İkinci uyarı"),
    )

    data = pdf.render_pdf(sheet)

    text = reader(data).pages[0].extract_text()
    assert TURKISH_LETTERS in text
    assert "905172" in text and "Silindi; gösterilemez." in text
    assert "02.01.2012" in text and "02.03.2026 09:30" in text
    assert "905172" not in repr(sheet)


def test_a_password_encrypts_the_pdf_with_aes_256(
    stepped_up: Client,
    citizen: Citizen,
    card: AkisCard,
    django_capture_on_commit_callbacks: Any,
) -> None:
    response = save(django_capture_on_commit_callbacks, stepped_up, card, PASSWORD)

    assert response.status_code == 200
    assert response.content.startswith(b"%PDF-")
    assert PASSWORD not in response["Content-Disposition"]
    document = reader(response.content)
    assert document.is_encrypted
    encrypt = document.trailer["/Encrypt"]
    assert (encrypt["/V"], encrypt["/R"]) == (5, 6)  # AES-256
    assert not reader(response.content).decrypt("yanlış-parola")
    assert document.decrypt(PASSWORD)
    assert len(document.pages) == 1
    text = document.pages[0].extract_text()
    assert PIN in text and PUK in text and "Öztürk" in text
    event = AuditEvent.objects.get(citizen=citizen, action="nes.pinpuk.saved")
    assert event.data["encrypted"] is True
    assert PASSWORD not in str(event.data)


@pytest.mark.parametrize(
    ("password", "again", "error"),
    [
        (PASSWORD, "başka-bir-parola", "Parolalar birbiriyle aynı değil."),
        ("kısa", "kısa", "Parola en az 8 karakter olmalıdır."),
        ("", PASSWORD, "Parolalar birbiriyle aynı değil."),
    ],
)
def test_a_bad_password_gives_no_pdf(
    stepped_up: Client,
    citizen: Citizen,
    card: AkisCard,
    django_capture_on_commit_callbacks: Any,
    password: str,
    again: str,
    error: str,
) -> None:
    response = save(django_capture_on_commit_callbacks, stepped_up, card, password, again)

    assert response.status_code == 400
    assert response["Content-Type"].startswith("text/html")
    page = html(response)
    assert error in page
    assert 'value="' + password not in page or not password
    assert again not in page
    assert not AuditEvent.objects.filter(action="nes.pinpuk.saved").exists()


def test_the_pdf_needs_a_step_up(
    citizen_client: Client, card: AkisCard, django_capture_on_commit_callbacks: Any
) -> None:
    response = save(django_capture_on_commit_callbacks, citizen_client, card)

    assert response.status_code == 302
    assert response["Location"] == url("pinpuk_card", card)
    assert not AuditEvent.objects.filter(action="nes.pinpuk.saved").exists()


def test_the_pdf_of_a_pre_2011_card_names_the_puk_rule(
    citizen_client: Client,
    citizen: Citizen,
    sms_outbox: list[dict[str, Any]],
    django_capture_on_commit_callbacks: Any,
) -> None:
    old = AkisCardFactory(citizen=citizen, produced_on=BEFORE_2011)
    step_up(django_capture_on_commit_callbacks, citizen_client, old, sms_outbox)

    text = " ".join(
        reader(save(django_capture_on_commit_callbacks, citizen_client, old).content)
        .pages[0]
        .extract_text()
        .split()
    )

    assert "PUK kodu ile AKİS Kart İzleme Aracı'ndan çözülür" in text
    assert "3 (üç) PUK giriş denemesiyle kart kullanım dışı kalır" in text


def test_a_deleted_puk_is_marked_and_nothing_left_means_no_pdf(
    stepped_up: Client, card: AkisCard, django_capture_on_commit_callbacks: Any
) -> None:
    card.vault_entries.filter(field="puk").delete()
    text = (
        reader(save(django_capture_on_commit_callbacks, stepped_up, card).content)
        .pages[0]
        .extract_text()
    )
    assert PIN in text and PUK not in text
    assert "Sistemde kayıtlı değil." in text

    vault.destroy(card)
    response = save(django_capture_on_commit_callbacks, stepped_up, card)
    assert response.status_code == 302
    assert AuditEvent.objects.filter(action="nes.pinpuk.saved").count() == 1


def test_identity_numbers_are_masked(citizen_factory: Any) -> None:
    assert services.mask_identifier(citizen_factory(tckn="10000000146"))[1] == "1000*****46"
    label, masked = services.mask_identifier(
        citizen_factory(passport=True, passport_no="U12345678")
    )
    assert (label, masked) == ("Pasaport No", "U1*****78")


def test_the_file_name_carries_only_the_serial(citizen: Citizen) -> None:
    card = AkisCardFactory(citizen=citizen, serial_number="AKIS-0123456789")
    assert services.pdf_filename(card) == "pin-puk-AKIS-0123456789.pdf"
