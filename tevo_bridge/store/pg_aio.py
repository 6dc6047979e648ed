"""PostgreSQL's store threads, with group commit for the intake's hot writes.

*Why:* on PostgreSQL every store call was its own hand-off to one of the store threads, its own pool
checkout and its own statement and commit, where SQLite answers every call that queued meanwhile with
one wake-up, one transaction and one hand-back (``AsyncStore``). Under the intake's load that was the
daemon's CPU per request PostgreSQL paid above SQLite (benchmarks/NOTES.md, "Issue 24, third pass").

*What:* a webhook's event, a new hold and a hold's outcome (``record_event``, ``begin_hold``,
``finish_hold``: one statement each, store/pg_intake.py) go to intake threads of their own. A thread
takes every such call queued when it wakes and sends their statements in ONE transaction, pipelined
with its ``BEGIN`` and ``COMMIT`` (``PostgresStore._run_together``): one round trip, one commit, one
hand-back to the event loop for all of them. Every caller hears back only after that COMMIT, so
"recorded before answered" holds for each. A call alone runs as before (autocommit, one statement).

*Outcomes stay each call's own:* if any statement of the batch fails, PostgreSQL rolls the whole
transaction back and each call then runs alone (so only the failing one fails), as SQLite's group
commit does. A batch PostgreSQL aborted for a concurrent transaction (a deadlock between two batches)
is run again whole first; a lost connection answers each call ``StoreUnavailable`` (the HTTP layer's
503: TEvo sends it again, and the writes are idempotent), as it did one call at a time. Every other
call (jobs, orders, the dashboard's reads) takes the store threads as before.
"""

from __future__ import annotations

import queue
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

from tevo_bridge.store.aio import MAX_BATCH, STOP, AsyncStore, outcome_of, serve_batches, started_threads
from tevo_bridge.store.postgres import Planned, PostgresStore
from tevo_bridge.store.vocabulary import StoreUnavailable

P = ParamSpec("P")
T = TypeVar("T")

#: One batch is being sent and committed while the next one gathers on the other thread: more would take
#: fewer calls each, and every wake-up and commit is what this saves.
INTAKE_THREADS = 2


class PostgresAsyncStore(AsyncStore):
    """``AsyncStore`` over ``PostgresStore``: ``threads`` store threads, one call each, plus ``INTAKE_THREADS``
    that group-commit the intake's hot writes."""

    sync: PostgresStore
    #: On the event loop's CPU: a PostgreSQL call's time here is psycopg's Python and waiting for the server, whose
    #: own processes are what a second CPU is for (A/B, benchmarks/NOTES.md "ninth pass": 15% more holds/s, 9% more
    #: acks/s than roaming).
    roams = False

    def __init__(self, store: PostgresStore, threads: int, intake_threads: int = INTAKE_THREADS,
                 max_batch: int = MAX_BATCH) -> None:
        super().__init__(store, max_batch=1, threads=threads)
        self.intake_batch = max_batch
        self._planners: dict[Callable[..., Any], Callable[..., Planned[Any] | None]] = {
            store.record_event: store._plan_record_event,
            store.begin_hold: store._plan_begin_hold,
            store.finish_hold: store._plan_finish_hold,
        }
        self._intake: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._intake_threads = started_threads(self._run_intake, "store-intake", intake_threads, roam=self.roams)

    async def call(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
        return await self._queued(self._intake if fn in self._planners else self._queue, fn, args, kwargs)

    def close(self) -> None:
        if not self._closed:
            for _ in self._intake_threads:
                self._intake.put(STOP)
            for thread in self._intake_threads:
                thread.join()
        super().close()

    # -- the intake threads ----------------------------------------------------------------------

    def _run_intake(self) -> None:
        serve_batches(self._intake, self.intake_batch, lambda calls: self._hand_back(calls, self._outcomes(calls)))

    def _outcomes(self, calls: list[Any]) -> list[tuple[bool, Any]]:
        if len(calls) > 1:
            try:
                return self._together(calls)
            except StoreUnavailable as exc:  # the database is unreachable: each call would have failed alike
                return [(False, exc)] * len(calls)
            except Exception:  # a statement failed and nothing of the batch was kept: each call alone
                pass
        return [outcome_of(fn, args, kwargs) for _loop, _future, fn, args, kwargs in calls]

    def _together(self, calls: list[Any]) -> list[tuple[bool, Any]]:
        """The calls' plans in one transaction; those with no plan (a rare shape of event) run alone after it."""
        plans = [self._planners[fn](*args, **kwargs) for _loop, _future, fn, args, kwargs in calls]
        planned = [plan for plan in plans if plan is not None]
        rows = iter(self.sync._run_together(planned) if planned else ())
        outcomes: list[tuple[bool, Any]] = []
        for (_loop, _future, fn, args, kwargs), plan in zip(calls, plans, strict=True):
            if plan is None:
                outcomes.append(outcome_of(fn, args, kwargs))
                continue
            row = next(rows)
            try:
                outcomes.append((True, plan.answer(row)))  # a repeated hold reads and decides here, on its own
            except Exception as exc:
                outcomes.append((False, exc))
        return outcomes

