"""Group commit: calls that queue up share one transaction, each still atomic, each answered after COMMIT."""

import asyncio
import contextlib
import os
import sqlite3

import pytest

from tevo_bridge.store import AsyncStore, Event, SqliteStore


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
