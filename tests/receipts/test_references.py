"""Receipt references: shape, check character, normalisation, uniqueness, the issuing contract."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from django.db import transaction

from accounts.models import Citizen
from audit.models import AuditEvent
from receipts import models as receipt_models
from receipts import services
from receipts.models import (
    ALPHABET,
    REFERENCE_REGEX,
    Receipt,
    check_character,
    make_reference,
    normalize_reference,
)
from receipts.services import add_facts, issue_receipt

SHAPE = re.compile(REFERENCE_REGEX)


def test_it_makes_references_of_the_documented_shape() -> None:
    for _ in range(200):
        reference = make_reference()
        assert SHAPE.match(reference), reference
        assert re.fullmatch(r"NES-\d{4}-[0-9A-Z]{4}-[0-9A-Z]{4}", reference)
        assert not set(reference[9:].replace("-", "")) & set("ILOU")
        assert normalize_reference(reference) == reference


def test_the_year_is_istanbul_time() -> None:
    # 22:30 UTC on New Year's Eve is already 01:30 on 1 January in Istanbul.
    new_year = dt.datetime(2026, 12, 31, 22, 30, tzinfo=dt.UTC)
    assert make_reference(new_year).startswith("NES-2027-")
    assert make_reference(new_year - dt.timedelta(hours=2)).startswith("NES-2026-")


def test_references_are_random() -> None:
    assert len({make_reference()[9:] for _ in range(500)}) == 500


def test_the_check_character_catches_every_single_typo_and_swap_but_0_z() -> None:
    reference = make_reference()
    body = reference[4:8] + reference[9:].replace("-", "")
    assert check_character(body[:-1]) == body[-1]
    for i in range(len(body)):
        for char in ALPHABET:
            if char != body[i]:
                typo = body[:i] + char + body[i + 1 :]
                assert check_character(typo[:-1]) != typo[-1], (body, typo)
    for i in range(len(body) - 1):
        if body[i] != body[i + 1] and {body[i], body[i + 1]} != {"0", "Z"}:
            swapped = body[:i] + body[i + 1] + body[i] + body[i + 2 :]
            assert check_character(swapped[:-1]) != swapped[-1], (body, swapped)
    # Luhn mod N's one blind spot, documented in receipts.models.
    assert check_character("20260Z") == check_character("2026Z0")


def test_normalize_accepts_what_a_person_types_and_refuses_the_rest() -> None:
    reference = "NES-2026-7K3M-9QX" + check_character("2026" + "7K3M9QX")
    assert normalize_reference(reference.lower()) == reference
    assert normalize_reference(" " + reference.replace("-", "- ") + " ") == reference
    with_zero = "NES-2026-0K1M-9QX" + check_character("2026" + "0K1M9QX")
    typed = with_zero[:9] + with_zero[9:].replace("0", "O").replace("1", "l")
    assert normalize_reference(typed) == with_zero
    wrong_check = reference[:-1] + ("0" if reference[-1] != "0" else "1")
    for bad in [wrong_check, "NES-2026-7K3M", "ABC-2026-7K3M-9QXD", "NES-20X6-7K3M-9QXD", ""]:
        assert normalize_reference(bad) is None, bad


@pytest.mark.django_db(transaction=True)  # no test transaction around it
def test_issue_receipt_runs_only_inside_the_actions_transaction(citizen: Citizen) -> None:
    with pytest.raises(RuntimeError):
        issue_receipt(citizen, Receipt.Kind.EONAY_DECISION, subject="EO-1", facts={})
    assert not Receipt.objects.exists()


@pytest.mark.django_db
def test_issue_receipt_is_audited_and_rolled_back_with_the_action(citizen: Citizen) -> None:
    with transaction.atomic():
        receipt = issue_receipt(
            citizen, Receipt.Kind.EONAY_DECISION, subject="EO-1", facts={"application": "EO-1"}
        )
    event = AuditEvent.objects.get(action="nes.receipt.issued")
    assert event.citizen == citizen
    assert event.data == {"receipt": receipt.reference, "kind": Receipt.Kind.EONAY_DECISION}

    class ActionFailed(Exception):
        pass

    with pytest.raises(ActionFailed), transaction.atomic():
        issue_receipt(citizen, Receipt.Kind.EONAY_DECISION, subject="EO-2", facts={})
        raise ActionFailed
    assert list(Receipt.objects.values_list("subject", flat=True)) == ["EO-1"]
    assert AuditEvent.objects.filter(action="nes.receipt.issued").count() == 1


@pytest.mark.django_db
def test_a_colliding_reference_is_drawn_again(citizen: Citizen, monkeypatch: Any) -> None:
    with transaction.atomic():
        first = issue_receipt(citizen, Receipt.Kind.EONAY_DECISION, subject="EO-1", facts={})
    drawn = iter([first.reference, first.reference, make_reference()])
    monkeypatch.setattr(services, "make_reference", lambda now=None: next(drawn))
    with transaction.atomic():
        second = issue_receipt(citizen, Receipt.Kind.EONAY_DECISION, subject="EO-2", facts={})
    assert second.reference != first.reference
    assert Receipt.objects.count() == 2
    assert receipt_models.Receipt.objects.get(reference=second.reference).subject == "EO-2"


@pytest.mark.django_db
def test_the_database_refuses_a_reference_of_another_shape(citizen: Citizen) -> None:
    from django.db import IntegrityError

    with pytest.raises(IntegrityError), transaction.atomic():
        Receipt.objects.create(reference="NES-1", citizen=citizen, kind="revocation", subject="x")


@pytest.mark.django_db
def test_facts_never_hold_a_secret_and_are_stored_once(citizen: Citizen) -> None:
    for key in ["pin", "PUK", "code", "password", "token"]:
        with pytest.raises(ValueError), transaction.atomic():
            issue_receipt(citizen, Receipt.Kind.PINPUK_DELETION, subject="c", facts={key: "1"})
    with transaction.atomic():
        receipt = issue_receipt(citizen, Receipt.Kind.REVOCATION, subject="s", facts={"a": 1})
    assert add_facts(receipt, b=2) == {"a": 1, "b": 2}
    assert add_facts(receipt, a=9, b=9, c=3) == {"a": 1, "b": 2, "c": 3}
    receipt.refresh_from_db()
    assert receipt.facts == {"a": 1, "b": 2, "c": 3}
    with pytest.raises(ValueError):
        add_facts(receipt, pin="1234")
