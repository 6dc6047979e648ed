"""What every fulfilment step shares: its collaborators, its result type, and the audit and notify helpers."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from tevo_bridge.config import FulfillmentSettings
from tevo_bridge.log import get_logger
from tevo_bridge.pos import types as pos
from tevo_bridge.pos.types import OrderEvent  # `pos` in Context's body is its field, not this module
from tevo_bridge.store import AsyncStore
from tevo_bridge.tevo.client import TevoClient
from tevo_bridge.tevo.models import Order, Shipment

log = get_logger(__name__)

Download = Callable[[str], Awaitable[bytes]]


class PosFacade(Protocol):
    """The part of ``PluginHost`` fulfilment uses; each call may raise ``PosTimeout`` or ``PosError``."""

    async def ticket_files(self, order: pos.Order, item: pos.Item) -> list[pos.TicketFile] | None: ...

    async def mobile_transfer(self, order: pos.Order, item: pos.Item) -> pos.MobileTransfer | None: ...

    async def notify(self, event: pos.OrderEvent) -> None: ...

    def has_hook(self, hook: str) -> bool: ...


@dataclass(frozen=True)
class Outcome:
    """How far one item or shipment got in this run.

    ``done``: nothing left to do.  ``wait``: come back later (the order stays
    ``fulfilling``).  ``review``: a person must act; ``reason`` says what on.
    ``again``: TEvo replaced a shipment with one of another kind, so the order
    must be re-read and planned afresh (a TBD shipment that became ``Eticket``).
    """

    state: Literal["done", "wait", "review", "again"]
    reason: str

    @classmethod
    def done(cls, reason: str) -> Outcome:
        return cls("done", reason)

    @classmethod
    def wait(cls, reason: str) -> Outcome:
        return cls("wait", reason)

    @classmethod
    def review(cls, reason: str) -> Outcome:
        return cls("review", reason)


@dataclass
class Context:
    settings: FulfillmentSettings
    tevo: TevoClient
    pos: PosFacade
    store: AsyncStore
    download: Download

    async def audit(self, action: str, order_id: int, reason: str, **details: Any) -> None:
        """Every call that changes TEvo state, and every re-fetch that decided something, goes on record."""
        log.info("fulfil." + action, order_id=order_id, reason=reason)
        await self.store.audit(action, order_id=order_id, reason=reason, details=details or None)

    async def notify(self, event: OrderEvent) -> None:
        """Plugins hear about an airbill through the notification hook; a failure there never holds an order up."""
        if not self.pos.has_hook("pos_order_event"):
            return
        try:
            await self.pos.notify(event)
        except Exception as exc:  # noqa: BLE001 - a notification is best effort by contract
            log.warning("pos.notify_failed", order_id=event.order_id, error=str(exc))


def items_of(order: Order, shipment: Shipment) -> list[Any]:
    """The order's items travelling in ``shipment``: by ``delivery_id``, else by the shipment's own item list."""
    by_delivery = [item for item in order.items if item.delivery_id == shipment.id]
    if by_delivery:
        return by_delivery
    listed = {entry.get("id") for entry in shipment.items if isinstance(entry, dict)}
    return [item for item in order.items if item.id in listed or item.order_item_id in listed]


def shipment_holding(order: Order, item_ids: Iterable[int]) -> Shipment | None:
    """The shipment that now carries these items.  An update replaces a shipment (§5.3), so ids go stale."""
    wanted = set(item_ids)
    live = [s for s in order.shipments if s.state != "canceled"]
    for shipment in live:
        if wanted & {item.id for item in items_of(order, shipment)}:
            return shipment
    return live[0] if len(live) == 1 else None
