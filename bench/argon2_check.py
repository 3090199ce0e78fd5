"""Cost of one security-word check with the production hasher (Django's Argon2 defaults).

The login's one expensive step: used to size gunicorn workers (gunicorn.conf.py) and to confirm
that unknown IDs, wrong words and locked accounts cost the same. Run:

    .venv/bin/python bench/argon2_check.py [--rounds 20]

Prints the median and p95 wall time per check and the process's peak RSS growth. Targets (on
the 2-core reference machine, idle): median under 500 ms, under 128 MiB extra memory per
concurrent check.
Exits non-zero if a target is missed.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "nesportal.settings")
os.environ.setdefault("DEBUG", "true")

import django  # noqa: E402

django.setup()

from django.contrib.auth.hashers import check_password, make_password  # noqa: E402

MEDIAN_TARGET_MS = 500
MEMORY_TARGET_MIB = 128


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()

    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    encoded = make_password("zeytin-dalı-42")
    timings = []
    for i in range(args.rounds):
        word = "zeytin-dalı-42" if i % 2 else "yanlış-sözcük"
        start = time.perf_counter()
        check_password(word, encoded)
        timings.append((time.perf_counter() - start) * 1000)
    rss_growth = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 - rss_before

    median = statistics.median(timings)
    p95 = sorted(timings)[max(0, int(len(timings) * 0.95) - 1)]
    print(f"hasher: {'$'.join(encoded.split('$')[:3])}")
    print(f"rounds: {args.rounds}  median: {median:.1f} ms  p95: {p95:.1f} ms")
    print(f"peak RSS growth: {rss_growth:.1f} MiB")
    ok = median < MEDIAN_TARGET_MS and rss_growth < MEMORY_TARGET_MIB
    print(
        "OK"
        if ok
        else f"MISSED (targets: median < {MEDIAN_TARGET_MS} ms, < {MEMORY_TARGET_MIB} MiB)"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
