"""The POS contract suite: what every POS plugin must do, as tests a plugin author inherits.

Use it from your plugin's tests by subclassing ``PosContract`` and providing one fixture,
``pos_plugin``, that returns your plugin built over a fresh, empty store seeded with the rows of
``pos_inventory`` (a fixture of this kit)::

    from tevo_bridge.testing.contract import PosContract

    class TestMyPos(PosContract):
        @pytest.fixture
        def pos_plugin(self, tmp_path, pos_inventory):
            store = create_my_store(tmp_path, pos_inventory)
            return MyPos(MyPos.Config(store=store))

The ``pos_health`` tests (contract 2) also use ``pos_plugin_down``: your plugin built with its POS
unreachable or its credentials refused (a deleted database, a wrong token). Without that fixture
the test of the failing answer is skipped, and says so.

A plugin for a POS that is a remote service proves two more things with two more optional fixtures
(contract 2; each test is skipped, saying so, without its fixture):

- ``pos_plugin_slow``: your plugin over a POS that answers every call after at least
  ``SLOW_POS_SECONDS``. Every hook, run under a ``SLOW_BUDGET`` budget, must give up by its deadline
  (``tevo_bridge.pos.deadline.time_left()``) and raise, leaving its worker thread within ``SLOW_GRACE``.
- ``pos_plugin_late``: your plugin over a fresh store seeded like ``pos_plugin``'s, whose POS applies
  each write but loses the first answer to it (per hook and key): the hook raises, and repeating the
  call with the same key (global id, buyer id, order id, invoice id) must not write twice.

Every test calls the plugin the way the daemon does: through ``PluginHost``, in worker threads,
under the default time budgets. A test that asserts a policy rather than a rule of the contract
(the minimum price, what a physical ticket transfers as) says so; override it if your POS differs.
"""

from __future__ import annotations

import concurrent.futures
import io
import re
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, TypeVar, cast

import pytest
import structlog.testing
from pypdf import PdfReader

from tevo_bridge.pos.errors import CannotSupply, PosError, PosTimeout, VoidRefused
from tevo_bridge.pos.host import EMPTY_TICKET_FILES, PluginHost
from tevo_bridge.pos.inventory import InventoryRow
from tevo_bridge.pos.types import Buyer, Customer, Hold, HoldResult, Invoice, Item, Order, OrderEvent
from tevo_bridge.store.vocabulary import OrderState
from tevo_bridge.testing.inventory import UNKNOWN_REMOTE_ID
from tevo_bridge.testing.samples import sample_order

__all__ = ["CONCURRENCY", "REMOTE_POS_TESTS", "SLOW_BUDGET", "SLOW_GRACE", "SLOW_POS_SECONDS", "PosContract"]

#: How many threads the no-oversell tests race.
CONCURRENCY = 8

#: A ``pos_plugin_slow`` fixture's POS answers no call sooner than this, in seconds...
SLOW_POS_SECONDS = 5.0
#: ...while each hook gets this budget, so only a hook that gives up at its deadline is free in time...
SLOW_BUDGET = 0.5
#: ...and this long after the deadline to have raised and left the worker thread (generous: a loaded machine).
SLOW_GRACE = 2.0
#: The tests that need ``pos_plugin_slow`` or ``pos_plugin_late`` (skipped without them): a local POS has none.
REMOTE_POS_TESTS = (
    "test_a_slow_pos_makes_every_hook_give_up_by_its_deadline",
    "test_a_hold_whose_answer_was_lost_holds_once_when_repeated",
    "test_a_release_whose_answer_was_lost_frees_once_when_repeated",
    "test_a_customer_whose_answer_was_lost_is_created_once_when_repeated",
    "test_an_invoice_whose_answer_was_lost_sells_once_when_repeated",
    "test_a_void_whose_answer_was_lost_returns_the_tickets_once_when_repeated",
)

T = TypeVar("T")
_SEAT_RE = re.compile(r"\bSEAT\s+(\S+)")

CLIENT = Buyer("Client", 3381027, "Megan Alvarez", "megan.alvarez@example.com", "+1 617-555-0148")
OTHER_CLIENT = Buyer("Client", 4410001, "Sam Okafor", "sam.okafor@example.com", None)


def _race(count: int, action: Callable[[int], T]) -> list[T | BaseException]:
    """Run ``action(i)`` in ``count`` threads released at the same instant; results or exceptions."""
    barrier = threading.Barrier(count)
    results: list[T | BaseException] = [RuntimeError("did not run")] * count

    def run(i: int) -> None:
        barrier.wait()
        try:
            results[i] = action(i)
        except BaseException as exc:
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


