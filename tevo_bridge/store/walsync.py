"""The SQLite store's write-ahead log, made durable by us after COMMIT instead of inside it.

The store runs ``PRAGMA synchronous=NORMAL``: a COMMIT appends its pages to the ``-wal`` file and returns
without an fsync, and SQLite itself syncs only around checkpoints (the WAL before one, the database file after
it, and the WAL's header when the file starts over). ``WalFile.sync`` is the fsync ``synchronous=FULL`` made at
every COMMIT, made by us: after it returns, every commit so far is on the disk. A caller is told its write is
done only after a sync that began after its COMMIT, so what it was told survives a power loss exactly as with
``FULL``.

*Why:* with ``FULL`` the fsync ran inside COMMIT, on the store thread, under SQLite's write lock: the next group
of writes could not even begin while the disk flushed the last (~0.27 ms on this machine, and on a busy disk
much more), nor until the thread got the GIL back from the event loop afterwards. Synced apart
(``AsyncStore``'s syncer thread), the next batch is written while the last one is flushed, and one fsync covers
every commit made since the previous one (benchmarks/NOTES.md, "seventh pass").

The file is found again by its path when SQLite replaces it (a new inode: the last connection deleted it and a
new one created it), and a new file's folder is synced once, as SQLite syncs it for a WAL it creates, so that
the file itself is there after a power loss. No ``-wal`` file at all means SQLite checkpointed everything into
the database (syncing it) and deleted the log: nothing is waiting to be synced.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path


class WalFile:
    def __init__(self, database: Path) -> None:
        self.path = database.with_name(database.name + "-wal")
        self._lock = threading.Lock()
        self._fd: int | None = None
        self._inode: int | None = None

    def sync(self) -> None:
        """fsync the log: every COMMIT made before this call is durable when it returns (raises ``OSError`` if not)."""
        with self._lock:
            fd = self._current()
            if fd is not None:
                os.fsync(fd)

    def close(self) -> None:
        with self._lock:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = self._inode = None

    def _current(self) -> int | None:
        """The open log file, opened again if SQLite replaced it; None when there is none."""
        try:
            inode = os.stat(self.path).st_ino
        except FileNotFoundError:
            return None
        if self._fd is not None and inode == self._inode:
            return self._fd
        if self._fd is not None:
            os.close(self._fd)
            self._fd = self._inode = None
        try:
            fd = os.open(self.path, os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:  # deleted between the stat and the open: checkpointed, as above
            return None
        self._fd, self._inode = fd, os.fstat(fd).st_ino
        _sync_folder(self.path.parent)  # a log file SQLite has just created: its name must survive too
        return fd


def _sync_folder(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
