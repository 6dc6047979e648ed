"""How many times a hold and a webhook ack wait on PostgreSQL: the store's round trips, counted by libpq.

Every round trip is a network wait on the hot path, and on PostgreSQL they, not Python, set a hold's
latency (benchmarks/NOTES.md). libpq's own protocol trace (``PQtrace``) sees every message the client
sends, so the count is the wire's, not our wrapper's: each simple ``Query`` and each ``Sync`` (which
ends an extended-protocol or pipelined batch) is one wait for the server. The bounds are today's
counts; a change that adds a round trip to the hot path fails here and must say why.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tevo_bridge.store import Event
from tevo_bridge.store.postgres import PostgresStore

_DIRECTION = re.compile(r"^(?:[^\t\n]*\t)?([FB])\t", re.MULTILINE)  # [timestamp] F|B length type ...


@pytest.fixture
def store(pg_url: str) -> Iterator[PostgresStore]:
    store = PostgresStore(pg_url, min_size=1, max_size=1)  # one connection: every call is traced on it
    yield store
    store.close()


def round_trips(store: PostgresStore, tmp_path: Path, call: Callable[[], Any]) -> tuple[int, list[str]]:
    """How many times ``call`` waited on the server, and the statements it sent (for the failure message)."""
    trace = tmp_path / "libpq.trace"
    conn = store._pool.getconn()
    fd = os.open(trace, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        conn.pgconn.trace(fd)
        store._pool.putconn(conn)
        call()
        conn.pgconn.untrace()
    finally:
        os.close(fd)
    text = trace.read_text()
    sent = [line.split("\t", 3)[-1] for line in text.splitlines() if "\tF\t" in line or line.startswith("F\t")]
    directions = "".join(_DIRECTION.findall(text))
    return directions.count("FB"), [s for s in sent if s.startswith(("Query", "Parse"))]


def hold_event(n: int) -> Event:
    return Event("oi", "hold", f"hold:G{n}", "{}", global_id=f"G{n}")


def webhook_event(order_id: int) -> Event:
    return Event("webhook", "order_created", f"k{order_id}", "{}", order_id=order_id)


def test_a_new_hold_waits_on_the_database_a_bounded_number_of_times(store, tmp_path):
    def hold() -> None:
        assert store.begin_hold(hold_event(1), "R1", 2, "10.00", None, "2099-01-01T00:00:00Z") is None
        store.finish_hold("G1", "held", 200, '{"ok": true}', hold_id="H1")

    waits, sent = round_trips(store, tmp_path, hold)
    print(f"hold: {waits} round trips", *sent, sep="\n  ")
    assert store.get_hold("G1").state == "held"  # the round trips did the work
    assert waits == HOLD_ROUND_TRIPS, sent


def test_a_webhook_ack_waits_on_the_database_a_bounded_number_of_times(store, tmp_path):
    waits, sent = round_trips(store, tmp_path, lambda: store.record_event(webhook_event(5)))
    print(f"webhook: {waits} round trips", *sent, sep="\n  ")
    assert store.job_counts() == {"queued": 1}
    assert waits == WEBHOOK_ROUND_TRIPS, sent


def test_a_pooled_connection_whose_session_ended_is_replaced_before_it_is_lent(store, pg_url):
    """The check that costs no round trip still sees a session the server ended while it sat in the pool."""
    with store._lock:
        pid = store._conn.execute("SELECT pg_backend_pid()").fetchone()[0]
    with psycopg.connect(pg_url, autocommit=True) as admin:
        assert admin.execute("SELECT pg_terminate_backend(%s, 5000)", (pid,)).fetchone()[0]
    assert store.get_hold("G404") is None  # answered on a fresh connection, not a StoreUnavailable
    with store._lock:
        assert store._conn.execute("SELECT pg_backend_pid()").fetchone()[0] != pid


# Today's counts (15 for a hold and 9 for a webhook before pipelining, then 5 and 3; see benchmarks/NOTES.md).
# Each write is one statement in autocommit (store/pg_intake.py): no BEGIN or COMMIT of its own.
HOLD_ROUND_TRIPS = 2  # begin_hold: [WITH hold, inbox, audit]; finish_hold: [WITH current, update, audit, job]
WEBHOOK_ROUND_TRIPS = 1  # [WITH inbox, order, audit, job, NOTIFY]


def test_a_statement_failing_inside_a_pipelined_hold_leaves_nothing_and_the_connection_usable(store):
    # The hold's row is inserted (and read back) before the inbox row, whose payload PostgreSQL cannot store.
    bad = Event("oi", "hold", "hold:G9", "nul \x00 byte", global_id="G9")
    with pytest.raises(psycopg.DataError):
        store.begin_hold(bad, "R1", 2, "10.00", None, "2099-01-01T00:00:00Z")
    assert store.get_hold("G9") is None  # rolled back with the transaction
    # The pool's one connection is back out of the failed transaction and pipeline mode.
    assert store.begin_hold(hold_event(9), "R1", 2, "10.00", None, "2099-01-01T00:00:00Z") is None
    assert store.get_hold("G9").state == "pending"


def test_a_webhook_failing_on_the_server_mid_transaction_is_not_recorded(store):
    with pytest.raises(psycopg.DataError):
        store.record_event(webhook_event(2**62 * 4))  # beyond bigint: refused by the server, not the driver
    assert store.job_counts() == {}
    assert store.record_event(webhook_event(6)) is True
    assert store.job_counts() == {"queued": 1}


def test_intake_writes_committed_together_wait_on_the_database_once(store, tmp_path):
    """The intake threads' group commit (store/pg_aio.py): a batch's BEGIN, statements and COMMIT go out in one
    pipeline, so several callers' writes cost one wait between them (each alone costs one or two)."""
    plans = [store._plan_begin_hold(hold_event(1), "R1", 2, "10.00", None, "2099-01-01T00:00:00Z"),
             store._plan_record_event(webhook_event(7)), store._plan_record_event(webhook_event(8))]
    rows: list[Any] = []
    waits, sent = round_trips(store, tmp_path, lambda: rows.extend(store._run_together(plans)))
    print(f"three writes together: {waits} round trips", *sent, sep="\n  ")
    assert [plan.answer(row) for plan, row in zip(plans, rows, strict=True)] == [None, True, True]
    assert store.get_hold("G1").state == "pending" and store.job_counts() == {"queued": 2}
    assert waits == 1, sent
