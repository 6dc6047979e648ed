"""The calls one loop tick makes reach the store thread together: one wake-up, one batch, every promise kept."""

from __future__ import annotations

import asyncio
import sqlite3
from typing import Any

import pytest

from tevo_bridge.store import AsyncStore, Event, SqliteStore


def order_event(order_id: int) -> Event:
    return Event("webhook", "order_created", f"k{order_id}", "{}", order_id=order_id)


class BatchCountingStore(AsyncStore):
    """A real store thread over a real SQLite file; the batches it runs are recorded (their calls' names)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.batches: list[list[str]] = []
        super().__init__(*args, **kwargs)

    def _run_batch(self, calls: list[Any]) -> None:
        self.batches.append([call[2].__name__ for call in calls])
        super()._run_batch(calls)


@pytest.fixture
def store(tmp_path):
    counting = BatchCountingStore(SqliteStore(tmp_path / "state.sqlite3"))
    yield counting
    counting.close()


async def test_the_calls_of_one_tick_run_as_one_batch_in_the_order_they_were_made(store, tmp_path):
    results = await asyncio.gather(*(store.record_event(order_event(n)) for n in range(1, 11)))
    assert results == [True] * 10
    assert store.batches == [["record_event"] * 10]  # gather starts all ten in one tick: one hand-over
    with sqlite3.connect(tmp_path / "state.sqlite3") as conn:
        inbox = [row[0] for row in conn.execute("SELECT order_id FROM inbox ORDER BY id")]
    assert inbox == list(range(1, 11))


async def test_a_failing_call_of_the_tick_fails_alone_and_the_others_are_committed_when_answered(store):
    results = await asyncio.gather(store.record_event(order_event(1)), store.update_order(999, state="done"),
                                   store.record_event(order_event(2)), return_exceptions=True)
    assert results[0] is True and isinstance(results[1], KeyError) and results[2] is True
    assert len(store.batches) == 1
    assert store.sync.count("orders") == 2  # answered after the COMMIT: the rows are there on another read


async def test_calls_of_later_ticks_are_batches_of_their_own_and_one_coroutine_keeps_its_order(store):
    for n in range(1, 4):
        assert await store.record_event(order_event(n))
        await store.update_order(n, state="checking")
    assert store.batches == [["record_event"], ["update_order"]] * 3
    assert {o.id: o.state for o in store.sync.list_orders()} == {1: "checking", 2: "checking", 3: "checking"}


async def test_more_calls_than_a_batch_holds_are_split_and_all_answered(tmp_path):
    store = BatchCountingStore(SqliteStore(tmp_path / "state.sqlite3"), max_batch=4)
    try:
        results = await asyncio.gather(*(store.record_event(order_event(n)) for n in range(1, 11)))
    finally:
        store.close()
    assert results == [True] * 10
    assert [len(batch) for batch in store.batches] == [4, 4, 2]


def test_calls_made_just_before_close_still_run(tmp_path):
    store = AsyncStore(SqliteStore(tmp_path / "state.sqlite3"))

    async def call_then_close() -> None:
        task = asyncio.ensure_future(store.record_event(order_event(1)))
        await asyncio.sleep(0)  # the task makes its call; the tick's hand-over is scheduled after this resumes
        assert store._this_tick, "the call was handed over already: this test would prove nothing"
        store.close()
        assert await asyncio.wait_for(task, 10) is True

    asyncio.run(call_then_close())
