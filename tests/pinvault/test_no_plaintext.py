"""No PIN or PUK in plaintext anywhere in the database, in ``dumpdata`` or on the admin pages.

The demo is seeded, more cards get known secrets, a portal unlock is fetched and applied through
the card tool API, a wrong PUK is reported and one card's secrets are deleted; then every column
of every table is read back (SQLite: ``sqlite_master``; PostgreSQL: ``information_schema`` of
the public schema) and searched for every secret, as text and as UTF-8 bytes.

Every secret is a value chosen here (the demo's and the unlock's PIN generator and the demo's
PUK source are patched), so a run is reproducible. Random digits elsewhere could still equal a
six-digit PIN by chance: time is frozen at a whole second, so no timestamp written during the
test carries microseconds, and occurrences already present in a dump taken before any secret
existed (e.g. the microseconds of ``django_migrations.applied``) are not counted.
"""

from __future__ import annotations

import datetime as dt
import re
import types
from collections.abc import Iterator
from io import StringIO

import pytest
import time_machine
from django.core.management import call_command
from django.db import connection
from django.urls import reverse

from accounts.models import Citizen
from nesportal import demo
from nesportal.testing import login_as
from nesportal.testing.factories import AkisCardFactory
from pinvault import pins, services, vault
from pinvault.models import AkisCard, CardUnlock, VaultEntry

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 3, 2, 9, 30, 0, tzinfo=dt.UTC)
KEY = "n" * 40
# What pins.new_pin() and the demo's PUK source return during the test, in this order.
GENERATED_PINS = ["247514", "318031", "756250", "415297", "502140", "069746", "576089", "962545"]
UNLOCK_PIN = "232708"
GENERATED_PUKS = ["14251680", "35127407", "28776338", "03441299"]
GENERATED_PUKS += ["85991773", "34930720", "36473366", "25962489"]
KNOWN = {
    # serial: (pin, puk), stored directly with vault.store
    "AKIS-7000000001": ("836150", "40719283"),
    "AKIS-7000000002": ("570394", "93827164"),
    "AKIS-7000000003": ("294615", "61830472"),
}
ALL_SECRETS = (
    set(GENERATED_PINS)
    | {UNLOCK_PIN}
    | set(GENERATED_PUKS)
    | {value for pair in KNOWN.values() for value in pair}
)


def dump_database() -> tuple[str, bytes]:
    """Every value of every table: as one text and as one byte string."""
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            )
        else:
            cursor.execute(
                "SELECT table_name FROM information_schema.tables "
                "WHERE table_schema = 'public' AND table_type = 'BASE TABLE'"
            )
        tables = sorted(row[0] for row in cursor.fetchall())
        texts: list[str] = []
        blobs: list[bytes] = []
        for table in tables:
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")  # noqa: S608
            for row in cursor.fetchall():
                for value in row:
                    if isinstance(value, bytes | bytearray | memoryview):
                        blobs.append(bytes(value))
                    elif value is not None:
                        texts.append(str(value))
                        blobs.append(str(value).encode())
    assert {"pinvault_vaultentry", "pinvault_akiscard", "audit_auditevent"} <= set(tables)
    return "\n".join(texts), b"\n".join(blobs)


def dumpdata() -> str:
    out = StringIO()
    call_command("dumpdata", "--indent", "0", stdout=out)
    return out.getvalue()


def one_by_one(values: list[str], what: str) -> Iterator[str]:
    yield from values
    raise AssertionError(f"the test needs more {what}")


def make_known_cards() -> list[AkisCard]:
    citizen = Citizen.objects.order_by("pk").first()
    return [
        AkisCardFactory(
            citizen=citizen,
            serial_number=serial,
            produced_on=dt.date(2010, 6, 15) if i == 0 else dt.date(2024, 3, 1),
            pin_locked=True,
            pin=pin,
            puk=puk,
        )
        for i, (serial, (pin, puk)) in enumerate(KNOWN.items())
    ]


@pytest.fixture
def baseline(db) -> dict[str, object]:
    """The dumps before any secret exists."""
    text, blob = dump_database()
    return {"text": text, "blob": blob, "dumpdata": dumpdata()}


@pytest.fixture
def populated(baseline, demo_pki, settings, client, sms_outbox, monkeypatch) -> dict[str, object]:
    """The demo, the known cards, and a portal unlock applied by the card tool."""
    settings.CARD_TOOL_API_KEYS = f"akis-izleme:{KEY}"
    new_pins = one_by_one([*GENERATED_PINS, UNLOCK_PIN], "PINs")
    new_puks = one_by_one(GENERATED_PUKS, "PUKs")
    monkeypatch.setattr(pins, "new_pin", lambda length=6: next(new_pins))
    monkeypatch.setattr(
        demo, "secrets", types.SimpleNamespace(randbelow=lambda n: int(next(new_puks)))
    )

    with time_machine.travel(NOW, tick=False):
        call_command("seed_demo", "--force", stdout=StringIO())
        old, new, deleted = make_known_cards()
        unlocked = AkisCard.objects.filter(produced_on__gte=dt.date(2011, 1, 1)).exclude(
            pk__in=[new.pk, deleted.pk]
        )[0]
        result = services.unlock_card(unlocked, actor=None)
        assert str(result.pin) == UNLOCK_PIN
        auth = {"HTTP_AUTHORIZATION": f"Bearer {KEY}"}
        fetched = client.get(f"/api/kart-araci/kartlar/{unlocked}/kilit-cozme/", **auth)
        assert fetched.json()["new_pin"] == UNLOCK_PIN
        applied = client.post(
            f"/api/kart-araci/kartlar/{unlocked}/kilit-cozme/{result.unlock.pk}/uygulandi/",
            **auth,
        )
        assert applied.json()["already_applied"] is False
        assert client.post(f"/api/kart-araci/kartlar/{old}/hatali-puk/", **auth).status_code == 200
        services.delete_secrets(deleted, actor=None)
        login_as(client, old.citizen)  # a citizen session in django_session too

    # Every secret the vault holds is one of ours, and the test is not vacuous.
    held = {vault.reveal(e.card, e.field) for e in VaultEntry.objects.select_related("card")}
    assert held <= ALL_SECRETS
    # (The unlock replaced one demo card's PIN; the unlock PIN itself was forgotten once
    # applied, and stays as that card's PIN.)
    assert len(held & set(GENERATED_PINS)) == len(GENERATED_PINS) - 1
    assert UNLOCK_PIN in held and set(GENERATED_PUKS) <= held
    assert AkisCard.objects.filter(serial_number__startswith="AKIS-").count() == 8 + len(KNOWN)
    return {"unlocked": unlocked}


