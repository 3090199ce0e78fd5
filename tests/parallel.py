"""Run calls at the same instant on threads of their own (races on PostgreSQL)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from django.db import connection

from certificates.models import CertificateError


@dataclass
class Outcome:
    ok: bool
    value: Any


def in_parallel(calls: list[Callable[[], Any]]) -> list[Outcome]:
    """Run ``calls`` at the same instant on threads of their own; CertificateError is a refusal.

    Each thread uses (and then closes) its own database connection; any other exception fails
    the test.
    """
    barrier = threading.Barrier(len(calls))

    def run(call: Callable[[], Any]) -> Outcome:
        try:
            barrier.wait(timeout=30)
            try:
                return Outcome(True, call())
            except CertificateError as exc:
                return Outcome(False, exc)
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        futures = [pool.submit(run, call) for call in calls]
        return [future.result(timeout=120) for future in futures]
