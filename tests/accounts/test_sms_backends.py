"""The SMS backends of accounts.sms.

The Twilio backend runs the twilio package's real HTTP client against ``FakeTwilio``, a local
server standing in for Twilio's Messages API: only ``TWILIO_API_BASE_URL`` points elsewhere.
"""

from __future__ import annotations

import io
import json
import re
from datetime import datetime
from typing import Any

import pytest

from accounts import sms
from accounts.sms import (
    ConsoleBackend,
    FileBackend,
    LocmemBackend,
    SmsDeliveryError,
    TwilioBackend,
    get_backend,
    read_outbox,
)

from .fake_twilio import ACCOUNT_SID, AUTH_TOKEN, FROM_NUMBER, MESSAGES_PATH, FakeTwilio, Reply
from .helpers import closed_port

TO = "+905321234567"
BODY = "NES Portal giriş için SMS Onay Kodunuz: 123456. Çağrı Merkezi: 444 5 576 (ğüşıöç ĞÜŞİÖÇ)"


@pytest.fixture
def outbox_file(settings: Any, tmp_path: Any) -> Any:
    settings.SMS_BACKEND = "file"
    settings.SMS_OUTBOX_PATH = tmp_path / "var" / "sms-outbox.jsonl"
    return settings.SMS_OUTBOX_PATH


# -- console, file, locmem -------------------------------------------------------------------


def test_it_writes_console_sms_to_the_given_stream() -> None:
    stream = io.StringIO()

    provider_id = ConsoleBackend(stream=stream).send(to=TO, body=BODY, idempotency_key="k-1")

    assert provider_id == "console-k-1"
    line = rf"\[SMS \d\d:\d\d:\d\d\] {re.escape(TO)}: {re.escape(BODY)}\n"
    assert re.fullmatch(line, stream.getvalue())


def test_it_writes_console_sms_to_stdout_by_default(capsys: Any) -> None:
    get_backend("console").send(to=TO, body=BODY, idempotency_key="k-2")

    out = capsys.readouterr().out
    assert f"{TO}: {BODY}\n" in out
    assert out.count("[SMS ") == 1


def test_it_appends_json_lines_to_the_outbox_file_keeping_turkish_letters(
    outbox_file: Any, capsys: Any
) -> None:
    backend = get_backend("file")

    first = backend.send(to=TO, body=BODY, idempotency_key="k-1")
    second = backend.send(to="+905329999999", body="İkinci mesaj", idempotency_key="k-2")

    assert (first, second) == ("file-k-1", "file-k-2")
    raw = outbox_file.read_text(encoding="utf-8")
    assert "ğüşıöç ĞÜŞİÖÇ" in raw  # written as UTF-8, not as \u escapes
    lines = raw.splitlines()
    assert len(lines) == 2
    entries = [json.loads(line) for line in lines]
    assert [(e["id"], e["to"], e["body"]) for e in entries] == [
        ("k-1", TO, BODY),
        ("k-2", "+905329999999", "İkinci mesaj"),
    ]
    assert all(isinstance(datetime.fromisoformat(e["at"]), datetime) for e in entries)
    # It echoes to the console as well.
    assert capsys.readouterr().out.count("[SMS ") == 2


def test_it_appends_to_an_existing_outbox_file(outbox_file: Any) -> None:
    outbox_file.parent.mkdir(parents=True)
    outbox_file.write_text(
        '{"id": "old", "to": "+905320000000", "body": "eski", "at": "2026-01-01T10:00:00+03:00"}\n',
        encoding="utf-8",
    )

    FileBackend().send(to=TO, body="yeni", idempotency_key="new")

    ids = [json.loads(line)["id"] for line in outbox_file.read_text("utf-8").splitlines()]
    assert ids == ["old", "new"]


