"""A running job's heartbeat: its lease is renewed while it runs, and it stops itself if it cannot be.

A claimed job is the worker's for ``[pipeline] lease_seconds`` from its last renewal. That lease
used to be long (two minutes) because nothing renewed it: a replica killed mid-order left its
orders waiting for the whole of it. Renewed every quarter lease, it can be short (8 s), so another
replica takes a dead one's job over within seconds, while a job that runs long (a TEvo call
retried, a large PDF) stays its worker's.

The other half is what makes a short lease safe: a worker that cannot renew in time (the database
is restarting, the network to it is cut) cancels its own job before the lease ends, as if it had
crashed at that line, rather than run on beside whoever takes it next. Every step is written to be
resumed from the facts after a crash at any line, so a cancelled job loses nothing; what must never
happen is two workers on one order at once.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from tevo_bridge.log import get_logger
from tevo_bridge.store import AsyncStore, Job

log = get_logger(__name__)

#: A lease is renewed this many times per its length: three renewals may fail before it would lapse.
BEATS_PER_LEASE = 4


class LeaseLost(Exception):
    """The job was stopped because its lease could not be kept: record nothing, someone else may run it."""


class LeaseKeeper:
    """Runs one job's work while renewing its lease; ``job`` is always the claim as the store last confirmed it."""

    def __init__(self, store: AsyncStore, job: Job, lease_seconds: float,
                 on_renewed: Callable[[], None] | None = None) -> None:
        self.store = store
        self.job = job
        self.lease_seconds = lease_seconds
        self.on_renewed = on_renewed
        self.interval = lease_seconds / BEATS_PER_LEASE
        self.lost: str | None = None

    async def run(self, work: Awaitable[None]) -> None:
        """Await ``work`` under the heartbeat; ``LeaseLost`` if the heartbeat had to stop it."""
        task = asyncio.ensure_future(work)
        stop = asyncio.Event()
        beat = asyncio.create_task(self._beat(task, stop), name=f"lease-{self.job.key}")
        try:
            await task
        except asyncio.CancelledError:
            if self.lost is None:
                raise  # the daemon is stopping, not the lease
            raise LeaseLost(self.lost) from None
        finally:
            stop.set()
            await beat  # a renewal in flight lands first, so ``job`` is what the store holds

    async def _beat(self, task: asyncio.Future[None], stop: asyncio.Event) -> None:
        while not await _stopped_within(stop, self.interval):
            # Stop the work this long before the lease ends: another worker may take the job at its end.
            fence = self.job.lease_until - self.interval
            renewal = asyncio.ensure_future(self.store.renew_job(self.job, self.lease_seconds))
            done, _ = await asyncio.wait({renewal}, timeout=max(0.0, fence - time.time()))
            if not done:
                self._lose(task, f"the store did not renew the lease within {self.lease_seconds:g} s")
                await asyncio.wait({renewal})  # let it land: a late renewal still names the claim we hold
            try:
                renewed = renewal.result()
            except Exception as exc:  # noqa: BLE001 - a store that cannot write now; the fence decides
                if time.time() >= fence:
                    self._lose(task, f"the lease could not be renewed: {exc}")
                    return
                log.warning("job.lease_not_renewed", job=self.job.key, error=str(exc))
                continue
            if renewed is None:
                self._lose(task, "another worker has taken the job over")
                return
            self.job = renewed
            if self.on_renewed is not None:
                self.on_renewed()
            if self.lost is not None:
                return

    def _lose(self, task: asyncio.Future[None], why: str) -> None:
        if self.lost is None and not task.done():
            self.lost = why
            log.warning("job.lease_lost", job=self.job.key, reason=why)
            task.cancel()


async def _stopped_within(stop: asyncio.Event, seconds: float) -> bool:
    try:
        await asyncio.wait_for(stop.wait(), seconds)
    except TimeoutError:
        return False
    return True
