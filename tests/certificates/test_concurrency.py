"""Races on PostgreSQL: real threads, each with its own connection, released by a Barrier.

The state machine is held by the database (row locks in the model transitions, the CRL row's
lease for CRL numbers), so parallel callers end in one consistent state: every caller gets exactly
one audit entry (its change, or ``nes.certificate.refused``), the status history is one unbroken
chain, and CRL numbers never repeat or go backwards. First through the services, then through
the citizen pages over HTTP, as two browser tabs would.
"""

from __future__ import annotations

import re
import threading
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
import requests
from cryptography import x509
from django.conf import settings
from django.test import Client

from audit.models import AuditEvent
from certificates import ca as ca_module
from certificates import publication, services, tasks
from certificates.models import (
    Certificate,
    CertificateStatusChange,
    CrlShard,
)
from nesportal.testing import login_as, sms_code

from ..parallel import in_parallel

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

Status = Certificate.Status
KEY_COMPROMISE = Certificate.RevocationReason.KEY_COMPROMISE


def history(row: Certificate) -> list[tuple[str, str]]:
    return list(
        CertificateStatusChange.objects.filter(certificate=row)
        .order_by("id")
        .values_list("from_status", "to_status")
    )


def audit_actions(row: Certificate) -> Counter[str]:
    return Counter(
        AuditEvent.objects.filter(
            action__startswith="nes.certificate.", data__serial=row.serial_number
        )
        .exclude(action="nes.certificate.issued")
        .values_list("action", flat=True)
    )


def assert_one_chain(changes: list[tuple[str, str]], start: str, end: str) -> None:
    """The changes follow each other: each starts where the previous one ended."""
    assert changes, "no change at all"
    assert changes[0][0] == start
    for (_, to), (following_from, _) in zip(changes, changes[1:], strict=False):
        assert to == following_from, changes
    assert changes[-1][1] == end


def crl_number(der: bytes) -> int:
    crl = x509.load_der_x509_crl(der)
    return crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number


# --- through the services ----------------------------------------------------------------


@pytest.mark.parametrize("round_", range(5))
def test_revoking_and_reinstating_at_once_end_in_one_consistent_state(
    certificate_factory: Any, citizen: Any, round_: int
) -> None:
    row, _ = certificate_factory(citizen, "suspended")
    before = len(history(row))

    def revoke() -> Any:
        cert = Certificate.objects.get(pk=row.pk)
        return services.revoke_certificate(cert, citizen=citizen, reason=KEY_COMPROMISE)

    def reinstate() -> Any:
        cert = Certificate.objects.get(pk=row.pk)
        return services.reinstate_certificate(cert, citizen=citizen)

    revoked, reinstated = in_parallel([revoke, reinstate])

    row.refresh_from_db()
    changes = history(row)[before:]
    # Revoking is legal from "suspended" and from "active", so it always succeeds: the
    # certificate ends revoked whichever request took the row lock first.
    assert revoked.ok
    assert row.status == Status.REVOKED
    assert row.revoked_at is not None and row.revocation_reason == KEY_COMPROMISE
    assert (row.suspended_at, row.suspended_by) == (None, "")
    if reinstated.ok:
        # Lifted first, then revoked: two changes, one after the other.
        assert changes == [(Status.SUSPENDED, Status.ACTIVE), (Status.ACTIVE, Status.REVOKED)]
        assert audit_actions(row) == {"nes.certificate.reinstated": 1, "nes.certificate.revoked": 1}
    else:
        # Revoked first: the lift is refused and changed nothing.
        assert "askıda değil" in str(reinstated.value)
        assert changes == [(Status.SUSPENDED, Status.REVOKED)]
        assert audit_actions(row) == {"nes.certificate.revoked": 1, "nes.certificate.refused": 1}
    assert_one_chain(changes, Status.SUSPENDED, Status.REVOKED)
    # One status change per successful caller, one audit entry per caller.
    assert len(changes) == sum(o.ok for o in (revoked, reinstated))
    assert sum(audit_actions(row).values()) == 2
    # Whatever the order, the published CRL says what the row says.
    crl = publication.stored_crl(row.ca_id)
    assert crl is not None
    entry = crl.get_revoked_certificate_by_serial_number(row.serial_int)
    assert entry is not None
    assert entry.extensions.get_extension_for_class(x509.CRLReason).value.reason == (
        x509.ReasonFlags.key_compromise
    )


