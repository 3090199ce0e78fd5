"""The certificate state machine: every legal transition, every illegal one, and the database
constraints that hold it even against code that bypasses the model methods.

pending → active ⇄ suspended → revoked; revoked is final; expired is derived from ``not_after``.
An illegal transition raises ``CertificateError`` and leaves the row and its history untouched.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
import time_machine
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.formats import date_format

from certificates.models import Certificate, CertificateError, CertificateStatusChange

pytestmark = pytest.mark.django_db

Status = Certificate.Status
By = Certificate.SuspendedBy
KEY_COMPROMISE = Certificate.RevocationReason.KEY_COMPROMISE

SNAPSHOT_FIELDS = [
    "status",
    "opened_at",
    "suspended_at",
    "suspended_by",
    "revoked_at",
    "revocation_reason",
    "not_before",
    "not_after",
]


def snapshot(row: Certificate) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    """The row's state columns and its history, read from the database."""
    values = Certificate.objects.filter(pk=row.pk).values(*SNAPSHOT_FIELDS).get()
    history = list(
        CertificateStatusChange.objects.filter(certificate=row)
        .order_by("id")
        .values_list("from_status", "to_status")
    )
    return values, history


@pytest.fixture
def make(certificate_factory: Any, citizen_factory: Any) -> Callable[..., Certificate]:
    """A certificate in ``state`` for a citizen of its own; ``suspended_by_ca`` too."""

    def make(state: str, **kwargs: Any) -> Certificate:
        if state == "suspended_by_ca":
            row, _ = certificate_factory(citizen_factory(), "active", **kwargs)
            row.suspend(by=By.CA, reason="kimlik doğrulama")
            return row
        row, _ = certificate_factory(citizen_factory(), state, **kwargs)
        return row

    return make


# --- legal transitions -------------------------------------------------------------------------


def test_it_opens_a_pending_certificate(make: Callable[..., Certificate]) -> None:
    row = make("pending")
    assert row.opened_at is None
    now = timezone.now()

    change = row.open_for_use(by_citizen=row.citizen, now=now)

    assert row.status == Status.ACTIVE
    assert row.opened_at == now
    assert (change.from_status, change.to_status, change.at) == (Status.PENDING, Status.ACTIVE, now)
    assert change.by_citizen == row.citizen
    assert snapshot(row)[1] == [(Status.PENDING, Status.ACTIVE)]


@pytest.mark.parametrize("by", [By.HOLDER, By.CA])
def test_it_suspends_an_active_certificate(make: Callable[..., Certificate], by: str) -> None:
    row = make("active")
    before = len(snapshot(row)[1])
    now = timezone.now()

    change = row.suspend(by=by, by_citizen=row.citizen, reason="kart kayıp", now=now)

    row.refresh_from_db()
    assert row.status == Status.SUSPENDED
    assert (row.suspended_at, row.suspended_by) == (now, by)
    assert (change.from_status, change.to_status, change.reason) == (
        Status.ACTIVE,
        Status.SUSPENDED,
        "kart kayıp",
    )
    assert len(snapshot(row)[1]) == before + 1


@pytest.mark.parametrize(
    ("state", "by"),
    [("suspended", By.HOLDER), ("suspended", By.CA), ("suspended_by_ca", By.CA)],
    ids=["holder-lifts-own", "ca-lifts-holders", "ca-lifts-own"],
)
def test_it_reinstates_a_suspended_certificate(
    make: Callable[..., Certificate], state: str, by: str
) -> None:
    row = make(state)

    change = row.reinstate(by=by, by_citizen=row.citizen if by == By.HOLDER else None)

    row.refresh_from_db()
    assert row.status == Status.ACTIVE
    assert (row.suspended_at, row.suspended_by) == (None, "")
    assert (change.from_status, change.to_status) == (Status.SUSPENDED, Status.ACTIVE)
    # Lifting a suspension does not reopen the certificate: it stays opened when it was.
    assert row.opened_at is not None


@pytest.mark.parametrize("state", ["pending", "active", "suspended", "suspended_by_ca"])
@pytest.mark.parametrize("reason", Certificate.RevocationReason.values)
def test_it_revokes_from_every_live_state(
    make: Callable[..., Certificate], state: str, reason: str
) -> None:
    row = make(state)
    from_status = row.status
    now = timezone.now()

    change = row.revoke(reason=reason, by_citizen=row.citizen, now=now)

    row.refresh_from_db()
    assert row.status == Status.REVOKED
    assert (row.revoked_at, row.revocation_reason) == (now, reason)
    assert (row.suspended_at, row.suspended_by) == (None, "")
    assert (change.from_status, change.to_status, change.reason) == (
        from_status,
        Status.REVOKED,
        reason,
    )


