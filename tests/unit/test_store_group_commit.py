"""Group commit: calls that queue up share one transaction, each still atomic, each answered after COMMIT."""

import asyncio
import contextlib
import os
import sqlite3
import threading

import pytest

from tevo_bridge.store import AsyncStore, Event, SqliteStore
from tevo_bridge.store.vocabulary import BatchTainted


def order_event(order_id: int, key: str) -> Event:
    return Event("webhook", "order_created", key, "{}", order_id=order_id)


def test_a_failing_call_in_a_batch_rolls_back_only_itself(tmp_path):
    store = SqliteStore(tmp_path / "state.sqlite3")
    with store.batch():
        assert store.record_event(order_event(1, "a"))
        with pytest.raises(KeyError):
            store.update_order(999, state="done")  # no such order: its savepoint is rolled back
        assert store.record_event(order_event(2, "b"))
    assert store.count("orders") == 2
    store.close()


def test_a_batch_is_invisible_to_other_connections_until_it_commits(tmp_path):
    store = SqliteStore(tmp_path / "state.sqlite3")
    other = sqlite3.connect(tmp_path / "state.sqlite3")
    with store.batch():
        store.record_event(order_event(1, "a"))
        assert other.execute("SELECT COUNT(*) FROM orders").fetchone()[0] == 0
    assert other.execute("SELECT COUNT(*) FROM orders").fetchone()[0] == 1
    other.close()
    store.close()


async def test_concurrent_calls_are_all_recorded_and_errors_reach_only_their_caller(store_backend):
    """As the daemon runs each backend: SQLite on one thread with group commit, PostgreSQL on several threads."""
    sync = store_backend.open()
    store = AsyncStore(sync) if store_backend.name == "sqlite" else AsyncStore(sync, max_batch=1, threads=4)
    try:
        results = await asyncio.gather(*(store.record_event(order_event(n, f"k{n}")) for n in range(1, 51)),
                                       store.update_order(12345, state="done"), return_exceptions=True)
        assert results[:50] == [True] * 50
        assert isinstance(results[50], KeyError)
        assert store.sync.count("orders") == 50 and store.sync.count("jobs") == 50
    finally:
        store.close()


def _sqlite_temp_files() -> set[str]:
    """SQLite's temporary files this process has open (it deletes them at once: only the open fd shows them)."""
    found = set()
    for fd in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):
            target = os.readlink(f"/proc/self/fd/{fd}")
            if "etilqs_" in target:
                found.add(target)
    return found


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="reads the process's open files from /proc")
def test_a_batch_keeps_its_savepoints_in_memory_not_in_a_temporary_file(tmp_path):
    # Each call of a batch runs in a SAVEPOINT; SQLite copies the pages it changes to a sub-journal, which by
    # default spilled to a temporary file (created, written and deleted per batch: ~26 writes per OI hold).
    store = SqliteStore(tmp_path / "state.sqlite3")
    for n in range(1, 201):
        store.record_event(order_event(n, f"warm{n}"))
    seen: set[str] = set()
    with store.batch():
        for n in range(1000, 1032):
            assert store.record_event(order_event(n, f"k{n}"))
            seen |= _sqlite_temp_files()
    assert seen == set()
    assert store.count("orders") == 232
    store.close()


# -- batches run without savepoints unless a call fails ------------------------------------------------------


async def _as_one_batch(store: AsyncStore, calls: list) -> list:
    """Run ``calls`` (thunks returning awaitables) as one batch: they queue while the store thread is held busy."""
    busy, release = threading.Event(), threading.Event()

    def hold_the_thread() -> None:
        busy.set()
        release.wait(10)

    held = asyncio.ensure_future(store.call(hold_the_thread))
    await asyncio.to_thread(busy.wait, 10)
    queued = [asyncio.ensure_future(call()) for call in calls]
    await asyncio.sleep(0)  # each task runs up to its first await: its call is on the queue
    release.set()
    await held
    return await asyncio.gather(*queued, return_exceptions=True)


