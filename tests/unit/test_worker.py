"""The worker's give-up path leaves no order behind, whichever store write a crash lands before."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import pytest

from tevo_bridge.config import Settings
from tevo_bridge.pipeline.worker import Worker
from tevo_bridge.store import AsyncStore, Event, SqliteStore

ORPHANS = ("SELECT o.id FROM orders o LEFT JOIN jobs j ON j.key = 'order:' || o.id "
           "WHERE o.state NOT IN ('done', 'rejected', 'canceled', 'needs_review') "
           "AND (j.state IS NULL OR j.state NOT IN ('queued', 'running'))")


class Crash(BaseException):
    """The process dying: nothing after it runs (a BaseException, so no handler catches it)."""


class DyingStore:
    """An AsyncStore whose process dies just before its ``crash_at``-th write."""

    READS = frozenset({"get_order", "get_hold", "hold_for_order", "job_for_order"})

    def __init__(self, store: AsyncStore, crash_at: int) -> None:
        self.store, self.crash_at, self.writes = store, crash_at, 0

    def __getattr__(self, name: str):
        method = getattr(self.store, name)

        async def call(*args, **kwargs):
            if name not in self.READS:
                self.writes += 1
                if self.writes == self.crash_at:
                    raise Crash(name)
            return await method(*args, **kwargs)

        return call


class Processor:
    async def give_up(self, order_id: int, reason: str) -> None:
        pass


@pytest.mark.parametrize("crash_at", [1, 2, 3, None])
def test_an_order_given_up_keeps_a_job_or_is_in_needs_review_whatever_write_a_crash_precedes(tmp_path, crash_at):
    path = tmp_path / "state.sqlite3"
    sync = SqliteStore(path)
    sync.record_event(Event("webhook", "order_created", "k1", "{}", order_id=402117))
    job = sync.claim_job(60)
    sync.update_order(402117, state="checking", reason="buyer is tevo")

    async def fail() -> None:
        store = AsyncStore(SqliteStore(path))
        runtime = SimpleNamespace(store=DyingStore(store, crash_at or 0), settings=Settings())
        try:
            await Worker(runtime, Processor())._failed(job, "POS: unreachable", final=True)
        except Crash:
            pass
        finally:
            store.close()

    asyncio.run(fail())
    sync.requeue_running_jobs()  # what the next start-up does
    assert sync._conn.execute(ORPHANS).fetchall() == []
    order, job_row = sync.get_order(402117), sync.job_for_order(402117)
    assert order.state == "needs_review" or job_row["state"] == "queued", (order.state, job_row["state"])
    sync.close()