def test_it_records_the_whole_history(make: Callable[..., Certificate]) -> None:
    row = make("pending")

    row.open_for_use(by_citizen=row.citizen)
    row.suspend(by=By.HOLDER, by_citizen=row.citizen)
    row.reinstate(by=By.HOLDER, by_citizen=row.citizen)
    row.suspend(by=By.CA)
    row.revoke(reason=KEY_COMPROMISE)

    assert snapshot(row)[1] == [
        (Status.PENDING, Status.ACTIVE),
        (Status.ACTIVE, Status.SUSPENDED),
        (Status.SUSPENDED, Status.ACTIVE),
        (Status.ACTIVE, Status.SUSPENDED),
        (Status.SUSPENDED, Status.REVOKED),
    ]


# --- illegal transitions -----------------------------------------------------------------------

TRANSITIONS: dict[str, Callable[[Certificate], Any]] = {
    "open": lambda row: row.open_for_use(by_citizen=row.citizen),
    "suspend-holder": lambda row: row.suspend(by=By.HOLDER, by_citizen=row.citizen),
    "suspend-ca": lambda row: row.suspend(by=By.CA),
    "reinstate-holder": lambda row: row.reinstate(by=By.HOLDER, by_citizen=row.citizen),
    "reinstate-ca": lambda row: row.reinstate(by=By.CA),
    "revoke": lambda row: row.revoke(reason=KEY_COMPROMISE, by_citizen=row.citizen),
}

ILLEGAL = [
    ("pending", "suspend-holder", "Yalnızca geçerli durumdaki"),
    ("pending", "suspend-ca", "Yalnızca geçerli durumdaki"),
    ("pending", "reinstate-holder", "askıda değil"),
    ("pending", "reinstate-ca", "askıda değil"),
    ("active", "open", "zaten kullanıma açılmış"),
    ("active", "reinstate-holder", "askıda değil"),
    ("active", "reinstate-ca", "askıda değil"),
    ("suspended", "open", "zaten kullanıma açılmış"),
    ("suspended", "suspend-holder", "Yalnızca geçerli durumdaki"),
    ("suspended", "suspend-ca", "Yalnızca geçerli durumdaki"),
    ("suspended_by_ca", "reinstate-holder", "Çağrı Merkezimizi arayınız"),
    ("suspended_by_ca", "suspend-holder", "Yalnızca geçerli durumdaki"),
    ("revoked", "open", "zaten kullanıma açılmış"),
    ("revoked", "suspend-holder", "Yalnızca geçerli durumdaki"),
    ("revoked", "suspend-ca", "Yalnızca geçerli durumdaki"),
    ("revoked", "reinstate-holder", "askıda değil"),
    ("revoked", "reinstate-ca", "askıda değil"),
    ("revoked", "revoke", "zaten iptal edilmiş"),
    # "expired" is an active certificate whose notAfter has passed.
    ("expired", "open", "zaten kullanıma açılmış"),
    ("expired", "suspend-holder", "geçerlilik süresi dolmuştur"),
    ("expired", "suspend-ca", "geçerlilik süresi dolmuştur"),
    ("expired", "revoke", "geçerlilik süresi dolmuştur"),
]


def test_the_illegal_table_covers_every_transition_from_every_state() -> None:
    legal = {
        ("pending", "open"),
        ("pending", "revoke"),
        ("active", "suspend-holder"),
        ("active", "suspend-ca"),
        ("active", "revoke"),
        ("suspended", "reinstate-holder"),
        ("suspended", "reinstate-ca"),
        ("suspended", "revoke"),
        ("suspended_by_ca", "reinstate-ca"),
        ("suspended_by_ca", "revoke"),
        ("suspended_by_ca", "open"),  # covered by ("suspended", "open")
        ("suspended_by_ca", "suspend-ca"),  # covered by ("suspended", "suspend-ca")
        ("expired", "reinstate-holder"),  # an expired row is "active": covered below
        ("expired", "reinstate-ca"),
    }
    states = ["pending", "active", "suspended", "suspended_by_ca", "revoked", "expired"]
    everything = {(state, name) for state in states for name in TRANSITIONS}
    assert everything - legal == {(state, name) for state, name, _ in ILLEGAL}


