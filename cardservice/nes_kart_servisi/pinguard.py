"""The wrong-PIN guard: the service's own persistent counter per card, and the attempt rate.

A real AKİS card locks its PIN after three consecutive wrong entries; SoftHSM2 (and some other
modules) never does. So the service keeps its own count per token serial in ``--state-dir``
and refuses a fourth attempt *without touching the card* (423 ``pin_locked``) until the PIN is
right — which can then only be proved by ``unlock`` (PUK = SO PIN) — or the counter is cleared
by ``nes-kart-servisi unlock``. The counter survives a restart of the service.

Attempts on one card are at least :data:`MIN_INTERVAL` seconds apart (429 ``rate_limited``).
Nothing here ever sees the PIN itself.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

MAX_WRONG = 3
MIN_INTERVAL = 1.0


def default_state_dir() -> Path:
    """``$XDG_STATE_HOME/nes-kart-servisi`` (``~/.local/state/…``); ``%LOCALAPPDATA%`` on
    Windows."""
    if os.name == "nt" and os.environ.get("LOCALAPPDATA"):
        return Path(os.environ["LOCALAPPDATA"]) / "nes-kart-servisi"
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "nes-kart-servisi"


class RateLimited(Exception):
    def __init__(self, retry_after: float) -> None:
        super().__init__("rate limited")
        self.retry_after = retry_after

    @property
    def retry_after_seconds(self) -> int:
        return max(1, math.ceil(self.retry_after))


class PinGuard:
    """Counters in one small JSON file per card (``pin-<sha256(serial)[:32]>.json``), written
    atomically; read from disk on every use, so that ``unlock`` run in another process takes
    effect at once."""

    def __init__(
        self,
        state_dir: Path,
        *,
        max_wrong: int = MAX_WRONG,
        min_interval: float = MIN_INTERVAL,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.state_dir = Path(state_dir)
        self.max_wrong = max_wrong
        self.min_interval = min_interval
        self._clock = clock
        self._lock = threading.Lock()
        self._last_attempt: dict[str, float] = {}
        self._known: dict[str, int] = {}

    # --- the persistent counter -----------------------------------------------------------
    def _path(self, serial: str) -> Path:
        digest = hashlib.sha256(serial.encode("utf-8")).hexdigest()[:32]
        return self.state_dir / f"pin-{digest}.json"

    def wrong_count(self, serial: str) -> int:
        try:
            data = json.loads(self._path(serial).read_text(encoding="utf-8"))
        except FileNotFoundError:
            return 0
        except (OSError, ValueError):
            # An unreadable counter must not unlock a card: count it as locked.
            return self.max_wrong
        value = data.get("wrong") if isinstance(data, dict) else None
        if not isinstance(value, int) or value < 0:
            return self.max_wrong
        return value

    def reset_elsewhere(self, serial: str) -> bool:
        """True once after another process (``unlock``) cleared a counter this one had seen
        above zero: a PIN may have been set behind the module's back (SoftHSM2 keeps the PIN
        it loaded until the module is initialised again)."""
        with self._lock:
            current = self.wrong_count(serial)
            known = self._known.get(serial, 0)
            self._known[serial] = current
            return known > 0 and current == 0

    def _write(self, serial: str, wrong: int) -> None:
        self._known[serial] = wrong
        self.state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        path = self._path(serial)
        if wrong == 0:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
            return
        fd, tmp = tempfile.mkstemp(dir=self.state_dir, prefix=".pin-", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump({"serial": serial, "wrong": wrong}, handle)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise

    def is_locked(self, serial: str) -> bool:
        return self.wrong_count(serial) >= self.max_wrong

    def tries_left(self, serial: str) -> int:
        return max(0, self.max_wrong - self.wrong_count(serial))

    def record_wrong(self, serial: str) -> int:
        """Count one wrong PIN; returns the tries left."""
        with self._lock:
            wrong = min(self.max_wrong, self.wrong_count(serial) + 1)
            self._write(serial, wrong)
        return max(0, self.max_wrong - wrong)

    def record_right(self, serial: str) -> None:
        with self._lock:
            self._write(serial, 0)

    def clear(self, serial: str) -> None:
        """What ``unlock`` does after a successful C_InitPIN."""
        with self._lock:
            self._write(serial, 0)

    # --- the rate of attempts (in memory) ---------------------------------------------------
    def claim_attempt(self, serial: str) -> None:
        """Reserve an attempt on this card now, or raise :class:`RateLimited`."""
        with self._lock:
            now = self._clock()
            last = self._last_attempt.get(serial)
            if last is not None and now - last < self.min_interval:
                raise RateLimited(self.min_interval - (now - last))
            self._last_attempt[serial] = now
