"""Heartbeat leases (pipeline/lease.py): a long job keeps its short lease, a job whose lease cannot be kept
stops itself, and no outcome of a stopped job is recorded.

A real SQLite store through a real ``AsyncStore`` and a real ``Worker``; the lease is a second or so long,
so each test lives through several renewals.
"""

from __future__ import annotations

import asyncio
import time
from types import SimpleNamespace

import pytest

from tevo_bridge.config import Settings
from tevo_bridge.pipeline.lease import LeaseKeeper, LeaseLost
from tevo_bridge.pipeline.worker import Worker
from tevo_bridge.store import AsyncStore, Event, SqliteStore

LEASE = 0.8


class SlowProcessor:
    """Processes an order by taking ``seconds``; says whether it got to the end."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.finished: list[int] = []

    async def process(self, order_id: int) -> None:
        await asyncio.sleep(self.seconds)
        self.finished.append(order_id)

    async def give_up(self, order_id: int, reason: str) -> None:
        pass


def _queued(tmp_path, order_id: int = 402117) -> SqliteStore:
    sync = SqliteStore(tmp_path / "state.sqlite3")
    sync.record_event(Event("webhook", "order_created", f"k{order_id}", "{}", order_id=order_id))
    return sync


def _worker(store: AsyncStore, processor: SlowProcessor) -> Worker:
    settings = Settings(pipeline={"lease_seconds": 2})  # the config's floor; the tests' keepers use LEASE below
    worker = Worker(SimpleNamespace(store=store, settings=settings), processor)  # type: ignore[arg-type]
    worker.settings = settings.pipeline.model_copy(update={"lease_seconds": LEASE})
    return worker


def test_a_job_that_runs_several_leases_long_keeps_its_job_and_completes(tmp_path) -> None:
    sync = _queued(tmp_path)

    async def run() -> None:
        store = AsyncStore(SqliteStore(tmp_path / "state.sqlite3"))
        try:
            job = await store.claim_job(LEASE)
            processor = SlowProcessor(3 * LEASE)
            running = asyncio.create_task(_worker(store, processor).run_job(job))
            for _ in range(5):  # meanwhile nobody may take it: its lease is renewed
                await asyncio.sleep(LEASE / 2)
                assert await store.claim_job(LEASE) is None
            await running
            assert processor.finished == [402117]
        finally:
            store.close()

    asyncio.run(run())
    assert sync.job_for_order(402117)["state"] == "done"
    sync.close()


def test_a_job_taken_over_is_stopped_and_its_end_is_not_recorded(tmp_path) -> None:
    sync = _queued(tmp_path)

    async def run() -> None:
        store = AsyncStore(SqliteStore(tmp_path / "state.sqlite3"))
        try:
            job = await store.claim_job(LEASE)
            processor = SlowProcessor(10 * LEASE)
            running = asyncio.create_task(_worker(store, processor).run_job(job))
            await asyncio.sleep(LEASE / 8)
            # Another worker takes it over (as after a lapse this worker did not see): the lease row changes.
            sync._conn.execute("UPDATE jobs SET lease_until = lease_until + 100 WHERE key = 'order:402117'")
            started = time.monotonic()
            await asyncio.wait_for(running, timeout=5 * LEASE)
            assert time.monotonic() - started < 2 * LEASE  # at its next renewal, not at the end of its work
            assert processor.finished == []
        finally:
            store.close()

    asyncio.run(run())
    job = sync.job_for_order(402117)
    assert job["state"] == "running" and job["last_error"] is None  # the successor's claim, untouched
    sync.close()


class StoreThatStopsWriting(AsyncStore):
    """The database becomes unreachable for renewals (a restart, a cut network) after the claim."""

    async def renew_job(self, job, lease_seconds):  # type: ignore[no-untyped-def]
        raise OSError("connection refused")


def test_a_worker_that_cannot_renew_stops_its_job_before_the_lease_ends(tmp_path) -> None:
    sync = _queued(tmp_path)
    stopped_at: list[float] = []

    async def run() -> None:
        store = StoreThatStopsWriting(SqliteStore(tmp_path / "state.sqlite3"))
        try:
            job = await store.claim_job(LEASE)
            keeper = LeaseKeeper(store, job, LEASE)
            with pytest.raises(LeaseLost, match="could not be renewed: connection refused"):
                await keeper.run(asyncio.sleep(10 * LEASE))
            stopped_at.append(time.time())
            assert stopped_at[0] < job.lease_until  # stopped before anyone else could take the job
        finally:
            store.close()

    asyncio.run(run())
    sync.close()


def test_a_stopping_daemon_cancels_the_job_as_before_not_as_a_lost_lease(tmp_path) -> None:
    sync = _queued(tmp_path)

    async def run() -> None:
        store = AsyncStore(SqliteStore(tmp_path / "state.sqlite3"))
        try:
            job = await store.claim_job(LEASE)
            keeper = LeaseKeeper(store, job, LEASE)
            task = asyncio.create_task(keeper.run(asyncio.sleep(10 * LEASE)))
            await asyncio.sleep(LEASE / 2)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            assert keeper.lost is None
        finally:
            store.close()

    asyncio.run(run())
    sync.close()


def test_a_worker_busy_on_a_long_job_keeps_ticking_so_readiness_does_not_call_it_stale(tmp_path) -> None:
    # Every worker slot waiting on a slow TEvo call (30 s per read, retried) made /readyz answer 503 after 30 s,
    # and a balancer then took every replica out: OI holds, which need no worker, hung in front of them.
    sync = _queued(tmp_path)

    async def run() -> None:
        store = AsyncStore(SqliteStore(tmp_path / "state.sqlite3"))
        try:
            job = await store.claim_job(LEASE)
            worker = _worker(store, SlowProcessor(4 * LEASE))
            worker.last_tick = time.monotonic() - 3600  # its loop last turned long ago
            running = asyncio.create_task(worker.run_job(job))
            await asyncio.sleep(2 * LEASE)
            assert time.monotonic() - worker.last_tick < LEASE  # renewed leases ticked for it
            await running
        finally:
            store.close()

    asyncio.run(run())
    sync.close()
