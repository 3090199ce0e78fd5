"""The card tool API (pinvault/api.py) and ``manage.py card_tool``: keys, the pending unlock
with its new PIN, marking it applied, wrong-PUK reports and their race on PostgreSQL."""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from io import StringIO
from pathlib import Path

import pytest
import requests
from django.conf import settings
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import Client
from django.urls import reverse

from audit.models import AuditEvent
from nesportal.testing.factories import AkisCardFactory, CardUnlockFactory
from pinvault import services, vault
from pinvault.models import AkisCard, CardUnlock, VaultEntry

pytestmark = pytest.mark.django_db

KEY = "k" * 40
OTHER_KEY = "o" * 40
AUTH = {"HTTP_AUTHORIZATION": f"Bearer {KEY}"}
NEW_PIN = "503728"
State = AkisCard.State


@pytest.fixture(autouse=True)
def _keys(settings):
    settings.CARD_TOOL_API_KEYS = f"akis-izleme:{KEY}, yedek-arac:{OTHER_KEY}"


# A PIN-locked card without secrets (a test stores what it needs).
locked_card = partial(AkisCardFactory, pin_locked=True, no_secrets=True)


def pending_url(card: AkisCard | str) -> str:
    return reverse("pinvault_api:pending_unlock", args=[str(card)])


def applied_url(card: AkisCard | str, unlock_id: object) -> str:
    return reverse("pinvault_api:unlock_applied", args=[str(card), str(unlock_id)])


def wrong_puk_url(card: AkisCard | str) -> str:
    return reverse("pinvault_api:wrong_puk", args=[str(card)])


def events(action: str) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action=action).order_by("id"))


# --- keys ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "Bearer",
        "Bearer ",
        f"Basic {KEY}",
        f"Bearer {KEY[:-1]}",
        f"Bearer {KEY}x",
        f"Bearer akis-izleme:{KEY}",
        "Bearer şifre-çöp-ğ",  # not ASCII: still a 401, not a 500
    ],
)
def test_it_refuses_requests_without_a_valid_key(client, header):
    card = locked_card()
    CardUnlockFactory(card=card, pin=NEW_PIN)
    extra = {} if header is None else {"HTTP_AUTHORIZATION": header}

    response = client.get(pending_url(card), **extra)

    assert response.status_code == 401
    assert response.json()["code"] == "unauthorized"
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert NEW_PIN not in response.content.decode()
    assert [e.data["reason"] for e in events("nes.cardtool.auth_failed")] == [
        "no_key" if not header else "wrong_key"
    ]
    assert not events("nes.cardtool.unlock_fetched")


def test_it_checks_the_key_before_the_card(client):
    response = client.get(pending_url("AKIS-9999999999"))

    assert response.status_code == 401


def test_it_accepts_the_scheme_in_any_case_and_records_the_key_name(client):
    card = locked_card()
    CardUnlockFactory(card=card, pin=NEW_PIN)

    response = client.get(pending_url(card), HTTP_AUTHORIZATION=f"bearer {OTHER_KEY}")

    assert response.status_code == 200
    assert [e.data["tool"] for e in events("nes.cardtool.unlock_fetched")] == ["yedek-arac"]


@pytest.mark.parametrize("configured", ["", " , ", "no-secret-here"])
def test_it_is_off_without_configured_keys(client, settings, configured):
    settings.CARD_TOOL_API_KEYS = configured
    card = locked_card()
    CardUnlockFactory(card=card, pin=NEW_PIN)

    for response in (
        client.get(pending_url(card), **AUTH),
        client.post(wrong_puk_url(card), **AUTH),
        client.post(applied_url(card, 1), **AUTH),
    ):
        assert response.status_code == 503
        assert response.json()["code"] == "disabled"
    assert CardUnlock.objects.get().applied_at is None


