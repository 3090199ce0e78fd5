"""Fixtures of the card service tests: self-signed test keys, a SoftHSM2 token holding them, and
the real service process (tests/cardtoken.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from tests.cardservice.helpers import ORIGIN, OTHER_ORIGIN, self_signed
from tests.cardtoken import Service, Token, make_token, run_service


@pytest.fixture(scope="session")
def ec_pair() -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    return key, self_signed(key, "Test Vatandaş EC")


@pytest.fixture(scope="session")
def rsa_pair() -> tuple[rsa.RSAPrivateKey, x509.Certificate]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key, self_signed(key, "Test Vatandaş RSA")


@pytest.fixture(scope="module")
def token(tmp_path_factory: pytest.TempPathFactory, ec_pair: Any, rsa_pair: Any) -> Token:
    """One token per module with an EC (ids[0]) and an RSA (ids[1]) key + certificate."""
    return make_token(
        tmp_path_factory.mktemp("token"),
        key=ec_pair[0],
        certificate=ec_pair[1],
        extra=[rsa_pair],
    )


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory, token: Token) -> Iterator[Service]:
    with run_service(
        token, origins=[ORIGIN, OTHER_ORIGIN], state_dir=tmp_path_factory.mktemp("state")
    ) as running:
        yield running


@pytest.fixture
def fresh_token(tmp_path: Path, ec_pair: Any) -> Token:
    """A token of its own, for the tests that spend PIN attempts."""
    return make_token(tmp_path / "token", key=ec_pair[0], certificate=ec_pair[1])
