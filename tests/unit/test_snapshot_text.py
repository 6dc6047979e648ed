"""The stored snapshot is the order as TEvo said it: written by pydantic-core, read back to the same values."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import FIXTURES
from tevo_bridge.pipeline.processor import _facts
from tevo_bridge.store import Event, SqliteStore
from tevo_bridge.tevo.models import Order

ORDERS = sorted(p for p in (FIXTURES / "orders").glob("*.json") if "id" in json.loads(p.read_text()))


def with_foreign_text(raw: dict) -> dict:
    """A buyer whose name is not ASCII and carries a C1 control character, as a hostile or careless TEvo might send."""
    raw = json.loads(json.dumps(raw))
    raw.setdefault("buyer", {})["name"] = "Zoë Ångström\u0085 — 東京"
    return raw


@pytest.mark.parametrize("path", ORDERS, ids=lambda p: p.stem)
def test_the_snapshot_reads_back_as_the_order_tevo_sent(path: Path):
    for raw in (json.loads(path.read_text()), with_foreign_text(json.loads(path.read_text()))):
        order = Order.model_validate(raw)
        snapshot = _facts(order)["snapshot"]
        assert json.loads(snapshot) == order.model_dump(mode="json")
        assert Order.model_validate_json(snapshot) == order


def test_the_buyer_search_finds_a_name_written_as_utf8(tmp_path):
    order = Order.model_validate(with_foreign_text(json.loads(ORDERS[0].read_text())))
    store = SqliteStore(tmp_path / "state.sqlite3")
    store.record_event(Event("webhook", "order_created", "k1", "{}", order_id=order.id))
    store.update_order(order.id, snapshot=_facts(order)["snapshot"])
    row = store._conn.execute("SELECT buyer_search FROM orders WHERE id = ?", (order.id,)).fetchone()
    assert "zoë ångström" in row["buyer_search"] and "東京" in row["buyer_search"]
    store.close()
