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

from tevo_bridge.pos.types import Buyer, Hold, Item, Order

__all__ = [
    "SAMPLE_ORDERS",
    "buyer_from_tevo",
    "item_from_tevo",
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


def buyer_from_tevo(buyer: Mapping[str, Any]) -> Buyer:
    emails = buyer.get("email_addresses") or []
    phones = sorted(buyer.get("phone_numbers") or [], key=lambda p: not p.get("primary"))
    return Buyer(
        type=buyer["type"],
        id=int(buyer["id"]),
        name=buyer.get("name") or "",
        email=emails[0]["address"] if emails else None,
        phone=" ".join(filter(None, (phones[0].get("country_code"), phones[0].get("number")))) if phones else None,
    )


def item_from_tevo(order_id: int | None, item: Mapping[str, Any]) -> Item:
    group = item["ticket_group"]
    event = group.get("event") or {}
    return Item(
        order_id=order_id,
        item_id=int(item["id"]),
        remote_id=str(group["remote_id"]),
        quantity=int(item["quantity"]),
        price=Decimal(str(item["price"])),
        # TEvo leaves items[].seats empty; the seats sold are on the item's ticket_group (fixtures README).
        seats=tuple(str(s) for s in (item.get("seats") or group.get("seats") or ())),
        ticket_group_id=group.get("id"),
        event_name=event.get("name") or "",
        occurs_at=event.get("occurs_at") or "",
        section=group.get("section") or "",
        row=group.get("row") or "",
        format=group.get("format") or "",
        needs_eticket=bool(item.get("needs_eticket")),
    )


def order_from_tevo(payload: Mapping[str, Any], global_id: str | None = None) -> Order:
    order_id = int(payload["id"])
    return Order(
        order_id=order_id,
        buyer=buyer_from_tevo(payload["buyer"]),
        items=tuple(item_from_tevo(order_id, item) for item in payload["items"]),
        total=Decimal(str(payload["total"])),
        global_id=global_id,
    )


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
