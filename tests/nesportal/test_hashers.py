"""The production password hasher: Argon2id with at least OWASP's minimum parameters.

OWASP Password Storage Cheat Sheet, "Argon2id": m=47104 (46 MiB), t=1, p=1 or m=19456
(19 MiB), t=2, p=1 or m=12288 (12 MiB), t=3, p=1 or m=9216 (9 MiB), t=4, p=1 or m=7168
(7 MiB), t=5, p=1 — equivalent configurations. These tests read the hasher's attributes;
its cost is measured by bench/argon2_check.py, never here.
"""

from __future__ import annotations

from django.contrib.auth.hashers import Argon2PasswordHasher

from nesportal import settings as production_settings
from nesportal.hashers import NesArgon2PasswordHasher, parameters

# (memory KiB, time cost), parallelism 1
OWASP_ARGON2ID_MINIMUMS = [(47104, 1), (19456, 2), (12288, 3), (9216, 4), (7168, 5)]


def test_it_meets_one_of_owasps_argon2id_minimums() -> None:
    hasher = NesArgon2PasswordHasher()

    assert hasher.parallelism == 1
    assert any(
        hasher.memory_cost >= memory and hasher.time_cost >= time_cost
        for memory, time_cost in OWASP_ARGON2ID_MINIMUMS
    )
    assert hasher.memory_cost <= 32 * 1024  # the documented memory target per check
    assert "$argon2id$" in hasher.encode("sözcük", "saltsaltsalt1234")


def test_it_keeps_djangos_algorithm_name_so_old_hashes_verify() -> None:
    old = Argon2PasswordHasher().encode("sözcük", Argon2PasswordHasher().salt())

    assert NesArgon2PasswordHasher.algorithm == Argon2PasswordHasher.algorithm == "argon2"
    assert NesArgon2PasswordHasher().verify("sözcük", old)
    assert NesArgon2PasswordHasher().must_update(old)
    assert not NesArgon2PasswordHasher().must_update(
        NesArgon2PasswordHasher().encode("sözcük", NesArgon2PasswordHasher().salt())
    )


def test_production_settings_prefer_it_and_still_verify_the_old_hashers() -> None:
    assert production_settings.PASSWORD_HASHERS == [
        "nesportal.hashers.NesArgon2PasswordHasher",
        "django.contrib.auth.hashers.Argon2PasswordHasher",
        "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    ]


def test_parameters_never_include_the_salt_or_digest() -> None:
    encoded = NesArgon2PasswordHasher().encode("sözcük", NesArgon2PasswordHasher().salt())

    assert parameters(encoded) == "argon2id m=19456,t=3,p=1"
    assert parameters("pbkdf2_sha256$1000000$salt$digest") == "pbkdf2_sha256 iterations=1000000"