def test_it_keeps_locmem_sms_in_the_module_outbox(sms_outbox: list[dict[str, Any]]) -> None:
    provider_id = get_backend("locmem").send(to=TO, body=BODY, idempotency_key="k-1")

    assert provider_id == "locmem-k-1"
    assert sms_outbox is sms.outbox
    assert [(e["id"], e["to"], e["body"]) for e in sms_outbox] == [("k-1", TO, BODY)]


@pytest.mark.parametrize(
    ("name", "cls"),
    [
        ("console", ConsoleBackend),
        ("file", FileBackend),
        ("locmem", LocmemBackend),
        ("accounts.sms.LocmemBackend", LocmemBackend),
        ("accounts.sms.FileBackend", FileBackend),
    ],
)
def test_it_finds_backends_by_name_and_by_dotted_path(name: str, cls: type) -> None:
    assert type(get_backend(name)) is cls


def test_it_uses_the_sms_backend_setting_by_default(settings: Any) -> None:
    settings.SMS_BACKEND = "console"
    assert type(get_backend()) is ConsoleBackend
    settings.SMS_BACKEND = "accounts.sms.LocmemBackend"
    assert type(get_backend()) is LocmemBackend


def test_it_refuses_an_unknown_backend() -> None:
    with pytest.raises(ImportError):
        get_backend("carrier-pigeon")


def test_it_reads_the_locmem_outbox_newest_first(sms_outbox: list[dict[str, Any]]) -> None:
    backend = LocmemBackend()
    for n in range(3):
        backend.send(to=TO, body=f"mesaj {n}", idempotency_key=f"k-{n}")

    entries = read_outbox()

    assert [e["body"] for e in entries] == ["mesaj 2", "mesaj 1", "mesaj 0"]
    assert all(isinstance(e["at"], datetime) for e in entries)
    assert [e["body"] for e in read_outbox(limit=2)] == ["mesaj 2", "mesaj 1"]
    assert len(sms_outbox) == 3  # reading does not consume


def test_it_reads_the_outbox_file_newest_first(outbox_file: Any) -> None:
    backend = FileBackend(stream=io.StringIO())
    for n in range(3):
        backend.send(to=TO, body=f"mesaj {n} ğ", idempotency_key=f"k-{n}")

    entries = read_outbox()

    assert [(e["id"], e["body"]) for e in entries] == [
        ("k-2", "mesaj 2 ğ"),
        ("k-1", "mesaj 1 ğ"),
        ("k-0", "mesaj 0 ğ"),
    ]
    assert all(isinstance(e["at"], datetime) for e in entries)


def test_it_reads_a_missing_outbox_file_as_empty(outbox_file: Any) -> None:
    assert not outbox_file.exists()
    assert read_outbox() == []


@pytest.mark.parametrize("backend", ["console", "twilio"])
def test_it_has_no_readable_outbox_for_other_backends(
    settings: Any, sms_outbox: list[dict[str, Any]], backend: str
) -> None:
    LocmemBackend().send(to=TO, body=BODY, idempotency_key="k-1")
    settings.SMS_BACKEND = backend

    assert read_outbox() == []


# -- twilio, through the real twilio client against the local fake ---------------------------


def test_it_sends_through_twilio_and_returns_the_message_sid(
    twilio_settings: Any, fake_twilio: FakeTwilio
) -> None:
    provider_id = get_backend().send(to=TO, body=BODY, idempotency_key="k-1")

    assert re.fullmatch(r"SM[0-9a-f]{32}", provider_id)
    [request] = fake_twilio.requests
    assert request.status == 201
    assert request.sid == provider_id
    assert request.path == MESSAGES_PATH
    assert request.auth == (ACCOUNT_SID, AUTH_TOKEN)
    assert request.form == {"To": TO, "From": FROM_NUMBER, "Body": BODY}
    assert request.headers["User-Agent"].startswith("twilio-python/")
    assert fake_twilio.deliveries == [request]