def new_occurrences(secret: str, before: str | bytes, after: str | bytes) -> int:
    """How many more times ``secret`` stands on its own in ``after`` than in ``before``.

    "On its own": not inside a longer run of hex digits. A stored PIN or PUK is a value of its
    own (a column, a JSON string), while the dump also holds thousands of random hex strings
    (certificate serials, SHA-256 hashes, each copied into several tables) in which any six
    digits turn up now and then: counted as plain substrings they failed this test by chance
    (836150 inside a certificate serial, twice)."""
    pattern = rf"(?<![0-9A-Fa-f]){re.escape(secret)}(?![0-9A-Fa-f])"
    if isinstance(after, bytes):
        needle = re.compile(pattern.encode())
        old = before if isinstance(before, bytes) else before.encode()
        return len(needle.findall(after)) - len(needle.findall(old))
    text = re.compile(pattern)
    old_text = before if isinstance(before, str) else before.decode("utf-8", "replace")
    return len(text.findall(after)) - len(text.findall(old_text))


def test_the_database_holds_no_pin_or_puk_in_plaintext(baseline, populated):
    text, blob = dump_database()

    assert CardUnlock.objects.filter(applied_at__isnull=False).count() == 1
    for secret in sorted(ALL_SECRETS):
        assert new_occurrences(secret, baseline["text"], text) <= 0, secret
        assert new_occurrences(secret, baseline["blob"], blob) <= 0, secret


def test_dumpdata_holds_no_pin_or_puk(baseline, populated):
    dump = dumpdata()

    assert '"model": "pinvault.vaultentry"' in dump
    for secret in sorted(ALL_SECRETS):
        assert new_occurrences(secret, baseline["dumpdata"], dump) <= 0, secret


def test_the_admin_card_pages_show_no_pin_or_puk(populated, admin_client):
    pages = [
        reverse("admin:pinvault_akiscard_changelist"),
        reverse("admin:pinvault_cardunlock_changelist"),
        reverse("admin:audit_auditevent_changelist"),
    ]
    pages += [
        reverse("admin:pinvault_akiscard_change", args=[pk])
        for pk in AkisCard.objects.values_list("pk", flat=True)
    ]
    pages += [
        reverse("admin:pinvault_cardunlock_change", args=[pk])
        for pk in CardUnlock.objects.values_list("pk", flat=True)
    ]

    for page in pages:
        response = admin_client.get(page)
        assert response.status_code == 200, page
        html = response.content.decode()
        for secret in ALL_SECRETS:
            assert secret not in html, page


def test_the_demo_gives_every_citizen_two_locked_cards_and_prints_no_secret(demo_pki):
    out = StringIO()
    call_command("seed_demo", "--force", stdout=out)
    first = {
        card.serial_number: (card.citizen_id, card.produced_on, card.state)
        for card in AkisCard.objects.all()
    }
    secrets = {vault.reveal(e.card, e.field) for e in VaultEntry.objects.select_related("card")}
    call_command("seed_demo", "--force", stdout=StringIO())

    assert len(first) == 2 * Citizen.objects.count()
    for citizen in Citizen.objects.all():
        cards = citizen.cards.order_by("produced_on")
        assert [c.produced_on for c in cards] == list(demo.DEMO_CARD_DATES)
        assert [c.unlocks_with_puk for c in cards] == [True, False]
        assert {c.state for c in cards} == {AkisCard.State.PIN_LOCKED}
        for card in cards:
            assert card.serial_number == demo.demo_card_serial(citizen, card.produced_on)
            assert len(card.serial_number) == 15 and card.serial_number[5:].isdigit()
            pin, puk = vault.reveal(card, "pin"), vault.reveal(card, "puk")
            assert pins.is_acceptable_pin(pin)
            assert len(puk) == 8 and puk.isascii() and puk.isdigit()
    # Idempotent: the second run keeps the same cards and secrets.
    assert {
        card.serial_number: (card.citizen_id, card.produced_on, card.state)
        for card in AkisCard.objects.all()
    } == first
    assert {
        vault.reveal(e.card, e.field) for e in VaultEntry.objects.select_related("card")
    } == secrets
    assert not any(secret in out.getvalue() for secret in secrets)
