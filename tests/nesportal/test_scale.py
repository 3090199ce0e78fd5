"""``manage.py load_scale_data`` (nesportal.scale): the benchmark data set, loaded small.

Speed is bench/'s business (bench/README.md); these tests check what the rows are: valid,
consistent with every model constraint and with the published CRLs.
"""

from __future__ import annotations

import random
from collections import Counter
from datetime import timedelta
from io import StringIO

import pytest
from cryptography import x509
from django.contrib.auth.hashers import check_password
from django.core.management import CommandError, call_command
from django.db import connection
from django.utils import timezone

from accounts.identity import is_valid_tckn
from accounts.models import Citizen, validate_turkish_mobile
from certificates import ca as ca_module
from certificates import pki, publication
from certificates.models import Certificate, CrlShard
from nesportal import scale

CITIZENS = 300
PER_CITIZEN = 3
BAD = 0.05


def load(*args: str) -> str:
    out = StringIO()
    call_command("load_scale_data", "--force", *args, stdout=out)
    return out.getvalue()


@pytest.fixture
def loaded(demo_pki):
    return load(
        "--citizens", str(CITIZENS),
        "--certificates-per-citizen", str(PER_CITIZEN),
        "--bad-fraction", str(BAD),
        "--seed", "7",
    )  # fmt: skip


def scale_citizens():
    return Citizen.objects.filter(tckn__gte=scale.tckn(0), tckn__lte=scale.tckn(CITIZENS - 1))


