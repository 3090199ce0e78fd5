"""Building and signing a CRL with ``certificates.pki.build_crl``: no database, no Django.

Run:

    .venv/bin/python bench/crl_build.py [--rounds 5] [--million]

What it measures (a throw-away demo CA in a temporary directory, ECDSA P-256 as in the demo):

* the one-pass path, ``pki.build_crl`` with entries from a generator (what publication does:
  it streams database rows), build + sign + DER encode, at 10k and 100k entries (and 1M with
  ``--million``): median of ``--rounds`` rounds;
* the old per-entry path (``CertificateRevocationListBuilder.add_revoked_certificate`` in a
  loop, what build_crl did before: cryptography copies the whole list on every call, so it
  is quadratic) against the one-pass path on the same entries at 1k and 10k, alternating
  A B A B; both must produce the same TBSCertList.

Prints ms and ratios. Target: a 100k-entry CRL built and signed in at most 3 s (median).
Exits non-zero if it is missed. Takes about a minute (a few more with ``--million``).
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cryptography import x509  # noqa: E402
from cryptography.hazmat.primitives import hashes, serialization  # noqa: E402

from certificates import pki  # noqa: E402

TARGET_100K_SECONDS = 3.0
NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
REASONS = (
    x509.ReasonFlags.key_compromise,
    x509.ReasonFlags.certificate_hold,
    x509.ReasonFlags.superseded,
    x509.ReasonFlags.unspecified,
    x509.ReasonFlags.cessation_of_operation,
    x509.ReasonFlags.affiliation_changed,
)


def entries(count: int, seed: int = 7) -> Iterator[pki.CrlEntry]:
    """``count`` distinct entries, generated lazily (random 159-bit serials, mixed reasons)."""
    rng = random.Random(seed)
    seen: set[int] = set()
    while len(seen) < count:
        serial = rng.getrandbits(159) or 1
        if serial in seen:
            continue
        seen.add(serial)
        yield pki.CrlEntry(
            serial,
            NOW - timedelta(seconds=rng.randrange(3 * 365 * 86400)),
            REASONS[len(seen) % len(REASONS)],
        )


def one_pass(ca: pki.CaMaterial, count: int) -> x509.CertificateRevocationList:
    return pki.build_crl(
        ca,
        entries=entries(count),
        crl_number=42,
        this_update=NOW,
        next_update=NOW + timedelta(hours=24),
    )


def per_entry(ca: pki.CaMaterial, count: int) -> x509.CertificateRevocationList:
    """What build_crl did before: ``add_revoked_certificate`` once per entry."""
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(ca.certificate.subject)
        .last_update(NOW)
        .next_update(NOW + timedelta(hours=24))
    )
    for entry in entries(count):
        revoked = (
            x509.RevokedCertificateBuilder()
            .serial_number(entry.serial_number)
            .revocation_date(entry.revoked_at)
        )
        if entry.reason != x509.ReasonFlags.unspecified:
            revoked = revoked.add_extension(x509.CRLReason(entry.reason), critical=False)
        builder = builder.add_revoked_certificate(revoked.build())
    ski = ca.certificate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    builder = builder.add_extension(
        x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), critical=False
    ).add_extension(x509.CRLNumber(42), critical=False)
    return builder.sign(ca.private_key, hashes.SHA256())


def timed(build: Callable[[pki.CaMaterial, int], x509.CertificateRevocationList], ca, count):  # noqa: ANN001
    """Seconds to build, sign and DER-encode; and the CRL."""
    started = time.perf_counter()
    crl = build(ca, count)
    crl.public_bytes(serialization.Encoding.DER)
    return time.perf_counter() - started, crl


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=5, help="rounds per size (5)")
    parser.add_argument("--million", action="store_true", help="also 1,000,000 entries")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="nes-crl-bench-") as directory:
        pki.create_demo_pki(Path(directory))
        ca = pki.load_ca(pki.demo_ca_paths(Path(directory)))

    curve = getattr(ca.private_key, "curve", None)
    key = f"ECDSA {curve.name}" if curve else type(ca.private_key).__name__
    started = time.perf_counter()
    for _entry in entries(100_000):
        pass
    generating = time.perf_counter() - started
    print(
        f"CA key: {key}; rounds: {args.rounds}; entries come from a generator (generating "
        f"100k of them alone: {generating * 1000:.0f} ms, included below)"
    )
    print()
    print("per-entry (old) vs one-pass (build_crl), alternating, same entries:")
    print(f"  {'entries':>9}  {'per-entry ms':>12}  {'one-pass ms':>11}  {'old/new':>7}")
    comparison: dict[int, float] = {}
    for count in (1_000, 10_000):
        old, new = [], []
        for _round in range(args.rounds):
            seconds, old_crl = timed(per_entry, ca, count)
            old.append(seconds)
            seconds, new_crl = timed(one_pass, ca, count)
            new.append(seconds)
        if old_crl.tbs_certlist_bytes != new_crl.tbs_certlist_bytes:
            print("  the two paths built different CRLs: the comparison is void")
            return 2
        ratio = statistics.median(old) / statistics.median(new)
        comparison[count] = ratio
        print(
            f"  {count:>9,}  {statistics.median(old) * 1000:>12.1f}  "
            f"{statistics.median(new) * 1000:>11.1f}  {ratio:>6.1f}×"
        )

    print()
    print("one-pass (build_crl): build + sign + DER")
    print(f"  {'entries':>9}  {'median ms':>10}  {'min ms':>8}  {'µs/entry':>8}  {'bytes':>11}")
    sizes = [10_000, 100_000] + ([1_000_000] if args.million else [])
    medians: dict[int, float] = {}
    for count in sizes:
        rounds = args.rounds if count < 1_000_000 else max(1, min(args.rounds, 3))
        runs = []
        for _round in range(rounds):
            seconds, crl = timed(one_pass, ca, count)
            runs.append(seconds)
        assert len(crl) == count
        medians[count] = statistics.median(runs)
        size = len(crl.public_bytes(serialization.Encoding.DER))
        print(
            f"  {count:>9,}  {medians[count] * 1000:>10.1f}  {min(runs) * 1000:>8.1f}  "
            f"{medians[count] / count * 1e6:>8.2f}  {size:>11,}"
        )
    base = medians[10_000]
    for count in sizes[1:]:
        print(
            f"  {count:,} vs 10,000: {medians[count] / base:.1f}× the time for "
            f"{count // 10_000}× the entries"
        )

    ok = medians[100_000] <= TARGET_100K_SECONDS
    print()
    print(
        f"target: 100k entries built and signed ≤ {TARGET_100K_SECONDS:.0f} s: "
        f"{medians[100_000]:.2f} s → {'OK' if ok else 'MISSED'}"
    )
    print(
        "summary: crl_build "
        + ", ".join(f"{c // 1000}k={medians[c]:.2f}s" for c in sizes)
        + "; per-entry/one-pass "
        + ", ".join(f"{c // 1000}k={r:.1f}×" for c, r in comparison.items())
    )
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
