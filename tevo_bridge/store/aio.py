"""Awaitable access to the store: every call runs on one dedicated thread, off the event loop.

Calls that queue up while the thread is busy run together as one transaction (group
commit): one fsync for the lot instead of one each, and one hand-back to the event
loop.  Every caller still hears back only after the fsync that made its call durable.

Under load the fsync of a group is not the store thread's: it commits and goes on to the next group
while the *syncer* thread makes what was committed durable (``Store.make_durable``) and only then hands
the results back, for every group committed since its last fsync at once. Answers therefore
leave in commit order and each after a sync that began after its commit, so whatever an answer
says (even a read of another call's fresh row) is on the disk before anyone hears it
(store/walsync.py; benchmarks/NOTES.md, "seventh pass"). A group committed while nothing else is
queued or waiting for the syncer is synced and answered by the store thread itself: no one waits
behind that fsync, and its callers are spared a hop.
"""

from __future__ import annotations

import asyncio
import functools
import queue
import threading
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

from tevo_bridge import cpus
from tevo_bridge.log import get_logger
from tevo_bridge.store.base import Store
from tevo_bridge.store.facade import StoreFacade
from tevo_bridge.store.vocabulary import BatchTainted, StoreError
from tevo_bridge.store.watch import OrderWatch

log = get_logger(__name__)

P = ParamSpec("P")
T = TypeVar("T")

#: At most this many calls share one commit: enough to absorb a burst, small enough that
#: the first caller in a batch does not wait long for the last.
MAX_BATCH = 32

#: Put once per store thread by ``close``: the thread finishes the batch it took and ends.
STOP = object()

#: At most this many committed groups are made durable by one fsync (in practice, the few committed meanwhile).
MAX_SYNCED = 64


class AsyncStore(StoreFacade):
    """``await store.<method>(...)`` (typed, ``StoreFacade``) or ``await store.call(fn, ...)``.

    One thread is enough for SQLite: it takes one writer at a time anyway, and keeping
    every transaction on one thread keeps them short and ordered.  PostgreSQL runs
    transactions side by side, so ``PostgresStore`` gets several threads, each on its own
    pooled connection, and ``max_batch=1``; its intake writes are group-committed by threads of
    their own (``PostgresAsyncStore``, store/pg_aio.py; docs/architecture.md, "The PostgreSQL store").
    """

    #: Whether the store's threads run on any CPU (``cpus.roam``) rather than the event loop's: SQLite's work is C
    #: with the GIL let go (its steps, the fsync), which another CPU overlaps with the loop's Python.
    roams = True

    def __init__(self, store: Store, max_batch: int = MAX_BATCH, threads: int = 1) -> None:
        self.sync = store
        self.max_batch = max_batch
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._committed: queue.SimpleQueue[Any] = queue.SimpleQueue()  # (calls, outcomes) waiting for the fsync
        self._unsynced = 0  # groups handed to the syncer and not yet answered
        self._unsynced_lock = threading.Lock()
        self._not_durable: StoreError | None = None  # once set (a failed fsync), every call is refused
        self._threads = started_threads(self._run, "store", threads, roam=self.roams)
        # PostgreSQL (one call at a time, max_batch=1) has none: its COMMIT waits for its own WAL flush.
        self._syncers = started_threads(self._run_syncer, "store-sync", 1, roam=self.roams) if max_batch > 1 else []
        self._closed = False
        self.watch = OrderWatch()

    async def call(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
        """Run ``fn`` on the store thread. It may run twice, its first run rolled back (a batch one of whose
        calls failed runs again with savepoints): it must act on the database only."""
        return await self._queued(self._queue, fn, args, kwargs)

    def _queued(self, calls: queue.SimpleQueue[Any], fn: Callable[..., T], args: Any,
                kwargs: Any) -> asyncio.Future[T]:
        """``fn`` queued for the threads that serve ``calls``; the future its batch's hand-back settles."""
        if self._closed:
            raise RuntimeError("the store is closed")
        if self._not_durable is not None:
            raise self._not_durable
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        calls.put((loop, future, fn, args, kwargs))
        return future

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            for _ in self._threads:
                self._queue.put(STOP)
            for thread in self._threads:
                thread.join()
            for syncer in self._syncers:  # after the store threads: whatever they committed is synced and answered
                self._committed.put(STOP)
                syncer.join()
        self.sync.close()

    # -- the store thread ----------------------------------------------------------------------

    def _run(self) -> None:
        serve_batches(self._queue, self.max_batch, self._run_batch)

    def _run_batch(self, calls: list[Any]) -> None:
        if self._not_durable is not None:
            self._hand_back(calls, [(False, self._not_durable)] * len(calls))
            return
        # PostgreSQL: each call its own transaction, which the store may retry after a conflict. SQLite: a call
        # alone is a group of one, so that its answer too (a read's included) waits for an fsync after it.
        if not self._syncers:
            _loop, _future, fn, args, kwargs = calls[0]
            self._hand_back(calls, [outcome_of(fn, args, kwargs)])
            return
        try:
            try:
                outcomes = self._batch(calls, savepoints=False)
            except BatchTainted:  # a call failed and the batch was rolled back whole: again, each call on its own
                outcomes = self._batch(calls, savepoints=True)
        except Exception as exc:  # BEGIN or COMMIT failed: nothing of the batch is durable
            self._hand_back(calls, [(False, exc)] * len(calls))
            return
        # Nothing queued behind this group and nothing waiting for the syncer (a quiet daemon): its fsync here
        # holds no one up, and its callers are spared the hop to the syncer thread.
        if self._unsynced == 0 and self._queue.empty():
            self._sync_and_hand_back([(calls, outcomes)])
            return
        with self._unsynced_lock:
            self._unsynced += 1
        self._committed.put((calls, outcomes))  # answered by the syncer, once durable

    def _batch(self, calls: list[Any], *, savepoints: bool) -> list[tuple[bool, Any]]:
        """The calls in one transaction; without savepoints (the common case, where every call succeeds) no
        statements beyond the batch's BEGIN and COMMIT.

        A SAVEPOINT and RELEASE per call were a third of the statements per hold, and each statement
        is a GIL hand-off with the busy event loop. Without them the first call to fail ends the try:
        ``batch`` rolls everything back (nothing of it was committed or answered), so running the calls
        again, each in its savepoint, applies each exactly once."""
        outcomes: list[tuple[bool, Any]] = []
        with self.sync.batch(savepoints=savepoints, durable=False):
            for _loop, _future, fn, args, kwargs in calls:
                try:
                    outcomes.append((True, fn(*args, **kwargs)))
                except Exception as exc:
                    if not savepoints:  # its half is in the transaction: the whole batch must roll back
                        raise BatchTainted() from exc
                    outcomes.append((False, exc))  # its savepoint is rolled back; the others go on
        return outcomes

    # -- the syncer thread ----------------------------------------------------------------------

    def _run_syncer(self) -> None:
        serve_batches(self._committed, MAX_SYNCED, self._sync_handed)

    def _sync_handed(self, groups: list[tuple[list[Any], list[tuple[bool, Any]]]]) -> None:
        try:
            self._sync_and_hand_back(groups)
        finally:
            with self._unsynced_lock:
                self._unsynced -= len(groups)

    def _sync_and_hand_back(self, groups: list[tuple[list[Any], list[tuple[bool, Any]]]]) -> None:
        """One fsync for every group committed since the last, then their results, in commit order."""
        try:
            self.sync.make_durable()
        except Exception as exc:  # committed, but maybe not on the disk: nobody may be told it is done
            error = exc if isinstance(exc, StoreError) else StoreError(
                f"the store's writes may not be durable: {exc!r}")
            self._refuse_from_now(error)
            for calls, _outcomes in groups:
                self._hand_back(calls, [(False, error)] * len(calls))
            return
        for calls, outcomes in groups:
            self._hand_back(calls, outcomes)

    def _refuse_from_now(self, error: StoreError) -> None:
        if self._not_durable is None:
            self._not_durable = error
            log.critical("store.not_durable", error=str(error))

    @staticmethod
    def _hand_back(calls: list[Any], outcomes: list[tuple[bool, Any]]) -> None:
        by_loop: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[Any], bool, Any]]] = {}
        for (loop, future, *_), (ok, value) in zip(calls, outcomes, strict=True):
            by_loop.setdefault(loop, []).append((future, ok, value))
        for loop, results in by_loop.items():
            try:
                loop.call_soon_threadsafe(_settle, results)
            except RuntimeError:  # that loop is closed: nobody is waiting any more
                pass


