"""Refused requests, logged so a seller can see them, rate-limited so a flood cannot fill the disk.

A wrong webhook token, a wrong API key or a body that does not validate is answered without a
trace in the store; without a log line a seller setting up TEvo's registration sees nothing. But
anyone on the internet can send these, so at most one line per (channel, reason, peer) is written per
window, and the next line says how many were left out. The caller's token, key or webhook path is never
logged: only the reason, the peer and, for bodies, which fields failed.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request

from tevo_bridge.log import get_logger

log = get_logger(__name__)

#: At most one line per (channel, reason, peer) this often.
WINDOW_SECONDS = 60.0
#: Peers tracked at once; beyond that, the oldest windows are dropped (a spread-out flood then
#: logs at most this many lines per window, still bounded).
MAX_KEYS = 1024


@dataclass
class _Window:
    started: float
    suppressed: int = 0


class RefusalLog:
    """``note(request, channel, reason, ...)`` logs ``intake.refused`` unless the same channel, reason and peer
    did within the window."""

    def __init__(self, window: float = WINDOW_SECONDS, clock: Callable[[], float] = time.monotonic,
                 max_keys: int = MAX_KEYS) -> None:
        self.window = window
        self.clock = clock
        self.max_keys = max_keys
        self._windows: dict[tuple[str, str, str], _Window] = {}

    def note(self, request: Request, channel: str, reason: str, status: int, **fields: Any) -> None:
        peer = request.client.host if request.client else "unknown"
        now = self.clock()
        key = (channel, reason, peer)
        current = self._windows.get(key)
        if current is not None and now - current.started < self.window:
            current.suppressed += 1
            return
        suppressed = current.suppressed if current is not None else 0
        self._windows.pop(key, None)
        self._prune(now)
        self._windows[key] = _Window(now)
        log.warning("intake.refused", channel=channel, reason=reason, status=status, peer=peer,
                    method=request.method, suppressed=suppressed, window_seconds=self.window, **fields)

    def _prune(self, now: float) -> None:
        if len(self._windows) < self.max_keys:
            return
        for key in [k for k, w in self._windows.items() if now - w.started >= self.window]:
            del self._windows[key]
        while len(self._windows) >= self.max_keys:  # insertion order: the oldest window first
            del self._windows[next(iter(self._windows))]