@pytest.mark.parametrize(("state", "transition", "message"), ILLEGAL)
def test_it_refuses_an_illegal_transition_and_changes_nothing(
    make: Callable[..., Certificate], state: str, transition: str, message: str
) -> None:
    row = make(state)
    before = snapshot(row)

    with pytest.raises(CertificateError) as refused:
        TRANSITIONS[transition](row)

    assert message in str(refused.value)
    assert refused.value.message
    assert snapshot(row) == before


def test_it_refuses_an_unknown_revocation_reason(make: Callable[..., Certificate]) -> None:
    row = make("active")
    before = snapshot(row)

    # removeFromCRL and certificateHold are not reasons a revocation can have.
    for reason in ["", "remove_from_crl", "certificate_hold", "privilege_withdrawn", "x"]:
        with pytest.raises(CertificateError, match="Geçerli bir iptal nedeni"):
            row.revoke(reason=reason)

    assert snapshot(row) == before


def test_a_revoked_certificate_never_comes_back(make: Callable[..., Certificate]) -> None:
    row = make("suspended")
    row.revoke(reason=Certificate.RevocationReason.SUPERSEDED, by_citizen=row.citizen)
    before = snapshot(row)

    for transition in TRANSITIONS.values():
        with pytest.raises(CertificateError):
            transition(row)
    # Not even with a clock moved back to before the revocation.
    with pytest.raises(CertificateError):
        row.reinstate(by=By.CA, now=row.revoked_at - dt.timedelta(days=1))

    assert snapshot(row) == before
    assert snapshot(row)[0]["status"] == Status.REVOKED


def test_the_holder_cannot_lift_a_suspension_made_by_the_ca(
    make: Callable[..., Certificate],
) -> None:
    row = make("suspended_by_ca")
    before = snapshot(row)

    with pytest.raises(CertificateError, match="444 5 576"):
        row.reinstate(by=By.HOLDER, by_citizen=row.citizen)

    assert snapshot(row) == before
    assert before[0]["suspended_by"] == By.CA


def test_the_row_decides_not_a_stale_instance(make: Callable[..., Certificate]) -> None:
    row = make("suspended")
    stale = Certificate.objects.get(pk=row.pk)

    row.revoke(reason=KEY_COMPROMISE, by_citizen=row.citizen)

    assert stale.status == Status.SUSPENDED  # this copy has not seen the revocation
    with pytest.raises(CertificateError, match="askıda değil"):
        stale.reinstate(by=By.HOLDER, by_citizen=row.citizen)
    assert snapshot(row)[0]["status"] == Status.REVOKED


# --- expiry, derived from not_after -----------------------------------------------------------


def test_expired_is_derived_from_not_after(make: Callable[..., Certificate]) -> None:
    row = make("active")

    with time_machine.travel(row.not_after - dt.timedelta(seconds=1), tick=False):
        assert not row.is_expired()
        assert row.display_status == "Geçerli"
        assert row.days_left() == 0
        row.suspend(by=By.HOLDER, by_citizen=row.citizen)
        row.reinstate(by=By.HOLDER, by_citizen=row.citizen)

    with time_machine.travel(row.not_after, tick=False):
        assert row.is_expired()
        assert row.display_status == "Süresi doldu"
        before = snapshot(row)
        for name in ["suspend-holder", "suspend-ca", "revoke"]:
            with pytest.raises(CertificateError, match="geçerlilik süresi dolmuştur"):
                TRANSITIONS[name](row)
        # Nothing is written when a certificate expires: the column still says active.
        assert snapshot(row) == before
        assert before[0]["status"] == Status.ACTIVE


def test_a_suspended_certificate_cannot_be_lifted_after_it_expired(
    make: Callable[..., Certificate],
) -> None:
    row = make("suspended")
    before = snapshot(row)

    with (
        time_machine.travel(row.not_after + dt.timedelta(days=1), tick=False),
        pytest.raises(CertificateError, match="geçerlilik süresi dolmuştur"),
    ):
        row.reinstate(by=By.HOLDER, by_citizen=row.citizen)

    assert snapshot(row) == before


def test_a_pending_certificate_cannot_be_opened_after_it_expired(
    make: Callable[..., Certificate],
) -> None:
    row = make("pending")
    before = snapshot(row)

    with (
        time_machine.travel(row.not_after + dt.timedelta(seconds=1), tick=False),
        pytest.raises(CertificateError, match="geçerlilik süresi dolmuştur"),
    ):
        row.open_for_use(by_citizen=row.citizen)

    assert snapshot(row) == before


def test_a_revoked_certificate_shows_revoked_after_it_expired(
    make: Callable[..., Certificate],
) -> None:
    row = make("revoked")

    with time_machine.travel(row.not_after + dt.timedelta(days=1), tick=False):
        assert row.display_status == "İptal edildi"


