"""The running daemon prunes by itself: an old finished order's rows go at start, an open order's stay, and a
second daemon on the same store is refused."""

from __future__ import annotations

import time

import pytest

from tests.integration.conftest import make_settings
from tests.unit.test_store_files import backdate, rows
from tevo_bridge.serve import running_daemon
from tevo_bridge.store import Event, SqliteStore, StoreInUse


def test_the_daemon_prunes_at_start_and_keeps_open_orders(tmp_path, pos_db):
    path = tmp_path / "state.sqlite3"
    seed = SqliteStore(path)
    for order_id in (1, 2):
        seed.record_event(Event("webhook", "order_created", f"k{order_id}", "{}", order_id=order_id, ignored=True))
        seed.ensure_order(order_id, "webhook")
    seed.close()
    backdate(path, 1, state="done")
    backdate(path, 2, state="needs_review")

    with running_daemon(make_settings(tmp_path, pos_db)) as daemon:
        store = daemon.runtime.store.sync
        deadline = time.monotonic() + 10
        while rows(store, 1) != (0, 0) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert rows(store, 1) == (0, 0), "the old done order's inbox and audit were not pruned"
        assert rows(store, 2) == (1, 1), "an order waiting for a person lost its rows"
        with pytest.raises(StoreInUse):
            SqliteStore(path, daemon=True)
