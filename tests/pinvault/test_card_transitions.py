"""AkisCard's transitions and what it allows, at model level (no audit, no SMS: the services').

Every transition is a method that locks the row or is one conditional UPDATE, checks the state
and raises ``PinVaultError`` (with a stable ``code``) when the state does not allow it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from django.utils import timezone

from pinvault import vault
from pinvault.models import (
    MAX_WRONG_PUK,
    AkisCard,
    CardAction,
    CardUnlock,
    PinVaultError,
    PortalUnlock,
    VaultEntry,
)
from tests.parallel import in_parallel

pytestmark = pytest.mark.django_db

State = AkisCard.State
Field = VaultEntry.Field
NOW = timezone.make_aware(dt.datetime(2026, 3, 2, 10, 0))


def fields_of(card: AkisCard) -> set[str]:
    return set(VaultEntry.objects.filter(card=card).values_list("field", flat=True))


def stored_card(card: AkisCard) -> AkisCard:
    """The row as the database has it now."""
    return AkisCard.objects.get(pk=card.pk)


# --- unlock: pin_locked → active (cards from 2011 on) ----------------------------------------


def test_it_unlocks_a_pin_locked_card_and_records_a_pending_unlock(card_factory: Any) -> None:
    card = card_factory(pin_locked=True)

    result = card.unlock(now=NOW)

    assert isinstance(result, PortalUnlock)
    assert result.superseded_id is None
    assert result.unlock.applied_at is None and result.unlock.created_at == NOW
    assert card.state == State.ACTIVE
    assert stored_card(card).state == State.ACTIVE
    assert list(CardUnlock.objects.filter(card=card)) == [result.unlock]


def test_a_new_unlock_replaces_one_the_tool_has_not_applied(card_factory: Any) -> None:
    card = card_factory(pin_locked=True)
    first = card.unlock(now=NOW).unlock
    AkisCard.objects.filter(pk=card.pk).update(state=State.PIN_LOCKED)  # locked again on the card
    card.refresh_from_db()

    second = card.unlock(now=NOW + dt.timedelta(minutes=5))

    assert second.superseded_id == first.pk
    assert list(CardUnlock.objects.filter(card=card)) == [second.unlock]


@pytest.mark.parametrize(
    ("traits", "code", "words"),
    [
        ({"before_2011": True, "pin_locked": True}, "puk_card", "PUK kodu ile"),
        ({"unusable": True}, "unusable", "kullanım dışıdır"),
        ({}, "not_locked", "kilitli değil"),
    ],
)
def test_it_refuses_to_unlock_a_card_its_state_does_not_allow(
    card_factory: Any, traits: dict[str, bool], code: str, words: str
) -> None:
    card = card_factory(**traits)
    before = stored_card(card).state

    with pytest.raises(PinVaultError, match=words) as refused:
        card.unlock(now=NOW)

    assert refused.value.code == code
    assert refused.value.message == card.unlock_refusal()
    assert stored_card(card).state == before
    assert not CardUnlock.objects.filter(card=card).exists()


def test_the_refusal_is_decided_on_the_locked_row_not_the_instance(card_factory: Any) -> None:
    card = card_factory(pin_locked=True)
    stale = stored_card(card)
    card.unlock(now=NOW)

    with pytest.raises(PinVaultError) as refused:
        stale.unlock(now=NOW)

    assert refused.value.code == "not_locked"
    assert stale.state == State.ACTIVE  # the instance now shows the row's state
    assert CardUnlock.objects.filter(card=card).count() == 1


# --- apply_unlock: the card tool wrote the new PIN --------------------------------------------


def test_applying_an_unlock_forgets_the_unlock_pin_and_keeps_the_card_active(
    card_factory: Any,
) -> None:
    card = card_factory(pin_locked=True, unlock_pin="604829")
    unlock = card.unlock(now=NOW).unlock

    applied, by_this_call = card.apply_unlock(unlock.pk, now=NOW + dt.timedelta(hours=1))

    assert by_this_call is True
    assert applied.pk == unlock.pk
    assert applied.applied_at == NOW + dt.timedelta(hours=1)
    assert fields_of(card) == {Field.PIN, Field.PUK}
    assert card.state == State.ACTIVE == stored_card(card).state


def test_applying_again_changes_nothing(card_factory: Any) -> None:
    card = card_factory(pin_locked=True)
    unlock = card.unlock(now=NOW).unlock
    card.apply_unlock(unlock.pk, now=NOW)
    vault.store(card, Field.UNLOCK_PIN, "111111")  # would be deleted by a second application

    applied, by_this_call = card.apply_unlock(unlock.pk, now=NOW + dt.timedelta(days=1))

    assert by_this_call is False
    assert applied.applied_at == NOW
    assert Field.UNLOCK_PIN in fields_of(card)


def test_a_card_that_became_unusable_stays_unusable_when_its_unlock_is_applied(
    card_factory: Any,
) -> None:
    card = card_factory(pin_locked=True)
    unlock = card.unlock(now=NOW).unlock
    AkisCard.objects.filter(pk=card.pk).update(state=State.UNUSABLE, wrong_puk_count=3)

    card.apply_unlock(unlock.pk, now=NOW)

    assert card.state == State.UNUSABLE == stored_card(card).state


def test_it_refuses_an_unlock_of_another_card(card_factory: Any) -> None:
    card, other = card_factory(pin_locked=True), card_factory(pin_locked=True)
    unlock = other.unlock(now=NOW).unlock

    with pytest.raises(PinVaultError) as refused:
        card.apply_unlock(unlock.pk, now=NOW)

    assert refused.value.code == "unknown_unlock"
    assert CardUnlock.objects.get(pk=unlock.pk).applied_at is None


# --- count_wrong_puk: cards before 2011 --------------------------------------------------------


def test_the_third_wrong_puk_makes_the_card_unusable(card_factory: Any) -> None:
    card = card_factory(before_2011=True, pin_locked=True)

    seen = []
    for _ in range(MAX_WRONG_PUK):
        card.count_wrong_puk(now=NOW)
        seen.append((card.wrong_puk_count, card.state))

    assert seen == [(1, State.PIN_LOCKED), (2, State.PIN_LOCKED), (3, State.UNUSABLE)]
    row = stored_card(card)
    assert (row.wrong_puk_count, row.state, row.updated_at) == (3, State.UNUSABLE, NOW)


def test_an_unusable_card_counts_no_more_wrong_puks(card_factory: Any) -> None:
    card = card_factory(before_2011=True, unusable=True)

    with pytest.raises(PinVaultError, match="kullanım dışıdır") as refused:
        card.count_wrong_puk(now=NOW)

    assert refused.value.code == "unusable"
    assert (card.wrong_puk_count, card.state) == (3, State.UNUSABLE)


def test_a_card_from_2011_on_has_no_wrong_puks(card_factory: Any) -> None:
    card = card_factory(pin_locked=True)

    with pytest.raises(PinVaultError, match="PUK'suz") as refused:
        card.count_wrong_puk(now=NOW)

    assert refused.value.code == "no_puk"
    assert stored_card(card).wrong_puk_count == 0


# --- destroy_secrets: Parolalarımı Sil ---------------------------------------------------------


def test_destroying_the_secrets_deletes_the_rows_and_records_when(card_factory: Any) -> None:
    card = card_factory(unlock_pin="135790")

    assert card.destroy_secrets(now=NOW) == 3

    assert fields_of(card) == set()
    assert card.secrets_deleted_at == NOW == stored_card(card).secrets_deleted_at


def test_it_refuses_to_destroy_the_secrets_while_an_unlock_waits(card_factory: Any) -> None:
    card = card_factory(pin_locked=True)
    card.unlock(now=NOW)

    with pytest.raises(PinVaultError, match="bekleyen bir kilit çözme") as refused:
        card.destroy_secrets(now=NOW)

    assert refused.value.code == "unlock_pending"
    assert fields_of(card) == {Field.PIN, Field.PUK}
    assert stored_card(card).secrets_deleted_at is None


# --- what the card allows ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("traits", "stored", "pending", "actions"),
    [
        ({"pin_locked": True}, {"pin", "puk"}, False, {"unlock", "delete_secrets"}),
        ({"pin_locked": True}, set(), False, {"unlock"}),
        ({"pin_locked": True}, {"pin"}, True, {"unlock"}),
        ({}, {"pin", "puk"}, False, {"delete_secrets"}),
        ({}, {"unlock_pin"}, True, set()),
        (
            {"before_2011": True, "pin_locked": True},
            {"puk"},
            False,
            {"show_puk", "report_wrong_puk", "delete_secrets"},
        ),
        ({"before_2011": True}, {"pin"}, False, {"report_wrong_puk", "delete_secrets"}),
        ({"before_2011": True, "unusable": True}, {"puk"}, False, {"delete_secrets"}),
        ({"unusable": True}, set(), False, set()),
    ],
)
def test_it_answers_which_actions_it_allows(
    card_factory: Any,
    traits: dict[str, bool],
    stored: set[str],
    pending: bool,
    actions: set[str],
) -> None:
    card = card_factory(no_secrets=True, **traits)

    assert card.allowed_actions(stored, unlock_pending=pending) == actions
    assert card.can_unlock is (CardAction.UNLOCK in actions)
    assert card.can_show_puk(stored) is (CardAction.SHOW_PUK in actions)
    assert card.can_report_wrong_puk is (CardAction.REPORT_WRONG_PUK in actions)
    assert (card.unlock_refusal() is None) is card.can_unlock


def test_it_counts_the_puk_attempts_left(card_factory: Any) -> None:
    card = card_factory(before_2011=True)
    assert card.puk_attempts_left == 3
    card.count_wrong_puk(now=NOW)
    card.count_wrong_puk(now=NOW)
    assert card.puk_attempts_left == 1
    card.count_wrong_puk(now=NOW)
    assert card.puk_attempts_left == 0


# --- races (PostgreSQL) ------------------------------------------------------------------------


def _refusal_as_value(call: Callable[[], Any]) -> Callable[[], Any]:
    def run() -> Any:
        try:
            return call()
        except PinVaultError as exc:
            return exc

    return run


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_parallel_unlocks_have_one_winner(card_factory: Any) -> None:
    card = card_factory(pin_locked=True)

    outcomes = in_parallel([_refusal_as_value(lambda: stored_card(card).unlock())] * 4)

    values = [outcome.value for outcome in outcomes]
    won = [v for v in values if isinstance(v, PortalUnlock)]
    refused = [v for v in values if isinstance(v, PinVaultError)]
    assert len(won) == 1 and len(refused) == 3, values
    assert {r.code for r in refused} == {"not_locked"}
    assert list(CardUnlock.objects.filter(card=card)) == [won[0].unlock]
    assert stored_card(card).state == State.ACTIVE


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_parallel_wrong_puks_count_at_most_three(card_factory: Any) -> None:
    card = card_factory(before_2011=True, pin_locked=True)

    outcomes = in_parallel([_refusal_as_value(lambda: stored_card(card).count_wrong_puk())] * 5)

    refused = [o.value for o in outcomes if isinstance(o.value, PinVaultError)]
    assert len(refused) == 2 and {r.code for r in refused} == {"unusable"}
    row = stored_card(card)
    assert (row.wrong_puk_count, row.state) == (3, State.UNUSABLE)