# --- the open-for-use rule --------------------------------------------------------------------


def test_opening_is_refused_while_an_older_certificate_of_the_same_kind_is_valid(
    certificate_factory: Any, citizen: Any
) -> None:
    old, _ = certificate_factory(citizen, "active")
    new, _ = certificate_factory(citizen, "pending")
    before = snapshot(new)

    with pytest.raises(CertificateError) as refused:
        new.open_for_use(by_citizen=citizen)

    message = str(refused.value)
    assert date_format(timezone.localtime(old.not_after), "DATETIME_FORMAT") in message
    assert str(timezone.localtime(old.not_after).year) in message
    assert old.serial_number in message
    assert snapshot(new) == before

    # From that date on, it opens.
    with time_machine.travel(old.not_after + dt.timedelta(seconds=1), tick=False):
        new.open_for_use(by_citizen=citizen)
    assert snapshot(new)[0]["status"] == Status.ACTIVE


def test_a_suspended_older_certificate_blocks_opening_too(
    certificate_factory: Any, citizen: Any
) -> None:
    old, _ = certificate_factory(citizen, "suspended")
    new, _ = certificate_factory(citizen, "pending")

    with pytest.raises(CertificateError, match=old.serial_number):
        new.open_for_use(by_citizen=citizen)


def test_a_revoked_older_certificate_does_not_block_opening(
    certificate_factory: Any, citizen: Any
) -> None:
    certificate_factory(citizen, "revoked")
    new, _ = certificate_factory(citizen, "pending")

    new.open_for_use(by_citizen=citizen)

    assert snapshot(new)[0]["status"] == Status.ACTIVE


def test_another_kind_or_another_citizen_does_not_block_opening(
    certificate_factory: Any, citizen: Any, citizen_factory: Any
) -> None:
    certificate_factory(citizen, "active", kind=Certificate.Kind.NES)
    certificate_factory(citizen_factory(), "active", kind=Certificate.Kind.MOBILE)
    mobile, _ = certificate_factory(citizen, "pending", kind=Certificate.Kind.MOBILE)

    mobile.open_for_use(by_citizen=citizen)

    assert snapshot(mobile)[0]["status"] == Status.ACTIVE


# --- the database holds the rules whatever code writes the row ------------------------------


def _constraint_cases(now: dt.datetime) -> dict[str, dict[str, Any]]:
    return {
        "revoked-without-time": {"status": "revoked", "revocation_reason": KEY_COMPROMISE},
        "revoked-without-reason": {"status": "revoked", "revoked_at": now},
        "active-with-revocation": {"revoked_at": now, "revocation_reason": KEY_COMPROMISE},
        "active-with-reason-only": {"revocation_reason": KEY_COMPROMISE},
        "suspended-without-time": {"status": "suspended", "suspended_by": By.HOLDER},
        "suspended-without-who": {"status": "suspended", "suspended_at": now},
        "pending-but-opened": {"status": "pending"},
        "unknown-status": {"status": "expired"},
        "empty-status": {"status": ""},
        "validity-reversed": {"not_after": now - dt.timedelta(days=400)},
    }


@pytest.mark.parametrize("case", list(_constraint_cases(timezone.now())))
def test_the_database_refuses_inconsistent_rows(
    make: Callable[..., Certificate], case: str
) -> None:
    row = make("active")  # opened, not suspended, not revoked
    before = snapshot(row)
    fields = _constraint_cases(timezone.now())[case]

    with pytest.raises(IntegrityError), transaction.atomic():
        Certificate.objects.filter(pk=row.pk).update(**fields)

    assert snapshot(row) == before


def test_the_database_refuses_a_revoked_row_losing_its_revocation(
    make: Callable[..., Certificate],
) -> None:
    row = make("revoked")
    before = snapshot(row)

    for fields in [
        {"status": "active"},  # "un-revoking" without clearing the revocation
        {"revoked_at": None},
        {"revocation_reason": ""},
    ]:
        with pytest.raises(IntegrityError), transaction.atomic():
            Certificate.objects.filter(pk=row.pk).update(**fields)

    assert snapshot(row) == before


def test_the_database_refuses_a_second_certificate_with_the_same_serial(
    make: Callable[..., Certificate],
) -> None:
    row = make("active")
    copy = Certificate.objects.get(pk=row.pk)
    copy.pk = None

    with pytest.raises(IntegrityError), transaction.atomic():
        copy.save(force_insert=True)

    assert Certificate.objects.filter(serial_number=row.serial_number).count() == 1
