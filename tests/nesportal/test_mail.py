"""Masking secrets in the development SMS and e-mail backends (nesportal/redaction.py, mail.py).

Outside DEBUG (``DEV_BACKENDS_SHOW_SECRETS`` off) the console and file backends keep a message
readable but never its one-time code or link token; with it on they are Django's own backends.
The end-to-end check through a real settings module is in test_settings.py
(``test_it_never_prints_or_stores_codes_or_link_tokens_without_debug``).
"""

from __future__ import annotations

import io
import json
import re
from pathlib import Path
from typing import Any

import pytest
from django.core import mail
from django.core.mail import EmailMultiAlternatives, get_connection

from accounts.sms import ConsoleBackend, FileBackend
from audit.actor import Actor
from nesportal.mail import RedactingConsoleBackend, RedactingFileBackend
from nesportal.redaction import redact_secrets

TOKEN = "Zq3-x_Lk9aPvW2mYtR8sNcE4bU7hGfD1jKoQ6iA5eT0"  # secrets.token_urlsafe(32)
HEX_TOKEN = "9f2c" * 16  # a salted_hmac hexdigest
LINK = f"https://nes.example.gov.tr/bilgi-guncelle/e-posta/onay/{TOKEN}/"
SMS = (
    "NES Portal giriş için SMS Onay Kodunuz: 482913. Kod 3 dakika geçerlidir; kimseyle "
    "paylaşmayınız. Giriş yapan siz değilseniz 444 5 576 numarasını arayınız."
)


@pytest.fixture
def production_mode(settings: Any) -> None:
    settings.DEV_BACKENDS_SHOW_SECRETS = False


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(SMS, SMS.replace("482913", "•••"), id="six-digit-code"),
        pytest.param("Kod: 12345678", "Kod: •••", id="longer-digit-run"),
        pytest.param(
            "444 5 576, 3 dakika, 30 dakika", "444 5 576, 3 dakika, 30 dakika", id="short"
        ),
        pytest.param(
            f"Bağlantı: {LINK} (24 saat)",
            "Bağlantı: https://nes.example.gov.tr/bilgi-guncelle/e-posta/onay/•••/ (24 saat)",
            id="url-token",
        ),
        pytest.param(
            f"http://127.0.0.1:8000/guvenlik-sozcugu/baglanti/{HEX_TOKEN}/ Siz istemediyseniz",
            "http://127.0.0.1:8000/guvenlik-sozcugu/baglanti/•••/ Siz istemediyseniz",
            id="url-hex-token-keeps-port",
        ),
        pytest.param(
            "https://nes.example.gov.tr/giris/?token=abc#frag",
            "https://nes.example.gov.tr/giris/?•••",
            id="query-and-fragment",
        ),
        pytest.param(f"anahtar {TOKEN}.", "anahtar •••.", id="bare-token"),
        pytest.param(
            "https://nes.example.gov.tr/giris/ ve guvenlik-sozcugu-yenileme-baglantisi",
            "https://nes.example.gov.tr/giris/ ve guvenlik-sozcugu-yenileme-baglantisi",
            id="plain-words-stay",
        ),
    ],
)
def test_it_masks_codes_and_tokens(text: str, expected: str) -> None:
    assert redact_secrets(text) == expected


def test_it_is_idempotent() -> None:
    once = redact_secrets(f"{SMS} {LINK}")
    assert redact_secrets(once) == once


# -- SMS -----------------------------------------------------------------------------------------


def test_it_masks_the_console_sms_in_production_mode(production_mode: None) -> None:
    stream = io.StringIO()

    ConsoleBackend(stream=stream).send(to="+905321234567", body=SMS, idempotency_key="k-1")

    assert "SMS Onay Kodunuz: •••." in stream.getvalue()
    assert "482913" not in stream.getvalue()
    assert "+905321234567" in stream.getvalue()  # who got it stays visible


