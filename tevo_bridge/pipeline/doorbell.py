"""How idle workers learn that a job was committed: one worker per job, not all of them.

With one shared event every new job woke every idle worker, and each of them then asked the store for
a job (``claim_job``) and, finding none, when the next one is due (``next_job_due``): about half of the
store calls on an order's path were idle workers looking at an empty queue (benchmarks/NOTES.md).

``ring(n)`` says that ``n`` jobs were committed: it wakes ``n`` idle workers, oldest waiter first. A ring
no idle worker hears is kept (up to one per worker) for the next worker about to sleep, so a job
committed while a worker is between an empty claim and its wait is not left for ``idle_poll``; a
successful claim no ring asked for (a busy worker's, after its job) takes one kept ring back, since it
served a committed job and that worker claims again when it is done; a rung worker's claim serves its
own ring, so the kept one still wakes the next worker about to sleep. ``relay()`` says that an unknown number of jobs were committed (a poll
that queued several, a PostgreSQL notification that may stand for many): it wakes one worker, who
passes the relay on to the next idle worker when its claim found a job, so the queue drains as fast as
with a broadcast while the relay's last claim is the only one to find nothing. ``close()`` wakes every
worker for good: the daemon is stopping.
"""

from __future__ import annotations

import asyncio
from collections import deque
from enum import Enum


class Ring(Enum):
    """Why a worker's wait ended."""

    JOB = "job"  # a job (or one of n) was committed: claim it
    RELAY = "relay"  # some jobs were committed: claim, and pass the relay on if a job was there
    TIMEOUT = "timeout"  # the wait's own time ran out: a job due later (a retry's backoff)
    CLOSED = "closed"  # the daemon is stopping


class Doorbell:
    """Wakes idle workers one per committed job; lives on the event loop's thread (no locking)."""

    def __init__(self, workers: int) -> None:
        self._waiting: deque[asyncio.Future[Ring]] = deque()
        self._kept = 0  # rings no idle worker heard, for the next one about to sleep
        self._kept_relay = False
        self._most = max(1, workers)
        self._closed = False

    @property
    def idle(self) -> int:
        """How many workers are waiting now."""
        return sum(1 for waiter in self._waiting if not waiter.done())

    def ring(self, jobs: int = 1) -> None:
        """``jobs`` jobs were committed: wake as many idle workers, keep the rest for those about to sleep."""
        for _ in range(jobs):
            if not self._answer(Ring.JOB):
                self._kept = min(self._most, self._kept + 1)

    def relay(self) -> None:
        """Some jobs were committed, how many is not known: wake one worker, who passes it on."""
        if not self._answer(Ring.RELAY):
            self._kept_relay = True

    def claimed(self) -> None:
        """A claim no ring asked for found a job: one kept ring is served (the claim found the job it stood
        for, or an older one; either way the claiming worker claims again when it is done)."""
        self._kept = max(0, self._kept - 1)

    def close(self) -> None:
        """Wake every worker, now and at every later wait: the daemon is stopping."""
        self._closed = True
        while self._waiting:
            self._settle(self._waiting.popleft(), Ring.CLOSED)

    async def wait(self, timeout: float | None) -> Ring:
        """Until a ring, ``close`` or ``timeout`` seconds (None: no time limit); a kept ring ends it at once."""
        kept = self._take_kept()
        if kept is not None:
            return kept
        waiter: asyncio.Future[Ring] = asyncio.get_running_loop().create_future()
        self._waiting.append(waiter)
        try:
            return await asyncio.wait_for(asyncio.shield(waiter), timeout=timeout)
        except TimeoutError:
            # A ring that landed as the time ran out is still this worker's: it claims next either way.
            return waiter.result() if waiter.done() else Ring.TIMEOUT
        finally:
            if not waiter.done():
                waiter.cancel()
            if waiter in self._waiting:
                self._waiting.remove(waiter)

    def _take_kept(self) -> Ring | None:
        if self._closed:
            return Ring.CLOSED
        if self._kept_relay:
            self._kept_relay = False
            return Ring.RELAY
        if self._kept:
            self._kept -= 1
            return Ring.JOB
        return None

    def _answer(self, ring: Ring) -> bool:
        """Wake the longest-waiting idle worker with ``ring``; False if none is waiting."""
        while self._waiting:
            if self._settle(self._waiting.popleft(), ring):
                return True
        return False

    @staticmethod
    def _settle(waiter: asyncio.Future[Ring], ring: Ring) -> bool:
        if waiter.done():
            return False
        waiter.set_result(ring)
        return True
