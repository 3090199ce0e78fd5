"""The portal's password hasher: Argon2id with parameters chosen by measurement.

Security contract
-----------------
* Every security word (citizens) and staff password is hashed with :class:`NesArgon2PasswordHasher`,
  first in ``PASSWORD_HASHERS``. It keeps Django's algorithm name ``argon2``: the encoded hash
  carries its own parameters (``$argon2id$v=19$m=…,t=…,p=…$salt$hash``), so a hash made with
  other parameters (Django's defaults before December 2026) still verifies, and
  ``Argon2PasswordHasher.must_update`` (which compares the encoded parameters with this class's)
  tells the caller to store a new hash at the next successful check.
* The parameters are at least the OWASP Password Storage Cheat Sheet's minimum for Argon2id
  (m = 19 MiB, t = 2, p = 1; https://cheatsheetseries.owasp.org/cheatsheets/Password_Storage_Cheat_Sheet.html#argon2id):
  m = 19 MiB, **t = 3**, p = 1. On the 2-core reference machine one check costs ~31 ms of CPU
  and 19 MiB (target ≤ 50 ms, ≤ 32 MiB; ``bench/argon2_check.py`` measures it next to the old
  parameters: 229 ms, 100 MiB). The spare time went into the time cost rather than memory:
  memory is multiplied by the checks in flight (gunicorn.conf.py), time is not, and ~1.6×
  headroom keeps a slower or busier core under the 50 ms target.
* :func:`is_current` says whether a hash is what the preferred hasher makes today; the dummy
  hashes of ``accounts.lockout`` and ``staff.services`` are remade when it is not, so unknown
  IDs and locked accounts always cost one check with the current parameters.
"""

from __future__ import annotations

from django.contrib.auth.hashers import Argon2PasswordHasher, get_hasher, identify_hasher

# OWASP's minimum for Argon2id (the first of its equivalent configurations).
OWASP_MIN_MEMORY_KIB = 19 * 1024
OWASP_MIN_TIME_COST = 2


class NesArgon2PasswordHasher(Argon2PasswordHasher):
    """Argon2id, m = 19 MiB, t = 3, p = 1 (see the module contract)."""

    algorithm = "argon2"  # Django's name: hashes of either class verify with the other
    time_cost = 3
    memory_cost = 19 * 1024  # KiB
    parallelism = 1


def is_current(encoded: str) -> bool:
    """True if ``encoded`` was made by the preferred hasher with its current parameters."""
    preferred = get_hasher()
    try:
        hasher = identify_hasher(encoded)
    except ValueError:
        return False
    return hasher.algorithm == preferred.algorithm and not preferred.must_update(encoded)


def parameters(encoded: str) -> str:
    """The hash's algorithm and cost parameters (``argon2id m=19456,t=3,p=1``), for audit
    entries and benchmarks: no salt, no digest."""
    parts = encoded.split("$")
    if parts[0] == "argon2" and len(parts) >= 5:
        return f"{parts[1]} {parts[3]}"
    if len(parts) >= 2 and parts[1].isdigit():  # pbkdf2_sha256$iterations$salt$hash
        return f"{parts[0]} iterations={parts[1]}"
    return parts[0]