def _audit_reasons(path) -> list[str]:
    with contextlib.closing(sqlite3.connect(path)) as conn:
        return [row[0] for row in conn.execute("SELECT reason FROM audit WHERE action = 'test' ORDER BY id")]


def _add_audit_then_fail(store: SqliteStore, reason: str) -> None:
    """Writes half (a row), then fails: a call that must leave nothing behind."""
    with store._tx() as conn:
        conn.execute("INSERT INTO audit (at, action, reason) VALUES ('now', 'test', ?)", (reason,))
        raise ValueError("the call's second half failed")


def _add_audit(store: SqliteStore, reason: str) -> str:
    with store._tx() as conn:
        conn.execute("INSERT INTO audit (at, action, reason) VALUES ('now', 'test', ?)", (reason,))
    return reason


def _traced(store: SqliteStore) -> list[str]:
    statements: list[str] = []
    store._db.conn.set_trace_callback(statements.append)
    return statements


async def test_a_batch_whose_calls_all_succeed_runs_no_savepoint(tmp_path):
    sync = SqliteStore(tmp_path / "state.sqlite3")
    store = AsyncStore(sync)
    try:
        statements = _traced(sync)
        results = await _as_one_batch(store, [lambda n=n: store.record_event(order_event(n, f"k{n}")) for n in range(1, 9)])
        assert results == [True] * 8
        assert sync.count("orders") == 8 and sync.count("jobs") == 8
        # The eight as one transaction; the call holding the thread had one of its own (on SQLite every call runs
        # in a group, alone or not, so that its answer waits for the syncer's fsync: store/aio.py).
        assert statements.count("BEGIN IMMEDIATE") == 2
        assert not [s for s in statements if s.startswith(("SAVEPOINT", "RELEASE", "ROLLBACK"))]
    finally:
        store.close()


async def test_a_failing_call_in_a_batch_leaves_the_others_committed_once_and_itself_not(tmp_path):
    sync = SqliteStore(tmp_path / "state.sqlite3")
    store = AsyncStore(sync)
    try:
        statements = _traced(sync)
        results = await _as_one_batch(store, [
            lambda: store.call(_add_audit, sync, "first"),
            lambda: store.call(_add_audit_then_fail, sync, "half"),
            lambda: store.call(_add_audit, sync, "last"),
        ])
        assert results[0] == "first" and results[2] == "last"
        assert isinstance(results[1], ValueError)
        # The first try (no savepoints) was rolled back whole, the second ran each call in a savepoint:
        # the others are committed exactly once, the failing call's half not at all.
        assert _audit_reasons(tmp_path / "state.sqlite3") == ["first", "last"]
        assert "ROLLBACK" in statements and "ROLLBACK TO call" in statements
    finally:
        store.close()


async def test_a_call_that_swallows_its_failure_in_a_plain_batch_commits_nothing_of_it(tmp_path):
    # A call that catches an error from its own transaction looks like a success to the batch; its half must
    # still not commit: the batch sees the failure pass through the transaction and tries again with savepoints.
    sync = SqliteStore(tmp_path / "state.sqlite3")
    store = AsyncStore(sync)

    def swallowing() -> str:
        with contextlib.suppress(ValueError):
            _add_audit_then_fail(sync, "half")
        return "swallowed"

    try:
        results = await _as_one_batch(store, [
            lambda: store.call(_add_audit, sync, "first"),
            lambda: store.call(swallowing),
            lambda: store.call(_add_audit, sync, "last"),
        ])
        assert results == ["first", "swallowed", "last"]
        assert _audit_reasons(tmp_path / "state.sqlite3") == ["first", "last"]
    finally:
        store.close()


def test_a_plain_batch_with_a_failed_call_raises_and_commits_nothing(tmp_path):
    store = SqliteStore(tmp_path / "state.sqlite3")
    with pytest.raises(BatchTainted), store.batch(savepoints=False):
        _add_audit(store, "first")
        with contextlib.suppress(ValueError):
            _add_audit_then_fail(store, "half")
    assert _audit_reasons(tmp_path / "state.sqlite3") == []
    store.close()