def test_it_reads_the_keys_from_a_file_and_refuses_malformed_ones(tmp_path):
    keys_file = tmp_path / "card-tool-keys"
    keys_file.write_text(f"akis-izleme:{KEY},yedek:{OTHER_KEY}\n", encoding="utf-8")
    script = "from pinvault.api import configured_keys; print([n for n, _ in configured_keys()])"

    ok = run_manage(tmp_path, {"CARD_TOOL_API_KEYS_FILE": str(keys_file)}, "shell", "-c", script)
    short_secret = "geheim-" + "x" * 10
    bad = run_manage(tmp_path, {"CARD_TOOL_API_KEYS": f"akis:{short_secret}"}, "check")

    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.strip().splitlines()[-1] == "['akis-izleme', 'yedek']"
    assert bad.returncode != 0
    assert "CARD_TOOL_API_KEYS entries must be 'name:secret'" in bad.stderr
    assert short_secret not in bad.stderr + bad.stdout


def run_manage(tmp_path: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    base = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path),
        "LANG": "C.UTF-8",
        "DEBUG": "true",
        "DJANGO_SETTINGS_MODULE": "nesportal.settings",
        "VAR_DIR": str(tmp_path / "var"),
    }
    return subprocess.run(
        [sys.executable, str(Path(settings.BASE_DIR) / "manage.py"), *args],
        env={**base, **env},
        cwd=settings.BASE_DIR,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


# --- GET kilit-cozme -----------------------------------------------------------------------


def test_it_returns_the_pending_unlock_with_its_new_pin(client):
    card = locked_card()
    unlock = CardUnlockFactory(card=card, pin=NEW_PIN)

    response = client.get(pending_url(card), **AUTH)

    assert response.status_code == 200
    assert response.json() == {
        "card_serial": card.serial_number,
        "unlock_id": unlock.pk,
        "created_at": unlock.created_at.isoformat(),
        "new_pin": NEW_PIN,
    }
    assert "no-store" in response["Cache-Control"]
    assert response["Content-Type"] == "application/json"
    [event] = events("nes.cardtool.unlock_fetched")
    assert event.citizen == card.citizen
    assert event.data == {
        "tool": "akis-izleme",
        "card": card.serial_number,
        "unlock_id": unlock.pk,
        "new_pin_available": True,
    }
    assert NEW_PIN not in json.dumps(event.data)
    # Fetching changes nothing: the tool may fetch again after a failed write to the card.
    assert CardUnlock.objects.get().applied_at is None
    assert client.get(pending_url(card), **AUTH).json()["new_pin"] == NEW_PIN


def test_it_serves_the_pin_of_a_real_portal_unlock(client, sms_outbox):
    card = locked_card()
    result = services.unlock_card(card, actor=None)

    response = client.get(pending_url(card), **AUTH)

    assert response.status_code == 200
    assert response.json()["unlock_id"] == result.unlock.pk
    assert response.json()["new_pin"] == str(result.pin)


def test_it_logs_nothing_of_the_pin(client, caplog):
    card = locked_card()
    CardUnlockFactory(card=card, pin=NEW_PIN)

    with caplog.at_level(logging.DEBUG):
        response = client.get(pending_url(card), **AUTH)
        client.post(applied_url(card, CardUnlock.objects.get().pk), **AUTH)
        client.get(pending_url(card), **AUTH)  # a 404, which django.request logs

    assert response.json()["new_pin"] == NEW_PIN
    assert caplog.records  # the capture works (the 404 was logged)
    assert NEW_PIN not in caplog.text
    assert all(NEW_PIN not in str(r.args) for r in caplog.records)


def test_it_says_when_no_unlock_is_pending(client):
    card = locked_card()
    CardUnlockFactory(card=card, pin=NEW_PIN)
    CardUnlock.objects.update(applied_at=dt.datetime(2026, 1, 1, tzinfo=dt.UTC))

    response = client.get(pending_url(card), **AUTH)

    assert response.status_code == 404
    assert response.json() == {"detail": "no pending unlock", "code": "no_pending_unlock"}
    assert "no-store" in response["Cache-Control"]


@pytest.mark.parametrize("serial", ["AKIS-9999999999", "x" * 200, "ÇÖĞ-şüı", "..", "'; --"])
def test_it_answers_unknown_cards_with_a_json_404(client, serial):
    locked_card(serial_number="AKIS-0000000001")

    response = client.get(f"/api/kart-araci/kartlar/{serial}/kilit-cozme/", **AUTH)

    assert response.status_code == 404
    assert response.json()["code"] == "unknown_card"


def test_it_answers_a_nul_in_the_serial_with_a_json_400(client):
    locked_card(serial_number="AKIS-0000000001")

    response = client.get("/api/kart-araci/kartlar/AKIS-0000000001%00/kilit-cozme/", **AUTH)

    assert response.status_code == 400
    assert response.json()["code"] == "bad_request"
    assert response.json()["request_id"] == response["X-Request-ID"]


def test_it_refuses_to_hand_out_a_pin_that_is_no_longer_stored(client):
    card = locked_card()
    unlock = CardUnlockFactory(card=card, pin=NEW_PIN)
    VaultEntry.objects.filter(field="unlock_pin").delete()

    response = client.get(pending_url(card), **AUTH)

    assert response.status_code == 409
    assert response.json()["code"] == "new_pin_unavailable"
    assert response.json()["unlock_id"] == unlock.pk
    assert NEW_PIN not in response.content.decode()


def test_it_answers_a_wrong_method_with_405(client):
    card = locked_card()
    CardUnlockFactory(card=card, pin=NEW_PIN)

    get_on_post = client.get(wrong_puk_url(card), **AUTH)
    post_on_get = client.post(pending_url(card), **AUTH)

    assert (get_on_post.status_code, get_on_post["Allow"]) == (405, "POST")
    assert (post_on_get.status_code, post_on_get["Allow"]) == (405, "GET")
    assert AkisCard.objects.get().wrong_puk_count == 0


# --- POST uygulandi ------------------------------------------------------------------------


def test_it_marks_the_unlock_applied_and_forgets_the_unlock_pin(client):
    card = locked_card()
    unlock = CardUnlockFactory(card=card, pin=NEW_PIN)
    AkisCard.objects.filter(pk=card.pk).update(state=State.PIN_LOCKED)
    csrf_client = Client(enforce_csrf_checks=True)

    response = csrf_client.post(applied_url(card, unlock.pk), **AUTH)

    assert response.status_code == 200
    unlock.refresh_from_db()
    card.refresh_from_db()
    assert unlock.applied_at is not None
    assert response.json() == {
        "card_serial": card.serial_number,
        "unlock_id": unlock.pk,
        "applied_at": unlock.applied_at.isoformat(),
        "already_applied": False,
        "card_state": "active",
    }
    assert "no-store" in response["Cache-Control"]
    assert card.state == State.ACTIVE
    assert vault.reveal(card, "unlock_pin") is None
    assert vault.reveal(card, "pin") == NEW_PIN  # still on the holder's PIN/PUK page
    assert card.secrets_deleted_at is None
    [event] = events("nes.cardtool.unlock_applied")
    assert event.data == {"tool": "akis-izleme", "card": card.serial_number, "unlock_id": unlock.pk}
    assert client.get(pending_url(card), **AUTH).status_code == 404


def test_it_is_idempotent(client):
    card = locked_card()
    unlock = CardUnlockFactory(card=card, pin=NEW_PIN)
    first = client.post(applied_url(card, unlock.pk), **AUTH)

    second = client.post(applied_url(card, unlock.pk), **AUTH)

    assert second.status_code == 200
    assert second.json()["already_applied"] is True
    assert second.json()["applied_at"] == first.json()["applied_at"]
    assert len(events("nes.cardtool.unlock_applied")) == 1


def test_it_leaves_an_unusable_card_unusable(client):
    card = locked_card()
    unlock = CardUnlockFactory(card=card, pin=NEW_PIN)
    AkisCard.objects.filter(pk=card.pk).update(state=State.UNUSABLE)

    response = client.post(applied_url(card, unlock.pk), **AUTH)

    assert response.json()["card_state"] == "unusable"


@pytest.mark.parametrize("unlock_id", ["abc", "-1", "0", "9" * 30, "١٢", "12.5"])
def test_it_answers_unknown_unlock_ids_with_a_json_404(client, unlock_id):
    card = locked_card()
    CardUnlockFactory(card=card, pin=NEW_PIN)

    response = client.post(applied_url(card, unlock_id), **AUTH)

    assert response.status_code == 404
    assert response.json()["code"] == "unknown_unlock"
    assert CardUnlock.objects.get().applied_at is None


def test_it_does_not_apply_another_cards_unlock(client):
    mine, theirs = locked_card(), locked_card()
    CardUnlockFactory(card=mine, pin=NEW_PIN)
    their_unlock = CardUnlockFactory(card=theirs, pin="836150")

    response = client.post(applied_url(mine, their_unlock.pk), **AUTH)

    assert response.status_code == 404
    their_unlock.refresh_from_db()
    assert their_unlock.applied_at is None
    assert vault.reveal(theirs, "unlock_pin") == "836150"


# --- POST hatali-puk -----------------------------------------------------------------------


def test_it_counts_wrong_puks_and_the_third_makes_the_card_unusable(
    client, sms_outbox, django_capture_on_commit_callbacks
):
    card = locked_card(produced_on=dt.date(2010, 6, 15))

    with django_capture_on_commit_callbacks(execute=True):
        answers = [client.post(wrong_puk_url(card), **AUTH) for _ in range(4)]

    assert [a.status_code for a in answers] == [200, 200, 200, 409]
    assert [a.json() for a in answers[:3]] == [
        {
            "card_serial": card.serial_number,
            "wrong_puk_count": n,
            "state": "unusable" if n == 3 else "pin_locked",
            "attempts_left": 3 - n,
        }
        for n in (1, 2, 3)
    ]
    assert answers[3].json() == {
        "detail": "the card is unusable; it must be renewed",
        "code": "unusable",
        "wrong_puk_count": 3,
        "state": "unusable",
        "attempts_left": 0,
    }
    card.refresh_from_db()
    assert (card.wrong_puk_count, card.state) == (3, State.UNUSABLE)
    assert [e.data["wrong_puk_count"] for e in events("nes.cardtool.wrong_puk")] == [1, 2, 3]
    assert [e.data["reason"] for e in events("nes.cardtool.wrong_puk_refused")] == ["unusable"]
    # One SMS, on the third wrong PUK, telling the holder the card must be renewed.
    assert [m["to"] for m in sms_outbox] == [card.citizen.mobile_phone]
    assert card.serial_number in sms_outbox[0]["body"]


def test_it_counts_the_day_before_2011_and_refuses_the_first_day_of_2011(client):
    before = locked_card(produced_on=dt.date(2010, 12, 31))
    from_2011 = locked_card(produced_on=dt.date(2011, 1, 1))

    counted = client.post(wrong_puk_url(before), **AUTH)
    refused = client.post(wrong_puk_url(from_2011), **AUTH)

    assert counted.status_code == 200
    assert refused.status_code == 409
    assert refused.json()["code"] == "no_puk"
    from_2011.refresh_from_db()
    assert (from_2011.wrong_puk_count, from_2011.state) == (0, State.PIN_LOCKED)


def test_it_does_not_count_for_a_card_already_unusable(client):
    card = locked_card(produced_on=dt.date(2009, 1, 5), state=State.UNUSABLE, wrong_puk_count=1)

    response = client.post(wrong_puk_url(card), **AUTH, data="junk", content_type="text/plain")

    assert response.status_code == 409
    card.refresh_from_db()
    assert card.wrong_puk_count == 1


# --- manage.py card_tool -------------------------------------------------------------------


def card_tool(*args: str) -> str:
    out = StringIO()
    call_command("card_tool", *args, stdout=out)
    return out.getvalue()


def test_the_command_shows_the_pending_unlock_and_the_pin_only_when_asked():
    card = locked_card()
    unlock = CardUnlockFactory(card=card, pin=NEW_PIN)

    hidden = card_tool("pending", card.serial_number)
    shown = card_tool("pending", card.serial_number, "--show-pin")

    assert f"unlock_id:  {unlock.pk}" in hidden
    assert NEW_PIN not in hidden
    assert "--show-pin" in hidden
    assert f"new_pin:    {NEW_PIN}" in shown
    [event] = events("nes.cardtool.unlock_fetched")  # only the call that read the vault
    assert event.data["tool"] == "manage.py card_tool"


def test_the_command_marks_applied_and_counts_wrong_puks():
    card = locked_card()
    unlock = CardUnlockFactory(card=card, pin=NEW_PIN)
    old = locked_card(produced_on=dt.date(2010, 6, 15))

    first = card_tool("applied", card.serial_number, str(unlock.pk))
    again = card_tool("applied", card.serial_number, str(unlock.pk))
    puk = card_tool("wrong-puk", old.serial_number)

    assert "applied; card state: active" in first
    assert "already applied" in again
    assert "wrong PUK entries 1, state pin_locked, attempts left 2" in puk
    assert vault.reveal(card, "unlock_pin") is None
    assert [e.data["tool"] for e in events("nes.cardtool.unlock_applied")] == [
        "manage.py card_tool"
    ]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["pending", "AKIS-9999999999"], "Unknown card"),
        (["pending", "{serial}"], "No pending unlock"),
        (["applied", "{serial}", "12345"], "no such unlock"),
        (["wrong-puk", "{serial}"], "without PUK"),
    ],
)
def test_the_command_fails_clearly(args, message):
    card = locked_card()

    with pytest.raises(CommandError, match=message):
        card_tool(*(a.format(serial=card.serial_number) for a in args))


