"""PostgreSQL's intake threads group-commit the hot writes (store/pg_aio.py): writes that queue up while the
thread is busy go out as one transaction, and each caller still gets the answer its write has alone.

To make a batch on purpose, the one intake thread is kept busy by a hold whose row another session is inserting
(PostgreSQL makes the store's statement wait for that transaction); the calls queued meanwhile are the next
batch. A spy on ``_run_together`` records what was sent together.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import psycopg
import pytest

from tevo_bridge.store import Event
from tevo_bridge.store.pg_aio import PostgresAsyncStore
from tevo_bridge.store.postgres import PostgresStore
from tevo_bridge.store.vocabulary import StoreUnavailable

EXPIRES = "2999-01-01T00:00:00Z"


@pytest.fixture
def store(pg_url: str) -> Iterator[PostgresAsyncStore]:
    store = PostgresAsyncStore(PostgresStore(pg_url, min_size=3, max_size=6), threads=2, intake_threads=1)
    yield store
    store.close()


@pytest.fixture
def batches(store: PostgresAsyncStore, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many plans each ``_run_together`` sent."""
    sizes: list[int] = []
    real = store.sync._run_together

    def spy(plans: Any) -> Any:
        sizes.append(len(plans))
        return real(plans)

    monkeypatch.setattr(store.sync, "_run_together", spy)
    return sizes


def hold_event(gid: str) -> Event:
    return Event("order_integration", "hold", f"oi:hold:{gid}", "{}", global_id=gid)


def order_event(order_id: int, key: str) -> Event:
    return Event("webhook", "order_created", key, "{}", order_id=order_id)


def _waiting_on_a_lock(pg_url: str) -> None:
    deadline = time.monotonic() + 30
    with psycopg.connect(pg_url, autocommit=True) as watcher:
        while not watcher.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                                  "AND wait_event_type = 'Lock'").fetchone()[0]:
            assert time.monotonic() < deadline, "the intake thread never started waiting"
            time.sleep(0.01)


async def as_one_batch(store: PostgresAsyncStore, pg_url: str, calls: list[Callable[[], Awaitable[Any]]]) -> list[Any]:
    """Run ``calls`` as one batch: they queue while the intake thread waits on a hold another session inserts.

    The other session rolls back, so the waiting hold ("BLOCK") is then new: pending, as begun alone."""
    with psycopg.connect(pg_url) as other:
        other.execute("INSERT INTO holds (global_id, remote_id, quantity, state, created_at, expires_at, updated_at) "
                      "VALUES ('BLOCK', 'R1', 1, 'pending', 'x', %s, 'x')", (EXPIRES,))
        first = asyncio.ensure_future(store.begin_hold(hold_event("BLOCK"), "R1", 1, None, None, EXPIRES))
        await asyncio.to_thread(_waiting_on_a_lock, pg_url)
        queued = [asyncio.ensure_future(call()) for call in calls]
        await asyncio.sleep(0)  # each task runs up to its first await: its call is on the queue
        other.rollback()
    assert await first is None
    return await asyncio.gather(*queued, return_exceptions=True)


def rows(store: PostgresAsyncStore, sql: str) -> list[tuple[Any, ...]]:
    with store.sync._lock:
        return [tuple(row) for row in store.sync._conn.execute(sql).fetchall()]


async def test_queued_intake_writes_share_one_commit_and_each_gets_the_answer_it_has_alone(store, batches, pg_url):
    results = await as_one_batch(store, pg_url, [
        lambda: store.record_event(order_event(1, "a")),
        lambda: store.record_event(order_event(1, "b")),  # the same order again: no second order, no second job
        lambda: store.record_event(order_event(1, "a")),  # a duplicate of a write in the same batch
        lambda: store.begin_hold(hold_event("G1"), "R1", 2, "10.00", None, EXPIRES),
        lambda: store.begin_hold(hold_event("G1"), "R1", 2, "10.00", None, EXPIRES),  # its repeat: read after
        lambda: store.finish_hold("BLOCK", "held", 200, '{"ok": true}', hold_id="H1"),
        lambda: store.record_event(Event("webhook", "order_created", "c", "{}", order_id=2, global_id="G1")),
    ])
    assert results[:4] == [True, True, False, None]
    repeat, finished = results[4], results[5]
    assert repeat is not None and repeat.global_id == "G1" and repeat.state == "pending"  # "in progress"
    assert finished is not None and (finished.state, finished.hold_id) == ("held", "H1")
    assert results[6] is True  # an event naming both an order and a global id has no plan: it ran alone
    assert batches == [6]  # the six planned writes in one transaction
    assert rows(store, "SELECT key, state FROM jobs ORDER BY key") == [("order:1", "queued"), ("order:2", "queued")]
    assert rows(store, "SELECT dedupe_key FROM inbox ORDER BY dedupe_key") == [
        ("a",), ("b",), ("c",), ("oi:hold:BLOCK",), ("oi:hold:G1",)]
    assert rows(store, "SELECT order_id, reason FROM audit WHERE reason LIKE 'first seen%' ORDER BY order_id") == [
        (1, "first seen via webhook"), (2, "first seen via webhook")]
    assert rows(store, "SELECT global_id, state FROM holds ORDER BY global_id") == [("BLOCK", "held"), ("G1", "pending")]


