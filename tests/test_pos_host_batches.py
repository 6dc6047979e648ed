"""PluginHost and ``pos_hold_many``: Order Integration holds go to the POS in batches, with pos_hold's answers,
errors and budgets."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest

from tests.pos_stubs import HOLD, StubPos
from tevo_bridge import hookimpl
from tevo_bridge.pos import deadline
from tevo_bridge.pos.errors import PosError, PosTimeout
from tevo_bridge.pos.types import Hold, HoldResult


class BatchingPos(StubPos):
    """``pos_hold_many`` records each batch and the time it was given; ``gate`` (when set up) holds the first."""

    def __init__(self, answers: Any = None) -> None:
        super().__init__()
        self.batches: list[list[str]] = []
        self.time_left: list[float] = []
        self.single: list[str] = []
        self.answers = answers
        self.gate: threading.Event | None = None
        self.entered = threading.Event()

    @hookimpl
    def pos_hold(self, hold: Hold) -> HoldResult:
        self.single.append(hold.global_id)
        return HoldResult(True, hold.global_id, 0)

    @hookimpl
    def pos_hold_many(self, holds: list[Hold]) -> list[HoldResult | Exception]:
        self.batches.append([h.global_id for h in holds])
        self.time_left.append(deadline.time_left())
        self.entered.set()
        if self.gate is not None and len(self.batches) == 1:
            self.gate.wait(timeout=30)
        if self.answers is not None:
            return self.answers(holds)  # type: ignore[no-any-return]
        return [HoldResult(True, f"H-{h.global_id}", 0) for h in holds]


def holds(count: int) -> list[Hold]:
    return [Hold(global_id=f"G-{n}", remote_id="TG-1", quantity=1) for n in range(count)]


async def test_an_order_integration_hold_goes_through_pos_hold_many(make_pos_host) -> None:
    pos = BatchingPos()
    host = make_pos_host(pos)
    assert await host.hold(HOLD, intake=True) == HoldResult(True, "H-G-1", 0)
    assert (pos.batches, pos.single) == ([["G-1"]], [])


async def test_a_reservation_for_an_order_still_goes_through_pos_hold(make_pos_host) -> None:
    pos = BatchingPos()
    host = make_pos_host(pos)
    assert (await host.hold(HOLD)).held
    assert (pos.batches, pos.single) == ([], ["G-1"])


async def test_checkouts_that_queue_while_the_pos_is_busy_share_one_call(make_pos_host) -> None:
    pos = BatchingPos()
    pos.gate = threading.Event()
    host = make_pos_host(pos)
    first = asyncio.ensure_future(host.hold(holds(1)[0], intake=True))
    assert await asyncio.to_thread(pos.entered.wait, 5)  # the POS is placing G-0
    rest = [asyncio.ensure_future(host.hold(h, intake=True)) for h in holds(16)[1:]]
    await asyncio.sleep(0.05)  # every task has queued its hold
    pos.gate.set()
    answers = await asyncio.gather(first, *rest)
    assert [a.hold_id for a in answers] == [f"H-G-{n}" for n in range(16)]
    assert pos.batches == [["G-0"], [f"G-{n}" for n in range(1, 16)]]


async def test_the_batch_is_given_the_holds_budget_at_most(make_pos_host) -> None:
    pos = BatchingPos()
    host = make_pos_host(pos)
    await host.hold(HOLD, budget=0.5, intake=True)
    assert 0 < pos.time_left[0] <= 0.5


async def test_a_hold_that_failed_alone_is_a_pos_error_naming_its_cause(make_pos_host) -> None:
    pos = BatchingPos(answers=lambda hs: [ValueError(f"no seat map for {h.global_id}") for h in hs])
    host = make_pos_host(pos)
    with pytest.raises(PosError, match="no seat map for G-1") as raised:
        await host.hold(HOLD, intake=True)
    assert raised.value.hook == "pos_hold"


@pytest.mark.parametrize(("answers", "message"), [
    (lambda hs: [], "pos_hold_many returned 0 answers for 1 holds"),
    (lambda hs: [{"held": True} for _ in hs], "pos_hold_many returned dict in its list"),
    (lambda hs: None, "pos_hold_many returned NoneType, expected list"),
])
async def test_a_wrong_answer_from_pos_hold_many_fails_the_hold_closed(make_pos_host, answers, message) -> None:
    host = make_pos_host(BatchingPos(answers=answers))
    with pytest.raises(PosError, match=message):
        await host.hold(HOLD, intake=True)


async def test_a_batch_over_budget_times_out_and_a_late_hold_shows_on_its_future(make_pos_host) -> None:
    """As with pos_hold: the daemon releases a checkout hold the POS placed after TEvo was told no."""
    pos = BatchingPos()
    pos.gate = threading.Event()
    host = make_pos_host(pos, {"hold": 0.05})
    with pytest.raises(PosTimeout) as raised:
        await host.hold(HOLD, intake=True)
    assert raised.value.hook == "pos_hold"
    pos.gate.set()
    assert raised.value.future.result(timeout=5) == HoldResult(True, "H-G-1", 0)


async def test_holds_behind_a_hung_batch_are_placed_once_it_is_out_of_time(make_pos_host) -> None:
    pos = BatchingPos()
    pos.gate = threading.Event()
    host = make_pos_host(pos, {"hold": 0.2})
    hung = asyncio.ensure_future(host.hold(holds(1)[0], intake=True))
    assert await asyncio.to_thread(pos.entered.wait, 5)
    await asyncio.sleep(0.25)  # the hung batch is past its deadline
    assert (await host.hold(holds(2)[1], intake=True)).held
    with pytest.raises(PosTimeout):
        await hung
    pos.gate.set()
