"""Sample orders, buyers, items and holds for tests, built from TEvo-shaped JSON.

The JSON files under ``data/`` are copies of the project's TEvo fixtures (made-up people and ids,
field names as TEvo's examples show them). Converting them here, rather than writing ``Order(...)``
by hand, keeps plugin tests honest about what TEvo actually sends: string prices, seats on the
ticket group rather than the item, a buyer that may be TEvo itself.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from decimal import Decimal
from importlib import resources
from typing import Any

from tevo_bridge.pipeline import pos_args
from tevo_bridge.pos.types import Hold, Order
from tevo_bridge.tevo.models import Order as TevoOrder

__all__ = [
    "SAMPLE_ORDERS",
    "order_from_tevo",
    "sample_hold",
    "sample_order",
    "tevo_json",
]

#: Sample order names: a sale to TEvo with e-tickets, a sale to a Client (fraud check approved),
#: a mobile transfer that came from Order Integration, and two items of physical tickets.
SAMPLE_ORDERS = ("office_sale_eticket", "client_sale_fraud_approved", "mobile_transfer_tbd", "multi_item_fedex")


def tevo_json(path: str) -> Any:
    """One of the bundled TEvo payloads, e.g. ``orders/office_sale_eticket.json``."""
    return json.loads(resources.files("tevo_bridge.testing").joinpath("data", path).read_text(encoding="utf-8"))


def order_from_tevo(payload: Mapping[str, Any], global_id: str | None = None) -> Order:
    """A TEvo order payload as the daemon hands it to plugins: the core's own conversion, so tests see the same.

    ``global_id`` names the hold every item was reserved by (an Order Integration order has one item).
    """
    order = TevoOrder.model_validate(payload)
    return pos_args.pos_order(order, {item.id: global_id for item in order.items} if global_id else None)


def sample_order(name: str, *, order_id: int | None = None, global_id: str | None = None) -> Order:
    """A bundled sample order; ``order_id`` renumbers it (and its items) to make a distinct order."""
    if name not in SAMPLE_ORDERS:
        raise KeyError(f"no sample order {name!r} (have: {', '.join(SAMPLE_ORDERS)})")
    payload = dict(tevo_json(f"orders/{name}.json"))
    if order_id is not None:
        payload["id"] = order_id
    return order_from_tevo(payload, global_id)


def sample_hold(**changes: Any) -> Hold:
    """The bundled Order Integration hold (2 tickets of remote_id 91508 at 415.0), with ``changes``."""
    body = tevo_json("order_integration/hold.json")
    fields: dict[str, Any] = {
        "global_id": body["global_id"],
        "remote_id": str(body["remote_id"]),
        "quantity": int(body["quantity"]),
        "price": Decimal(str(body["price"])),
        "ticket_group_id": body.get("ticket_group_id"),
    }
    return Hold(**(fields | changes))