# --- on PostgreSQL ----------------------------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_it_loads_the_asked_counts_and_bad_fraction(loaded):
    statuses = Counter(Certificate.objects.values_list("status", flat=True))

    assert scale_citizens().count() == CITIZENS
    assert sum(statuses.values()) == CITIZENS * PER_CITIZEN
    bad = statuses["revoked"] + statuses["suspended"]
    assert abs(bad / (CITIZENS * PER_CITIZEN) - BAD) < 0.005
    assert abs(statuses["revoked"] - statuses["suspended"]) <= 1
    assert 0 < statuses["pending"] < 0.01 * CITIZENS * PER_CITIZEN
    assert statuses["active"] == CITIZENS * PER_CITIZEN - bad - statuses["pending"]
    assert f"citizens:     {CITIZENS:,}" in loaded
    assert f"certificates: {CITIZENS * PER_CITIZEN:,}" in loaded
    assert "certificates (COPY):" in loaded  # each phase with its time
    assert scale.SECURITY_WORD in loaded


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_it_writes_rows_that_pass_every_model_validation(loaded):
    now = timezone.now()
    ca_id = ca_module.issuing_ca().id
    certificates = list(Certificate.objects.all())

    for citizen in scale_citizens():
        citizen.full_clean()
    for cert in certificates:
        cert.full_clean()  # fields, choices, unique and check constraints
        assert cert.ca_id == ca_id
        assert cert.crl_shard == ca_module.shard_for(cert.not_after)
        assert cert.not_after - cert.not_before == scale.VALIDITY
        assert cert.issued_at <= now
        assert (cert.opened_at is None) == (cert.status == Certificate.Status.PENDING)
        if cert.status == Certificate.Status.PENDING:
            assert cert.not_after > now
        if cert.opened_at is not None:
            assert cert.not_before <= cert.opened_at <= now
        changed = cert.revoked_at or cert.suspended_at
        if changed is not None:
            assert cert.opened_at <= changed <= min(now, cert.not_after)
    assert len({c.serial_number for c in certificates}) == len(certificates)
    assert all(c.serial_number == c.serial_number.lower() for c in certificates)
    assert max(int(c.serial_number, 16) for c in certificates) < 2**159
    # notAfter spread: some expired, the rest over about three years ahead.
    shards = {c.crl_shard for c in certificates}
    assert any(c.not_after < now for c in certificates)
    assert len(shards) >= 36
    assert max(c.not_after for c in certificates) > now + timedelta(days=3 * 365 - 31)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_it_shares_one_real_certificate_der_from_the_issuing_ca(loaded):
    ders = set(Certificate.objects.values_list("der", flat=True).distinct())
    fingerprints = set(Certificate.objects.values_list("fingerprint_sha256", flat=True))

    assert len(ders) == 1
    der = bytes(ders.pop())
    cert = x509.load_der_x509_certificate(der)
    assert cert.issuer == ca_module.material().certificate.subject
    assert fingerprints == {pki.fingerprint_sha256(cert)}


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_it_gives_unique_valid_tckns_names_and_mobile_numbers(loaded):
    rows = list(
        scale_citizens().values_list("tckn", "first_name", "last_name", "mobile_phone", "pk")
    )
    subjects = dict(Certificate.objects.values_list("citizen_id", "subject_name"))

    assert len({r[0] for r in rows}) == CITIZENS
    for tckn, first, last, phone, pk in rows:
        assert is_valid_tckn(tckn)
        assert first in scale.FIRST_NAMES and last in scale.LAST_NAMES
        validate_turkish_mobile(phone)
        assert phone.startswith("+905") and len(phone) == 13
        assert subjects[pk] == Citizen(tckn=tckn, first_name=first, last_name=last).greeting_name


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_it_shares_one_security_word_hash_that_checks_with_the_documented_word(loaded):
    hashes = set(scale_citizens().values_list("security_word_hash", flat=True))

    assert len(hashes) == 1
    encoded = hashes.pop()
    assert check_password(scale.SECURITY_WORD, encoded)
    assert not check_password("yanlış-sözcük", encoded)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_it_makes_every_shard_and_marks_every_crl_for_publication(loaded):
    ca_id = ca_module.issuing_ca().id
    shards = set(Certificate.objects.values_list("crl_shard", flat=True))
    rows = CrlShard.objects.filter(ca_id=ca_id)

    assert set(rows.values_list("shard", flat=True)) == shards | {CrlShard.FULL}
    assert all(row.wanted == row.signed + 1 for row in rows)
    assert f"CRLs:         {len(shards) + 1}" in loaded


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_it_publishes_crls_that_list_exactly_the_bad_and_pending_certificates(demo_pki):
    out = load("--citizens", "200", "--bad-fraction", "0.1", "--seed", "3", "--publish")
    ca_id = ca_module.issuing_ca().id
    now = timezone.now()
    entries = Counter(
        Certificate.objects.exclude(status=Certificate.Status.ACTIVE).values_list(
            "crl_shard", flat=True
        )
    )
    shard = entries.most_common(1)[0][0]

    crl = publication.stored_crl(ca_id, shard)
    expected = {
        int(serial, 16): (status, reason)
        for serial, status, reason in Certificate.objects.filter(crl_shard=shard)
        .exclude(status=Certificate.Status.ACTIVE)
        .values_list("serial_number", "status", "revocation_reason")
    }
    listed = {}
    for revoked in crl:
        try:
            reason = revoked.extensions.get_extension_for_class(x509.CRLReason).value.reason
        except x509.ExtensionNotFound:
            reason = x509.ReasonFlags.unspecified
        listed[revoked.serial_number] = reason
    assert set(listed) == set(expected)
    for serial, (status, reason) in expected.items():
        if status == Certificate.Status.REVOKED:
            assert listed[serial] == x509.ReasonFlags[reason]
        else:  # suspended, or pending: on hold
            assert listed[serial] == x509.ReasonFlags.certificate_hold
    full = {r.serial_number for r in publication.stored_crl(ca_id, CrlShard.FULL)}
    unexpired = Certificate.objects.exclude(status=Certificate.Status.ACTIVE).filter(
        not_after__gt=now
    )
    assert full == {int(s, 16) for s in unexpired.values_list("serial_number", flat=True)}
    assert all(row.signed == row.wanted for row in CrlShard.objects.filter(ca_id=ca_id))
    assert f"CRL {shard} " in out and "CRL full " in out


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_it_is_reproducible_with_a_seed(demo_pki):
    def snapshot():
        citizens = list(
            Citizen.objects.order_by("tckn").values_list(
                "tckn", "first_name", "last_name", "birth_date", "mobile_phone"
            )
        )
        certificates = list(
            Certificate.objects.order_by("serial_number").values_list(
                "serial_number", "status", "not_after", "crl_shard", "kind"
            )
        )
        return citizens, certificates

    load("--citizens", "50", "--seed", "11")
    first = snapshot()
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM certificates_certificate")
        cursor.execute("DELETE FROM accounts_citizen")
    load("--citizens", "50", "--seed", "11")

    assert snapshot()[0] == first[0]
    # Same rows apart from the timestamps derived from "now" (the second load is later).
    assert [c[:2] + c[3:] for c in snapshot()[1]] == [c[:2] + c[3:] for c in first[1]]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_it_refuses_a_database_that_already_holds_scale_citizens(loaded):
    with pytest.raises(CommandError, match="already holds scale citizens"):
        load("--citizens", "10")

    assert scale_citizens().count() == CITIZENS


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_it_leaves_nothing_behind_when_the_load_fails(demo_pki, monkeypatch):
    def fail(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(scale, "_copy_certificates", fail)

    with pytest.raises(RuntimeError, match="disk full"):
        load("--citizens", "20")

    assert not Citizen.objects.exists()
    assert not Certificate.objects.exists()


# --- anywhere ---------------------------------------------------------------------------------


def test_it_refuses_without_debug_unless_forced(settings):
    settings.DEBUG = False

    with pytest.raises(CommandError, match="DEBUG only"):
        call_command("load_scale_data", "--citizens", "1", stdout=StringIO())


def test_it_refuses_sqlite_with_a_clear_error(settings):
    if connection.vendor != "sqlite":
        pytest.skip("the default test database is not SQLite here")

    with pytest.raises(CommandError, match="needs PostgreSQL"):
        load("--citizens", "10")


def test_it_says_in_its_help_that_it_is_for_benchmarks_only():
    from demo.management.commands.load_scale_data import Command

    assert "BENCHMARKS ONLY" in Command.help
    assert scale.SECURITY_WORD in Command.help


def test_it_uses_only_mobile_prefixes_valid_for_every_subscriber_number():
    rng = random.Random(1)
    for prefix in scale.MOBILE_PREFIXES:
        for subscriber in (0, 9_999_999, *(rng.randrange(10**7) for _ in range(50))):
            validate_turkish_mobile(f"+90{prefix}{subscriber:07d}")


def test_it_gives_valid_distinct_tckns_outside_the_demo_and_factory_ranges():
    numbers = [scale.tckn(n) for n in (0, 1, 2, 999_999, 5_000_000)]

    assert all(is_valid_tckn(n) for n in numbers)
    assert len(set(numbers)) == len(numbers)
    assert all(n.startswith("3") for n in numbers)  # demo 1…/2…, factories 9…


def test_it_chooses_the_bad_fraction_for_a_wanted_full_crl_size():
    fraction = scale.bad_fraction_for(100_000, 1_000_000, 3)

    assert scale.expected_full_crl_entries(1_000_000, 3, fraction) == pytest.approx(100_000)
    with pytest.raises(scale.ScaleError):
        scale.bad_fraction_for(100_000, 1_000, 3)


def test_it_picks_exactly_k_of_n():
    rng = random.Random(5)
    for n, k in ((10, 0), (10, 10), (1000, 37), (5, 2)):
        picks = list(scale._picker(n, k, rng))
        assert len(picks) == n and sum(picks) == k
