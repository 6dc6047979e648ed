"""The store's partial indexes (schema version 10): every read that needs one still seeks it, and a hold
writes none of the entries the order indexes would have held for it.

A partial index is used only when the query's WHERE implies the index's; a query rewritten without that
condition would quietly scan the table. So each read below is run as the store runs it (the statements are
traced) and its plan is asked for."""

import re
import sqlite3
from collections.abc import Callable
from typing import Any

import pytest

from tevo_bridge.store import Event, SqliteStore


@pytest.fixture
def store(tmp_path):
    s = SqliteStore(tmp_path / "state.sqlite3")
    s.record_event(Event("webhook", "order_created", "k1", "{}", order_id=402117, global_id="g1"))
    s.update_order(402117, state="invoicing", reason="accepted")
    s.audit("airbill.saved", order_id=402117)
    for n in range(3):
        s.begin_hold(Event("order_integration", "hold", f"oi:hold:h{n}", "{}", global_id=f"h{n}"), "R1", 1, None,
                     None, "2099-01-01T00:00:00Z")
        s.finish_hold(f"h{n}", "held", 200, "{}", hold_id=f"h{n}")
    yield s
    s.close()


def plans(store: SqliteStore, read: Callable[[], Any]) -> list[str]:
    """The query plan of every SELECT ``read`` runs, as SQLite explains it (one line per step)."""
    conn = store._db.conn
    seen: list[str] = []
    conn.set_trace_callback(seen.append)  # Python 3.11+: the statement with its values bound
    try:
        read()
    finally:
        conn.set_trace_callback(None)
    selects = [s for s in seen if re.match(r"\s*(SELECT|WITH)", s, re.I)]
    assert selects, "the read ran no SELECT"
    return [" / ".join(row[3] for row in conn.execute(f"EXPLAIN QUERY PLAN {s}")) for s in selects]


@pytest.mark.parametrize(("read", "index"), [
    (lambda s: s.audit_trail(402117), "audit_order"),
    (lambda s: s.audit_trail(402117), "audit_global"),
    (lambda s: s.hold_for_order(402117), "holds_order"),
    (lambda s: s.handover_orders(10), "audit_action"),
    (lambda s: s.order_activity("2000-01-01"), "audit_outcome"),
])
def test_each_read_seeks_its_partial_index(store, read, index):
    explained = " | ".join(plans(store, lambda: read(store)))
    assert f"INDEX {index} " in explained, explained


def test_the_notifier_reads_transitions_by_an_index(store):
    explained = " | ".join(plans(store, lambda: store.record_from_audit(grace=60, limit=10)))
    assert "SCAN a " not in explained and "SCAN audit" not in explained, explained


def test_a_hold_writes_no_entry_into_the_order_indexes(store):
    """Three holds and one order: the order indexes hold the order's rows alone."""
    conn = sqlite3.connect(store.path)

    def entries(index: str, table: str) -> int:
        count: int = conn.execute(f"SELECT count(*) FROM {table} INDEXED BY {index} "
                                  f"WHERE {partial_condition(conn, index)}").fetchone()[0]
        return count

    assert entries("inbox_order", "inbox") == 1
    assert entries("holds_order", "holds") == 0
    assert entries("audit_order", "audit") == 3  # the order's two transitions and its airbill
    assert entries("audit_action", "audit") == 3
    assert entries("audit_outcome", "audit") == 2
    assert entries("audit_global", "audit") == 3  # each hold's one row, its outcome
    assert conn.execute("SELECT count(*) FROM audit").fetchone()[0] == 6


def partial_condition(conn: sqlite3.Connection, index: str) -> str:
    sql = conn.execute("SELECT sql FROM sqlite_master WHERE type = 'index' AND name = ?", (index,)).fetchone()[0]
    return sql.split(" WHERE ", 1)[1]