def test_two_tabs_lifting_the_same_suspension_lift_it_once(
    certificate_factory: Any, citizen: Any
) -> None:
    row, _ = certificate_factory(citizen, "suspended")
    before = len(history(row))

    def reinstate() -> Any:
        return services.reinstate_certificate(Certificate.objects.get(pk=row.pk), citizen=citizen)

    outcomes = in_parallel([reinstate, reinstate])

    assert sorted(o.ok for o in outcomes) == [False, True]
    assert history(row)[before:] == [(Status.SUSPENDED, Status.ACTIVE)]
    assert audit_actions(row) == {"nes.certificate.reinstated": 1, "nes.certificate.refused": 1}
    row.refresh_from_db()
    assert row.status == Status.ACTIVE


def test_ten_parallel_revocations_revoke_once(
    certificate_factory: Any, citizen: Any, sms_outbox: list[dict[str, Any]]
) -> None:
    row, _ = certificate_factory(citizen, "active")
    before = len(history(row))
    reasons = Certificate.RevocationReason.values * 2

    def revoke(reason: str) -> Callable[[], Any]:
        def call() -> Any:
            cert = Certificate.objects.get(pk=row.pk)
            return services.revoke_certificate(cert, citizen=citizen, reason=reason)

        return call

    outcomes = in_parallel([revoke(reason) for reason in reasons])

    winners = [reason for reason, o in zip(reasons, outcomes, strict=True) if o.ok]
    assert len(winners) == 1
    assert all("zaten iptal edilmiş" in str(o.value) for o in outcomes if not o.ok)
    row.refresh_from_db()
    assert row.status == Status.REVOKED
    # The reason that was stored is the winner's, not a later caller's.
    assert row.revocation_reason == winners[0]
    assert history(row)[before:] == [(Status.ACTIVE, Status.REVOKED)]
    assert audit_actions(row) == {"nes.certificate.revoked": 1, "nes.certificate.refused": 9}
    # One SMS notice, not ten.
    notices = [m for m in sms_outbox if "iptal edildi" in m["body"]]
    assert len(notices) == 1


