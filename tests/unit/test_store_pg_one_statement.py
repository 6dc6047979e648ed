"""The intake's hot writes on PostgreSQL are one statement each (store/pg_intake.py): the conflicting paths keep
their outcomes.

Inside one statement every part sees the same snapshot, so what a concurrent transaction does while it runs
is decided by PostgreSQL's rules for ``ON CONFLICT``, ``FOR UPDATE`` and ``UPDATE`` at READ COMMITTED. Each
case below makes the store's statement meet a row another transaction holds (inserted or updated, not yet
committed), waits until PostgreSQL shows the statement waiting on it, then commits or rolls that transaction
back: both ends must give today's answer, with exactly one row, one job, one audit entry.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import psycopg
import pytest

from tests.pg import refuse_job_inserts
from tevo_bridge.store import Event
from tevo_bridge.store.postgres import JOBS_CHANNEL, PostgresStore

EXPIRES = "2999-01-01T00:00:00Z"


@pytest.fixture
def store(pg_url: str) -> Iterator[PostgresStore]:
    store = PostgresStore(pg_url)
    yield store
    store.close()


@pytest.fixture
def other(pg_url: str) -> Iterator[psycopg.Connection[Any]]:
    """Another session, whose transaction holds the rows the store's statement meets."""
    with psycopg.connect(pg_url) as conn:
        yield conn


def hold_event(gid: str) -> Event:
    return Event("order_integration", "hold", f"oi:hold:{gid}", "{}", global_id=gid)


def order_event(order_id: int, key: str) -> Event:
    return Event("webhook", "order_created", key, "{}", order_id=order_id)


def blocked(pg_url: str, call: Callable[[], Any]) -> Future[Any]:
    """``call`` started on a thread, once PostgreSQL shows it waiting for a lock another session holds."""
    pool = ThreadPoolExecutor(1)
    future = pool.submit(call)
    pool.shutdown(wait=False)
    deadline = time.monotonic() + 30
    with psycopg.connect(pg_url, autocommit=True) as watcher:
        while not watcher.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                                  "AND wait_event_type = 'Lock'").fetchone()[0]:
            assert not future.done(), f"it did not wait for the other transaction: {future.result()!r}"
            assert time.monotonic() < deadline, "it never started waiting"
            time.sleep(0.01)
    return future


def rows(store: PostgresStore, sql: str, *args: Any) -> list[tuple[Any, ...]]:
    with store._lock:
        return [tuple(row) for row in store._conn.execute(sql, args).fetchall()]


# A hold begun while another transaction inserts the same global id ------------------------------------

def test_a_hold_begun_while_another_inserts_it_is_a_repeat_once_that_commits(store, other, pg_url):
    other.execute("INSERT INTO holds (global_id, remote_id, quantity, state, created_at, expires_at, updated_at) "
                  "VALUES ('g1', 'R1', 2, 'pending', 'x', %s, 'x')", (EXPIRES,))
    asked = blocked(pg_url, lambda: store.begin_hold(hold_event("g1"), "R1", 2, None, None, EXPIRES))
    other.commit()
    repeat = asked.result(30)
    assert repeat is not None and repeat.state == "pending" and repeat.response is None  # "in progress"
    assert rows(store, "SELECT count(*) FROM holds") == [(1,)]
    assert rows(store, "SELECT count(*) FROM inbox") == [(0,)]  # the repeat recorded nothing of its own
    assert rows(store, "SELECT count(*) FROM audit") == [(0,)]


def test_a_hold_begun_while_another_inserts_it_is_new_once_that_rolls_back(store, other, pg_url):
    other.execute("INSERT INTO holds (global_id, remote_id, quantity, state, created_at, expires_at, updated_at) "
                  "VALUES ('g1', 'R9', 9, 'pending', 'x', %s, 'x')", (EXPIRES,))
    asked = blocked(pg_url, lambda: store.begin_hold(hold_event("g1"), "R1", 2, None, None, EXPIRES))
    other.rollback()
    assert asked.result(30) is None
    assert rows(store, "SELECT remote_id, quantity, state FROM holds") == [("R1", 2, "pending")]
    assert rows(store, "SELECT dedupe_key FROM inbox") == [("oi:hold:g1",)]
    assert rows(store, "SELECT count(*) FROM audit") == [(0,)]  # a hold's audit row comes with its outcome


