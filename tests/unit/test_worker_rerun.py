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

    def __init__(self, store: AsyncStore, news_at: str | None, *, read: bool = True) -> None:
        self.store, self.news_at, self.read = store, news_at, read

    async def process(self, order_id: int) -> None:
        await self._news_if("before")
        if self.read:
            await reads.reading(self._fetch(order_id))
        await self._news_if("after")

    async def _fetch(self, order_id: int) -> dict[str, int]:
        await self._news_if("during")  # the request is out, the answer not back: TEvo may answer from before it
        return {"id": order_id}

    async def _news_if(self, moment: str) -> None:
        if moment == self.news_at:
            assert await self.store.record_event(Event("webhook", "order_created", f"news-{moment}", "{}",
                                                       order_id=ORDER))

    async def give_up(self, order_id: int, reason: str) -> None:
        raise AssertionError("no step fails here")


def job_state_after_run(tmp_path, news_at: str | None, *, read: bool = True) -> str:
    path = tmp_path / "state.sqlite3"
    sync = SqliteStore(path)
    sync.record_event(Event("webhook", "order_created", "first", "{}", order_id=ORDER))

    async def run() -> None:
        store = AsyncStore(SqliteStore(path))
        try:
            job = await store.claim_job(60)
            assert job is not None
            runtime = SimpleNamespace(store=store, settings=Settings())
            await Worker(runtime, NewsProcessor(store, news_at, read=read)).run_job(job)
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
