"""A worker that completes a job claims its next one in the same store call (one hand-off instead of two)."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

from tevo_bridge.config import Settings
from tevo_bridge.pipeline.worker import Worker
from tevo_bridge.store import AsyncStore, Event, SqliteStore


class Processor:
    def __init__(self, stop: asyncio.Event | None = None) -> None:
        self.processed: list[int] = []
        self.stop = stop

    async def process(self, order_id: int) -> None:
        self.processed.append(order_id)
        if self.stop is not None:
            self.stop.set()  # the daemon stops while this job runs

    async def give_up(self, order_id: int, reason: str) -> None:
        raise AssertionError("no step fails here")


def queued(path, *order_ids: int) -> SqliteStore:
    sync = SqliteStore(path)
    for order_id in order_ids:
        sync.record_event(Event("webhook", "order_created", f"k{order_id}", "{}", order_id=order_id))
    return sync


def states(sync: SqliteStore) -> dict[str, str]:
    return {row["key"]: row["state"] for row in sync._conn.execute("SELECT key, state FROM jobs")}


def test_a_completed_job_comes_back_with_the_next_one_claimed(tmp_path):
    sync = queued(tmp_path / "state.sqlite3", 1, 2)

    async def run() -> tuple:
        store = AsyncStore(SqliteStore(tmp_path / "state.sqlite3"))
        try:
            job = await store.claim_job(60)
            worker = Worker(SimpleNamespace(store=store, settings=Settings()), Processor())
            first = await worker.run_job(job, claim_until=asyncio.Event())
            second = await worker.run_job(first[0], claim_until=asyncio.Event())
            return job, first, second
        finally:
            store.close()

    job, (claimed, due), (none, when) = asyncio.run(run())
    assert (job.key, claimed.key, due) == ("order:1", "order:2", None)
    assert none is None and when is None  # nothing queued, nothing running: no due time either
    assert states(sync) == {"order:1": "done", "order:2": "done"}
    sync.close()


def test_a_job_completed_after_stop_claims_nothing(tmp_path):
    sync = queued(tmp_path / "state.sqlite3", 1, 2)

    async def run() -> tuple:
        store = AsyncStore(SqliteStore(tmp_path / "state.sqlite3"))
        try:
            stop = asyncio.Event()
            processor = Processor(stop)
            await Worker(SimpleNamespace(store=store, settings=Settings(pipeline={"workers": 1})), processor).run(stop)
            return processor.processed
        finally:
            store.close()

    assert asyncio.run(run()) == [1]  # the loop ran one job, then saw stop
    assert states(sync) == {"order:1": "done", "order:2": "queued"}  # the second was never taken
    sync.close()


def test_the_loop_runs_every_queued_job_through_the_claims_made_with_completions(tmp_path):
    sync = queued(tmp_path / "state.sqlite3", 1, 2, 3)

    async def run() -> list[int]:
        store = AsyncStore(SqliteStore(tmp_path / "state.sqlite3"))
        try:
            stop = asyncio.Event()
            processor = Processor()
            worker = Worker(SimpleNamespace(store=store, settings=Settings(pipeline={"workers": 1})), processor)
            task = asyncio.create_task(worker.run(stop))
            for _ in range(500):
                if len(processor.processed) == 3:
                    break
                await asyncio.sleep(0.01)
            stop.set()
            await task
            return processor.processed
        finally:
            store.close()

    assert asyncio.run(run()) == [1, 2, 3]
    assert set(states(sync).values()) == {"done"}
    sync.close()
