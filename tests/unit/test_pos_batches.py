"""HoldBatches: holds queued while a batch is with the POS go together as the next; a hung batch holds nothing up."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from concurrent.futures import CancelledError

import pytest

from tevo_bridge.pos.batches import HoldBatches
from tevo_bridge.pos.types import Hold, HoldResult
from tevo_bridge.pos.workers import WorkerPool

WAIT = 5.0  # a liveness bound, never a timing


def hold(n: int) -> Hold:
    return Hold(global_id=f"G-{n}", remote_id="TG-1", quantity=1)


class Pos:
    """Records each batch; the first ``gated`` batches wait for ``gate`` (a POS busy or hung)."""

    def __init__(self, gated: int = 0) -> None:
        self.batches: list[list[str]] = []
        self.gate = threading.Event()
        self.entered = threading.Semaphore(0)
        self.gated = gated
        self.fail_ids: set[str] = set()
        self.raise_all: Exception | None = None

    def place(self, holds: Sequence[Hold], deadline: float) -> list[HoldResult | Exception]:
        self.batches.append([h.global_id for h in holds])
        self.entered.release()
        if len(self.batches) <= self.gated:
            self.gate.wait(timeout=30)
        if self.raise_all is not None:
            raise self.raise_all
        return [ValueError(f"bad {h.global_id}") if h.global_id in self.fail_ids else HoldResult(True, h.global_id, 0)
                for h in holds]


@pytest.fixture
def pool():
    pool = WorkerPool(4, "test-batches")
    yield pool
    pool.close()


def later(seconds: float = 30.0) -> float:
    return time.monotonic() + seconds


def test_a_lone_hold_is_placed_at_once_in_a_batch_of_its_own(pool: WorkerPool) -> None:
    pos = Pos()
    answer = HoldBatches(pos.place, pool).add(hold(1), later())
    assert answer.result(timeout=WAIT) == HoldResult(True, "G-1", 0)
    assert pos.batches == [["G-1"]]


def test_holds_queued_while_a_batch_runs_go_together_as_the_next(pool: WorkerPool) -> None:
    pos = Pos(gated=1)
    batches = HoldBatches(pos.place, pool)
    first = batches.add(hold(0), later())
    assert pos.entered.acquire(timeout=WAIT)  # the POS is placing G-0
    queued = [batches.add(hold(n), later()) for n in range(1, 6)]
    pos.gate.set()
    assert [a.result(timeout=WAIT).hold_id for a in [first, *queued]] == [f"G-{n}" for n in range(6)]
    assert pos.batches == [["G-0"], ["G-1", "G-2", "G-3", "G-4", "G-5"]]


def test_a_batch_takes_at_most_max_batch_holds(pool: WorkerPool) -> None:
    pos = Pos(gated=1)
    batches = HoldBatches(pos.place, pool, max_batch=2)
    answers = [batches.add(hold(0), later())]
    assert pos.entered.acquire(timeout=WAIT)
    answers += [batches.add(hold(n), later()) for n in range(1, 6)]
    pos.gate.set()
    assert all(a.result(timeout=WAIT).held for a in answers)
    assert pos.batches == [["G-0"], ["G-1", "G-2"], ["G-3", "G-4"], ["G-5"]]


def test_a_hold_that_failed_alone_fails_alone(pool: WorkerPool) -> None:
    pos = Pos(gated=1)
    pos.fail_ids = {"G-2"}
    batches = HoldBatches(pos.place, pool)
    batches.add(hold(0), later())
    assert pos.entered.acquire(timeout=WAIT)
    answers = {n: batches.add(hold(n), later()) for n in (1, 2, 3)}
    pos.gate.set()
    with pytest.raises(ValueError, match="bad G-2"):
        answers[2].result(timeout=WAIT)
    assert answers[1].result(timeout=WAIT).held and answers[3].result(timeout=WAIT).held


def test_a_batch_that_raises_fails_every_hold_of_it(pool: WorkerPool) -> None:
    pos = Pos()
    pos.raise_all = ConnectionError("POS down")
    batches = HoldBatches(pos.place, pool)
    answers = [batches.add(hold(n), later()) for n in range(3)]
    for answer in answers:
        with pytest.raises(ConnectionError, match="POS down"):
            answer.result(timeout=WAIT)


def test_a_queued_hold_whose_caller_gave_up_is_never_sent(pool: WorkerPool) -> None:
    pos = Pos(gated=1)
    batches = HoldBatches(pos.place, pool)
    batches.add(hold(0), later())
    assert pos.entered.acquire(timeout=WAIT)
    gave_up, kept = batches.add(hold(1), later()), batches.add(hold(2), later())
    assert gave_up.cancel()
    pos.gate.set()
    assert kept.result(timeout=WAIT).held
    with pytest.raises(CancelledError):
        gave_up.result(timeout=WAIT)
    assert pos.batches == [["G-0"], ["G-2"]]


def test_a_hold_arriving_after_a_batch_ran_out_of_time_gets_a_runner_of_its_own(pool: WorkerPool) -> None:
    """The first batch hangs past its deadline: the next hold is placed beside it, not after it."""
    pos = Pos(gated=1)
    batches = HoldBatches(pos.place, pool)
    hung = batches.add(hold(0), time.monotonic() + 0.05)
    assert pos.entered.acquire(timeout=WAIT)
    time.sleep(0.1)  # past the hung batch's deadline
    assert batches.add(hold(1), later()).result(timeout=WAIT).held
    assert not hung.done()
    pos.gate.set()
    assert hung.result(timeout=WAIT).held


def test_revive_starts_a_runner_for_holds_queued_behind_a_batch_out_of_time(pool: WorkerPool) -> None:
    pos = Pos(gated=1)
    batches = HoldBatches(pos.place, pool)
    batches.add(hold(0), time.monotonic() + 0.05)
    assert pos.entered.acquire(timeout=WAIT)
    queued = batches.add(hold(1), later())  # the hung runner is still within its time: this one queues
    time.sleep(0.1)
    assert not queued.done()
    batches.revive()
    assert queued.result(timeout=WAIT).held
    pos.gate.set()


def test_revive_leaves_a_batch_within_its_time_alone(pool: WorkerPool) -> None:
    pos = Pos(gated=1)
    batches = HoldBatches(pos.place, pool)
    batches.add(hold(0), later())
    assert pos.entered.acquire(timeout=WAIT)
    queued = batches.add(hold(1), later())
    batches.revive()
    assert not pos.entered.acquire(timeout=0.2), "revive started a second runner beside a live one"
    pos.gate.set()
    assert queued.result(timeout=WAIT).held
    assert pos.batches == [["G-0"], ["G-1"]]