# The same webhook event while another transaction records it ---------------------------------------------

def _insert_inbox(other: psycopg.Connection[Any], key: str) -> None:
    other.execute("INSERT INTO inbox (channel, kind, dedupe_key, order_id, outcome, payload, received_at) "
                  "VALUES ('webhook', 'order_created', %s, 7, 'queued', '{}', 'x')", (key,))


def test_an_event_recorded_while_another_records_it_is_a_duplicate_once_that_commits(store, other, pg_url):
    _insert_inbox(other, "k7")
    recorded = blocked(pg_url, lambda: store.record_event(order_event(7, "k7")))
    other.commit()
    assert recorded.result(30) is False
    assert [store.count(table) for table in ("inbox", "orders", "jobs", "audit")] == [1, 0, 0, 0]


def test_an_event_recorded_while_another_records_it_is_new_once_that_rolls_back(store, other, pg_url):
    _insert_inbox(other, "k7")
    recorded = blocked(pg_url, lambda: store.record_event(order_event(7, "k7")))
    other.rollback()
    assert recorded.result(30) is True
    assert [store.count(table) for table in ("inbox", "orders", "jobs", "audit")] == [1, 1, 1, 1]
    assert rows(store, "SELECT key, state FROM jobs") == [("order:7", "queued")]
    assert rows(store, "SELECT order_id, to_state, reason FROM audit") == [(7, "new", "first seen via webhook")]


def test_an_order_another_transaction_is_first_seeing_is_not_seen_first_twice(store, other, pg_url):
    """A second event of an order whose row another transaction is inserting: its own inbox row and the job,
    but no second order row and no second "first seen" audit."""
    other.execute("INSERT INTO orders (id, state, source, first_seen_at, updated_at) "
                  "VALUES (7, 'new', 'poll', 'x', 'x')")
    recorded = blocked(pg_url, lambda: store.record_event(order_event(7, "k-other")))
    other.commit()
    assert recorded.result(30) is True
    assert rows(store, "SELECT id, source FROM orders") == [(7, "poll")]
    assert store.count("audit") == 0 and store.count("jobs") == 1 and store.count("inbox") == 1


def test_a_job_another_transaction_runs_is_marked_to_run_again(store, other, pg_url):
    """The job's upsert meets the running job's row locked by its worker: once that commits, news while it
    ran re-runs it (the shared rule, JOB_REQUEUED), whatever the statement's snapshot said."""
    assert store.record_event(order_event(7, "k1"))
    job = store.claim_job(60)
    assert job is not None
    other.execute("UPDATE jobs SET attempts = attempts + 1 WHERE id = %s", (job.id,))  # the worker's row lock
    recorded = blocked(pg_url, lambda: store.record_event(order_event(7, "k2")))
    other.commit()
    assert recorded.result(30) is True
    assert rows(store, "SELECT state, rerun, attempts FROM jobs") == [("running", 1, 1)]
    store.complete_job(job)


# The POS's outcome while TEvo's release holds the hold's row -----------------------------------------------