class PosContract:
    """Inherit to run the contract on your plugin; provide the ``pos_plugin`` fixture."""

    # -- plumbing ------------------------------------------------------------------------------

    @pytest.fixture
    def pos_plugin(self) -> object:
        raise NotImplementedError(
            "a PosContract subclass must define a `pos_plugin` fixture returning the plugin over a "
            "fresh store seeded with the `pos_inventory` rows"
        )

    @pytest.fixture
    def pos_plugin_down(self) -> object:
        pytest.skip("define a `pos_plugin_down` fixture (the plugin with its POS unreachable or its credentials "
                    "refused) to test pos_health's failing answer")

    @pytest.fixture
    def pos(self, pos_plugin: object, make_pos_host: Callable[..., PluginHost]) -> PluginHost:
        """The plugin as the daemon sees it; building the host checks the hooks are all there."""
        return make_pos_host(pos_plugin)

    @pytest.fixture
    def groups(self, pos_inventory: Sequence[InventoryRow]) -> dict[str, InventoryRow]:
        return {row.remote_id: row for row in pos_inventory}

    @staticmethod
    def item(group: InventoryRow, quantity: int, *, price: Decimal | None = None) -> Item:
        """``quantity`` tickets of ``group`` at (by default) its minimum price; ``order`` sets the order id."""
        return Item(
            order_id=None,
            item_id=900001,
            remote_id=group.remote_id,
            quantity=quantity,
            price=group.min_price if price is None else price,
            seats=group.seats[:quantity],
            event_name=group.event,
            section=group.section,
            row=group.row,
            format=group.format,
        )

    def order(self, order_id: int, *items: Item) -> Order:
        items = tuple(replace(i, order_id=order_id) for i in items)
        return Order(
            order_id,
            Buyer("Office", 6, "Ticket Evolution"),
            items,
            total=sum((i.price * i.quantity for i in items), Decimal(0)),
        )

    @staticmethod
    def available(pos: PluginHost, remote_id: str) -> int:
        probe = Item(None, 0, remote_id, 1, Decimal(0))
        available: int = pos.call_sync("pos_check_inventory", item=probe).available
        return available

    @staticmethod
    def hold(pos: PluginHost, global_id: str, group: InventoryRow, quantity: int, **fields: Any) -> HoldResult:
        return cast(HoldResult, pos.call_sync("pos_hold", hold=Hold(global_id, group.remote_id, quantity, **fields)))

    @staticmethod
    def release(pos: PluginHost, global_id: str, group: InventoryRow, quantity: int) -> bool:
        return cast(bool, pos.call_sync("pos_release_hold", hold=Hold(global_id, group.remote_id, quantity)))

    @staticmethod
    def invoice(pos: PluginHost, order: Order, customer: Customer | None = None) -> Invoice:
        return cast(Invoice, pos.call_sync("pos_create_invoice", order=order, customer=customer))

    # -- stock -----------------------------------------------------------------------------------

    def test_a_fresh_store_has_every_group_on_hand(
        self, pos: PluginHost, pos_inventory: Sequence[InventoryRow]
    ) -> None:
        seen = {row.remote_id: self.available(pos, row.remote_id) for row in pos_inventory}
        expected = {row.remote_id: row.quantity for row in pos_inventory}
        assert seen == expected, f"pos_check_inventory on a fresh store: got {seen}, expected on-hand {expected}"

    def test_an_unknown_remote_id_is_reported_unknown_with_nothing_available(self, pos: PluginHost) -> None:
        got = pos.call_sync("pos_check_inventory", item=Item(None, 0, UNKNOWN_REMOTE_ID, 1, Decimal(1)))
        assert (got.known, got.available) == (False, 0), f"unknown remote id: got {got}, expected known=False, 0"

    # -- prices (policy: the inventory row's min_price is the floor) ---------------------------

    def test_a_price_at_the_minimum_is_acceptable(self, pos: PluginHost, groups: dict[str, InventoryRow]) -> None:
        decision = pos.call_sync("pos_accept_price", item=self.item(groups["88213"], 2))
        assert decision.acceptable, f"price {groups['88213'].min_price} equals the minimum but was refused: {decision}"

    def test_a_price_below_the_minimum_is_refused_with_a_reason(
        self, pos: PluginHost, groups: dict[str, InventoryRow]
    ) -> None:
        group = groups["88213"]
        decision = pos.call_sync("pos_accept_price", item=self.item(group, 2, price=group.min_price - Decimal("0.01")))
        assert not decision.acceptable and decision.reason, (
            f"a price under the minimum must be refused with a reason: {decision}"
        )

    def test_a_price_for_an_unknown_remote_id_is_refused(self, pos: PluginHost) -> None:
        decision = pos.call_sync("pos_accept_price", item=Item(None, 0, UNKNOWN_REMOTE_ID, 1, Decimal(1000)))
        assert not decision.acceptable, f"pricing tickets the POS does not have must be refused: {decision}"

    # -- customers -------------------------------------------------------------------------------

    def test_a_new_buyer_has_no_customer(self, pos: PluginHost) -> None:
        found = pos.call_sync("pos_find_customer", buyer=CLIENT)
        assert found is None, f"pos_find_customer found {found} in an empty store"

    def test_a_created_customer_is_found(self, pos: PluginHost) -> None:
        created = pos.call_sync("pos_create_customer", buyer=CLIENT)
        found = pos.call_sync("pos_find_customer", buyer=CLIENT)
        assert found == created, f"created {created}, then pos_find_customer returned {found}"

    def test_creating_a_customer_twice_returns_the_first(self, pos: PluginHost) -> None:
        first = pos.call_sync("pos_create_customer", buyer=CLIENT)
        second = pos.call_sync("pos_create_customer", buyer=CLIENT)
        assert second == first, f"pos_create_customer is not idempotent per buyer.id: {first} then {second}"

    def test_different_buyers_get_different_customers(self, pos: PluginHost) -> None:
        one = pos.call_sync("pos_create_customer", buyer=CLIENT)
        other = pos.call_sync("pos_create_customer", buyer=OTHER_CLIENT)
        assert one.id != other.id, f"two TEvo clients were given one customer id {one.id!r}"

    # -- holds -----------------------------------------------------------------------------------

    def test_a_hold_takes_its_tickets_out_of_stock(self, pos: PluginHost, groups: dict[str, InventoryRow]) -> None:
        group = groups["90417"]
        result = self.hold(pos, "G-1", group, 3)
        assert result.held and result.hold_id, f"pos_hold of 3 of {group.quantity} was refused: {result}"
        left = self.available(pos, group.remote_id)
        assert left == group.quantity - 3, (
            f"after pos_hold of 3 of {group.quantity}, pos_check_inventory says {left}, expected {group.quantity - 3}"
        )

    def test_a_hold_reports_what_remains_available(self, pos: PluginHost, groups: dict[str, InventoryRow]) -> None:
        result = self.hold(pos, "G-1", groups["90417"], 3)
        assert result.available == groups["90417"].quantity - 3, f"HoldResult.available after holding 3 of 10: {result}"

    def test_a_hold_of_more_than_is_available_is_refused_and_takes_nothing(
        self, pos: PluginHost, groups: dict[str, InventoryRow]
    ) -> None:
        group = groups["90422"]
        result = self.hold(pos, "G-1", group, group.quantity + 1)
        assert (result.held, result.reason) == (False, "insufficient_quantity"), f"holding too many: {result}"
        assert self.available(pos, group.remote_id) == group.quantity, "a refused hold must not change stock"

    def test_a_hold_of_an_unknown_remote_id_is_refused(self, pos: PluginHost) -> None:
        result = pos.call_sync("pos_hold", hold=Hold("G-1", UNKNOWN_REMOTE_ID, 1))
        assert (result.held, result.reason) == (False, "unknown_remote_id"), f"holding unknown tickets: {result}"

    def test_a_hold_below_the_minimum_price_is_refused(self, pos: PluginHost, groups: dict[str, InventoryRow]) -> None:
        group = groups["90417"]
        result = self.hold(pos, "G-1", group, 1, price=group.min_price - 1)
        assert (result.held, result.reason) == (False, "price_not_acceptable"), f"holding under the minimum: {result}"

    def test_repeating_a_hold_returns_the_same_hold_and_takes_nothing_more(
        self, pos: PluginHost, groups: dict[str, InventoryRow]
    ) -> None:
        group = groups["90417"]
        first = self.hold(pos, "G-1", group, 3)
        second = self.hold(pos, "G-1", group, 3)
        assert (second.held, second.hold_id) == (True, first.hold_id), f"replayed hold: {first} then {second}"
        assert self.available(pos, group.remote_id) == group.quantity - 3, "a replayed hold must not hold twice"

    def test_a_release_returns_the_tickets(self, pos: PluginHost, groups: dict[str, InventoryRow]) -> None:
        group = groups["90417"]
        self.hold(pos, "G-1", group, 3)
        assert self.release(pos, "G-1", group, 3) is True, "releasing a held hold must return True"
        assert self.available(pos, group.remote_id) == group.quantity, "a released hold must free its tickets"

    def test_a_second_release_returns_false_and_frees_nothing_more(
        self, pos: PluginHost, groups: dict[str, InventoryRow]
    ) -> None:
        group = groups["90417"]
        first, second = self.hold(pos, "G-1", group, 3), self.hold(pos, "G-2", group, 2)
        held = self.available(pos, group.remote_id)
        assert (first.held, second.held, held) == (True, True, group.quantity - 5), (
            f"pos_hold of 3 then 2 of {group.quantity} tickets: {first}, {second}; {held} available, "
            f"expected {group.quantity - 5} (a holds bug, before any release)"
        )
        assert self.release(pos, "G-1", group, 3) is True, "pos_release_hold of a held hold of 3 must return True"
        again = self.release(pos, "G-1", group, 3)
        assert again is False, f"pos_release_hold of an already released hold must return False, got {again!r}"
        left = self.available(pos, group.remote_id)
        assert left == group.quantity - 2, (
            f"after releasing hold G-1 (3 tickets) twice, with G-2 (2 tickets) still held: {left} available, "
            f"expected {group.quantity - 2}; the repeated pos_release_hold freed other tickets"
        )

    def test_releasing_an_unknown_hold_returns_false(self, pos: PluginHost, groups: dict[str, InventoryRow]) -> None:
        assert self.release(pos, "G-never", groups["90417"], 1) is False, (
            "releasing a hold never made must return False"
        )

    def test_a_released_global_id_cannot_hold_again(self, pos: PluginHost, groups: dict[str, InventoryRow]) -> None:
        group = groups["90417"]
        self.hold(pos, "G-1", group, 3)
        self.release(pos, "G-1", group, 3)
        result = self.hold(pos, "G-1", group, 3)
        assert (result.held, result.reason) == (False, "global_id_used"), (
            f"holding a released global id again: {result}"
        )

    # -- invoices --------------------------------------------------------------------------------

    def test_an_invoice_sells_its_tickets(self, pos: PluginHost, groups: dict[str, InventoryRow]) -> None:
        order = sample_order("office_sale_eticket")
        invoice = self.invoice(pos, order)
        assert invoice.created and invoice.invoice_id, f"invoicing a suppliable order: {invoice}"
        assert self.available(pos, "88213") == groups["88213"].quantity - 2, "an invoice of 2 must leave on-hand - 2"

    def test_invoicing_an_order_twice_returns_the_first_invoice_and_sells_nothing_more(
        self, pos: PluginHost, groups: dict[str, InventoryRow]
    ) -> None:
        order = sample_order("office_sale_eticket")
        first = self.invoice(pos, order)
        second = self.invoice(pos, order)
        assert (second.invoice_id, second.created) == (first.invoice_id, False), f"replayed invoice: {first}, {second}"
        assert self.available(pos, "88213") == groups["88213"].quantity - 2, "a replayed invoice sold again"

    def test_an_invoice_for_a_client_takes_the_customer(self, pos: PluginHost, groups: dict[str, InventoryRow]) -> None:
        order = sample_order("client_sale_fraud_approved")
        customer = pos.call_sync("pos_create_customer", buyer=order.buyer)
        invoice = self.invoice(pos, order, customer)
        assert invoice.created, f"invoicing a client sale with its customer: {invoice}"

    def test_an_invoice_consumes_its_hold_instead_of_taking_stock_twice(
        self, pos: PluginHost, groups: dict[str, InventoryRow]
    ) -> None:
        group = groups["91508"]
        self.hold(pos, "G-OI", group, 2)
        self.invoice(pos, sample_order("mobile_transfer_tbd", global_id="G-OI"))
        assert self.available(pos, group.remote_id) == group.quantity - 2, "hold + invoice of the same 2 tickets took 4"

    def test_releasing_an_invoiced_hold_frees_nothing(self, pos: PluginHost, groups: dict[str, InventoryRow]) -> None:
        group = groups["91508"]
        self.hold(pos, "G-OI", group, 2)
        self.invoice(pos, sample_order("mobile_transfer_tbd", global_id="G-OI"))
        released = self.release(pos, "G-OI", group, 2)
        assert (released, self.available(pos, group.remote_id)) == (False, group.quantity - 2), (
            "releasing an invoiced hold must return False and keep the sold tickets sold"
        )

    def test_an_invoice_beyond_stock_raises_cannot_supply_and_sells_nothing(
        self, pos: PluginHost, groups: dict[str, InventoryRow]
    ) -> None:
        group = groups["90422"]
        with pytest.raises(PosError) as raised:
            self.invoice(pos, self.order(1, self.item(group, group.quantity + 1)))
        assert isinstance(raised.value.original, CannotSupply), (
            f"pos_create_invoice of {group.quantity + 1} of {group.quantity}: expected OutOfStock, "
            f"got {raised.value.original!r}"
        )
        left = self.available(pos, group.remote_id)
        assert left == group.quantity, f"a refused pos_create_invoice changed stock: {left} left of {group.quantity}"

    def test_an_invoice_of_an_unknown_remote_id_raises_cannot_supply(self, pos: PluginHost) -> None:
        item = Item(None, 1, UNKNOWN_REMOTE_ID, 1, Decimal(100))
        with pytest.raises(PosError) as raised:
            self.invoice(pos, self.order(1, item))
        assert isinstance(raised.value.original, CannotSupply), (
            f"expected UnknownRemoteId, got {raised.value.original!r}"
        )

    def test_a_multi_item_invoice_is_all_or_nothing(self, pos: PluginHost, groups: dict[str, InventoryRow]) -> None:
        self.invoice(pos, self.order(1, self.item(groups["90422"], 1)))  # 90422 now has 3 of the 4 it needs
        with pytest.raises(PosError):
            self.invoice(pos, sample_order("multi_item_fedex"))
        assert self.available(pos, "90417") == groups["90417"].quantity, "a failed invoice sold its other item"

    # -- voids (contract 2) ------------------------------------------------------------------------

    @staticmethod
    def void(pos: PluginHost, order: Order, invoice_id: str, reason: str = "canceled at TEvo (canceled)") -> None:
        """Void an invoice as the daemon does when TEvo cancels an invoiced order; skips without the hook."""
        if not pos.has_hook("pos_void_invoice"):
            pytest.skip("the plugin does not implement the optional pos_void_invoice (every cancel of an invoiced "
                        "order then goes to a person)")
        pos.call_sync("pos_void_invoice", order=order, invoice_id=invoice_id, reason=reason)

    def test_a_void_puts_the_invoices_tickets_back_on_sale(
        self, pos: PluginHost, groups: dict[str, InventoryRow]
    ) -> None:
        order = sample_order("office_sale_eticket")
        before = self.available(pos, "88213")
        invoice = self.invoice(pos, order)
        self.void(pos, order, invoice.invoice_id)
        after = self.available(pos, "88213")
        assert after == before, (
            f"pos_check_inventory of 88213: {before} before the sale of {order.items[0].quantity}, {after} after "
            f"voiding invoice {invoice.invoice_id}; a void must put exactly the sold tickets back on sale"
        )

    def test_voiding_twice_is_one_void_and_no_error(self, pos: PluginHost, groups: dict[str, InventoryRow]) -> None:
        group = groups["90417"]
        first = self.order(8101, self.item(group, 3))
        invoice = self.invoice(pos, first)
        self.void(pos, first, invoice.invoice_id)
        self.invoice(pos, self.order(8102, self.item(group, 4)))  # sold after the void: must stay sold
        self.void(pos, first, invoice.invoice_id)  # repeated (a retry after a lost answer): no error
        left = self.available(pos, group.remote_id)
        assert left == group.quantity - 4, (
            f"{group.quantity} on hand, 3 sold then voided twice, 4 sold to another order: {left} available, "
            f"expected {group.quantity - 4}; a repeated void of {invoice.invoice_id} must change nothing"
        )

    def test_voiding_an_invoice_that_consumed_a_hold_returns_the_tickets_once(
        self, pos: PluginHost, groups: dict[str, InventoryRow]
    ) -> None:
        group = groups["91508"]
        self.hold(pos, "G-OI-void", group, 2)
        order = sample_order("mobile_transfer_tbd", global_id="G-OI-void")
        invoice = self.invoice(pos, order)
        self.void(pos, order, invoice.invoice_id)
        released = self.release(pos, "G-OI-void", group, 2)
        left = self.available(pos, group.remote_id)
        assert (released, left) == (False, group.quantity), (
            f"hold 2 of {group.quantity}, invoice consuming it, void, then release the hold: released={released}, "
            f"{left} available; expected the release to free nothing (False) and all {group.quantity} on sale"
        )

    def test_voiding_an_invoice_the_pos_never_made_is_refused(
        self, pos: PluginHost, groups: dict[str, InventoryRow]
    ) -> None:
        order = sample_order("office_sale_eticket")
        with pytest.raises(PosError) as raised:
            self.void(pos, order, "INV-never-made-404")
        assert isinstance(raised.value.original, VoidRefused), (
            f"voiding an invoice that does not exist must raise VoidRefused (the order goes to a person), "
            f"not report a void that did not happen: got {raised.value.original!r}"
        )
        assert self.available(pos, "88213") == groups["88213"].quantity, "a refused void changed stock"

    # -- one arbiter: order reservations and checkout holds share the stock --------------------------

    @staticmethod
    def reserve(pos: PluginHost, order_id: int, item_id: int, group: InventoryRow, quantity: int) -> HoldResult:
        """The daemon's reservation for a TEvo order's item, made before it accepts the order."""
        hold = Hold(f"order-{order_id}-item-{item_id}-r0", group.remote_id, quantity, group.min_price,
                    expires_at=datetime.now(UTC) + timedelta(minutes=30), order_id=order_id)
        return cast(HoldResult, pos.call_sync("pos_hold", hold=hold))

    def test_a_checkout_hold_cannot_take_tickets_an_order_reserved(
        self, pos: PluginHost, groups: dict[str, InventoryRow]
    ) -> None:
        group = groups["91508"]
        reserved = self.reserve(pos, 500001, 1, group, group.quantity)
        checkout = self.hold(pos, "G-after-reservation", group, 1)
        assert (reserved.held, checkout.held, checkout.reason) == (True, False, "insufficient_quantity"), (
            f"an order reserved all {group.quantity} tickets, then a checkout hold asked for 1: "
            f"reservation {reserved}, checkout {checkout}; both buyers would be told yes"
        )

    def test_an_order_cannot_reserve_tickets_a_checkout_holds(
        self, pos: PluginHost, groups: dict[str, InventoryRow]
    ) -> None:
        group = groups["91508"]
        checkout = self.hold(pos, "G-before-reservation", group, group.quantity)
        reserved = self.reserve(pos, 500002, 1, group, 1)
        assert (checkout.held, reserved.held, reserved.reason) == (True, False, "insufficient_quantity"), (
            f"a checkout held all {group.quantity} tickets, then an order reserved 1: "
            f"checkout {checkout}, reservation {reserved}; both buyers would be told yes"
        )

    def test_racing_reservations_and_checkout_holds_take_the_last_tickets_once(
        self, pos: PluginHost, groups: dict[str, InventoryRow]
    ) -> None:
        group = groups["91508"]  # every racer wants all of it: exactly one may win
        results = _race(CONCURRENCY, lambda i: (
            self.reserve(pos, 600000 + i, 1, group, group.quantity) if i % 2
            else self.hold(pos, f"G-mixed-{i}", group, group.quantity)
        ))
        held = sum(isinstance(r, HoldResult) and r.held for r in results)
        assert (held, self.available(pos, group.remote_id)) == (1, 0), (
            f"{CONCURRENCY} racing reservations and checkout holds for all {group.quantity} tickets: "
            f"{held} held; {results}"
        )

    def test_an_invoice_consumes_each_items_reservation(
        self, pos: PluginHost, groups: dict[str, InventoryRow]
    ) -> None:
        order = sample_order("multi_item_fedex")
        items = []
        for item in order.items:
            result = self.reserve(pos, order.order_id, item.item_id, groups[item.remote_id], item.quantity)
            assert result.held, f"reserving {item.quantity} of {item.remote_id}: {result}"
            items.append(replace(item, global_id=f"order-{order.order_id}-item-{item.item_id}-r0"))
        self.invoice(pos, replace(order, items=tuple(items)))
        left = {i.remote_id: self.available(pos, i.remote_id) for i in order.items}
        expected = {i.remote_id: groups[i.remote_id].quantity - i.quantity for i in order.items}
        assert left == expected, f"reserve + invoice of each item took stock twice: {left}, expected {expected}"
        released = [self.release(pos, i.global_id or "", groups[i.remote_id], i.quantity) for i in items]
        assert released == [False] * len(items), "releasing a reservation its invoice consumed freed sold tickets"

    def test_a_hold_stops_counting_once_it_lapses(self, pos: PluginHost, groups: dict[str, InventoryRow]) -> None:
        group = groups["91508"]
        lapses = datetime.now(UTC) + timedelta(seconds=0.5)
        held = self.hold(pos, "G-lapsing", group, group.quantity, expires_at=lapses)
        assert held.held and self.available(pos, group.remote_id) == 0, f"holding all tickets until {lapses}: {held}"
        deadline = time.monotonic() + 10
        while self.available(pos, group.remote_id) != group.quantity and time.monotonic() < deadline:
            time.sleep(0.05)
        assert self.available(pos, group.remote_id) == group.quantity, "a hold past its expires_at still counts"
        again = self.hold(pos, "G-lapsing", group, group.quantity, expires_at=lapses)
        assert (again.held, again.reason) == (False, "global_id_used"), f"a lapsed hold answered a replay: {again}"

    # -- holds in batches (pos_hold_many, optional) ----------------------------------------------

    @staticmethod
    def hold_many(pos: PluginHost, holds: Sequence[Hold]) -> list[HoldResult]:
        if not pos.has_hook("pos_hold_many"):
            pytest.skip("the plugin does not implement the optional pos_hold_many (checkout holds go one by one)")
        answers = pos.call_sync("pos_hold_many", holds=list(holds))
        failed = [(hold.global_id, answer) for hold, answer in zip(holds, answers, strict=True)
                  if not isinstance(answer, HoldResult)]
        assert not failed, f"pos_hold_many failed holds it should have answered: {failed}"
        return cast(list[HoldResult], answers)

    def test_a_batch_of_holds_answers_each_as_pos_hold_would(
        self, pos: PluginHost, groups: dict[str, InventoryRow]
    ) -> None:
        ten, four = groups["90417"], groups["90422"]
        answers = self.hold_many(pos, [
            Hold("G-b1", ten.remote_id, 3),
            Hold("G-b2", four.remote_id, four.quantity + 1),
            Hold("G-b3", UNKNOWN_REMOTE_ID, 1),
            Hold("G-b4", ten.remote_id, 1, price=ten.min_price - 1),
        ])
        got = [(a.held, a.reason) for a in answers]
        assert got == [(True, None), (False, "insufficient_quantity"), (False, "unknown_remote_id"),
                       (False, "price_not_acceptable")], f"pos_hold_many's answers, in order: {answers}"
        assert answers[0].hold_id and answers[0].available == ten.quantity - 3, f"the held hold: {answers[0]}"
        stock = (self.available(pos, ten.remote_id), self.available(pos, four.remote_id))
        assert stock == (ten.quantity - 3, four.quantity), f"stock after the batch: {stock}, only G-b1 holds 3"

    def test_holds_of_one_batch_never_oversell(self, pos: PluginHost, groups: dict[str, InventoryRow]) -> None:
        group = groups["90417"]  # 10 on hand; four holds of 3 in one call: the first three win
        answers = self.hold_many(pos, [Hold(f"G-b{i}", group.remote_id, 3) for i in range(4)])
        assert [a.held for a in answers] == [True, True, True, False], f"four holds of 3 of 10 in one call: {answers}"
        assert answers[3].reason == "insufficient_quantity", f"the fourth hold: {answers[3]}"
        assert self.available(pos, group.remote_id) == 1, "holds of one pos_hold_many call oversold"

    def test_a_hold_repeated_in_a_later_batch_or_alone_is_the_same_hold(
        self, pos: PluginHost, groups: dict[str, InventoryRow]
    ) -> None:
        group = groups["90417"]
        first = self.hold_many(pos, [Hold("G-b1", group.remote_id, 3)])[0]
        again = self.hold_many(pos, [Hold("G-b1", group.remote_id, 3), Hold("G-b2", group.remote_id, 2)])
        alone = self.hold(pos, "G-b1", group, 3)
        assert {first.hold_id, again[0].hold_id, alone.hold_id} == {first.hold_id} and first.held, (
            f"G-b1 held in a batch, then again in a batch, then alone: {first}, {again[0]}, {alone}"
        )
        assert self.available(pos, group.remote_id) == group.quantity - 5, "a repeated hold held twice"

    def test_racing_batches_and_single_holds_never_oversell(
        self, pos: PluginHost, groups: dict[str, InventoryRow]
    ) -> None:
        group = groups["90417"]  # 10 on hand; racers want 3 each, half through pos_hold_many: exactly 3 can win
        self.hold_many(pos, [])  # skips here when the plugin has no pos_hold_many

        def one(i: int) -> HoldResult:
            hold = Hold(f"G-race-{i}", group.remote_id, 3)
            return self.hold_many(pos, [hold])[0] if i % 2 else cast(HoldResult, pos.call_sync("pos_hold", hold=hold))

        results = _race(CONCURRENCY, one)
        held = sum(isinstance(r, HoldResult) and r.held for r in results)
        remaining = self.available(pos, group.remote_id)
        assert (held, remaining) == (3, 1), f"{CONCURRENCY} racing holds of 3 of 10: {held} held, {remaining} left; {results}"

    # -- no oversell under concurrency -----------------------------------------------------------

    def test_racing_holds_never_oversell(self, pos: PluginHost, groups: dict[str, InventoryRow]) -> None:
        group = groups["90417"]  # 10 on hand; 8 racers want 3 each: exactly 3 can win
        results = _race(CONCURRENCY, lambda i: self.hold(pos, f"G-race-{i}", group, 3))
        held = sum(isinstance(r, HoldResult) and r.held for r in results)
        remaining = self.available(pos, group.remote_id)
        assert (held, remaining) == (3, 1), (
            f"{CONCURRENCY} racing holds of 3 of 10: {held} held, {remaining} left; {results}"
        )

    def test_racing_invoices_never_oversell(self, pos: PluginHost, groups: dict[str, InventoryRow]) -> None:
        group = groups["90417"]
        results = _race(CONCURRENCY, lambda i: self.invoice(pos, self.order(7000 + i, self.item(group, 3))))
        created = sum(isinstance(r, Invoice) and r.created for r in results)
        refused = sum(isinstance(r, PosError) and isinstance(r.original, CannotSupply) for r in results)
        remaining = self.available(pos, group.remote_id)
        assert (created, refused, remaining) == (3, CONCURRENCY - 3, 1), (
            f"{CONCURRENCY} racing invoices of 3 of 10: {created} invoiced, {refused} refused, "
            f"{remaining} left; {results}"
        )

    def test_racing_repeats_of_one_hold_hold_once(self, pos: PluginHost, groups: dict[str, InventoryRow]) -> None:
        group = groups["90417"]
        results = _race(CONCURRENCY, lambda i: self.hold(pos, "G-same", group, 3))
        hold_ids = {r.hold_id for r in results if isinstance(r, HoldResult) and r.held}
        remaining = self.available(pos, group.remote_id)
        assert (len(hold_ids), remaining) == (1, group.quantity - 3), (
            f"{CONCURRENCY} racing repeats of one hold: hold ids {hold_ids}, {remaining} left; {results}"
        )

    # -- files and transfers ---------------------------------------------------------------------

    def test_ticket_files_are_pdfs_with_one_page_per_seat(self, pos: PluginHost) -> None:
        order = sample_order("office_sale_eticket")
        item = order.items[0]
        files = pos.call_sync("pos_ticket_files", order=order, item=item)
        assert files, "pos_ticket_files returned nothing for an e-ticket group with a PDF"
        found: dict[str, str] = {}
        for file in files:
            pages = PdfReader(io.BytesIO(file.pdf)).pages
            for seat, page in file.seat_pages.items():
                assert 1 <= page <= len(pages), f"{file.name}: seat {seat} on page {page} of {len(pages)}"
                found[seat] = " ".join(_SEAT_RE.findall(pages[page - 1].extract_text() or ""))
        expected = {seat: seat for seat in item.seats}
        assert found == expected, f"seat -> text 'SEAT n' on its page: got {found}, expected {expected}"

    def test_ticket_files_skip_cover_and_advert_pages(self, pos: PluginHost) -> None:
        order = sample_order("office_sale_eticket")
        files = pos.call_sync("pos_ticket_files", order=order, item=order.items[0])
        pages = sorted(page for file in files for page in file.seat_pages.values())
        assert pages == [2, 3], f"seats 5 and 6 are on pages 2 and 3 (page 1 is a cover): got {pages}"

    def test_physical_tickets_have_no_files(self, pos: PluginHost) -> None:
        order = sample_order("multi_item_fedex")
        files = pos.call_sync("pos_ticket_files", order=order, item=order.items[0])
        assert files is None, f"a group without a PDF must return None, got {files}"

    def test_a_mobile_transfer_gives_the_claim_links_of_the_items_seats(
        self, pos: PluginHost, groups: dict[str, InventoryRow]
    ) -> None:
        if not pos.has_hook("pos_mobile_transfer"):
            pytest.skip("the plugin does not implement the optional pos_mobile_transfer")
        order = sample_order("mobile_transfer_tbd")
        transfer = pos.call_sync("pos_mobile_transfer", order=order, item=order.items[0])
        links = groups["91508"].transfer_links[:2]  # seats 9 and 10 of 9-12
        assert transfer is not None and (transfer.transfer_type, transfer.links) == ("TMMobileLink", links), (
            f"TM mobile tickets with claim links: got {transfer}, expected TMMobileLink with {links}"
        )

    # -- health (contract 2) ------------------------------------------------------------------

    def test_health_of_a_working_pos_is_ok(self, pos: PluginHost) -> None:
        if not pos.has_hook("pos_health"):
            pytest.skip("the plugin does not implement the optional pos_health (its health is unknown)")
        answer = pos.health_sync()
        assert answer.ok is True, f"pos_health on a working POS answered {answer}, expected PosHealth(ok=True)"

    def test_health_of_a_pos_that_is_down_is_unhealthy_within_the_budget(
        self, pos_plugin_down: object, make_pos_host: Callable[..., PluginHost]
    ) -> None:
        pos = make_pos_host(pos_plugin_down)
        if not pos.has_hook("pos_health"):
            pytest.skip("the plugin does not implement the optional pos_health (its health is unknown)")
        answer = pos.health_sync()
        assert answer.ok is False, f"pos_health with the POS down answered {answer}, expected ok=False"
        # The host answers "no answer" for a hook that hangs: the plugin itself must say what is wrong.
        assert answer.reason and not answer.reason.startswith("pos_health: no answer"), (
            f"pos_health with the POS down must answer within its {pos.budgets['pos_health']:g} s budget "
            f"with a reason, not hang: got {answer}"
        )

    # -- contract 2: prices per ticket, no empty file lists, events that never raise ------------------

    def test_a_hold_of_several_tickets_at_the_minimum_per_ticket_is_held(
        self, pos: PluginHost, groups: dict[str, InventoryRow]
    ) -> None:
        group = groups["90417"]
        result = self.hold(pos, "G-per-ticket", group, 3, price=group.min_price)
        assert result.held, (
            f"pos_hold of 3 tickets at {group.min_price} each, the minimum per ticket, was refused: {result}; "
            f"hold.price is per ticket: compare it to the per-ticket minimum, not to 3 x {group.min_price} = "
            f"{3 * group.min_price}"
        )

    def test_a_hold_of_several_tickets_below_the_minimum_per_ticket_is_refused(
        self, pos: PluginHost, groups: dict[str, InventoryRow]
    ) -> None:
        group = groups["90417"]
        price = group.min_price - Decimal("0.01")
        result = self.hold(pos, "G-per-ticket", group, 3, price=price)
        assert (result.held, result.reason) == (False, "price_not_acceptable"), (
            f"pos_hold of 3 tickets at {price} each, under the {group.min_price} minimum per ticket: {result}; "
            f"the hold's total {3 * price} is over the minimum, but hold.price is per ticket"
        )

    def test_ticket_files_are_none_or_files_never_an_empty_list(
        self, pos: PluginHost, pos_inventory: Sequence[InventoryRow]
    ) -> None:
        """``[]`` is no answer: ``None`` is "no files", ``TicketsNotReady`` is "not yet" (the host refuses ``[]``)."""
        empty = []
        for group in pos_inventory:  # every group as an e-ticket item: also those whose PDF is not there (yet)
            item = replace(self.item(group, min(2, group.quantity)), needs_eticket=True)
            order = self.order(800001, item)
            try:
                pos.call_sync("pos_ticket_files", order=order, item=order.items[0])
            except PosError as exc:
                if str(exc.original) == EMPTY_TICKET_FILES:
                    empty.append(group.remote_id)
        assert not empty, (
            f"pos_ticket_files returned [] for the e-ticket items of {', '.join(empty)}: return None when the POS "
            f"has no files for an item, or raise TicketsNotReady when they will come later (the order then waits)"
        )

    def test_order_events_never_raise(self, pos: PluginHost) -> None:
        """Every state the daemon can report, each with the state before it; without the hook nothing can raise."""
        states = list(OrderState)
        raised = []
        for previous, state in zip([None, *states[:-1]], states, strict=True):
            event = OrderEvent(order_id=402117, state=state.value, previous_state=previous and previous.value,
                               reason=f"contract check: {state.value}", details={"attempt": 1, "item_ids": [812406]})
            try:
                pos.call_sync("pos_order_event", event=event)
            except PosError as exc:
                raised.append(f"{previous and previous.value} -> {state.value}: {exc.original!r}")
        assert not raised, (
            f"pos_order_event raised for {len(raised)} of {len(states)} transitions (a notification must never "
            f"raise: catch and log inside the hook): " + "; ".join(raised)
        )

    def test_startup_and_shutdown_run_cleanly_around_the_hooks(
        self, pos_plugin: object, groups: dict[str, InventoryRow]
    ) -> None:
        """A host starts the plugin (``pos_startup``; a failure raises ``PluginStartError`` naming the hook), uses
        it, and closes it (``pos_shutdown``, whose failure the host only logs: caught here)."""
        host = PluginHost(type(pos_plugin).__name__, pos_plugin)
        try:
            if not (host.has_hook("pos_startup") or host.has_hook("pos_shutdown")):
                pytest.skip("the plugin implements neither of the optional pos_startup and pos_shutdown")
            group = groups["90417"]
            seen = self.available(host, group.remote_id)
            assert seen == group.quantity, (
                f"after pos_startup, pos_check_inventory of {group.remote_id} said {seen}, expected {group.quantity}"
            )
        finally:
            with structlog.testing.capture_logs() as logs:
                host.close()
        failed = [entry for entry in logs if entry["event"] in ("pos_shutdown_failed", "pos_hook_timeout")]
        assert not failed, f"pos_shutdown failed (or overran its budget) when the host closed: {failed}"

    # -- contract 2: a POS that is a remote service: slow, or its answer lost -------------------------

    @pytest.fixture
    def pos_plugin_slow(self) -> object:
        pytest.skip(f"define a `pos_plugin_slow` fixture (the plugin over a POS answering every call after at least "
                    f"{SLOW_POS_SECONDS:g} s) to test that each hook gives up by its deadline")

    @pytest.fixture
    def pos_plugin_late(self) -> object:
        pytest.skip("define a `pos_plugin_late` fixture (the plugin over a fresh store seeded with `pos_inventory`, "
                    "whose POS applies each write but loses its first answer) to test that a repeat writes once")

    def slow_calls(self, groups: dict[str, InventoryRow]) -> dict[str, dict[str, Any]]:
        """Each hook that asks the POS, with arguments the contract's store would answer at once."""
        group = groups["90417"]
        order = sample_order("office_sale_eticket")
        mobile = sample_order("mobile_transfer_tbd")
        calls: dict[str, dict[str, Any]] = {
            "pos_check_inventory": {"item": self.item(group, 1)},
            "pos_accept_price": {"item": self.item(group, 1)},
            "pos_find_customer": {"buyer": CLIENT},
            "pos_create_customer": {"buyer": CLIENT},
            "pos_hold": {"hold": Hold("G-slow", group.remote_id, 1, group.min_price)},
            "pos_release_hold": {"hold": Hold("G-slow", group.remote_id, 1)},
            "pos_create_invoice": {"order": order, "customer": None},
            "pos_ticket_files": {"order": order, "item": order.items[0]},
            "pos_mobile_transfer": {"order": mobile, "item": mobile.items[0]},
            "pos_health": {},
        }
        return calls

    def test_a_slow_pos_makes_every_hook_give_up_by_its_deadline(
        self, pos_plugin_slow: object, make_pos_host: Callable[..., PluginHost], groups: dict[str, InventoryRow]
    ) -> None:
        calls = self.slow_calls(groups)
        pos = make_pos_host(pos_plugin_slow, dict.fromkeys(calls, SLOW_BUDGET))
        for hook, kwargs in calls.items():
            if not pos.has_hook(hook):
                continue
            try:
                pos.call_sync(hook, **kwargs)
                continue  # answered in time without waiting for the POS (from a cache, say): nothing hung
            except PosError:
                continue  # gave up and raised by its deadline: the worker thread is already free
            except PosTimeout as timeout:
                call = timeout.future
            done, _ = concurrent.futures.wait([call], timeout=SLOW_GRACE)
            assert done, (
                f"{hook} was still waiting for a POS that answers after {SLOW_POS_SECONDS:g} s, {SLOW_GRACE:g} s past "
                f"its {SLOW_BUDGET:g} s deadline: take the POS call's timeout from "
                f"tevo_bridge.pos.deadline.time_left(), so the worker thread is free when the host gives up"
            )
            assert call.exception() is not None, (
                f"{hook} answered {call.result()!r} after its {SLOW_BUDGET:g} s deadline, when the host had given "
                f"up and its answer was lost: give up at tevo_bridge.pos.deadline.time_left() and raise"
            )

    @staticmethod
    def first_try(call: Callable[[], T]) -> T | str:
        """The first call of a write whose answer the POS loses: the plugin raises (or, retrying, answers)."""
        try:
            return call()
        except PosError as exc:
            return f"raised {exc.original!r}"

    def answered(self, call: Callable[[], T]) -> T:
        """A write made until the plugin hears its answer: once lost, then repeated with the same key."""
        first = self.first_try(call)
        return call() if isinstance(first, str) else first

    def test_a_hold_whose_answer_was_lost_holds_once_when_repeated(
        self, pos_plugin_late: object, make_pos_host: Callable[..., PluginHost], groups: dict[str, InventoryRow]
    ) -> None:
        pos = make_pos_host(pos_plugin_late)
        group = groups["90417"]
        first = self.first_try(lambda: self.hold(pos, "G-late", group, 3))
        again = self.hold(pos, "G-late", group, 3)
        left = self.available(pos, group.remote_id)
        assert (again.held, left) == (True, group.quantity - 3), (
            f"pos_hold of 3 of {group.quantity} whose first answer was lost ({first}), repeated with the same "
            f"global_id: {again}, {left} available, expected held and {group.quantity - 3}"
        )

    def test_a_release_whose_answer_was_lost_frees_once_when_repeated(
        self, pos_plugin_late: object, make_pos_host: Callable[..., PluginHost], groups: dict[str, InventoryRow]
    ) -> None:
        pos = make_pos_host(pos_plugin_late)
        group = groups["90417"]
        holds = [self.answered(lambda: self.hold(pos, "G-late", group, 3)),
                 self.answered(lambda: self.hold(pos, "G-kept", group, 2))]
        first = self.first_try(lambda: self.release(pos, "G-late", group, 3))
        again = self.release(pos, "G-late", group, 3)
        left = self.available(pos, group.remote_id)
        assert left == group.quantity - 2, (
            f"holds of 3 (G-late) and 2 (G-kept) of {group.quantity}: {holds}; pos_release_hold of G-late whose first "
            f"answer was lost ({first}), repeated: {again!r}; {left} available, expected {group.quantity - 2}"
        )

    def test_a_customer_whose_answer_was_lost_is_created_once_when_repeated(
        self, pos_plugin_late: object, make_pos_host: Callable[..., PluginHost]
    ) -> None:
        pos = make_pos_host(pos_plugin_late)
        first = self.first_try(lambda: pos.call_sync("pos_create_customer", buyer=CLIENT))
        again = pos.call_sync("pos_create_customer", buyer=CLIENT)
        found = pos.call_sync("pos_find_customer", buyer=CLIENT)
        assert found == again and (isinstance(first, str) or first == again), (
            f"pos_create_customer for TEvo client {CLIENT.id} whose first answer was lost ({first}), repeated: "
            f"{again}; pos_find_customer then found {found}: one buyer, one customer"
        )

    def test_an_invoice_whose_answer_was_lost_sells_once_when_repeated(
        self, pos_plugin_late: object, make_pos_host: Callable[..., PluginHost], groups: dict[str, InventoryRow]
    ) -> None:
        pos = make_pos_host(pos_plugin_late)
        order = sample_order("office_sale_eticket")
        first = self.first_try(lambda: self.invoice(pos, order))
        again = self.invoice(pos, order)
        left = self.available(pos, "88213")
        expected = groups["88213"].quantity - 2
        assert left == expected and (isinstance(first, str) or first.invoice_id == again.invoice_id), (
            f"pos_create_invoice of order {order.order_id} (2 of {groups['88213'].quantity} tickets) whose first answer "
            f"was lost ({first}), repeated: {again}; {left} available, expected {expected}"
        )

    def test_a_void_whose_answer_was_lost_returns_the_tickets_once_when_repeated(
        self, pos_plugin_late: object, make_pos_host: Callable[..., PluginHost], groups: dict[str, InventoryRow]
    ) -> None:
        pos = make_pos_host(pos_plugin_late)
        if not pos.has_hook("pos_void_invoice"):
            pytest.skip("the plugin does not implement the optional pos_void_invoice")
        order = sample_order("office_sale_eticket")
        invoice = self.answered(lambda: self.invoice(pos, order))
        void = {"order": order, "invoice_id": invoice.invoice_id, "reason": "canceled by TEvo (contract check)"}
        first = self.first_try(lambda: pos.call_sync("pos_void_invoice", **void))
        try:
            pos.call_sync("pos_void_invoice", **void)
        except PosError as exc:
            raise AssertionError(
                f"pos_void_invoice of {invoice.invoice_id} whose first answer was lost ({first}), repeated, raised "
                f"{exc.original!r}: voiding a void invoice must return normally and change nothing"
            ) from exc
        left = self.available(pos, "88213")
        assert left == groups["88213"].quantity, (
            f"pos_void_invoice of {invoice.invoice_id} (2 of {groups['88213'].quantity} tickets) whose first answer "
            f"was lost ({first}), repeated: {left} available, expected all {groups['88213'].quantity} back on sale once"
        )

    # -- stock listing (contract 2) --------------------------------------------------------------

    def test_the_stock_list_says_what_each_group_has_available(
        self, pos: PluginHost, groups: dict[str, InventoryRow]
    ) -> None:
        if not pos.has_hook("pos_list_stock"):
            pytest.skip("the plugin does not implement the optional pos_list_stock (no rehearsal with its stock)")
        group = groups["90417"]
        self.hold(pos, "G-1", group, 3)
        listed = {s.remote_id: s for s in pos.list_stock_sync()}
        on_sale = {r for r in groups if self.available(pos, r) > 0}
        assert on_sale <= set(listed), f"pos_list_stock left out groups on sale: {sorted(on_sale - set(listed))}"
        wrong = {r: (s.available, self.available(pos, r)) for r, s in listed.items()
                 if r in groups and s.available != self.available(pos, r)}
        assert not wrong, f"pos_list_stock's available differs from pos_check_inventory's (listed, checked): {wrong}"
        seats = listed[group.remote_id].seats
        assert set(seats) <= set(group.seats) and len(seats) >= listed[group.remote_id].available, (
            f"pos_list_stock's seats of {group.remote_id} must be its seats, at least as many as are available: "
            f"got {seats}")