def test_it_reports_a_twilio_client_error_as_not_retryable(
    twilio_settings: Any, fake_twilio: FakeTwilio
) -> None:
    fake_twilio.script(
        Reply(400, code=21211, message="The 'To' number +905321234567 is not a valid phone number.")
    )

    with pytest.raises(SmsDeliveryError) as excinfo:
        TwilioBackend().send(to=TO, body=BODY, idempotency_key="k-1")

    assert excinfo.value.retryable is False
    assert "HTTP 400" in excinfo.value.reason
    assert "21211" in excinfo.value.reason
    assert len(fake_twilio.requests) == 1
    assert fake_twilio.deliveries == []


def test_it_reports_rejected_credentials_as_not_retryable(
    twilio_settings: Any, fake_twilio: FakeTwilio
) -> None:
    twilio_settings.TWILIO_AUTH_TOKEN = "wrong-token"

    with pytest.raises(SmsDeliveryError) as excinfo:
        TwilioBackend().send(to=TO, body=BODY, idempotency_key="k-1")

    assert excinfo.value.retryable is False
    assert "HTTP 401" in excinfo.value.reason
    [request] = fake_twilio.requests
    assert request.auth == (ACCOUNT_SID, "wrong-token")
    assert request.status == 401


@pytest.mark.parametrize("status", [429, 500, 503])
def test_it_reports_twilio_overload_and_server_errors_as_retryable(
    twilio_settings: Any, fake_twilio: FakeTwilio, status: int
) -> None:
    fake_twilio.script(status)

    with pytest.raises(SmsDeliveryError) as excinfo:
        TwilioBackend().send(to=TO, body=BODY, idempotency_key="k-1")

    assert excinfo.value.retryable is True
    assert f"HTTP {status}" in excinfo.value.reason
    # The client itself must not retry: that decision belongs to the task.
    assert [r.status for r in fake_twilio.requests] == [status]


def test_it_reports_an_unreachable_twilio_as_retryable(twilio_settings: Any) -> None:
    twilio_settings.TWILIO_API_BASE_URL = f"http://127.0.0.1:{closed_port()}"

    with pytest.raises(SmsDeliveryError) as excinfo:
        TwilioBackend().send(to=TO, body=BODY, idempotency_key="k-1")

    assert excinfo.value.retryable is True
    assert "unreachable" in excinfo.value.reason


def test_it_reports_a_read_timeout_as_not_retryable(
    twilio_settings: Any, fake_twilio: FakeTwilio
) -> None:
    twilio_settings.TWILIO_TIMEOUT_SECONDS = 0.3
    fake_twilio.script(Reply(201, delay=5.0))

    with pytest.raises(SmsDeliveryError) as excinfo:
        TwilioBackend().send(to=TO, body=BODY, idempotency_key="k-1")

    # Twilio got the request and may deliver it: sending again could mean two SMS.
    assert excinfo.value.retryable is False
    assert "may or may not have been sent" in excinfo.value.reason
    [request] = fake_twilio.requests
    assert request.form["Body"] == BODY


def test_it_reports_a_connection_dropped_after_sending_as_not_retryable(
    twilio_settings: Any, fake_twilio: FakeTwilio
) -> None:
    fake_twilio.script(Reply(drop=True))

    with pytest.raises(SmsDeliveryError) as excinfo:
        TwilioBackend().send(to=TO, body=BODY, idempotency_key="k-1")

    assert excinfo.value.retryable is False
    assert "may have been sent" in excinfo.value.reason
    assert len(fake_twilio.requests) == 1


@pytest.mark.parametrize("missing", ["TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "TWILIO_FROM"])
def test_it_refuses_twilio_without_credentials(
    twilio_settings: Any, fake_twilio: FakeTwilio, missing: str
) -> None:
    setattr(twilio_settings, missing, "")

    with pytest.raises(SmsDeliveryError) as excinfo:
        get_backend()

    assert excinfo.value.retryable is False
    assert missing in excinfo.value.reason
    assert fake_twilio.requests == []