def _settle(results: list[tuple[asyncio.Future[Any], bool, Any]]) -> None:
    for future, ok, value in results:
        if future.cancelled():
            continue
        if ok:
            future.set_result(value)
        else:
            future.set_exception(value)


def serve_batches(calls: queue.SimpleQueue[Any], max_batch: int, run_batch: Callable[[list[Any]], None]) -> None:
    """A store thread's loop: wait for a call, take every call queued behind it (at most ``max_batch``) and run them
    as one batch, until ``STOP``. The batch is what a thread's one wake-up, commit and hand-back are shared by."""
    while True:
        first = calls.get()
        if first is STOP:
            return
        batch = [first]
        stop = False
        while len(batch) < max_batch:
            try:
                more = calls.get_nowait()
            except queue.Empty:
                break
            if more is STOP:
                stop = True
                break
            batch.append(more)
        run_batch(batch)
        if stop:
            return


def _roaming(target: Callable[[], None]) -> None:
    cpus.roam()
    target()


def outcome_of(fn: Callable[..., Any], args: Any, kwargs: Any) -> tuple[bool, Any]:
    """One call run alone, as its batch hands it back: (True, its result) or (False, its error)."""
    try:
        return True, fn(*args, **kwargs)
    except Exception as exc:
        return False, exc


def started_threads(target: Callable[[], None], name: str, count: int, *, roam: bool) -> list[threading.Thread]:
    """``count`` daemon threads running ``target`` (a store thread's loop), started; with ``roam``, each free to run
    on any CPU, otherwise on the event loop's (tevo_bridge/cpus.py)."""
    run = functools.partial(_roaming, target) if roam else target
    threads = [threading.Thread(target=run, name=f"{name}-{n}", daemon=True) for n in range(count)]
    for thread in threads:
        thread.start()
    return threads
