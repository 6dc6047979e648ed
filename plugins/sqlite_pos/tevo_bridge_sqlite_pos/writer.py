"""Group commit for the hooks' writes: the writes that queue up run as one transaction.

Every hold is a durable write, and the daemon asks for many at once (sixteen buyers at
checkout).  Each in its own transaction, they queue for SQLite's single write lock and
each pays an fsync, and the thread holding the lock also waits for the GIL after every
statement while the others' HTTP work runs: under load a 0.4 ms hold held the lock for
2.5 ms, which capped the POS near 370 holds per second.

Here a hook thread that finds no write under way becomes the *leader*: it runs its own
write and every write queued meanwhile as one ``BEGIN IMMEDIATE`` … ``COMMIT``, then hands
the lead to the first write that queued while it committed.  The writes run plainly (a
SAVEPOINT and RELEASE each would be two more statements, two more GIL hand-offs, per hold);
if one fails, the batch is rolled back whole and run again with each write in its own
``SAVEPOINT``, so a failing write still rolls back only itself and none is applied twice.  A write alone runs on its own thread, with
no hand-off; under load one fsync serves a batch.  Every caller hears back only after the
COMMIT that made its write durable.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from typing import Any, Generic, TypeVar, cast

from tevo_bridge_sqlite_pos.store import write_transaction

T = TypeVar("T")

#: Enough to take a burst of holds in one commit, few enough that the first waits little for the last.
MAX_BATCH = 32


class _Write(Generic[T]):
    """One queued write: woken once, either settled (committed or failed) or handed the lead."""

    def __init__(self, write: Callable[[sqlite3.Connection], T]) -> None:
        self.write = write
        self.wake = threading.Event()
        self.settled = False
        self.ok = False
        self.value: Any = None

    def settle(self, ok: bool, value: Any) -> None:
        self.settled, self.ok, self.value = True, ok, value
        self.wake.set()

    def result(self) -> T:
        if self.ok:
            return cast(T, self.value)  # settle() stored the writer function's result
        raise self.value


class GroupWriter:
    """``writer.run(lambda conn: ...)``: run a write in a batch transaction on one of the callers' threads.

    ``connect()`` gives the calling thread its own connection (a context manager); ``prepare(conn)``
    runs once at the start of every batch, inside its transaction (the POS expires lapsed holds
    there, once instead of once per write).
    """

    def __init__(self, connect: Callable[[], AbstractContextManager[sqlite3.Connection]],
                 prepare: Callable[[sqlite3.Connection], None], max_batch: int = MAX_BATCH) -> None:
        self._connect = connect
        self._prepare = prepare
        self._max_batch = max_batch
        self._lock = threading.Lock()
        self._queue: list[_Write[Any]] = []
        self._leading = False

    def run(self, write: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``write`` in the next batch; return its result (or raise its error) once committed."""
        (mine,) = self._settled([_Write(write)])
        return mine.result()

    def run_many(self, writes: Sequence[Callable[[sqlite3.Connection], T]]) -> list[T | Exception]:
        """Each write as ``run`` runs it, all queued at once so they share a batch (``pos_hold_many``): each
        write's result, or its error as a value, in order, once committed."""
        return [item.value for item in self._settled([_Write(write) for write in writes])]

    def _settled(self, mine: list[_Write[T]]) -> list[_Write[T]]:
        """Queue ``mine`` together and return them once each is settled, leading whichever batch is handed to them."""
        if not mine:
            return mine
        with self._lock:
            self._queue.extend(mine)
            follow, self._leading = self._leading, True
        if not follow:
            self._lead()  # the queue was empty: the batch starts with the first of these
        for item in mine:
            item.wake.wait()
            if not item.settled:  # handed the lead: it heads the queue
                self._lead()
        return mine

    def _lead(self) -> None:
        with self._lock:
            batch, self._queue = self._queue[: self._max_batch], self._queue[self._max_batch:]
        interrupted = RuntimeError("the POS write was interrupted before it committed")
        outcomes: list[tuple[bool, Any]] = [(False, interrupted)] * len(batch)
        try:
            outcomes = self._write(batch)
        finally:  # whatever happened, every write of the batch hears back and the lead passes on
            self._hand_over(batch, outcomes)

    def _hand_over(self, batch: list[_Write[Any]], outcomes: list[tuple[bool, Any]]) -> None:
        with self._lock:
            following = self._queue[0] if self._queue else None
            self._leading = following is not None
        for item, (ok, value) in zip(batch, outcomes, strict=True):
            item.settle(ok, value)
        if following is not None:
            following.wake.set()  # not settled: it leads the next batch

    def _write(self, batch: list[_Write[Any]]) -> list[tuple[bool, Any]]:
        try:
            try:
                return self._transaction(batch, _plain)
            except _Failed:  # rolled back whole: again, each write in its own savepoint
                return self._transaction(batch, _one)
        except Exception as exc:  # connect, BEGIN, prepare or COMMIT failed: nothing of the batch is durable
            return [(False, exc)] * len(batch)

    def _transaction(self, batch: list[_Write[Any]], run: Callable[[sqlite3.Connection, Callable[[sqlite3.Connection], Any]],
                     tuple[bool, Any]]) -> list[tuple[bool, Any]]:
        with self._connect() as conn, write_transaction(conn):
            self._prepare(conn)
            return [run(conn, item.write) for item in batch]


class _Failed(Exception):
    """A write of a batch without savepoints failed: its half is in the transaction, which must roll back whole."""


def _plain(conn: sqlite3.Connection, write: Callable[[sqlite3.Connection], Any]) -> tuple[bool, Any]:
    try:
        return True, write(conn)
    except Exception as exc:
        raise _Failed() from exc


def _one(conn: sqlite3.Connection, write: Callable[[sqlite3.Connection], Any]) -> tuple[bool, Any]:
    conn.execute("SAVEPOINT write")
    try:
        result = write(conn)
    except Exception as exc:
        conn.execute("ROLLBACK TO write")
        conn.execute("RELEASE write")
        return False, exc
    conn.execute("RELEASE write")
    return True, result
