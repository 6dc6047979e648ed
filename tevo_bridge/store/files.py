"""The SQLite store's files: the daemon's lock, inspection, backup and restore.

Tools that handle a store file as a whole, apart from the statements run inside it
(``store/statements.py``): they never open a ``SqliteStore``, so a backup or a restore runs beside a
daemon (or instead of one) without migrating or writing the store it reads.
"""

from __future__ import annotations

import os
import sqlite3
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import IO

try:  # the daemon's lock; absent on Windows, where one daemon per store is the operator's care
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None  # type: ignore[assignment]  # DaemonLock checks for None: no lock on Windows

from tevo_bridge.private_files import FILE_MODE, create_private, private_folder
from tevo_bridge.store.moved import moved_mark
from tevo_bridge.store.vocabulary import (
    SCHEMA_VERSION,
    NotAStore,
    SchemaTooNew,
    StoreError,
    StoreInUse,
    StoreMoved,
)


class DaemonLock:
    """An exclusive ``flock`` on ``<store>.lock``, held by the daemon for as long as it runs.

    *Why a lock and not a pid file:* the kernel drops the lock when the process ends, however it
    ends (SIGKILL, power loss aside), so it is never stale and needs no clean-up, and a reused pid
    cannot fool it.  ``restore`` takes the same lock, so a daemon cannot start mid-restore.  It also
    keeps a second daemon off the same store, which ``requeue_running_jobs`` assumes.  Limits: one
    host (SQLite itself must not be shared over a network filesystem), and the file stays behind
    (deleting a lock file would race the next taker).
    """

    def __init__(self, path: Path, handle: IO[str]) -> None:
        self.path, self._handle = path, handle

    @staticmethod
    def path_for(store: Path) -> Path:
        return store.with_name(store.name + ".lock")

    @classmethod
    def acquire(cls, store: Path, purpose: str = "daemon") -> DaemonLock:
        path = cls.path_for(store)
        create_private(path)
        try:
            handle = path.open("a+")
        except PermissionError:  # made by another user (root ran a restore): a read-only fd locks as well
            handle = path.open("r")
        if fcntl is not None:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                handle.seek(0)
                holder = handle.read().strip() or "another process"
                handle.close()
                raise StoreInUse(f"{store} is in use by a running tevo-bridge daemon ({holder}; lock {path}). "
                                 f"Nothing was changed. Fix: stop that daemon first.") from None
        if handle.writable():
            handle.seek(0)
            handle.truncate()
            handle.write(f"{purpose} pid {os.getpid()}\n")
            handle.flush()
        return cls(path, handle)

    def release(self) -> None:
        """Unlock (closing the file drops the flock); the file stays, see the class docstring."""
        self._handle.close()


@dataclass(frozen=True)
class StoreFacts:
    """What an operator is told about a store file: its schema version and how many orders it holds."""

    path: Path
    schema_version: int
    orders: int


def inspect_store(path: Path) -> StoreFacts:
    """Read a store file's schema version and order count without changing it (nor creating it).

    Raises ``NotAStore`` for a missing file, a file that is not SQLite, or one without tevo-bridge's
    tables, and ``SchemaTooNew`` for one a newer tevo-bridge wrote.
    """
    if not path.is_file():
        raise NotAStore(f"{path} does not exist (or is not a file).")
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    except sqlite3.Error as exc:
        raise NotAStore(f"{path} cannot be opened as SQLite: {exc}.") from exc
    try:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if version > SCHEMA_VERSION:
            raise SchemaTooNew(path, version)
        if version < 1 or not {"orders", "inbox", "jobs", "audit"} <= tables:
            raise NotAStore(f"{path} is a SQLite file but not a tevo-bridge store (schema version {version}, "
                            f"tables {sorted(tables) or 'none'}).")
        mark = moved_mark(conn)
        if mark is not None:
            raise StoreMoved(path, mark.url, mark.moved_at)
        orders = conn.execute("SELECT COUNT(*) FROM orders").fetchone()[0]
    except sqlite3.DatabaseError as exc:
        raise NotAStore(f"{path} is not a SQLite database ({exc}).") from exc
    finally:
        conn.close()
    return StoreFacts(path, version, orders)