def test_it_masks_the_file_outbox_and_its_echo_in_production_mode(
    production_mode: None, settings: Any, tmp_path: Path, capsys: Any
) -> None:
    settings.SMS_OUTBOX_PATH = tmp_path / "outbox.jsonl"

    FileBackend().send(to="+905321234567", body=f"{SMS} {LINK}", idempotency_key="k-1")

    stored = settings.SMS_OUTBOX_PATH.read_text(encoding="utf-8")
    echoed = capsys.readouterr().out
    for output in (stored, echoed):
        assert "482913" not in output
        assert TOKEN not in output
    assert json.loads(stored)["body"].startswith("NES Portal giriş için SMS Onay Kodunuz: •••.")


def test_it_shows_the_code_when_dev_backends_show_secrets(settings: Any) -> None:
    settings.DEV_BACKENDS_SHOW_SECRETS = True  # DEBUG: the demo's /dev/sms/ needs the code
    stream = io.StringIO()

    ConsoleBackend(stream=stream).send(to="+905321234567", body=SMS, idempotency_key="k-1")

    assert "482913" in stream.getvalue()


# -- e-mail --------------------------------------------------------------------------------------


def _message() -> EmailMultiAlternatives:
    message = EmailMultiAlternatives(
        "NES Portal: e-posta adresinizi onaylayınız",
        f"Sayın Ayşe Yılmaz,\n\nOnaylamak için:\n\n{LINK}\n\nNES Portal",
        "NES Portal <nes-portal@localhost>",
        ["ayse@example.com"],
    )
    message.attach_alternative(f'<a href="{LINK}">Onayla</a>', "text/html")
    message.attach("kod.txt", "482913", "text/plain")
    return message


def test_it_masks_tokens_in_console_mail(production_mode: None) -> None:
    stream = io.StringIO()
    message = _message()

    sent = RedactingConsoleBackend(stream=stream).send_messages([message])

    output = stream.getvalue()
    assert sent == 1
    assert "/bilgi-guncelle/e-posta/onay/•••/" in output
    assert "Sayın Ayşe Yılmaz" in output
    assert TOKEN not in output
    assert "482913" not in output  # the attachment is left out
    assert "kod.txt" not in output
    assert message.body.count(TOKEN) == 1  # the caller's message is untouched
    assert message.alternatives[0][0].count(TOKEN) == 1


def test_it_masks_tokens_in_file_mail(production_mode: None, tmp_path: Path) -> None:
    backend = RedactingFileBackend(file_path=str(tmp_path))

    backend.send_messages([_message()])

    (written,) = tmp_path.iterdir()
    output = written.read_bytes().decode()
    assert "/bilgi-guncelle/e-posta/onay/•••/" in output
    assert TOKEN not in output


def test_it_writes_mail_unchanged_when_dev_backends_show_secrets(settings: Any) -> None:
    settings.DEV_BACKENDS_SHOW_SECRETS = True
    stream = io.StringIO()

    RedactingConsoleBackend(stream=stream).send_messages([_message()])

    assert LINK in stream.getvalue()


def test_it_masks_a_real_confirmation_mail(
    production_mode: None, settings: Any, citizen: Any, rf: Any
) -> None:
    """The portal's own e-mail (Bilgi Güncelle) through the console backend it is configured
    with, as with EMAIL_URL=consolemail:// and DEBUG off."""
    from accounts.profile import start_email_change

    settings.EMAIL_BACKEND = "nesportal.mail.RedactingConsoleBackend"
    stream = io.StringIO()
    request = rf.post("/bilgi-guncelle/e-posta/")
    request.citizen = citizen
    original = get_connection

    def connection(*args: Any, **kwargs: Any) -> Any:
        return original(*args, stream=stream, **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(mail, "get_connection", connection)
        start_email_change(citizen, "yeni.adres@example.com", actor=Actor.from_request(request))

    output = stream.getvalue()
    assert "yeni.adres@example.com" in output
    assert "/bilgi-guncelle/e-posta/onay/•••/" in output
    assert not re.search(r"/onay/[\w-]{20,}", output)
