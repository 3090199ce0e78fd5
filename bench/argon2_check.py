"""Cost of one security-word check: the portal's hasher next to the old parameters.

OLD is Django's ``Argon2PasswordHasher`` (m=100 MiB, t=2, p=8: what the portal used before
December 2026, and what old hashes still carry until their next login); NEW is the first hasher
of ``PASSWORD_HASHERS`` (``nesportal.hashers.NesArgon2PasswordHasher``); DUMMY is
``accounts.lockout.check_dummy``, what an unknown ID or a locked account costs. They run
alternately in one process (OLD NEW DUMMY, OLD NEW DUMMY …), right and wrong words in turn; the
memory of one check is the peak RSS growth of a fresh child process doing just that check.

    .venv/bin/python bench/argon2_check.py [--rounds 10] [--checks 5] [--candidates]

``--candidates`` also measures OWASP's Argon2id configurations (Password Storage Cheat Sheet)
and a few dearer ones next to them: how the parameters were chosen.

Prints CPU and wall time per check (medians), MiB per check, and the ratios OLD/NEW and
DUMMY/NEW. Targets (2-core reference machine, shared): NEW ≤ 50 ms CPU and ≤ 32 MiB per check,
DUMMY/NEW CPU within 0.9–1.1 (an unknown ID costs what a wrong word costs). Exits non-zero if
a target is missed.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "nesportal.settings")
os.environ.setdefault("DEBUG", "true")

CPU_TARGET_MS = 50.0
MEMORY_TARGET_MIB = 32.0
DUMMY_RATIO = (0.9, 1.1)
WORD = "zeytin-dalı-42"

# (time_cost, memory KiB, parallelism): OWASP's equivalent minimums, then dearer ones.
CANDIDATES = [
    (2, 19456, 1),
    (3, 12288, 1),
    (4, 9216, 1),
    (5, 7168, 1),
    (3, 19456, 1),
    (4, 19456, 1),
    (3, 24576, 1),
    (2, 32768, 1),
]


def _hwm_mib() -> float:
    """This process's peak RSS (VmHWM). Not ``ru_maxrss``: Linux carries that across exec, so
    a child would report its parent's peak."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _child(time_cost: int, memory_kib: int, parallelism: int) -> None:
    """One check in a fresh process; prints its peak RSS growth (MiB) as JSON."""
    import argon2

    hasher = argon2.PasswordHasher(
        time_cost=time_cost, memory_cost=memory_kib, parallelism=parallelism, type=argon2.Type.ID
    )
    # Hashing allocates the same m as checking; the peak is one Argon2 memory block.
    hasher.verify(hasher.hash(WORD), WORD)
    print(json.dumps({"rss_mib": _hwm_mib()}))