@pytest.mark.parametrize("release_commits", [True, False])
def test_a_hold_finished_while_a_release_holds_its_row_keeps_the_releases_outcome(store, other, pg_url,
                                                                                   release_commits):
    assert store.begin_hold(hold_event("g2"), "R1", 2, None, None, EXPIRES) is None
    other.execute("UPDATE holds SET state = 'released' WHERE global_id = 'g2'")
    finished = blocked(pg_url, lambda: store.finish_hold("g2", "held", 200, '{"status":"held"}', hold_id="H2"))
    other.commit() if release_commits else other.rollback()
    hold = finished.result(30)
    expected = "released" if release_commits else "held"
    assert hold is not None and (hold.state, hold.status, hold.hold_id) == (expected, 200, "H2")
    assert store.get_hold("g2") == hold  # the row returned is the row stored
    assert rows(store, "SELECT to_state, reason FROM audit ORDER BY id") == [(expected, "2 x R1")]
    assert rows(store, "SELECT key, global_id FROM jobs") == ([("release:g2", "g2")] if release_commits else [])


def test_finishing_an_unknown_hold_returns_none_and_audits_as_sqlite_does(store):
    assert store.finish_hold("nope", "held", 200, "{}", release_in_pos=True) is None
    assert rows(store, "SELECT global_id, to_state FROM audit") == [("nope", "held")]
    assert rows(store, "SELECT key FROM jobs") == [("release:nope",)]


def test_a_finish_whose_release_job_the_server_refuses_leaves_the_hold_as_it_was(store):
    assert store.begin_hold(hold_event("g3"), "R1", 2, None, None, EXPIRES) is None
    refuse_job_inserts(store)
    with pytest.raises(psycopg.Error):
        store.finish_hold("g3", "error", 500, "{}", release_in_pos=True)
    assert store.get_hold("g3").state == "pending"
    assert rows(store, "SELECT count(*) FROM audit") == [(0,)]


# Many at once, through two replicas -------------------------------------------------------------------------

def test_the_same_hold_and_event_asked_many_times_at_once_are_recorded_once(pg_url):
    replicas = [PostgresStore(pg_url), PostgresStore(pg_url)]
    try:
        for n in range(10):
            start = threading.Barrier(6)

            def ask(store: PostgresStore, n: int = n, start: threading.Barrier = start) -> tuple[Any, bool]:
                start.wait()
                return (store.begin_hold(hold_event(f"m{n}"), "R1", 1, None, None, EXPIRES),
                        store.record_event(order_event(1000 + n, f"e{n}")))

            with ThreadPoolExecutor(6) as pool:
                answers = list(pool.map(ask, [replicas[i % 2] for i in range(6)]))
            holds, events = zip(*answers, strict=True)
            assert sum(hold is None for hold in holds) == 1, holds
            assert {hold.state for hold in holds if hold is not None} == {"pending"}
            assert sorted(events) == [False] * 5 + [True]
        store = replicas[0]
        assert [store.count(table) for table in ("holds", "orders", "jobs")] == [10, 10, 10]
        assert store.count("inbox") == 20 and store.count("audit") == 10  # a first-seen order (a hold: at its outcome)
    finally:
        for replica in replicas:
            replica.close()


# NOTIFY: sent with a job, only then ---------------------------------------------------------------------------

def test_only_a_write_that_queues_a_job_notifies_the_workers(store, pg_url):
    with psycopg.connect(pg_url, autocommit=True) as listener:
        listener.execute(f"LISTEN {JOBS_CHANNEL}")
        assert store.record_event(order_event(7, "k1"))  # a job: 1
        assert not store.record_event(order_event(7, "k1"))  # a duplicate: none
        assert store.record_event(Event("webhook", "event_updated", "k2", "{}", ignored=True))  # none
        assert store.record_event(Event("webhook", "order_created", "k3", "{}", order_group_id="G1"))  # 1
        assert store.begin_hold(hold_event("g4"), "R1", 2, None, None, EXPIRES) is None  # none
        store.finish_hold("g4", "held", 200, "{}")  # none
        store.finish_hold("g4", "error", 500, "{}", release_in_pos=True)  # 1
        listener.execute(f"NOTIFY {JOBS_CHANNEL}, 'end'")
        heard = []
        for note in listener.notifies(timeout=30):
            if note.payload == "end":
                break
            heard.append(note.payload)
    assert heard == ["", "", ""]