def _copy_database(source: Path, dest: Path) -> None:
    """A consistent copy of ``source`` at ``dest`` via SQLite's online backup API, written whole or not at all.

    The backup reads one snapshot (in WAL mode a reader never blocks the daemon's writers, nor they
    it), including what is still in the WAL, which a plain file copy would miss.  It is written to a
    temporary file beside ``dest``, synced, checked, then renamed over: an interrupted copy leaves no
    half-written ``dest``.
    """
    partial = dest.with_name(dest.name + ".partial")
    partial.unlink(missing_ok=True)
    create_private(partial)  # a backup holds the same buyer data as the store
    src = sqlite3.connect(f"{source.resolve().as_uri()}?mode=rw", uri=True, timeout=30)
    try:
        out = sqlite3.connect(str(partial))
        try:
            src.backup(out)
            if out.execute("PRAGMA quick_check").fetchone()[0] != "ok":
                raise StoreError(f"the copy of {source} failed SQLite's quick_check; {dest} was not written.")
            out.execute("PRAGMA journal_mode=DELETE")  # one self-contained file, no -wal beside it
        finally:
            out.close()
    finally:
        src.close()
    with partial.open("rb") as handle:
        os.fsync(handle.fileno())
    os.replace(partial, dest)
    _fsync_dir(dest.parent)


def _fsync_dir(folder: Path) -> None:
    """Make a rename durable (POSIX); a no-op where directories cannot be opened."""
    with suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def backup_store(source: Path, dest: Path, *, force: bool = False) -> StoreFacts:
    """Copy the store at ``source`` to ``dest`` while a daemon may be writing it; what was copied."""
    inspect_store(source)  # a clear error for a wrong path before anything is written
    if dest.exists() and not force:
        raise StoreError(f"{dest} already exists. Nothing was changed. Fix: choose a new file name, or add --force "
                         f"to overwrite it.")
    if dest.resolve() == source.resolve():
        raise StoreError(f"{dest} is the store itself. Fix: back up to another file.")
    private_folder(dest.parent)
    _copy_database(source, dest)
    return inspect_store(dest)


def _same_owner_and_mode(model: Path, path: Path) -> None:
    info = model.stat()
    os.chmod(path, info.st_mode & FILE_MODE)  # the owner's read/write as before; nobody else's, even if it had them
    with suppress(PermissionError):  # only root can give a file away; anyone else made it their own already
        os.chown(path, info.st_uid, info.st_gid)


def restore_store(source: Path, dest: Path, stamp: str) -> tuple[StoreFacts, Path | None]:
    """Replace the store at ``dest`` with the backup ``source``; the restored facts and where the old store went.

    Refused while a daemon runs on ``dest`` (its lock is held), and for a ``source`` that is not a
    store this code can run.  The store being replaced is first copied, consistently, to
    ``<dest>.before-restore-<stamp>``; its ``-wal``/``-shm`` files are removed with it, since a WAL
    left beside the restored file would be replayed into it.
    """
    try:
        inspect_store(source)  # refuses what is not a store this code can run
    except NotAStore as exc:
        raise NotAStore(f"{exc} Nothing was changed. Fix: restore from a file `tevo-bridge store backup` "
                        "wrote.") from exc
    if dest.exists() and dest.resolve() == source.resolve():
        raise StoreError(f"{source} is the store itself. Fix: restore from a backup file.")
    lock = DaemonLock.acquire(dest, purpose="restore")
    try:
        kept: Path | None = None
        incoming = dest.with_name(dest.name + ".restoring")
        if dest.exists():
            kept = dest.with_name(f"{dest.name}.before-restore-{stamp}")
            _copy_database(dest, kept)
            _copy_database(source, incoming)
            _same_owner_and_mode(dest, incoming)  # a restore run as root must leave the daemon a file it can write
        else:
            _copy_database(source, incoming)
        for suffix in ("-wal", "-shm"):
            dest.with_name(dest.name + suffix).unlink(missing_ok=True)
        os.replace(incoming, dest)
        _fsync_dir(dest.parent)
    finally:
        lock.release()
    return inspect_store(dest), kept
