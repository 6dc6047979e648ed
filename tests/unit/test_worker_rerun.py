"""News that comes while an order's job runs: a second run only if the news may postdate the run's last TEvo read.

A real worker runs a claimed job on a real store; the processor stands in for ``OrderProcessor`` at the one point
that matters: where, against its read of the order (``reads.reading``), the news comes.
"""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

from tevo_bridge.config import Settings
from tevo_bridge.pipeline import reads
from tevo_bridge.pipeline.worker import Worker
from tevo_bridge.store import AsyncStore, Event, SqliteStore

ORDER = 402117


class NewsProcessor:
    """Reads the order once (a stand-in for TEvo's GET) and lets news come before, during or after the read."""

    def __init__(self, store: AsyncStore, news_at: str | None, *, read: bool = True, ask: str = "webhook") -> None:
        self.store, self.news_at, self.read, self.ask = store, news_at, read, ask

    async def process(self, order_id: int) -> None:
        await self._news_if("before")
        if self.read:
            await reads.reading(self._fetch(order_id))
        await self._news_if("after")

    async def _fetch(self, order_id: int) -> dict[str, int]:
        await self._news_if("during")  # the request is out, the answer not back: TEvo may answer from before it
        return {"id": order_id}

    async def _news_if(self, moment: str) -> None:
        if moment != self.news_at:
            return
        if self.ask == "webhook":
            assert await self.store.record_event(Event("webhook", "order_created", f"news-{moment}", "{}",
                                                       order_id=ORDER))
        elif self.ask == "operator":
            assert await self.store.retry_order(ORDER, "operator retry") == "queued"
        else:  # TEvo's Order Integration invoice names the checkout's hold: a fact of the store, not of TEvo's order
            await self.store.record_oi_invoice(Event("order_integration", "invoice", "oi:invoice:g1", "{}",
                                                     order_id=ORDER, global_id="g1"))

    async def give_up(self, order_id: int, reason: str) -> None:
        raise AssertionError("no step fails here")


def job_state_after_run(tmp_path, news_at: str | None, *, read: bool = True, ask: str = "webhook") -> str:
    path = tmp_path / "state.sqlite3"
    sync = SqliteStore(path)
    sync.record_event(Event("webhook", "order_created", "first", "{}", order_id=ORDER))

    async def run() -> None:
        store = AsyncStore(SqliteStore(path))
        try:
            job = await store.claim_job(60)
            assert job is not None
            runtime = SimpleNamespace(store=store, settings=Settings())
            await Worker(runtime, NewsProcessor(store, news_at, read=read, ask=ask)).run_job(job)
        finally:
            store.close()

    asyncio.run(run())
    state: str = sync.job_for_order(ORDER)["state"]
    sync.close()
    return state


def test_news_that_came_before_the_runs_read_makes_no_second_run(tmp_path):
    assert job_state_after_run(tmp_path, "before") == "done"


def test_news_that_came_while_the_read_was_out_makes_a_second_run(tmp_path):
    assert job_state_after_run(tmp_path, "during") == "queued"


def test_news_that_came_after_the_read_makes_a_second_run(tmp_path):
    assert job_state_after_run(tmp_path, "after") == "queued"


def test_news_during_a_run_that_read_nothing_makes_a_second_run(tmp_path):
    """No read to compare with (an order a person must look at, a TEvo that did not answer): run again."""
    assert job_state_after_run(tmp_path, "before", read=False) == "queued"


def test_a_run_without_news_is_done(tmp_path):
    assert job_state_after_run(tmp_path, None) == "done"


def test_an_operators_retry_before_the_read_still_makes_a_second_run(tmp_path):
    """A retry changed the order in the store (back to ``new``), which no read of TEvo shows: skipping the second
    run would leave the order in ``new`` with no job to move it."""
    assert job_state_after_run(tmp_path, "before", ask="operator") == "queued"


def test_an_order_integration_invoice_before_the_read_still_makes_a_second_run(tmp_path):
    """The invoice call names the hold the order converts: a fact of the store the run may have looked for early."""
    assert job_state_after_run(tmp_path, "before", ask="oi_invoice") == "queued"


def test_news_that_came_before_the_claim_is_not_held_against_the_run(tmp_path):
    """An ask while the job was queued is this run's to see: the claim clears it, and only asks during the run count."""
    path = tmp_path / "state.sqlite3"
    sync = SqliteStore(path)
    sync.record_event(Event("webhook", "order_created", "first", "{}", order_id=ORDER))
    assert sync.retry_order(ORDER, "operator retry") == "queued"  # a forced ask, while queued
    job = sync.claim_job(60)
    sync.record_event(Event("webhook", "order_created", "news", "{}", order_id=ORDER))  # TEvo's news during the run
    asked_at = sync.job_for_order(ORDER)["asked_at"]
    sync.complete_job(job, read_at=asked_at + 0.001)
    assert sync.job_for_order(ORDER)["state"] == "done"
    sync.close()
