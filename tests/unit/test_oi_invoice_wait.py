"""The Order Integration invoice call waits for its order to settle without asking the store every 20 ms."""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace
from types import SimpleNamespace

from tevo_bridge.intake.order_integration import _settled_order
from tevo_bridge.store import SqliteStore


class Orders:
    """A real store's order row; it is invoiced at the ``invoiced_at``-th read, and the reads are counted."""

    def __init__(self, row, invoiced_at: int | None) -> None:
        self.row, self.invoiced_at, self.reads = row, invoiced_at, 0

    async def get_order(self, order_id: int):
        self.reads += 1
        if self.invoiced_at is not None and self.reads >= self.invoiced_at:
            return replace(self.row, invoice_id="INV-1", state="fulfilling")
        return self.row


def _row(tmp_path):
    store = SqliteStore(tmp_path / "state.sqlite3")
    store.ensure_order(402117, "order_integration")
    row = store.get_order(402117)
    store.close()
    return row


def test_an_order_not_settled_within_the_budget_is_answered_at_the_deadline_after_few_reads(tmp_path):
    orders = Orders(_row(tmp_path), invoiced_at=None)
    started = time.monotonic()
    row = asyncio.run(_settled_order(SimpleNamespace(store=orders), 402117, started + 0.6))
    assert row.invoice_id is None and time.monotonic() - started >= 0.6
    assert orders.reads <= 12, orders.reads  # every 20 ms it was 30 reads


def test_an_order_invoiced_meanwhile_is_answered_as_invoiced(tmp_path):
    orders = Orders(_row(tmp_path), invoiced_at=3)
    started = time.monotonic()
    row = asyncio.run(_settled_order(SimpleNamespace(store=orders), 402117, started + 30))
    assert row.invoice_id == "INV-1" and orders.reads == 3
    assert time.monotonic() - started < 10  # liveness only: the first reads come soon
