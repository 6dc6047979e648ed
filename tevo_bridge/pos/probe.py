"""HealthProbe: ``pos_health`` asked at most once per few seconds, and never twice at the same time.

``/readyz`` is polled by load balancers and the dashboard refreshes itself: asking the POS each time
would hammer it, and a POS that hangs would tie up one worker thread per poll. So an answer is kept
for ``ttl`` seconds, callers arriving while a call runs wait for that same call, and a call still hung
after its budget is reported as no answer until it ends, without a new one being started.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

from tevo_bridge.pos.types import PosHealth

__all__ = ["HEALTH_TTL", "HealthProbe"]

#: How long an answer of ``pos_health`` stands: short enough that /readyz notices an outage quickly.
HEALTH_TTL = 5.0


def _answer(future: Future[Any]) -> PosHealth:
    """The plugin's answer, or an unhealthy one naming the hook and what went wrong."""
    try:
        result = future.result()
    except Exception as exc:
        return PosHealth(False, f"pos_health raised {type(exc).__name__}: {exc}"[:300])
    if not isinstance(result.ok, bool):  # result's type was checked by the host; ok=None is the host's own
        return PosHealth(False, f"pos_health returned ok={result.ok!r}, expected True or False")
    return PosHealth(result.ok, "" if result.ok else (result.reason or "unhealthy (no reason given)")[:300])


class HealthProbe:
    """Thread-safe: the CLI asks synchronously, the listeners from their event loop."""

    def __init__(self, submit: Callable[[], Future[Any]], budget: float, ttl: float = HEALTH_TTL,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._submit = submit
        self._budget = budget
        self._ttl = ttl
        self._clock = clock
        self._lock = threading.Lock()
        self._cached: tuple[float, PosHealth] | None = None
        self._running: tuple[float, Future[Any]] | None = None

    def _start(self) -> tuple[PosHealth | None, Future[Any], float]:
        """The cached answer, or the call to wait for and how long it may still take."""
        now = self._clock()
        with self._lock:
            if self._cached is not None and now - self._cached[0] < self._ttl:
                return self._cached[1], Future(), 0.0
            running = self._running
            asking = running is None or running[1].done()
            if running is None or asking:
                running = self._running = (now, self._submit())
            started, future = running
        if asking:
            # Kept the moment the plugin answers, not when a waiter wakes: between the two a request on the
            # other listener's loop saw a finished call and no answer, and asked the POS again.
            future.add_done_callback(self._keep)
        return None, future, max(0.0, self._budget - (now - started))

    def _keep(self, future: Future[Any]) -> None:
        answer = _answer(future)
        with self._lock:
            self._cached = (self._clock(), answer)

    def _finish(self, future: Future[Any]) -> PosHealth:
        if future.done():
            return _answer(future)
        answer = PosHealth(False, f"pos_health: no answer within its {self._budget:g} s budget")
        with self._lock:
            self._cached = (self._clock(), answer)
        return answer

    async def check(self) -> PosHealth:
        cached, future, left = self._start()
        if cached is not None:
            return cached
        if left > 0:
            waiter = asyncio.wrap_future(future)
            # Retrieve a late exception, so an abandoned call does not log "exception never retrieved".
            waiter.add_done_callback(lambda f: f.cancelled() or f.exception())
            await asyncio.wait({waiter}, timeout=left)
        return self._finish(future)

    def check_sync(self) -> PosHealth:
        cached, future, left = self._start()
        if cached is not None:
            return cached
        if left > 0:
            concurrent.futures.wait([future], timeout=left)
        return self._finish(future)
