"""The dashboard's search and its "to ship / to hand over" list, as SQL, on both store backends."""

from __future__ import annotations

import json

import pytest

from tevo_bridge.store.pg_schema import PG_MIGRATIONS
from tevo_bridge.store.schema import MIGRATIONS
from tevo_bridge.store.search import buyer_search, like_pattern


def snapshot(name: str | None, *emails: str) -> str:
    buyer = {"type": "Client", "id": 5, "name": name, "email_addresses": [{"address": e} for e in emails]}
    return json.dumps({"buyer": buyer, "items": []})


@pytest.fixture
def store(store_backend):
    store = store_backend.open()
    orders = {
        1001: dict(snapshot=snapshot("Megan Alvarez", "megan@example.com", "m.alvarez@work.example"),
                   invoice_id="INV-7"),
        1002: dict(snapshot=snapshot("Ana 100% Real_Name", "ana@example.com"), invoice_id="1001"),
        1003: dict(snapshot=snapshot("MÉLANIE Dupont", "mel@example.com")),
        1004: dict(snapshot=snapshot("Bob Smith", "bob_smith@example.com")),
        1005: {},
    }
    for order_id, fields in orders.items():
        store.ensure_order(order_id, "webhook")
        store.update_order(order_id, state="done", **fields)
    yield store
    store.close()


def found(store, text: str) -> list[int]:
    return [row.id for row in store.find_orders(text, 50)]


def test_search_finds_by_tevo_id_invoice_id_name_and_email_in_any_case(store):
    assert found(store, "1003") == [1003]
    assert found(store, "INV-7") == [1001]
    assert found(store, "inv-7") == []  # an invoice id is matched as the POS wrote it
    assert found(store, "1001") == [1002, 1001]  # order 1001, and the order whose POS invoice is "1001"
    assert found(store, "alvarez") == [1001]
    assert found(store, "  MEGAN@Example.COM ") == [1001]
    assert found(store, "work.example") == [1001]  # the second address counts too
    assert found(store, "mélanie") == [1003]  # lower-cased in Python, not by the database's ASCII-only lower()
    assert found(store, "example.com") == [1004, 1003, 1002, 1001]
    assert found(store, "nobody") == [] and found(store, "   ") == []


def test_like_wildcards_typed_into_the_search_are_taken_literally(store):
    assert found(store, "%") == [1002] and found(store, "100%") == [1002]
    assert found(store, "_") == [1004, 1002]  # the two names or addresses that really hold an underscore
    assert found(store, "b_smith") == [1004] and found(store, "bxsmith") == []
    assert found(store, "\\") == []
    assert like_pattern("a%b_c\\") == "%a\\%b\\_c\\\\%"


def test_search_is_bounded_and_newest_first(store):
    assert [row.id for row in store.find_orders("example", 2)] == [1004, 1003]


def test_a_new_snapshot_replaces_the_searchable_buyer(store):
    store.update_order(1004, snapshot=snapshot("Robert Smithers"))
    assert found(store, "bob") == [] and found(store, "robert") == [1004]
    assert buyer_search("not json") is None and buyer_search('{"buyer": null}') is None


def store_before_search(backend) -> None:
    """A store as the version before the search column left it (its migrations up to that one applied by hand),
    holding an order with a buyer in its snapshot and one whose snapshot is no JSON object."""
    rows = [(402117, snapshot("Megan ALVAREZ", "Megan@Example.com")), (402118, '{"id": 402118}'), (402119, None)]
    insert = ("INSERT INTO orders (id, state, source, first_seen_at, updated_at, snapshot) "
              "VALUES ({p}, 'done', 'webhook', '2026-01-02T03:04:05.000Z', '2026-01-02T03:04:05.000Z', {p})")
    if backend.name == "sqlite":
        import sqlite3

        index = next(n for n, m in enumerate(MIGRATIONS) if "buyer_search" in m)
        conn = sqlite3.connect(backend.location)
        for script in MIGRATIONS[:index]:
            conn.executescript(script)
        conn.execute(f"PRAGMA user_version = {index}")
        conn.executemany(insert.format(p="?"), rows)
        conn.commit()
        conn.close()
        return
    import psycopg

    index = next(n for n, m in enumerate(PG_MIGRATIONS) if "buyer_search" in m)
    with psycopg.connect(backend.location, autocommit=True) as conn:
        for script in PG_MIGRATIONS[:index]:
            for statement in script.split(";"):
                if statement.strip():
                    conn.execute(statement)
        conn.execute("CREATE TABLE tevo_schema (version INTEGER NOT NULL)")
        conn.execute("INSERT INTO tevo_schema (version) VALUES (%s)", (index,))
        for row in rows:
            conn.execute(insert.format(p="%s"), row)


def test_the_upgrade_fills_the_search_column_from_snapshots_already_stored(store_backend):
    """Orders stored before the column existed are found after the upgrade, on both backends."""
    store_before_search(store_backend)
    store = store_backend.open()
    try:
        assert found(store, "alvarez") == [402117] and found(store, "megan@example.com") == [402117]
        assert found(store, "402118") == [402118] and found(store, "example") == [402117]
    finally:
        store.close()


def test_handover_lists_orders_with_an_airbill_or_pickup_until_tevo_completes_them(store):
    store.audit("airbill.saved", order_id=1001, details={"shipment_id": 9, "path": "/x/1001.pdf"})
    store.audit("pickup.update", order_id=1002, details={"shipment_id": 10})
    store.audit("airbill.saved", order_id=1003, details={"shipment_id": 11})
    store.audit("etickets.finalize", order_id=1004, details={"item_id": 1})
    store.update_order(1003, seller_state="completed")
    assert [row.id for row in store.handover_orders(50)] == [1002, 1001]
    store.update_order(1002, state="canceled")
    assert [row.id for row in store.handover_orders(50)] == [1001]
    assert [row.id for row in store.handover_orders(0)] == []
