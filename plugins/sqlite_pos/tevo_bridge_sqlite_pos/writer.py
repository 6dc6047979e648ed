"""One writer thread per database: the hooks' writes run there, many to one transaction.

Every hold is a durable write, and the daemon asks for many at once (sixteen buyers at
checkout).  Each in its own transaction, they queue for SQLite's single write lock and
each pays an fsync, and the thread holding the lock also waits for the GIL after every
statement while the others' HTTP work runs: under load a 0.4 ms hold held the lock for
2.5 ms, which capped the POS near 370 holds per second.  Here the writes that queue up
while the writer is busy run as one ``BEGIN IMMEDIATE`` … ``COMMIT`` (group commit), each
in its own ``SAVEPOINT`` so that one failing write rolls back only itself, and each caller
hears back only after the COMMIT that made its write durable.
"""

from __future__ import annotations

import queue
import sqlite3
import threading
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path
from typing import Any, TypeVar

from tevo_bridge_sqlite_pos.store import BUSY_TIMEOUT_S, open_connection

T = TypeVar("T")

#: Enough to take a burst of holds in one commit, few enough that the first waits little for the last.
MAX_BATCH = 32

_STOP = object()


class GroupWriter:
    """``writer.run(lambda conn: ...)`` runs on the writer thread inside a batch transaction.

    ``prepare(conn)`` runs once at the start of every batch, inside its transaction (the
    POS expires lapsed holds there, once instead of once per write).
    """

    def __init__(self, path: Path, prepare: Callable[[sqlite3.Connection], None], max_batch: int = MAX_BATCH) -> None:
        self.path = path
        self._prepare = prepare
        self._max_batch = max_batch
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name=f"sqlite-pos-writer-{path.name}",
                                        daemon=True)
        self._thread.start()

    def run(self, write: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``write`` in the next batch; return its result (or raise its error) once committed."""
        if not self._thread.is_alive():
            raise sqlite3.OperationalError("the POS database writer has stopped")
        future: Future[T] = Future()
        self._queue.put((future, write))
        return future.result()

    def stop(self) -> None:
        """Let the thread finish the writes already queued, then end (without waiting for it)."""
        self._queue.put(_STOP)

    def close(self) -> None:
        """Finish the writes already queued, then stop the thread."""
        self.stop()
        self._thread.join()

    # -- the writer thread ----------------------------------------------------------------------

    def _run(self) -> None:
        conn = open_connection(self.path)
        try:
            while True:
                batch, stop = self._next_batch()
                if batch:
                    self._write(conn, batch)
                if stop:
                    return
        finally:
            conn.close()

    def _next_batch(self) -> tuple[list[tuple[Future[Any], Callable[..., Any]]], bool]:
        first = self._queue.get()
        if first is _STOP:
            return [], True
        batch = [first]
        while len(batch) < self._max_batch:
            try:
                more = self._queue.get_nowait()
            except queue.Empty:
                break
            if more is _STOP:
                return batch, True
            batch.append(more)
        return batch, False

    def _write(self, conn: sqlite3.Connection, batch: list[tuple[Future[Any], Callable[..., Any]]]) -> None:
        outcomes: list[tuple[bool, Any]] = []
        lock = getattr(conn, "write_lock", None)
        try:
            # Writers elsewhere in this process (the CLI's import, tests) queue on the same lock.
            if lock is not None and not lock.acquire(timeout=BUSY_TIMEOUT_S):
                raise sqlite3.OperationalError("database is locked (another writer in this process)")
            try:
                conn.execute("BEGIN IMMEDIATE")
                try:
                    self._prepare(conn)
                    for _future, write in batch:
                        outcomes.append(_one(conn, write))
                    conn.execute("COMMIT")
                except BaseException:
                    if conn.in_transaction:
                        conn.execute("ROLLBACK")
                    raise
            finally:
                if lock is not None:
                    lock.release()
        except Exception as exc:  # BEGIN, prepare or COMMIT failed: nothing of the batch is durable
            outcomes = [(False, exc)] * len(batch)
        for (future, _write), (ok, value) in zip(batch, outcomes, strict=True):
            if ok:
                future.set_result(value)
            else:
                future.set_exception(value)


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

