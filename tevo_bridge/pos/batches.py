"""``HoldBatches``: the Order Integration holds that queue while the POS places others go to it together.

Each hold on a thread of its own cost the process about ten thread wake-ups (the hook thread's,
the GIL's between it and the busy event loop, the POS's own write lock's): under sixteen checkouts
at once the POS threads' CPU per hold was 0.21-0.27 ms, more than the bare endpoint's whole request
(benchmarks/NOTES.md, "fifth pass: holds in batches"). A plugin that implements ``pos_hold_many`` is given the
holds that queued while its previous batch ran, at most ``MAX_BATCH``, in one call on one thread;
that thread keeps taking batches while holds keep coming, as the store's group commit does, so an
idle daemon adds no wait to a lone hold and a burst costs a few hand-offs in all.

A batch that outlives its deadline no longer stands in line: the next hold to arrive, or the first
queued hold to time out, finds no runner within its time and starts another on a free pool thread,
so a hung POS call does not hold up every later checkout (as when each hold had its own thread). A
hold that timed out while still queued is never sent (its future is cancelled); one already in a
batch keeps its future, so the caller can release it should it be held late (``PosTimeout.future``).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from typing import NamedTuple

from tevo_bridge.pos.types import Hold, HoldResult
from tevo_bridge.pos.workers import WorkerPool

#: Enough for the sixteen checkouts the intake is measured at twice over; few enough that the first
#: hold of a batch does not wait long for the POS to place the last.
MAX_BATCH = 32

#: The hook call: the holds and the instant they must be answered by -> one answer per hold, in order.
PlaceHolds = Callable[[Sequence[Hold], float], Sequence[HoldResult | Exception]]


class Queued(NamedTuple):
    hold: Hold
    deadline: float  # time.monotonic() instant this hold's caller stops waiting
    answer: Future[HoldResult]


class HoldBatches:
    def __init__(self, place: PlaceHolds, pool: WorkerPool, max_batch: int = MAX_BATCH) -> None:
        self._place = place
        self._pool = pool
        self._max_batch = max_batch
        self._lock = threading.Lock()
        self._queue: deque[Queued] = deque()
        #: Each runner's deadline for the batch it is placing (or last placed): past it, the runner may be hung.
        self._runners: dict[object, float] = {}

    def add(self, hold: Hold, deadline: float) -> Future[HoldResult]:
        """Queue ``hold`` for the next batch; its answer (or error) arrives in the returned future."""
        queued = Queued(hold, deadline, Future())
        with self._lock:
            self._queue.append(queued)
            self._start_if_idle(deadline)
        return queued.answer

    def revive(self) -> None:
        """Start a runner if every runner is past its batch's deadline and holds are waiting."""
        with self._lock:
            if self._queue:
                self._start_if_idle(self._queue[0].deadline)

    def _start_if_idle(self, deadline: float) -> None:
        """Under the lock: a new runner unless one is within its batch's time."""
        if any(until > time.monotonic() for until in self._runners.values()):
            return
        runner = object()
        self._runners[runner] = deadline
        self._pool.submit(self._run, runner)

    def _run(self, runner: object) -> None:
        """A runner's life: take what queued, place it, again, until the queue is empty."""
        while True:
            with self._lock:
                batch = self._take()
                if not batch:
                    del self._runners[runner]
                    return
                deadline = min(queued.deadline for queued in batch)
                self._runners[runner] = deadline
            self._settle(batch, self._answers(batch, deadline))

    def _take(self) -> list[Queued]:
        batch: list[Queued] = []
        while self._queue and len(batch) < self._max_batch:
            queued = self._queue.popleft()
            if queued.answer.set_running_or_notify_cancel():  # False: its caller gave up; never sent
                batch.append(queued)
        return batch

    def _answers(self, batch: list[Queued], deadline: float) -> Sequence[HoldResult | Exception]:
        try:
            return self._place([queued.hold for queued in batch], deadline)
        except Exception as exc:  # the whole call failed: every hold of it fails closed
            return [exc] * len(batch)

    @staticmethod
    def _settle(batch: list[Queued], answers: Sequence[HoldResult | Exception]) -> None:
        for queued, answer in zip(batch, answers, strict=True):
            if isinstance(answer, Exception):
                queued.answer.set_exception(answer)
            else:
                queued.answer.set_result(answer)