def test_parallel_forced_crl_publications_get_distinct_increasing_numbers(
    demo_pki: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    ca_id = ca_module.issuing_ca().id
    publication.ensure_shards(ca_id, set())
    full = CrlShard.objects.get(ca_id=ca_id, shard=CrlShard.FULL)
    start = full.number
    signed: list[tuple[int, Any, int]] = []
    lock = threading.Lock()
    real_sign = publication._sign

    def recording_sign(row: CrlShard) -> Any:
        result = real_sign(row)
        der, _count, this_update, _next, _seconds = result
        with lock:
            signed.append((row.number + 1, this_update, crl_number(der)))
        return result

    monkeypatch.setattr(publication, "_sign", recording_sign)
    threads, per_thread = 8, 5

    def publish_several() -> int:
        return sum(publication.publish(full.pk, force=True).signed for _ in range(per_thread))

    outcomes = in_parallel([publish_several] * threads)

    total = sum(o.value for o in outcomes)
    # A publisher that finds another one signing steps aside (the lease), so how many of the 40
    # calls sign depends on how they overlap: under load as few as one may. At least one did.
    assert total >= 1
    numbers = [number for number, _, _ in signed]
    # No number twice, none skipped, and each signed CRL carries the number it was stored with.
    assert sorted(numbers) == list(range(start + 1, start + 1 + total))
    assert all(number == in_crl for number, _, in_crl in signed)
    # A higher number is never an older CRL: thisUpdate does not go backwards.
    updates = [this_update for _, this_update, _ in sorted(signed)]
    assert updates == sorted(updates)
    stored = CrlShard.objects.get(pk=full.pk)
    assert stored.number == start + total
    assert crl_number(bytes(stored.der)) == stored.number
    # No lease is left behind: alone, a forced publication signs the next number at once.
    assert publication.publish(full.pk, force=True).signed == 1
    assert CrlShard.objects.get(pk=full.pk).number == start + total + 1


def test_parallel_changes_and_publications_lose_no_entry(
    certificate_factory: Any, citizen_factory: Any
) -> None:
    rows = [certificate_factory(citizen_factory(), "active")[0] for _ in range(6)]
    ca_id = rows[0].ca_id

    def suspend(row: Certificate) -> Callable[[], Any]:
        def call() -> Any:
            cert = Certificate.objects.get(pk=row.pk)
            return services.suspend_certificate(cert, citizen=cert.citizen)

        return call

    def publish() -> Any:
        # The task itself, as a worker runs it (it queues a next run if changes are pending).
        return [tasks.publish_crls(ca_id, [rows[0].crl_shard]) for _ in range(3)]

    outcomes = in_parallel([suspend(row) for row in rows] + [publish] * 4)

    assert all(o.ok for o in outcomes)
    for shard in (CrlShard.FULL, rows[0].crl_shard):
        stored = CrlShard.objects.get(ca_id=ca_id, shard=shard)
        # The CRL stored last (without re-signing on request) already lists every suspension.
        assert stored.signed == stored.wanted
        crl = x509.load_der_x509_crl(bytes(stored.der))
        assert {entry.serial_number for entry in crl} == {row.serial_int for row in rows}
        assert crl_number(bytes(stored.der)) == stored.number


# --- through the citizen pages, as two browser tabs -----------------------------------------

CSRF_FIELD = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


class Browser:
    """One browser (one session cookie) talking to the live server; tabs share the cookie."""

    def __init__(self, base_url: str, citizen: Any) -> None:
        client = login_as(Client(), citizen)
        self.base_url = base_url
        self.cookies = {
            settings.SESSION_COOKIE_NAME: client.cookies[settings.SESSION_COOKIE_NAME].value
        }
        page = requests.get(f"{base_url}/sertifikalar/", cookies=self.cookies, timeout=30)
        assert page.status_code == 200, page.status_code
        self.cookies[settings.CSRF_COOKIE_NAME] = page.cookies[settings.CSRF_COOKIE_NAME]
        match = CSRF_FIELD.search(page.text)
        assert match, "no CSRF token on the list page"
        self.token = match.group(1)

    def post(self, path: str, data: dict[str, str] | None = None) -> requests.Response:
        return requests.post(
            self.base_url + path,
            data={"csrfmiddlewaretoken": self.token, **(data or {})},
            cookies=self.cookies,
            headers={"Referer": self.base_url + path},
            allow_redirects=False,
            timeout=120,
        )


def test_two_tabs_revoking_and_unsuspending_over_http_end_in_one_state(
    live_server: Any,
    settings: Any,
    certificate_factory: Any,
    citizen: Any,
    sms_outbox: list[dict[str, Any]],
) -> None:
    settings.PORTAL_BASE_URL = live_server.url
    row, _ = certificate_factory(citizen, "suspended")
    before = len(history(row))
    browser = Browser(live_server.url, citizen)
    base = f"/sertifikalar/{row.serial_number}"
    # Tab 1 goes through the revocation up to the SMS code…
    chosen = browser.post(
        "/sertifikalar/iptal/", {"certificate": row.serial_number, "reason": KEY_COMPROMISE}
    )
    assert chosen.status_code == 302, chosen.text
    assert browser.post(f"{base}/iptal/").status_code == 302
    code = sms_code(sms_outbox, to=citizen.mobile_phone)

    # …and types it in at the very moment tab 2 lifts the suspension.
    revoke, reinstate = in_parallel(
        [
            lambda: browser.post(f"{base}/iptal/onay-kodu/", {"code": code}),
            lambda: browser.post(f"{base}/askidan-indir/"),
        ]
    )

    revoke_response, reinstate_response = revoke.value, reinstate.value
    assert revoke_response.status_code == 302, revoke_response.text
    assert revoke_response.headers["Location"].endswith(f"{base}/iptal/sonuc/")
    assert reinstate_response.status_code in (302, 409), reinstate_response.status_code
    row.refresh_from_db()
    assert row.status == Status.REVOKED
    changes = history(row)[before:]
    assert_one_chain(changes, Status.SUSPENDED, Status.REVOKED)
    if reinstate_response.status_code == 302:
        assert audit_actions(row) == {"nes.certificate.reinstated": 1, "nes.certificate.revoked": 1}
        assert len(changes) == 2
    else:
        assert "askıda değil" in reinstate_response.text
        assert audit_actions(row) == {"nes.certificate.revoked": 1, "nes.certificate.refused": 1}
        assert len(changes) == 1


def test_ten_tabs_unsuspending_over_http_unsuspend_once(
    live_server: Any, settings: Any, certificate_factory: Any, citizen: Any
) -> None:
    settings.PORTAL_BASE_URL = live_server.url
    row, _ = certificate_factory(citizen, "suspended")
    before = len(history(row))
    browser = Browser(live_server.url, citizen)
    path = f"/sertifikalar/{row.serial_number}/askidan-indir/"

    outcomes = in_parallel([lambda: browser.post(path)] * 10)

    codes = Counter(o.value.status_code for o in outcomes)
    assert codes == {302: 1, 409: 9}, codes
    assert history(row)[before:] == [(Status.SUSPENDED, Status.ACTIVE)]
    assert audit_actions(row) == {"nes.certificate.reinstated": 1, "nes.certificate.refused": 9}
    row.refresh_from_db()
    assert row.status == Status.ACTIVE
