"""At most one log line (and audit row) per window per (reason, peer), as ``intake.refusals.RefusalLog`` does.

Refused logins and CSRF failures can be sent by anyone who reaches the admin listener; one line each
would let a flood fill the disk and the audit table.
"""

from __future__ import annotations

import time
from collections.abc import Callable

WINDOW_SECONDS = 60.0
MAX_KEYS = 1024


class Throttle:
    """``note(key)``: None while ``key`` was already reported within the window; else how many were left out."""

    def __init__(self, window: float = WINDOW_SECONDS, clock: Callable[[], float] = time.monotonic,
                 max_keys: int = MAX_KEYS) -> None:
        self.window, self.clock, self.max_keys = window, clock, max_keys
        self._windows: dict[tuple[str, str], list[float]] = {}  # key -> [started, suppressed]

    def note(self, reason: str, peer: str) -> int | None:
        now = self.clock()
        key = (reason, peer)
        current = self._windows.get(key)
        if current is not None and now - current[0] < self.window:
            current[1] += 1
            return None
        self._windows.pop(key, None)
        self._prune(now)
        self._windows[key] = [now, 0]
        return int(current[1]) if current is not None else 0

    def _prune(self, now: float) -> None:
        if len(self._windows) < self.max_keys:
            return
        for key in [k for k, w in self._windows.items() if now - w[0] >= self.window]:
            del self._windows[key]
        while len(self._windows) >= self.max_keys:  # insertion order: the oldest window first
            del self._windows[next(iter(self._windows))]
