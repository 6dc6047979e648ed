"""Contract 2's invoice context: what ``pos_create_invoice`` is handed, translated from TEvo's order JSON.

The orders are the project's TEvo fixtures, read by the same ``pos_args`` translation the worker uses
before it calls the POS, then handed to a real SQLite POS through a real ``PluginHost``.
"""

from __future__ import annotations

import copy
import sqlite3
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from tevo_bridge_sqlite_pos import SqlitePos, store

from tests.conftest import load_fixture
from tevo_bridge import hookimpl
from tevo_bridge.pipeline import pos_args
from tevo_bridge.pos.host import PluginHost
from tevo_bridge.pos.types import DEFAULT_CURRENCY, Customer, Invoice, Order, Shipping
from tevo_bridge.testing.inventory import contract_inventory
from tevo_bridge.tevo.models import Order as TevoOrder


def tevo_order(name: str, **changes: Any) -> TevoOrder:
    payload = copy.deepcopy(load_fixture(f"orders/{name}.json"))
    return TevoOrder.model_validate({**payload, **changes})


def test_a_client_sale_carries_its_order_number_buyer_fees_shipping_and_currency() -> None:
    order = pos_args.pos_order(tevo_order("client_sale_fraud_approved"))
    assert (order.order_id, order.oid, order.reference) == (402133, "73425-402133", "")
    assert (order.buyer.type, order.buyer.id, order.buyer.email) == ("Client", 3381027, "megan.alvarez@example.com")
    assert (order.total, order.service_fee, order.currency) == (Decimal("1283.7"), Decimal("116.7"), "USD")
    [line] = order.items
    assert (line.price, line.quantity, line.fees, line.currency) == (Decimal("389.0"), 3, Decimal("116.7"), "USD")
    assert order.shipping == Shipping("Eticket", Decimal("0.0"), "", "USD")
    assert order.notes == ()
    # The invoice adds up to what TEvo charged: tickets, the fee, and delivery.
    assert line.price * line.quantity + line.fees + order.shipping.cost == order.total


def test_a_fedex_order_names_its_service_level() -> None:
    order = pos_args.pos_order(tevo_order("multi_item_fedex"))
    assert order.shipping == Shipping("FedEx", Decimal("0.0"), "LEAST_EXPENSIVE", "USD")


def test_the_service_fee_is_split_over_the_lines_by_cost_and_adds_up_to_the_cent() -> None:
    # multi_item_fedex: 2 x 312.0 and 4 x 298.0; a fee of 100.00 splits 624 : 1192.
    order = pos_args.pos_order(tevo_order("multi_item_fedex", service_fee="100.00"))
    fees = [line.fees for line in order.items]
    assert fees == [Decimal("34.36"), Decimal("65.64")]
    assert sum(fees) == order.service_fee == Decimal("100.00")


@pytest.mark.parametrize("costs", [[Decimal(1)] * 3, [Decimal("0.01"), Decimal("999.99")], [Decimal(0), Decimal(0)]])
def test_fee_shares_always_add_up_to_the_fee(costs: list[Decimal]) -> None:
    fee = Decimal("10.00")
    shares = pos_args.fee_shares(fee, costs)
    assert len(shares) == len(costs)
    assert sum(shares) == (fee if sum(costs) else 0)


def test_reference_notes_instructions_and_an_explicit_currency_are_carried() -> None:
    order = pos_args.pos_order(tevo_order(
        "office_sale_eticket", reference="PO-88121", currency="cad", shipping="12.50",
        instructions="Leave at the box office", notes=["Buyer asked for aisle", {"content": "VIP"}, {"id": 3}, ""],
    ))
    assert (order.reference, order.currency) == ("PO-88121", "CAD")
    assert order.notes == ("Leave at the box office", "Buyer asked for aisle", "VIP")
    assert order.shipping == Shipping("Eticket", Decimal("12.50"), "", "CAD")
    assert {line.currency for line in order.items} == {"CAD"}


def test_an_order_without_shipments_or_currency_is_usd_with_no_shipping() -> None:
    order = pos_args.pos_order(tevo_order("office_sale_eticket", shipments=[], currency=None, notes=None))
    assert (order.currency, order.shipping, order.notes) == (DEFAULT_CURRENCY, None, ())


def test_an_order_built_the_version_1_way_gets_the_defaults() -> None:
    order = Order(1, pos_args.pos_buyer(tevo_order("office_sale_eticket")), (), Decimal(0))
    assert (order.oid, order.reference, order.currency, order.service_fee, order.shipping, order.notes) == (
        "", "", "USD", Decimal(0), None, ())


def test_the_sqlite_pos_invoice_row_keeps_the_order_number_reference_and_currency(tmp_path: Path) -> None:
    database = tmp_path / "pos.sqlite3"
    store.init_db(database)
    with store.connect(database) as conn:
        store.upsert_ticket_groups(conn, contract_inventory(tmp_path / "pdfs"))
    order = pos_args.pos_order(tevo_order("client_sale_fraud_approved", reference="PO-1", currency="EUR"))
    with PluginHost("sqlite_pos", SqlitePos(SqlitePos.Config(database=database))) as host:
        host.call_sync("pos_create_invoice", order=order, customer=None)
    conn = sqlite3.connect(database)
    try:
        row = conn.execute("SELECT tevo_order_id, oid, reference, currency, total FROM invoices").fetchall()
    finally:
        conn.close()
    assert row == [(402133, "73425-402133", "PO-1", "EUR", "1283.7")]


