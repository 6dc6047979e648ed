"""Small POS plugins for testing the host: complete but trivial, or broken in one chosen way."""

from __future__ import annotations

import threading
from decimal import Decimal

from pydantic import BaseModel, ConfigDict

from tevo_bridge import hookimpl
from tevo_bridge.pos.types import (
    Availability,
    Buyer,
    Customer,
    Hold,
    HoldResult,
    Invoice,
    Item,
    Order,
    PriceDecision,
    TicketFile,
)

ITEM = Item(order_id=1, item_id=2, remote_id="TG-1", quantity=2, price=Decimal("100.00"))
HOLD = Hold(global_id="G-1", remote_id="TG-1", quantity=2)


class StubPos:
    """Every required hook, answering from nothing: for testing the host, not the contract."""

    class Config(BaseModel):
        model_config = ConfigDict(extra="forbid")
        stock: int = 10

    def __init__(self, config: Config | None = None) -> None:
        self.stock = (config or self.Config()).stock

    @hookimpl
    def pos_check_inventory(self, item: Item) -> Availability:
        return Availability(item.remote_id, self.stock)

    @hookimpl
    def pos_accept_price(self, item: Item) -> PriceDecision:
        return PriceDecision(True)

    @hookimpl
    def pos_find_customer(self, buyer: Buyer) -> Customer | None:
        return None

    @hookimpl
    def pos_create_customer(self, buyer: Buyer) -> Customer:
        return Customer(str(buyer.id))

    @hookimpl
    def pos_hold(self, hold: Hold) -> HoldResult:
        return HoldResult(True, hold.global_id, self.stock - hold.quantity)

    @hookimpl
    def pos_release_hold(self, hold: Hold) -> bool:
        return False

    @hookimpl
    def pos_create_invoice(self, order: Order, customer: Customer | None) -> Invoice:
        return Invoice(f"INV-{order.order_id}", True)

    @hookimpl
    def pos_ticket_files(self, order: Order, item: Item) -> list[TicketFile] | None:
        return None


class HangingHoldPos(StubPos):
    """``pos_hold`` blocks until the test sets ``release``, then holds: a POS answering too late."""

    def __init__(self) -> None:
        super().__init__()
        self.started = threading.Event()
        self.release = threading.Event()

    @hookimpl
    def pos_hold(self, hold: Hold) -> HoldResult:
        self.started.set()
        self.release.wait(timeout=30)
        return HoldResult(True, hold.global_id, 0)


class FailingPos(StubPos):
    @hookimpl
    def pos_check_inventory(self, item: Item) -> Availability:
        raise ConnectionError("POS server at 10.0.0.5 refused the connection")

    @hookimpl
    def pos_accept_price(self, item: Item) -> PriceDecision:
        return {"acceptable": True}  # type: ignore[return-value]  # the bug under test

    @hookimpl
    def pos_find_customer(self, buyer: Buyer) -> Customer | None:
        raise TimeoutError("POS API read timed out")


class WithoutHolds:
    """Implements two hooks and forgets the rest."""

    class Config(BaseModel):
        model_config = ConfigDict(extra="forbid")

    def __init__(self, config: Config) -> None:
        pass

    @hookimpl
    def pos_check_inventory(self, item: Item) -> Availability:
        return Availability(item.remote_id, 0)

    @hookimpl
    def pos_accept_price(self, item: Item) -> PriceDecision:
        return PriceDecision(True)


class MisspeltPos(StubPos):
    @hookimpl
    def pos_hodl(self, hold: Hold) -> HoldResult:
        return HoldResult(True, hold.global_id)


class StartFails(StubPos):
    def __init__(self, config: StubPos.Config) -> None:
        raise PermissionError("cannot open /var/pos/pos.db")


class WrongArgumentPos(StubPos):
    """A hook name that exists with an argument name its spec does not have: pluggy refuses it at registration."""

    @hookimpl
    def pos_hold(self, hodl: Hold) -> HoldResult:
        return HoldResult(True, hodl.global_id)
