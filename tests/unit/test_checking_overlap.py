"""The move to ``checking`` is committed while the POS reserves (pipeline/processor.py ``_decide``), and the
order's writes stay in their order: nothing is written, and TEvo's accept is not called, before it is durable.

Real SQLite store; TEvo and the POS are stand-ins that record what happened when. The move to ``checking``
is held back (its store call waits on a gate) until the POS has been asked to hold, which only an order
whose reservation no longer waits for that commit can reach: the old order of steps would wait forever
and fail the liveness bound. The last test follows a run that had to reserve in a new round on to its invoice.
"""

from __future__ import annotations

import asyncio
import copy
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import load_fixture
from tevo_bridge.config import Settings
from tevo_bridge.pipeline.processor import OrderProcessor
from tevo_bridge.pos import types as pos
from tevo_bridge.store import AsyncStore, SqliteStore
from tevo_bridge.tevo.models import Order

LIVENESS = 10.0
ORDER = load_fixture("orders/office_sale_eticket.json")


class Accepted(Exception):
    """Ends the run at TEvo's accept: what comes after is not under test here."""


class GatedStore:
    """The real store; the move to ``checking`` waits for ``gate`` before it is queued."""

    def __init__(self, store: AsyncStore, sync: SqliteStore, events: list[str]) -> None:
        self.store, self.sync, self.events = store, sync, events
        self.gate = asyncio.Event()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.store, name)

    async def update_order(self, order_id: int, **fields: Any) -> None:
        if fields.get("state") == "checking":
            await self.gate.wait()
        await self.store.update_order(order_id, **fields)
        self.events.append(f"committed {fields.get('state') or 'fields'}")


class Tevo:
    def __init__(self, order: Order, events: list[str], store: SqliteStore) -> None:
        self.order, self.events, self.store = order, events, store

    async def get_order(self, order_id: int) -> Order:
        return self.order

    async def accept_order(self, order_id: int, reviewer_id: int) -> Order:
        row = self.store.get_order(order_id)
        self.events.append(f"accept called, order stored as {row.state if row else None}")
        if self.go_on:
            return self.order.model_copy(update={"seller_state": "accepted"})
        raise Accepted()

    go_on = False  # True: TEvo accepts and the run goes on to the invoice


class Pos:
    """Holds every item; with ``stale`` the first round's ids are refused as used (a lapsed reservation)."""

    def __init__(self, events: list[str], gate: asyncio.Event, stale: bool = False) -> None:
        self.events, self.gate, self.stale = events, gate, stale

    async def hold(self, hold: pos.Hold) -> pos.HoldResult:
        self.events.append(f"hold {hold.global_id}")
        if self.stale and hold.global_id.endswith("-r0"):
            # Refused at once, the move to `checking` still held back for a while: the next round must wait for it.
            asyncio.get_running_loop().call_later(0.2, self.gate.set)
            return pos.HoldResult(held=False, reason="global_id_used")
        self.gate.set()  # only now may the move to `checking` go to the store
        await asyncio.sleep(0.05)  # the POS at work: the commit may land meanwhile, or not
        return pos.HoldResult(held=True, hold_id="P-1")

    async def create_invoice(self, order: pos.Order, customer: pos.Customer | None) -> pos.Invoice:
        self.events.append("invoice consuming " + ", ".join(str(item.global_id) for item in order.items))
        return pos.Invoice(invoice_id="INV-1", created=True)

    async def release_hold(self, hold: pos.Hold) -> bool:
        self.events.append(f"release {hold.global_id}")
        return True

    def has_hook(self, hook: str) -> bool:
        return False


async def _run(tmp_path: Path, *, stale: bool, go_on: bool = False) -> tuple[list[str], list[Any]]:
    sync = SqliteStore(tmp_path / "state.sqlite3")
    events: list[str] = []
    order = Order.model_validate(copy.deepcopy(ORDER))
    sync.ensure_order(order.id, "webhook")
    store = GatedStore(AsyncStore(sync), sync, events)
    tevo = Tevo(order, events, sync)
    tevo.go_on = go_on
    processor = OrderProcessor(store, tevo, Pos(events, store.gate, stale), Settings())  # type: ignore[arg-type]
    try:
        if go_on:
            await asyncio.wait_for(processor.process(order.id), LIVENESS)
        else:
            with pytest.raises(Accepted):
                await asyncio.wait_for(processor.process(order.id), LIVENESS)
        return events, sync.audit_trail(order.id)
    finally:
        store.store.close()


def test_the_pos_reserves_while_checking_is_committed_and_the_accept_waits_for_both(tmp_path: Path) -> None:
    events, trail = asyncio.run(_run(tmp_path, stale=False))
    order_id = ORDER["id"]
    assert events[0].startswith("hold order-")  # asked before the move to `checking` was even queued
    assert events.index("committed checking") < events.index("committed accepting")
    assert events[-1] == "accept called, order stored as accepting"
    assert [(row.from_state, row.to_state) for row in trail if row.action == "transition"][-2:] == [
        ("new", "checking"), ("checking", "accepting")], order_id


def test_a_lapsed_reservation_starts_the_next_round_only_after_checking_is_committed(tmp_path: Path) -> None:
    events, trail = asyncio.run(_run(tmp_path, stale=True))
    # The round's move is the order's next write: it waits for the move to `checking`, though the POS
    # answered while that was still held back.
    assert events.index("committed checking") < events.index("committed fields")
    assert [e for e in events if e.startswith("hold")] == [f"hold order-{ORDER['id']}-item-{ORDER['items'][0]['id']}-r{n}"
                                                           for n in (0, 1)]
    assert events[-1] == "accept called, order stored as accepting"
    assert [row.to_state for row in trail if row.action == "transition"][-2:] == ["checking", "accepting"]


def test_an_order_reserved_in_a_new_round_is_invoiced_against_that_round(tmp_path: Path) -> None:
    # The same run goes on from the accept to the invoice: it must consume the round it reserved in, not the
    # lapsed one (the POS would take stock for it and keep the new round's reservation held until it lapses).
    events, _trail = asyncio.run(_run(tmp_path, stale=True, go_on=True))
    item = f"order-{ORDER['id']}-item-{ORDER['items'][0]['id']}"
    assert [e for e in events if e.startswith("invoice")] == [f"invoice consuming {item}-r1"]