# --- races on PostgreSQL -------------------------------------------------------------------


def in_parallel(n: int, call) -> list:
    barrier = threading.Barrier(n)

    def run(_: int):
        try:
            barrier.wait(timeout=30)
            return call()
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=n) as pool:
        return [f.result(timeout=120) for f in [pool.submit(run, i) for i in range(n)]]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_ten_parallel_wrong_puk_reports_count_exactly_three(live_server):
    card = locked_card(produced_on=dt.date(2010, 6, 15))
    url = live_server.url + wrong_puk_url(card)

    def report():
        response = requests.post(url, headers={"Authorization": f"Bearer {KEY}"}, timeout=60)
        return response.status_code, response.json()

    answers = in_parallel(10, report)

    card.refresh_from_db()
    assert (card.wrong_puk_count, card.state) == (3, State.UNUSABLE)
    assert sorted(status for status, _ in answers) == [200] * 3 + [409] * 7
    counted = sorted((body["wrong_puk_count"], body["state"]) for s, body in answers if s == 200)
    assert counted == [(1, "pin_locked"), (2, "pin_locked"), (3, "unusable")]
    assert {body["code"] for s, body in answers if s == 409} == {"unusable"}
    assert len(events("nes.cardtool.wrong_puk")) == 3
    assert len(events("nes.cardtool.wrong_puk_refused")) == 7


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_ten_parallel_applied_calls_apply_once(live_server):
    card = locked_card()
    unlock = CardUnlockFactory(card=card, pin=NEW_PIN)
    url = live_server.url + applied_url(card, unlock.pk)

    def apply():
        response = requests.post(url, headers={"Authorization": f"Bearer {KEY}"}, timeout=60)
        return response.status_code, response.json()

    answers = in_parallel(10, apply)

    assert {status for status, _ in answers} == {200}
    assert sorted(body["already_applied"] for _, body in answers) == [False] + [True] * 9
    assert len({body["applied_at"] for _, body in answers}) == 1
    assert len(events("nes.cardtool.unlock_applied")) == 1
    assert vault.reveal(card, "unlock_pin") is None
    assert vault.reveal(card, "pin") == NEW_PIN