async def test_a_write_failing_in_a_batch_fails_alone_and_the_others_are_committed_once(store, batches, pg_url):
    results = await as_one_batch(store, pg_url, [
        lambda: store.record_event(order_event(3, "c3")),
        lambda: store.record_event(order_event(2**62 * 4, "huge")),  # beyond bigint: the server refuses it
        lambda: store.begin_hold(hold_event("G2"), "R1", 2, "10.00", None, EXPIRES),
    ])
    assert results[0] is True and results[2] is None
    assert isinstance(results[1], psycopg.DataError)
    assert batches == [3]  # tried together, rolled back whole, then each alone (no second batch)
    assert rows(store, "SELECT dedupe_key FROM inbox ORDER BY dedupe_key") == [("c3",), ("oi:hold:BLOCK",),
                                                                                ("oi:hold:G2",)]
    assert rows(store, "SELECT key FROM jobs") == [("order:3",)]
    assert rows(store, "SELECT count(*) FROM audit WHERE order_id = 3") == [(1,)]


async def test_a_batch_that_cannot_reach_the_database_answers_every_caller_unavailable(store, pg_url, monkeypatch):
    def unreachable(plans: Any) -> Any:
        raise StoreUnavailable("_run_together: PostgreSQL cannot be reached (OperationalError)")

    monkeypatch.setattr(store.sync, "_run_together", unreachable)
    results = await as_one_batch(store, pg_url, [
        lambda: store.record_event(order_event(4, "d4")),
        lambda: store.begin_hold(hold_event("G3"), "R1", 2, "10.00", None, EXPIRES),
    ])
    assert all(isinstance(result, StoreUnavailable) for result in results), results
    # Not run alone after: whether a lost connection's COMMIT took is unknown, and each caller's 503 makes
    # TEvo send it again (the writes are idempotent), as when each call ran alone.
    assert rows(store, "SELECT dedupe_key FROM inbox") == [("oi:hold:BLOCK",)]


async def test_a_write_alone_is_one_statement_in_autocommit_as_before(store, batches):
    assert await store.record_event(order_event(5, "e5")) is True
    assert await store.record_event(order_event(5, "e5")) is False
    assert batches == []  # nothing queued beside it: no transaction of its own


def test_a_batch_aborted_for_a_concurrent_transaction_runs_again_whole(pg_url, monkeypatch):
    """Two batches that lock the same rows in opposite orders deadlock; PostgreSQL aborts one, which is then sent
    again as it was (``_retrying``), not split: nothing of the aborted try was kept."""
    from psycopg import errors as pg_errors

    from tevo_bridge.store import postgres

    sync = PostgresStore(pg_url, min_size=1, max_size=2)
    real, tries = postgres._pipelined_transaction, []

    def deadlocked_once(conn: Any) -> Any:
        tries.append(1)
        if len(tries) == 1:
            raise pg_errors.DeadlockDetected("deadlock detected")
        return real(conn)

    monkeypatch.setattr(postgres, "_pipelined_transaction", deadlocked_once)
    try:
        plans = [sync._plan_record_event(order_event(n, f"k{n}")) for n in (1, 2)]
        rows = sync._run_together(plans)
        assert [plan.answer(row) for plan, row in zip(plans, rows, strict=True)] == [True, True]
        assert len(tries) == 2 and sync.job_counts() == {"queued": 2}
    finally:
        sync.close()
