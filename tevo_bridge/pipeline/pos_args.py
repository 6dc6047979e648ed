"""TEvo payloads → the POS contract's types: the one place the core translates for plugins."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from tevo_bridge.pos import types as pos
from tevo_bridge.tevo.models import Item, Order


def pos_item(order: Order, item: Item, global_id: str | None = None) -> pos.Item:
    group = item.ticket_group
    event = group.event
    return pos.Item(
        order_id=order.id,
        item_id=item.id,
        remote_id=group.remote_id or "",
        quantity=item.quantity,
        price=item.price,
        seats=tuple(item.seat_list),
        ticket_group_id=group.id,
        event_name=(event.name or "") if event else "",
        occurs_at=(event.occurs_at or "") if event else "",
        section=group.section or "",
        row=group.row or "",
        format=group.format or "",
        needs_eticket=item.needs_eticket,
        global_id=global_id,
    )


def pos_buyer(order: Order) -> pos.Buyer:
    buyer = order.buyer
    source = order.client if order.client is not None else buyer
    emails = [e.address for e in (source.email_addresses if source else []) if e.address]
    # The primary number first, with its country code, as a POS would dial it.
    numbers = sorted((source.phone_numbers if source else []), key=lambda p: not p.primary)
    phones = [" ".join(filter(None, (p.country_code, p.number))) for p in numbers if p.number]
    return pos.Buyer(
        type=buyer.type if buyer else "",
        id=buyer.id if buyer else 0,
        name=(source.name or "") if source else "",
        email=emails[0] if emails else None,
        phone=phones[0] if phones else None,
    )


def pos_order(order: Order, holds: Mapping[int, str] | None = None) -> pos.Order:
    """``holds`` maps an item id to the global id of the hold that reserved it, for the invoice to consume."""
    holds = holds or {}
    items = tuple(pos_item(order, item, holds.get(item.id)) for item in order.items)
    total = order.total if order.total is not None else sum((i.price * i.quantity for i in items), Decimal("0"))
    return pos.Order(order_id=order.id, buyer=pos_buyer(order), items=items, total=total)


def pos_hold(hold: Any) -> pos.Hold:
    """A stored Order Integration hold (``HoldRow``) as the POS hooks take it."""
    return pos.Hold(global_id=hold.global_id, remote_id=hold.remote_id, quantity=hold.quantity,
                    price=Decimal(hold.price) if hold.price else None, ticket_group_id=hold.ticket_group_id)
