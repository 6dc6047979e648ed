"""The test kit's sample data: TEvo JSON turned into hook values, and generated inventory."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from tevo_bridge.loopback.seed import seed_sqlite_pos
from tevo_bridge.pos.types import Buyer
from tevo_bridge.testing.inventory import generate_inventory
from tevo_bridge.testing.samples import sample_hold, sample_order


def test_a_client_buyer_carries_email_and_primary_phone() -> None:
    order = sample_order("client_sale_fraud_approved")
    assert order.buyer == Buyer("Client", 3381027, "Megan Alvarez", "megan.alvarez@example.com", "+1 617-555-0148")


def test_item_seats_come_from_the_ticket_group_because_tevo_leaves_item_seats_empty() -> None:
    assert sample_order("office_sale_eticket").items[0].seats == ("5", "6")


def test_money_is_decimal() -> None:
    order = sample_order("multi_item_fedex")
    assert (order.total, [i.price for i in order.items]) == (Decimal("1816.0"), [Decimal("312.0"), Decimal("298.0")])


def test_a_sample_order_can_be_renumbered_and_linked_to_a_hold() -> None:
    order = sample_order("mobile_transfer_tbd", order_id=5, global_id="G-1")
    assert (order.order_id, order.items[0].order_id, order.items[0].global_id) == (5, 5, "G-1")


def test_the_sample_hold_is_the_order_integration_fixture() -> None:
    hold = sample_hold(quantity=3)
    assert (hold.remote_id, hold.quantity, hold.price) == ("91508", 3, Decimal("415.0"))


def test_generated_inventory_is_the_same_for_the_same_seed(tmp_path: Path) -> None:
    assert generate_inventory(tmp_path, 12, seed=7) == generate_inventory(tmp_path, 12, seed=7)


def test_generated_inventory_differs_for_another_seed(tmp_path: Path) -> None:
    assert generate_inventory(tmp_path, 12, seed=7) != generate_inventory(tmp_path, 12, seed=8)


def test_seeding_a_sqlite_pos_makes_every_group_available(tmp_path: Path) -> None:
    from tevo_bridge_sqlite_pos import store

    rows = seed_sqlite_pos(tmp_path / "demo.sqlite3", tmp_path / "pdfs", groups=10, seed=1)
    with store.connect(tmp_path / "demo.sqlite3") as conn:
        stock = {s.remote_id: s.available for s in store.stock(conn, "2026-01-01")}
    assert stock == {row.remote_id: row.quantity for row in rows}