def peak_mib(time_cost: int, memory_kib: int, parallelism: int) -> float:
    """Peak RSS of a child doing one check, minus that of a child doing none."""
    base = [sys.executable, __file__, "--child"]
    with_check = subprocess.run(  # noqa: S603 (this script)
        [*base, str(time_cost), str(memory_kib), str(parallelism)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    bare = subprocess.run(  # noqa: S603
        [*base, "0", "0", "0"], capture_output=True, text=True, check=True
    )
    return json.loads(with_check.stdout)["rss_mib"] - json.loads(bare.stdout)["rss_mib"]


def _bare_child() -> None:
    import argon2  # noqa: F401 (the same imports as a measuring child)

    print(json.dumps({"rss_mib": _hwm_mib()}))


def measure(check: Callable[[str], object], checks: int) -> tuple[float, float]:
    """Median CPU ms and wall ms of ``checks`` checks, right and wrong word in turn."""
    cpu, wall = [], []
    for i in range(checks):
        word = WORD if i % 2 else "yanlış-sözcük"
        c, w = time.process_time(), time.perf_counter()
        check(word)
        cpu.append((time.process_time() - c) * 1000)
        wall.append((time.perf_counter() - w) * 1000)
    return statistics.median(cpu), statistics.median(wall)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--checks", type=int, default=5, help="checks per variant per round")
    parser.add_argument("--candidates", action="store_true")
    args = parser.parse_args()

    import django

    django.setup()
    from django.contrib.auth.hashers import Argon2PasswordHasher, get_hasher

    from accounts import lockout
    from nesportal.hashers import parameters

    def argon2_variant(hasher: Argon2PasswordHasher) -> tuple[Callable[[str], object], tuple]:
        encoded = hasher.encode(WORD, hasher.salt())
        params = (hasher.time_cost, hasher.memory_cost, hasher.parallelism)
        return (lambda word: hasher.verify(word, encoded)), params

    new_hasher = get_hasher()
    assert isinstance(new_hasher, Argon2PasswordHasher), "the preferred hasher is not Argon2"
    variants: dict[str, tuple[Callable[[str], object], tuple]] = {
        "OLD": argon2_variant(Argon2PasswordHasher()),
        "NEW": argon2_variant(new_hasher),
        "DUMMY": (lambda word: lockout.check_dummy(word), (0, 0, 0)),
    }
    variants["DUMMY"] = (variants["DUMMY"][0], variants["NEW"][1])
    if args.candidates:
        for t, m, p in CANDIDATES:
            hasher = Argon2PasswordHasher()
            hasher.time_cost, hasher.memory_cost, hasher.parallelism = t, m, p
            variants[f"m={m // 1024}MiB,t={t},p={p}"] = argon2_variant(hasher)

    cpu: dict[str, list[float]] = {name: [] for name in variants}
    wall: dict[str, list[float]] = {name: [] for name in variants}
    for _round in range(args.rounds):  # A B C A B C …
        for name, (check, _params) in variants.items():
            c, w = measure(check, args.checks)
            cpu[name].append(c)
            wall[name].append(w)
    memory = {name: peak_mib(*params) for name, (_check, params) in variants.items()}

    med = {name: statistics.median(cpu[name]) for name in variants}
    print(f"NEW = {parameters(new_hasher.encode(WORD, new_hasher.salt()))}; OLD = Django's "
          f"defaults; {args.rounds} rounds x {args.checks} checks, alternating")  # fmt: skip
    print(f"{'variant':<20} {'CPU ms':>8} {'wall ms':>8} {'MiB':>6} {'CPU / NEW':>10}")
    for name in variants:
        print(
            f"{name:<20} {med[name]:8.1f} {statistics.median(wall[name]):8.1f} "
            f"{memory[name]:6.1f} {med[name] / med['NEW']:10.2f}"
        )
    dummy_ratio = med["DUMMY"] / med["NEW"]
    print(
        f"OLD/NEW: CPU {med['OLD'] / med['NEW']:.2f}x, memory "
        f"{memory['OLD'] / memory['NEW']:.2f}x; DUMMY/NEW CPU {dummy_ratio:.2f}"
    )
    missed = []
    if med["NEW"] > CPU_TARGET_MS:
        missed.append(f"NEW CPU {med['NEW']:.1f} ms > {CPU_TARGET_MS:.0f} ms")
    if memory["NEW"] > MEMORY_TARGET_MIB:
        missed.append(f"NEW memory {memory['NEW']:.1f} MiB > {MEMORY_TARGET_MIB:.0f} MiB")
    if not DUMMY_RATIO[0] <= dummy_ratio <= DUMMY_RATIO[1]:
        missed.append(f"DUMMY/NEW {dummy_ratio:.2f} outside {DUMMY_RATIO}")
    print("OK" if not missed else "MISSED: " + "; ".join(missed))
    return 0 if not missed else 1


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "--child":
        if sys.argv[2] == "0":
            _bare_child()
        else:
            _child(*(int(v) for v in sys.argv[2:5]))
        raise SystemExit(0)
    raise SystemExit(main())
