"""A commit is made durable by the store's own fsync of its log (store/walsync.py), and nobody hears of a write
before that fsync: the group commit's answers wait for the syncer thread, a call on its own syncs in its
transaction, and a failed fsync stops the store."""

import asyncio
import errno
import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from tevo_bridge.store import SqliteStore
from tevo_bridge.store.aio import AsyncStore
from tevo_bridge.store.vocabulary import StoreNotDurable
from tevo_bridge.store.walsync import WalFile


class HeldSync:
    """Stands in for ``WalFile.sync``: records each call and, while ``hold`` is clear, blocks in it."""

    def __init__(self, real):
        self.real = real
        self.calls = 0
        self.threads: list[str] = []
        self.entered = threading.Event()
        self.hold = threading.Event()

    def __call__(self):
        self.calls += 1
        self.threads.append(threading.current_thread().name)
        self.entered.set()
        assert self.hold.wait(10), "the test never let the fsync finish"
        self.real()


@contextmanager
def held_sync_store(path, **kwargs) -> Iterator[tuple[AsyncStore, HeldSync]]:
    """An AsyncStore on a SQLite file whose log's fsync is a ``HeldSync``; let go and closed at the end."""
    store = AsyncStore(SqliteStore(path), **kwargs)
    synced = HeldSync(store.sync._db.wal.sync)
    store.sync._db.wal.sync = synced
    try:
        yield store, synced
    finally:
        synced.hold.set()
        store.close()


def orders_on_disk(path) -> set[int]:
    """The orders another connection sees: what is committed, durable or not."""
    with sqlite3.connect(path) as conn:
        return {row[0] for row in conn.execute("SELECT id FROM orders")}


def test_the_store_leaves_the_fsync_to_itself_and_makes_it_after_every_transaction(tmp_path):
    store = SqliteStore(tmp_path / "state.sqlite3")
    try:
        assert store._db.conn.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL: no fsync in COMMIT
        synced = HeldSync(store._db.wal.sync)
        synced.hold.set()
        store._db.wal.sync = synced
        store.ensure_order(1, "operator")
        store.enqueue_order(2)
        assert synced.calls == 2
    finally:
        store.close()


def test_under_load_groups_are_answered_only_after_an_fsync_that_began_after_their_commit(tmp_path):
    path = tmp_path / "state.sqlite3"
    busy, release = threading.Event(), threading.Event()

    def hold_the_thread() -> None:
        busy.set()
        release.wait(10)

    async def scenario() -> None:
        held = asyncio.ensure_future(store.call(hold_the_thread))
        assert await asyncio.to_thread(busy.wait, 10)
        calls = [asyncio.ensure_future(store.ensure_order(n, "operator")) for n in range(1, 6)]
        await asyncio.sleep(0)  # each is on the queue
        release.set()
        assert await asyncio.to_thread(synced.entered.wait, 10)
        await asyncio.sleep(0.2)  # the store thread goes on committing while the syncer's fsync hangs
        assert not held.done() and not any(call.done() for call in calls)  # nobody is told before the fsync
        assert orders_on_disk(path) == {1, 2, 3, 4, 5}  # ... though every write is in
        assert synced.threads == ["store-sync-0"]
        synced.hold.set()
        await asyncio.wait_for(asyncio.gather(held, *calls), 10)
        assert await store.get_order(3) is not None  # and the store serves on after it

    with held_sync_store(path, max_batch=2) as (store, synced):  # five calls: three groups, more queued behind each
        asyncio.run(scenario())


def test_a_call_on_a_quiet_store_is_synced_by_the_store_thread_before_it_is_answered(tmp_path):
    path = tmp_path / "state.sqlite3"

    async def scenario() -> None:
        call = asyncio.ensure_future(store.ensure_order(1, "operator"))
        assert await asyncio.to_thread(synced.entered.wait, 10)
        await asyncio.sleep(0.1)
        assert not call.done() and orders_on_disk(path) == {1}
        assert synced.threads == ["store-0"]  # no hop to the syncer: nothing else waited behind this fsync
        synced.hold.set()
        await asyncio.wait_for(call, 10)

    with held_sync_store(path) as (store, synced):
        asyncio.run(scenario())


def test_a_failed_fsync_fails_its_callers_and_every_call_after_it(tmp_path):
    path = tmp_path / "state.sqlite3"
    store = AsyncStore(SqliteStore(path))

    def broken_disk() -> None:
        raise OSError(errno.EIO, os.strerror(errno.EIO))

    store.sync._db.wal.sync = broken_disk

    async def scenario() -> None:
        with pytest.raises(StoreNotDurable) as failed:
            await store.ensure_order(7, "operator")
        message = str(failed.value)
        assert str(path) in message and "Input/output error" in message and "restart tevo-bridge" in message
        with pytest.raises(StoreNotDurable):  # a read too: what it would read may not be on the disk
            await store.get_order(7)

    try:
        asyncio.run(scenario())
    finally:
        store.close()


def test_after_a_failed_fsync_the_store_writes_nothing_more_even_if_the_disk_recovers(tmp_path):
    store = SqliteStore(tmp_path / "state.sqlite3")
    real = store._db.wal.sync
    try:
        store._db.wal.sync = lambda: (_ for _ in ()).throw(OSError(errno.EIO, "I/O error"))
        with pytest.raises(StoreNotDurable):
            store.ensure_order(1, "operator")
        store._db.wal.sync = real  # the kernel may say the next fsync went fine: it is not believed
        with pytest.raises(StoreNotDurable):
            store.ensure_order(2, "operator")
        assert orders_on_disk(tmp_path / "state.sqlite3") == {1}
    finally:
        store.close()


def test_the_log_file_is_found_again_when_sqlite_replaces_it_and_a_new_one_has_its_folder_synced(tmp_path,
                                                                                               monkeypatch):
    database = tmp_path / "state.sqlite3"
    log_file = tmp_path / "state.sqlite3-wal"
    synced: list[tuple[int, bool]] = []  # (inode, is a folder) of every fsync
    real_fsync = os.fsync

    def recording_fsync(fd: int) -> None:
        info = os.fstat(fd)
        synced.append((info.st_ino, os.path.isdir(f"/proc/self/fd/{fd}")))
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", recording_fsync)
    wal = WalFile(database)
    wal.sync()  # no log at all: everything was checkpointed into the database, which SQLite synced
    assert synced == []
    log_file.write_bytes(b"frames")
    first = log_file.stat().st_ino
    wal.sync()
    wal.sync()
    assert synced == [(tmp_path.stat().st_ino, True), (first, False), (first, False)]
    log_file.unlink()
    log_file.write_bytes(b"a new log")
    second = log_file.stat().st_ino
    synced.clear()
    wal.sync()
    assert synced == [(tmp_path.stat().st_ino, True), (second, False)]
    wal.close()
