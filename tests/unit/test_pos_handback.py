"""Hook calls hand their outcomes back to the event loop together (tevo_bridge/pos/handback.py)."""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from typing import Any

import pytest

from tevo_bridge.pos.handback import settled
from tevo_bridge.pos.workers import WorkerPool


@pytest.fixture
def pool():
    workers = WorkerPool(8, "test-handback")
    yield workers
    workers.close()


def count_wakeups(loop: asyncio.AbstractEventLoop) -> list[int]:
    """Count the loop's ``call_soon_threadsafe`` calls (each one a wake-up of the loop from a thread)."""
    calls = [0]
    original = loop.call_soon_threadsafe

    def counted(*args: Any, **kwargs: Any) -> Any:
        calls[0] += 1
        return original(*args, **kwargs)

    loop.call_soon_threadsafe = counted  # type: ignore[method-assign]
    return calls


async def test_calls_that_finish_together_are_settled_by_one_wakeup_of_the_loop(pool) -> None:
    gate = threading.Event()
    futures = [pool.submit(lambda n=n: gate.wait(5) and n) for n in range(8)]
    waits = [asyncio.ensure_future(settled(f, 5)) for f in futures]
    await asyncio.sleep(0)  # every wait is attached before any call finishes
    wakeups = count_wakeups(asyncio.get_running_loop())
    gate.set()
    concurrent.futures.wait(futures, timeout=5)  # the loop is blocked here: all eight finish before it runs again
    assert await asyncio.gather(*waits) == [True] * 8
    assert [f.result() for f in futures] == list(range(8))
    assert wakeups[0] == 1


async def test_each_call_is_settled_when_they_finish_apart(pool) -> None:
    for n in range(3):
        assert await settled(pool.submit(lambda n=n: n), 5)


async def test_a_call_over_its_time_is_reported_and_left_running(pool) -> None:
    gate = threading.Event()
    future = pool.submit(gate.wait, 5)
    assert await settled(future, 0.05) is False
    assert not future.done()  # not cancelled: the caller decides (PluginHost cancels one still queued)
    gate.set()
    assert future.result(timeout=5) is True
    await asyncio.sleep(0.05)  # its late hand-back finds nobody waiting, and says nothing


async def test_a_call_that_raises_is_settled_with_its_error_left_on_the_future(pool) -> None:
    def fails() -> None:
        raise ConnectionError("POS down")

    future = pool.submit(fails)
    assert await settled(future, 5)
    assert isinstance(future.exception(), ConnectionError)


async def test_a_call_already_done_is_settled_at_once(pool) -> None:
    future = pool.submit(lambda: 1)
    future.result(timeout=5)
    assert await settled(future, 5)


async def test_cancelling_the_waiter_leaves_the_call_running(pool) -> None:
    gate = threading.Event()
    future = pool.submit(gate.wait, 5)
    waiting = asyncio.ensure_future(settled(future, 5))
    await asyncio.sleep(0.01)
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    gate.set()
    assert future.result(timeout=5) is True
    await asyncio.sleep(0.05)
    assert await settled(pool.submit(lambda: 2), 5)  # the hand-back still works for the next call


def test_a_call_that_finishes_after_its_loop_closed_hands_back_quietly(pool, caplog) -> None:
    gate = threading.Event()
    future = pool.submit(gate.wait, 5)

    async def give_up() -> bool:
        return await settled(future, 0.01)

    loop = asyncio.new_event_loop()
    assert loop.run_until_complete(give_up()) is False
    loop.close()
    gate.set()
    assert future.result(timeout=5) is True
    assert pool.submit(lambda: 3).result(timeout=5) == 3  # the worker survived the closed loop's hand-back
    assert not [r for r in caplog.records if r.name == "concurrent.futures"]  # no "exception calling callback"
