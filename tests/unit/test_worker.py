"""The worker's give-up path leaves no order behind, whichever store write a crash lands before."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import pytest

from tevo_bridge.config import Settings
from tevo_bridge.pipeline.worker import HANDLERS, Worker, handles
from tevo_bridge.store import AsyncStore, Event, JobKind, SqliteStore
from tevo_bridge.store.vocabulary import JOB_KINDS

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


class RecordingProcessor(Processor):
    def __init__(self) -> None:
        self.processed: list[int] = []
        self.given_up: list[int] = []

    async def process(self, order_id: int) -> None:
        self.processed.append(order_id)

    async def give_up(self, order_id: int, reason: str) -> None:
        self.given_up.append(order_id)


def run_claimed(path, processor: Processor) -> None:
    """Claim the due job from the store at ``path`` and run it through a real worker, as the loop does."""

    async def run() -> None:
        store = AsyncStore(SqliteStore(path))
        try:
            job = await store.claim_job(60)
            assert job is not None
            await Worker(SimpleNamespace(store=store, settings=Settings()), processor).run_job(job)
        finally:
            store.close()

    asyncio.run(run())


def test_every_job_kind_the_store_queues_has_a_handler():
    assert set(HANDLERS) == set(JOB_KINDS) == {"order", "release_hold", "order_group"}


def test_a_second_handler_for_a_kind_is_refused():
    with pytest.raises(RuntimeError, match="job kind 'order' already has a handler: Worker._run_order"):
        handles(JobKind.ORDER)(Worker._run_order)
    assert HANDLERS[JobKind.ORDER] is Worker._run_order


def test_an_order_job_is_run_by_its_handler(tmp_path):
    path = tmp_path / "state.sqlite3"
    sync = SqliteStore(path)
    sync.record_event(Event("webhook", "order_created", "k1", "{}", order_id=402117))
    processor = RecordingProcessor()
    run_claimed(path, processor)
    assert processor.processed == [402117]
    assert sync.job_for_order(402117)["state"] == "done"
    sync.close()


def test_an_unknown_job_kind_is_refused_by_name_and_its_order_goes_to_a_person(tmp_path):
    """Not dropped (the order would wait for nothing) nor retried (it can never succeed here): failed for review."""
    path = tmp_path / "state.sqlite3"
    sync = SqliteStore(path)
    sync.record_event(Event("webhook", "order_created", "k1", "{}", order_id=402117))
    sync._conn.execute("UPDATE jobs SET kind = 'refund' WHERE key = 'order:402117'")  # as a newer version might
    processor = RecordingProcessor()
    run_claimed(path, processor)
    job, order = sync.job_for_order(402117), sync.get_order(402117)
    assert processor.processed == [] and processor.given_up == [402117]
    assert job["state"] == "failed" and sync.claim_job(60) is None
    assert order.state == "needs_review"
    for text in (job["last_error"], order.last_error):
        assert "job order:402117: unknown job kind 'refund'" in text
        assert "this tevo-bridge runs order, order_group, release_hold" in text and "Fix: upgrade" in text
    sync.close()
