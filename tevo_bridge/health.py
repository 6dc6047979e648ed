"""When TEvo, the POS and the poller last worked, and their last errors: what the dashboard's health panel shows.

Prometheus counters say how many calls failed, not when the last one succeeded nor what the
error said; a seller asking "is it TEvo or my POS?" needs both. Each ``Ledger`` keeps the last
success time and a few recent errors in memory (process-wide, like the metrics series: they
describe this process since it started).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass

RECENT_ERRORS = 5


@dataclass(frozen=True)
class Failure:
    at: float  # Unix time
    message: str


class Ledger:
    """Thread-safe: POS hooks report from their worker threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.last_ok: float | None = None
        self._errors: deque[Failure] = deque(maxlen=RECENT_ERRORS)

    def ok(self) -> None:
        self.last_ok = time.time()

    def failed(self, message: str) -> None:
        with self._lock:
            self._errors.append(Failure(time.time(), message[:300]))

    def errors(self) -> list[Failure]:
        """Most recent first."""
        with self._lock:
            return list(reversed(self._errors))


TEVO = Ledger()
POS = Ledger()
POLLER = Ledger()
