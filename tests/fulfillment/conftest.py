"""Fulfilment test set-up: a fake TEvo, a real store, a stand-in for the POS host façade, the real PDFs."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import FIXTURES, load_fixture
from tests.fulfillment.fake_tevo import FakeTevo
from tevo_bridge.config import Settings
from tevo_bridge.fulfillment import make_fulfil
from tevo_bridge.pos import types as pos
from tevo_bridge.store import AsyncStore, SqliteStore
from tevo_bridge.tevo.models import Order

PDFS = FIXTURES / "pdfs"
TWO_PAGES = (PDFS / "tickets_2_pages.pdf").read_bytes()
FIVE_PAGES = (PDFS / "tickets_5_pages_for_3_seats.pdf").read_bytes()

# The ids of the fixture orders (tests/fixtures/README story).
ETICKET_ORDER, ETICKET_ITEM = 402117, 812406  # 2 tickets, seats 5-6, tickets_2_pages.pdf
CLIENT_ORDER, CLIENT_ITEM = 402133, 812431  # 3 tickets, seats 105-107, tickets_5_pages_for_3_seats.pdf
FEDEX_ORDER = 402158
PICKUP_ORDER = 402171
MOBILE_ORDER, MOBILE_ITEM = 402190, 812502

PICKUP = {
    "contact_name": "Hudson Ticket Exchange, Window 3", "phone_number": "212-555-0142",
    "street_address": "1 Main St", "extended_address": "Suite 4", "locality": "New York", "region": "NY",
    "postal_code": "10001", "country_code": "US", "time_range": "Dec 19, 6:00 PM - 7:30 PM",
    "instructions": "Bring photo ID",
}


class FakePosHost:
    """A test double of the PluginHost façade: the four calls fulfilment makes, answered from tables."""

    def __init__(self) -> None:
        self.files: dict[int, Any] = {}  # item id → list[TicketFile] | None | an exception to raise
        self.transfers: dict[int, Any] = {}  # item id → MobileTransfer | None
        self.hooks = {"pos_order_event", "pos_mobile_transfer"}
        self.events: list[pos.OrderEvent] = []
        self.asked: list[tuple[str, int]] = []

    async def ticket_files(self, order: pos.Order, item: pos.Item) -> list[pos.TicketFile] | None:
        self.asked.append(("ticket_files", item.item_id))
        answer = self.files.get(item.item_id)
        if isinstance(answer, Exception):
            raise answer
        return answer

    async def mobile_transfer(self, order: pos.Order, item: pos.Item) -> pos.MobileTransfer | None:
        self.asked.append(("mobile_transfer", item.item_id))
        return self.transfers.get(item.item_id)

    async def notify(self, event: pos.OrderEvent) -> None:
        self.events.append(event)

    def has_hook(self, hook: str) -> bool:
        return hook in self.hooks


@pytest.fixture
def fake() -> FakeTevo:
    tevo = FakeTevo()
    for name in ("office_sale_eticket", "client_sale_fraud_approved", "multi_item_fedex", "local_pickup",
                 "mobile_transfer_tbd"):
        tevo.add_order(load_fixture(f"orders/{name}.json"), seller_state="accepted")
    return tevo


@pytest.fixture
def host() -> FakePosHost:
    host = FakePosHost()
    host.files[ETICKET_ITEM] = [pos.TicketFile(TWO_PAGES, {"5": 1, "6": 2}, name="tickets_2_pages.pdf")]
    host.files[CLIENT_ITEM] = [pos.TicketFile(FIVE_PAGES, {"105": 2, "106": 3, "107": 4},
                                              name="tickets_5_pages_for_3_seats.pdf")]
    host.transfers[MOBILE_ITEM] = pos.MobileTransfer(
        "TMMobileLink", ("https://example.com/claim/a", "https://example.com/claim/b"), "TM")
    return host


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[AsyncStore]:
    store = AsyncStore(SqliteStore(tmp_path / "state.sqlite3"))
    yield store
    store.close()


@pytest.fixture
def settings(tmp_path: Path) -> Callable[..., Settings]:
    def build(**fulfillment: Any) -> Settings:
        values = {"airbill_dir": tmp_path / "airbills", "local_pickup": PICKUP, **fulfillment}
        return Settings(fulfillment=values)

    return build


@pytest.fixture
def run(fake: FakeTevo, host: FakePosHost, store: AsyncStore, settings: Callable[..., Settings]):
    """``await run(order_id, **fulfillment_settings)``: one run of the fulfil step in a fresh 'process'."""

    async def run_once(order_id: int, **fulfillment: Any) -> tuple[str, str]:
        async with fake.client() as tevo:
            fulfil = make_fulfil(settings(**fulfillment), tevo, host, store, download=fake.download)
            order = Order.model_validate(fake.order_json(order_id))
            await store.ensure_order(order_id, "test")
            return await fulfil(order, await store.get_order(order_id))

    return run_once