def test_an_older_sqlite_pos_database_gains_the_new_invoice_columns(tmp_path: Path) -> None:
    database = tmp_path / "old.sqlite3"
    conn = sqlite3.connect(database)
    conn.executescript("CREATE TABLE invoices (id INTEGER PRIMARY KEY, tevo_order_id INTEGER UNIQUE,"
                       " customer_id INTEGER NULL, buyer TEXT, total TEXT, created_at TEXT);"
                       "INSERT INTO invoices VALUES (1, 7, NULL, 'Ticket Evolution', '10.0', 'then');")
    conn.close()
    store.init_db(database)
    store.init_db(database)  # twice: the second start finds the columns there
    conn = sqlite3.connect(database)
    try:
        rows = conn.execute("SELECT tevo_order_id, oid, reference, currency FROM invoices").fetchall()
    finally:
        conn.close()
    assert rows == [(7, None, None, None)]


def test_the_csv_pos_invoice_lines_keep_fees_currency_order_number_and_reference(tmp_path: Path) -> None:
    from tevo_bridge_csv_pos import CsvPos
    from tevo_bridge_csv_pos.files import INVOICES, CsvFolder

    folder = CsvFolder(tmp_path)
    folder.write("inventory.csv", [row.to_csv() for row in contract_inventory(tmp_path)])
    # An invoices.csv from before contract 2: its rows read on, with the new columns empty.
    (tmp_path / INVOICES).write_text("invoice_id,tevo_order_id,global_id,customer_id,buyer,total,created_at,"
                                     "remote_id,quantity,price\nINV-1,7,,,Ticket Evolution,10.0,then,90417,1,10.0\n")
    order = pos_args.pos_order(tevo_order("client_sale_fraud_approved", reference="PO-2"))
    with PluginHost("csv_pos", CsvPos(CsvPos.Config(directory=tmp_path))) as host:
        invoice = host.call_sync("pos_create_invoice", order=order, customer=None)
    rows = {r["invoice_id"]: r for r in folder.read(INVOICES)}
    assert (rows["INV-1"]["currency"], rows["INV-1"]["oid"]) == ("", "")
    new = rows[invoice.invoice_id]
    assert (new["fees"], new["currency"], new["oid"], new["reference"], new["price"]) == (
        "116.7", "USD", "73425-402133", "PO-2", "389.0")


class RecordingSqlitePos(SqlitePos):
    """The SQLite POS, keeping every order ``pos_create_invoice`` was handed."""

    invoiced: list[Order]

    @hookimpl
    def pos_create_invoice(self, order: Order, customer: Customer | None) -> Invoice:
        self.invoiced.append(order)
        return super().pos_create_invoice(order, customer)


async def test_the_worker_hands_the_pos_invoice_the_context_of_a_real_tevo_order(tmp_path: Path) -> None:
    """The pipeline end to end for one accepted order: GET from (a fake) TEvo, customer, invoice in a real POS."""
    from tests.fulfillment.fake_tevo import FakeTevo
    from tevo_bridge.config import Settings
    from tevo_bridge.pipeline.processor import OrderProcessor
    from tevo_bridge.store import AsyncStore, SqliteStore

    fake = FakeTevo()
    fake.add_order(load_fixture("orders/client_sale_fraud_approved.json") | {"reference": "PO-77", "currency": "usd"})
    database = tmp_path / "pos.sqlite3"
    store.init_db(database)
    with store.connect(database) as conn:
        store.upsert_ticket_groups(conn, contract_inventory(tmp_path / "pdfs"))
    plugin = RecordingSqlitePos(RecordingSqlitePos.Config(database=database))
    plugin.invoiced = []
    state = AsyncStore(SqliteStore(tmp_path / "state.sqlite3"))
    try:
        with PluginHost("sqlite_pos", plugin) as host:
            async with fake.client() as tevo:
                await state.ensure_order(402133, "test")
                await OrderProcessor(state, tevo, host, Settings()).process(402133)
    finally:
        state.close()
    [order] = plugin.invoiced
    assert (order.order_id, order.oid, order.reference, order.currency) == (402133, "73425-402133", "PO-77", "USD")
    assert (order.buyer.type, order.buyer.id, order.buyer.name) == ("Client", 3381027, "Megan Alvarez")
    assert (order.total, order.service_fee, order.notes) == (Decimal("1283.7"), Decimal("116.7"), ())
    assert [(i.remote_id, i.quantity, i.price, i.fees, i.currency) for i in order.items] == [
        ("88507", 3, Decimal("389.0"), Decimal("116.7"), "USD")]
    assert order.shipping == Shipping("Eticket", Decimal("0.0"), "", "USD")
