"""E-İmzalı Giriş under parallel requests (PostgreSQL, real threads over HTTP): single use of a
challenge and at most three checks that may cost a strike, however many arrive at once.
"""

from __future__ import annotations

import base64
import threading
from typing import Any

import pytest
import requests
from cryptography.hazmat.primitives.asymmetric import ec

from audit.models import AuditEvent
from certificates.models import Certificate
from esign.protocol import sign_challenge
from tests.esign.helpers import (
    CHALLENGE,
    PAGE,
    failures,
    pem,
)


def _parallel_posts(url: str, cookies: Any, payloads: list[dict[str, str]]) -> list[int]:
    barrier = threading.Barrier(len(payloads))
    statuses: list[int] = []

    def post(payload: dict[str, str]) -> None:
        with requests.Session() as session:
            session.cookies.update(cookies)
            barrier.wait(timeout=30)
            response = session.post(
                url + PAGE,
                data=payload,
                headers={"X-CSRFToken": cookies["nes_csrftoken"], "Referer": url + PAGE},
                allow_redirects=False,
                timeout=30,
            )
            statuses.append(response.status_code)

    threads = [threading.Thread(target=post, args=(p,)) for p in payloads]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return statuses


def _fetch_challenges(url: str, count: int) -> tuple[Any, list[dict[str, Any]]]:
    session = requests.Session()
    challenges = [session.get(url + CHALLENGE, timeout=30).json() for _ in range(count)]
    return session.cookies.get_dict(), challenges


def _payload(challenge: dict[str, Any], key: Any, row: Certificate) -> dict[str, str]:
    signature = sign_challenge(
        base64.b64decode(challenge["nonce_b64"]), challenge["challenge_id"], key
    )
    return {
        "challenge_id": challenge["challenge_id"],
        "signature": base64.b64encode(signature).decode(),
        "certificate": pem(row),
    }


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_it_lets_exactly_one_of_parallel_replays_in(
    live_server: Any, citizen_factory: Any, certificate_factory: Any
) -> None:
    citizen = citizen_factory()
    row, key = certificate_factory(citizen, "active")
    cookies, [challenge] = _fetch_challenges(live_server.url, 1)

    statuses = _parallel_posts(live_server.url, cookies, [_payload(challenge, key, row)] * 6)

    assert sorted(statuses) == [302] + [400] * 5
    assert AuditEvent.objects.filter(action="nes.login.esign_passed").count() == 1
    assert failures() == ["challenge_used"] * 5


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_it_checks_at_most_three_certificates_however_many_arrive_at_once(
    live_server: Any, citizen_factory: Any, certificate_factory: Any
) -> None:
    citizen = citizen_factory()
    row, key = certificate_factory(citizen, "revoked")  # signed right, but not usable
    cookies, challenges = _fetch_challenges(live_server.url, 8)

    statuses = _parallel_posts(
        live_server.url, cookies, [_payload(c, key, row) for c in challenges]
    )

    assert statuses == [400] * 8
    reasons = failures()
    assert reasons.count("certificate_revoked") == 3
    assert reasons.count("citizen_locked") == 5
    citizen.refresh_from_db()
    assert citizen.failure_count == 3 and citizen.locked_at is not None


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_parallel_forged_posts_cost_no_strike(
    live_server: Any, citizen_factory: Any, certificate_factory: Any
) -> None:
    citizen = citizen_factory()
    row, _key = certificate_factory(citizen, "active")
    wrong_key = ec.generate_private_key(ec.SECP256R1())
    cookies, challenges = _fetch_challenges(live_server.url, 8)

    statuses = _parallel_posts(
        live_server.url, cookies, [_payload(c, wrong_key, row) for c in challenges]
    )

    assert statuses == [400] * 8
    assert failures() == ["signature_invalid"] * 8
    citizen.refresh_from_db()
    assert citizen.failure_count == 0 and citizen.locked_at is None
