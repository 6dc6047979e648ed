"""A real daemon (uvicorn on loopback) over a real SQLite POS on disk."""

from __future__ import annotations

import sqlite3
from decimal import Decimal
from pathlib import Path

import pytest

from tevo_bridge.config import Settings
from tevo_bridge.pos.inventory import InventoryRow

API_KEY = "oi-test-key-0123456789abcdefghijklmnop"
WEBHOOK_TOKEN = "webhook-token-0123456789abcdefghijklmnop"
TOKEN = "A" * 32
SECRET = "B" * 40

INVENTORY = [
    InventoryRow(remote_id="91508", event="Lakers at Warriors", venue="Chase Center", occurs_at="2026-12-20T19:30:00Z",
                 section="112", row="14", seats=("9", "10", "11", "12"), quantity=4, min_price=Decimal("400")),
    InventoryRow(remote_id="88213", event="Celtics at Knicks", venue="Madison Square Garden",
                 occurs_at="2026-12-11T19:30:00Z", section="112", row="8", seats=("5", "6"), quantity=2,
                 min_price=Decimal("200")),
]


@pytest.fixture
def pos_db(tmp_path: Path) -> Path:
    from tevo_bridge_sqlite_pos import store

    path = tmp_path / "pos.sqlite3"
    store.init_db(path)
    with store.connect(path) as conn:
        store.upsert_ticket_groups(conn, INVENTORY)
    return path


def pos_rows(pos_db: Path, sql: str) -> list[tuple]:
    conn = sqlite3.connect(pos_db)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def make_settings(tmp_path: Path, pos_db: Path, tevo_url: str = "http://127.0.0.1:9", **sections: dict) -> Settings:
    base = {
        "tevo": {"base_url": tevo_url, "token": TOKEN, "secret": SECRET, "reviewer_id": 4711, "office_id": 2187,
                 "brokerage_id": 2241, "backoff_base": 0.05, "backoff_cap": 0.5, "connect_timeout": 1,
                 "read_timeout": 5},
        "server": {"port": 0, "webhook_token": WEBHOOK_TOKEN, "hold_budget": 1.0, "invoice_budget": 0.3,
                   "order_integration": {"api_keys": [API_KEY]}},
        "store": {"path": str(tmp_path / "state.sqlite3")},
        "poller": {"enabled": False},
        "pipeline": {"backoff_base": 0.05, "backoff_cap": 0.5, "max_attempts": 5},
        "fulfillment": {"airbill_dir": str(tmp_path / "airbills")},
        "pos": {"plugin": "sqlite_pos"},
        "plugins": {"sqlite_pos": {"database": str(pos_db)}},
        "log": {"format": "json", "level": "warning"},
    }
    for name, values in sections.items():
        base[name] = {**base.get(name, {}), **values}
    return Settings(**base)
