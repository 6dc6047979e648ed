"""The buyer scenarios: explicit values, each with the outcome a correct bridge produces.

A test or the demo can say "create one of each" and compare the final state
of every order with ``Scenario.expected``, which is why the expectations live
next to the scenarios and not in the tests.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal

from tevo_bridge.sandbox.inventory import ETICKET, PHYSICAL, TM_MOBILE, TicketGroupSpec
from tevo_bridge.sandbox.orders import DEMO_CLIENTS, SHIP_TO_NAMES, ClientSpec, ItemRequest, OrderRequest


class Channel(enum.StrEnum):
    """How TEvo tells the seller about an order (docs/tevo-api.md §6, §7, §8)."""

    WEBHOOK = "webhook"
    ORDER_INTEGRATION = "order_integration"
    POLL = "poll"  # no announcement: only the bridge's poller finds the order


class Scenario(enum.StrEnum):
    OFFICE_ETICKET = "office_eticket"
    CLIENT_FRAUD_APPROVED = "client_fraud_approved"
    CLIENT_FRAUD_DECLINED = "client_fraud_declined"
    MULTI_ITEM = "multi_item"
    FEDEX = "fedex"
    LOCAL_PICKUP = "local_pickup"
    TBD_MOBILE = "tbd_mobile"
    PAGE_SELECTION = "page_selection"
    OUT_OF_STOCK = "out_of_stock"
    UNDERPRICED = "underpriced"
    OI_INVOICE = "oi_invoice"
    OI_RELEASE = "oi_release"
    OI_OUT_OF_STOCK = "oi_out_of_stock"

    @classmethod
    def _missing_(cls, value: object) -> Scenario:
        """An unknown name (a CLI option, ``POST /_sandbox/orders``) is answered with the valid ones."""
        raise ValueError(f"unknown scenario {value!r}: choose one of {', '.join(s.value for s in cls)}")

    @property
    def expected(self) -> Expectation:
        return EXPECTATIONS[self]

    @property
    def uses_order_integration(self) -> bool:
        return self.value.startswith("oi_")

    @property
    def default_channels(self) -> frozenset[Channel]:
        return frozenset({Channel.ORDER_INTEGRATION if self.uses_order_integration else Channel.WEBHOOK})


@dataclass(frozen=True)
class Expectation:
    """What a correct bridge (with a POS that mirrors the inventory) ends up with.

    ``final_state`` is the TEvo ``seller_state`` once the bridge is done, or None when
    no order is created.  FedEx reaches ``completed`` only after tracking delivers
    (the sandbox's ``fedex_transit_seconds`` or ``world.deliver_shipment``); a local
    pickup stays ``accepted`` until the seller records the handover (§5.5).
    """

    order_created: bool
    final_state: str | None
    reject_reason: str | None
    fulfilment: str  # eticket, fedex, local_pickup, mobile or none
    description: str


EXPECTATIONS: dict[Scenario, Expectation] = {
    Scenario.OFFICE_ETICKET: Expectation(True, "completed", None, "eticket", "sale to TEvo (Office 6), e-tickets"),
    Scenario.CLIENT_FRAUD_APPROVED: Expectation(
        True, "completed", None, "eticket", "website Client sale; fraud pending, later approved"),
    Scenario.CLIENT_FRAUD_DECLINED: Expectation(
        True, "rejected", "Fraudulent Order", "none", "website Client sale; fraud pending, later declined"),
    Scenario.MULTI_ITEM: Expectation(True, "completed", None, "eticket", "two ticket groups in one order"),
    Scenario.FEDEX: Expectation(True, "completed", None, "fedex", "physical tickets shipped FedEx"),
    Scenario.LOCAL_PICKUP: Expectation(True, "accepted", None, "local_pickup", "physical tickets, local pickup"),
    Scenario.TBD_MOBILE: Expectation(True, "completed", None, "mobile", "mobile transfer, type still TBD"),
    Scenario.PAGE_SELECTION: Expectation(
        True, "completed", None, "eticket", "fewer tickets than the group's PDF has pages: keep_pages must choose"),
    Scenario.OUT_OF_STOCK: Expectation(
        True, "rejected", "Tickets No Longer Available", "none", "more tickets than the POS holds"),
    Scenario.UNDERPRICED: Expectation(
        True, "rejected", "Tickets Priced Incorrectly", "none", "TEvo pays below the POS minimum"),
    Scenario.OI_INVOICE: Expectation(True, "completed", None, "eticket", "Order Integration: hold, then invoice"),
    Scenario.OI_RELEASE: Expectation(False, None, None, "none", "Order Integration: hold, then release"),
    Scenario.OI_OUT_OF_STOCK: Expectation(False, None, None, "none", "Order Integration: hold refused"),
}

class CancelAt(enum.StrEnum):
    """When TEvo cancels a scenario's order (``driver.create(..., cancel=...)``), announced by an
    ``order_canceled`` webhook: each moment is a case a seller's bridge must handle (docs/sandbox.md).

    The moment is one TEvo can see. "After the POS invoiced, before delivery" is the bridge's own timing,
    and "the POS refuses the void" the POS's: tests make those with ``POST /_sandbox/orders/{id}/cancel``.
    """

    BEFORE_INVOICE = "before_invoice"  # at once, before the seller acts: nothing sold, nothing to void
    AFTER_DELIVERY = "after_delivery"  # once TEvo says completed: the invoice voided, the delivered tickets revoked

    @classmethod
    def _missing_(cls, value: object) -> CancelAt:
        raise ValueError(f"unknown cancel moment {value!r}: choose one of {', '.join(c.value for c in cls)}")

    def check(self, scenario: Scenario) -> None:
        """``ValueError`` unless a ``scenario`` order can be canceled at this moment."""
        expected = scenario.expected
        if scenario.uses_order_integration or not expected.order_created:
            raise ValueError(f"{scenario.value} cannot be canceled: choose a scenario that creates an order without "
                             "Order Integration")
        if self is CancelAt.AFTER_DELIVERY and expected.final_state != "completed":
            raise ValueError(f"{scenario.value} never reaches completed at TEvo, so it cannot be canceled after "
                             f"delivery (it ends {expected.final_state})")

    def expect(self, expected: Expectation) -> Expectation:
        """What TEvo ends with once this cancel happened: ``canceled``."""
        return dataclasses.replace(expected, final_state="canceled", reject_reason=None,
                                   description=f"{expected.description}; canceled {self.value.replace('_', ' ')}")


# Scenarios whose seats the POS really sells; the others leave the stock as it was.
CONSUMES_STOCK = {
    Scenario.OFFICE_ETICKET, Scenario.CLIENT_FRAUD_APPROVED, Scenario.MULTI_ITEM, Scenario.FEDEX,
    Scenario.LOCAL_PICKUP, Scenario.TBD_MOBILE, Scenario.PAGE_SELECTION, Scenario.OI_INVOICE,
}


class InventoryExhausted(LookupError):
    """No listing is left that can serve the scenario."""


class NotEnoughSeats(ValueError):
    """The listing a caller named has fewer unsold seats than the quantity asked for."""


@dataclass(frozen=True)
class Pick:
    """A caller's own choice for a scenario: this listing and, optionally, this many tickets."""

    group: TicketGroupSpec
    quantity: int | None = None


# What a scenario that orders from one listing needs of it: the listing's format, and the shipment type.
SINGLE_LISTING: dict[Scenario, tuple[str, str]] = {
    Scenario.OFFICE_ETICKET: (ETICKET, "Eticket"),
    Scenario.CLIENT_FRAUD_APPROVED: (ETICKET, "Eticket"),
    Scenario.CLIENT_FRAUD_DECLINED: (ETICKET, "Eticket"),
    Scenario.FEDEX: (PHYSICAL, "FedEx"),
    Scenario.LOCAL_PICKUP: (PHYSICAL, "LocalPickup"),
    Scenario.TBD_MOBILE: (TM_MOBILE, "TBD"),
    Scenario.UNDERPRICED: (ETICKET, "Eticket"),
    Scenario.OUT_OF_STOCK: (ETICKET, "Eticket"),
    Scenario.OI_INVOICE: (ETICKET, "Eticket"),
    Scenario.OI_RELEASE: (ETICKET, "Eticket"),
    Scenario.OI_OUT_OF_STOCK: (ETICKET, "Eticket"),
}
#: The scenario a picked listing gets when the caller names none.
DEFAULT_FOR_FORMAT = {ETICKET: Scenario.OFFICE_ETICKET, PHYSICAL: Scenario.FEDEX, TM_MOBILE: Scenario.TBD_MOBILE}


class Planner:
    """Turns a scenario into an ``OrderRequest`` against the given listings, tracking sold seats."""

    def __init__(self, inventory: list[TicketGroupSpec], underpriced_factor: Decimal = Decimal("0.5"),
                 sold: Mapping[str, Iterable[str]] | None = None) -> None:
        """``sold``: seats already sold by remote id, e.g. by a sandbox run before a restart."""
        if not inventory:
            raise ValueError("the buyer driver needs at least one ticket group")
        self.inventory = list(inventory)
        self.underpriced_factor = underpriced_factor
        earlier = sold or {}
        self.sold: dict[str, set[str]] = {g.remote_id: set(earlier.get(g.remote_id, ())) for g in inventory}
        self._turn = 0

    def unsold(self, group: TicketGroupSpec) -> list[str]:
        return [s for s in group.seats if s not in self.sold[group.remote_id]]

    def plan(self, scenario: Scenario, pick: Pick | None = None) -> OrderRequest:
        self._turn += 1
        if pick is not None:
            return self._picked(scenario, pick)
        s = Scenario
        if scenario in (s.OFFICE_ETICKET, s.OI_INVOICE, s.OI_RELEASE):
            return self._single(scenario, ETICKET, "Eticket")
        if scenario in (s.CLIENT_FRAUD_APPROVED, s.CLIENT_FRAUD_DECLINED):
            client = DEMO_CLIENTS[self._turn % len(DEMO_CLIENTS)]
            return self._single(scenario, ETICKET, "Eticket", client=client)
        if scenario is s.MULTI_ITEM:
            groups = self._groups(ETICKET, need=2, count=2)
            items = [self._item(g, min(2, len(self.unsold(g))), g.wholesale_price) for g in groups]
            return self._request(scenario, items, "Eticket")
        if scenario is s.FEDEX:
            return self._single(scenario, PHYSICAL, "FedEx")
        if scenario is s.LOCAL_PICKUP:
            return self._single(scenario, PHYSICAL, "LocalPickup")
        if scenario is s.TBD_MOBILE:
            return self._single(scenario, TM_MOBILE, "TBD")
        if scenario is s.PAGE_SELECTION:
            # Order all but one seat, so a PDF of the whole group has a page too many.
            group = self._groups(ETICKET, need=3, count=1, whole=True)[0]
            return self._request(scenario, [self._item(group, len(group.seats) - 1, group.wholesale_price)],
                                 "Eticket")
        if scenario in (s.OUT_OF_STOCK, s.OI_OUT_OF_STOCK):
            # One more than the listing ever had, so no POS mirroring it can supply the order.
            group = self._groups(ETICKET, need=0, count=1)[0]
            seats = list(group.seats) + _extra_seats(group, 1)
            item = ItemRequest(group=group, quantity=len(seats), price=group.wholesale_price, seats=seats)
            return self._request(scenario, [item], "Eticket")
        if scenario is s.UNDERPRICED:
            group = self._groups(ETICKET, need=1, count=1)[0]
            price = group.wholesale_price * self.underpriced_factor
            return self._request(scenario, [self._item(group, 1, price)], "Eticket")
        raise ValueError(f"unknown scenario {scenario!r}")

    def commit(self, scenario: Scenario, request: OrderRequest) -> None:
        """Mark seats sold once the order exists (and the scenario really sells them)."""
        if scenario in CONSUMES_STOCK:
            for item in request.items:
                self.sold[item.group.remote_id].update(item.seats)

    def set_aside(self, request: OrderRequest) -> None:
        """Never offer these seats again: a hold on them ended without a clear answer."""
        for item in request.items:
            self.sold[item.group.remote_id].update(item.seats)

    def _picked(self, scenario: Scenario, pick: Pick) -> OrderRequest:
        """The scenario on the caller's listing: refused, naming the field, when that listing cannot serve it."""
        group = pick.group
        if scenario not in SINGLE_LISTING:
            raise ValueError(f"{scenario.value} picks its own listings: leave out ticket_group_id and quantity")
        fmt, shipment = SINGLE_LISTING[scenario]
        if group.format != fmt:
            raise ValueError(f"ticket_group_id {group.ticket_group_id}: {scenario.value} needs a {fmt} listing, "
                             f"and this one is {group.format}")
        if scenario in (Scenario.OUT_OF_STOCK, Scenario.OI_OUT_OF_STOCK):
            if pick.quantity is not None:
                raise ValueError(f"quantity: {scenario.value} always orders one ticket more than the listing has; "
                                 "leave it out")
            seats = list(group.seats) + _extra_seats(group, 1)
            item = ItemRequest(group=group, quantity=len(seats), price=group.wholesale_price, seats=seats)
            return self._request(scenario, [item], shipment)
        unsold = self.unsold(group)
        quantity = min(2, len(unsold)) if pick.quantity is None else pick.quantity
        named = f"ticket_group_id {group.ticket_group_id} (remote_id {group.remote_id})"
        if not unsold:
            raise NotEnoughSeats(f"{named}: every seat is sold")
        if quantity > len(unsold):
            raise NotEnoughSeats(f"quantity {quantity}: {named} has only {len(unsold)} unsold seat(s) left")
        client = None
        if scenario in (Scenario.CLIENT_FRAUD_APPROVED, Scenario.CLIENT_FRAUD_DECLINED):
            client = DEMO_CLIENTS[self._turn % len(DEMO_CLIENTS)]
        price = group.retail_price if client else group.wholesale_price
        if scenario is Scenario.UNDERPRICED:
            price = group.wholesale_price * self.underpriced_factor
        return self._request(scenario, [self._item(group, quantity, price)], shipment, client=client)

    def _single(self, scenario: Scenario, fmt: str, shipment: str,
                client: ClientSpec | None = None) -> OrderRequest:
        group = self._groups(fmt, need=1, count=1)[0]
        quantity = min(2, len(self.unsold(group)))
        price = group.retail_price if client else group.wholesale_price  # fixtures README
        return self._request(scenario, [self._item(group, quantity, price)], shipment, client=client)

    def _groups(self, fmt: str, need: int, count: int, whole: bool = False) -> list[TicketGroupSpec]:
        """``count`` listings of a format with ``need`` unsold seats, rotating so repeats spread out."""
        candidates = [g for g in self.inventory if g.format == fmt and len(self.unsold(g)) >= need
                      and (not whole or len(self.unsold(g)) == len(g.seats))]
        if len(candidates) < count:
            raise InventoryExhausted(f"no {count} {fmt} ticket group(s) with {need} unsold seats left")
        start = self._turn % len(candidates)
        rotated = candidates[start:] + candidates[:start]
        return rotated[:count]

    def _item(self, group: TicketGroupSpec, quantity: int, price: Decimal) -> ItemRequest:
        seats = self.unsold(group)[:quantity]
        seats += _extra_seats(group, quantity - len(seats))
        return ItemRequest(group=group, quantity=quantity, price=price, seats=seats)

    def _request(self, scenario: Scenario, items: list[ItemRequest], shipment: str,
                 client: ClientSpec | None = None) -> OrderRequest:
        oi = scenario.uses_order_integration
        return OrderRequest(
            items=items,
            shipment_type=shipment,
            client=client,
            seller_state="accepted" if oi else "pending",
            was_auto_accepted=True if oi else None,
            fraud_check_status="pending" if client else None,
            ship_to_name=SHIP_TO_NAMES[self._turn % len(SHIP_TO_NAMES)],
            scenario=scenario.value,
        )


def _extra_seats(group: TicketGroupSpec, count: int) -> list[str]:
    """Seats TEvo believes exist but the POS does not (the out-of-stock scenarios)."""
    last = group.seats[-1]
    if last.isdigit():
        return [str(int(last) + n + 1) for n in range(count)]
    return [f"{last}+{n + 1}" for n in range(count)]
