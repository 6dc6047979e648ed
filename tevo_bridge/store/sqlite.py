"""The store on SQLite: one file, WAL, synced after every commit; the statements are ``store/statements.py``.

A commit must survive power loss, not just a killed process: an order acknowledged to TEvo must never be
lost. SQLite's ``synchronous=FULL`` did that by an fsync inside COMMIT; the store runs ``NORMAL`` and makes
the same fsync itself (``store/walsync.py`` says why): right after COMMIT for a call on its own, and for a
group commit on ``AsyncStore``'s syncer thread, before any caller of the group hears back. This module opens
the file, migrates it and supplies the statements their connection (``SqliteConnector``): one connection,
serialised by a lock, each call one ``BEGIN IMMEDIATE`` … ``COMMIT``. The store's words (states, errors,
rows, schema versions) are ``store/vocabulary.py``; the tools for a store file as a whole (lock, backup, restore) are
``store/files.py``.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from tevo_bridge.private_files import create_private
from tevo_bridge.store.files import DaemonLock
from tevo_bridge.store.moved import moved_mark
from tevo_bridge.store.schema import MIGRATIONS
from tevo_bridge.store.statements import SqlStore
from tevo_bridge.store.vocabulary import (
    SCHEMA_VERSION,
    Backend,
    BatchTainted,
    SchemaTooNew,
    StoreMoved,
    StoreNotDurable,
)
from tevo_bridge.store.walsync import WalFile

#: How long a write waits for another process's lock (SQLite's busy timeout), and the WAL switch at open with it.
BUSY_TIMEOUT = 30.0


class SqliteConnector:
    """One SQLite connection behind one re-entrant lock: SQLite has one writer at a time anyway."""

    def __init__(self, path: Path | str) -> None:
        self.lock = threading.RLock()
        self.in_batch = False
        self.savepoints = True
        self.tainted = False
        self.path = Path(path)
        self.wal = WalFile(self.path) if str(path) != ":memory:" else None
        self.not_durable: StoreNotDurable | None = None  # once an fsync failed: every later call is refused
        self.conn = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False, timeout=BUSY_TIMEOUT)
        self.conn.row_factory = sqlite3.Row

    def close(self) -> None:
        with self.lock:
            self.conn.close()
        if self.wal is not None:
            self.wal.close()

    def make_durable(self) -> None:
        """fsync the log (``WalFile.sync``): every commit so far survives a power loss once this returns.

        A failed fsync is final (``StoreNotDurable``): the commits it was for are visible to every later read, and
        the kernel may have dropped the pages it could not write while reporting the next fsync as fine."""
        if self.not_durable is not None:
            raise self.not_durable
        if self.wal is None:
            return
        try:
            self.wal.sync()
        except OSError as exc:
            self.not_durable = StoreNotDurable(self.path, exc)
            raise self.not_durable from exc

    def _begin(self) -> None:
        if self.not_durable is not None:
            raise self.not_durable
        self.conn.execute("BEGIN IMMEDIATE")

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        with self.lock:
            if self.in_batch:
                yield from self._call_in_batch()
                return
            self._begin()
            try:
                yield self.conn
                self.conn.execute("COMMIT")
            except BaseException:
                # COMMIT itself can fail (a full disk when the WAL is written) and leave the transaction
                # open: without this ROLLBACK every later BEGIN would fail until a restart, and the next
                # COMMIT anyone managed would store what the caller was told had failed.
                if self.conn.in_transaction:
                    with suppress(sqlite3.Error):
                        self.conn.execute("ROLLBACK")
                raise
            self.make_durable()

    def _call_in_batch(self) -> Iterator[sqlite3.Connection]:
        """One call inside a group commit, durable when the batch commits (before its caller hears back).

        With savepoints the call is atomic on its own. Without (the optimistic first try of a batch),
        a call that fails leaves its half in the batch's transaction: it marks the batch ``tainted``,
        and ``batch`` then refuses to commit (``BatchTainted``), so the batch is rolled back as a whole.
        """
        if not self.savepoints:
            try:
                yield self.conn
            except BaseException:
                self.tainted = True
                raise
            return
        self.conn.execute("SAVEPOINT call")
        try:
            yield self.conn
        except BaseException:
            self.conn.execute("ROLLBACK TO call")
            self.conn.execute("RELEASE call")
            raise
        self.conn.execute("RELEASE call")

    @contextmanager
    def batch(self, *, savepoints: bool = True, durable: bool = True) -> Iterator[None]:
        """``durable=False``: the caller makes the batch durable (``make_durable``) before telling anyone of it."""
        with self.lock:
            self._begin()
            self.in_batch, self.savepoints, self.tainted = True, savepoints, False
            try:
                yield
                if self.tainted:  # a call failed (even if its caller swallowed it): its half must not commit
                    raise BatchTainted()
            except BaseException:
                self.in_batch = False
                self.conn.execute("ROLLBACK")
                raise
            self.in_batch = False
            try:
                self.conn.execute("COMMIT")
            except BaseException:
                if self.conn.in_transaction:
                    self.conn.execute("ROLLBACK")
                raise
            if durable:
                self.make_durable()


def _use_wal(conn: sqlite3.Connection, *, patience: float = BUSY_TIMEOUT) -> None:
    """Put the file in WAL mode (it stays so: a no-op on every later open).

    The switch needs the file to itself, and SQLite answers "database is locked" at once instead of waiting
    (it skips its busy handler where waiting could deadlock) when another connection is opening the same file:
    two processes starting together on a new store, a daemon and an ``orders`` command. It is retried for as
    long as a ``BEGIN`` would wait (``BUSY_TIMEOUT``)."""
    deadline = time.monotonic() + patience
    while True:
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.005)


class SqliteStore(SqlStore):
    """The store in one SQLite file; the daemon calls it from its store thread."""

    backend: Backend = "SQLite"
    _db: SqliteConnector

    def __init__(self, path: Path | str, *, daemon: bool = False) -> None:
        """Open (creating and migrating) the store; ``daemon`` also takes its daemon lock (see ``DaemonLock``).

        Raises ``SchemaTooNew`` for a store a newer tevo-bridge wrote, before anything is written to it.
        """
        self.path = Path(path)
        if str(path) != ":memory:":
            create_private(self.path)  # buyer data: 0600, and so are the -wal/-shm SQLite makes beside it
        self._daemon_lock = DaemonLock.acquire(self.path) if daemon and str(path) != ":memory:" else None
        self._db = SqliteConnector(path)
        try:
            conn = self._db.conn
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise SchemaTooNew(self.path, version)
            mark = moved_mark(conn)
            if mark is not None:
                raise StoreMoved(self.path, mark.url, mark.moved_at)
            _use_wal(conn)
            conn.execute("PRAGMA synchronous=NORMAL")  # and SqliteConnector.make_durable after each commit
            # Group commit runs each call in a SAVEPOINT: SQLite copies the pages a call changes to a
            # sub-journal (only to roll that call back), which spilled to a temporary file after 64 KiB:
            # a file created, written ~165 times and deleted per batch, ~26 writes per hold. In memory it
            # costs a call's pages; durability is the WAL's and is unchanged.
            conn.execute("PRAGMA temp_store=MEMORY")
            conn.execute("PRAGMA foreign_keys=ON")
            self._migrate()
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        self._db.close()
        if self._daemon_lock is not None:
            self._daemon_lock.release()
            self._daemon_lock = None

    def _migrate(self) -> None:
        """Bring the schema to ``SCHEMA_VERSION``, one migration per transaction.

        The version is read inside each transaction, so two processes starting at once (a daemon
        and an ``orders`` command) cannot both run the same migration: each runs exactly once.
        """
        while True:
            with self._tx() as conn:
                version = conn.execute("PRAGMA user_version").fetchone()[0]
                if version > SCHEMA_VERSION:
                    raise SchemaTooNew(self.path, version)
                if version == SCHEMA_VERSION:
                    return
                for statement in MIGRATIONS[version].split(";"):
                    if statement.strip():
                        conn.execute(statement)
                conn.execute(f"PRAGMA user_version = {version + 1}")

    @property
    def schema_version(self) -> int:
        with self._lock:
            version: int = self._conn.execute("PRAGMA user_version").fetchone()[0]
            return version
