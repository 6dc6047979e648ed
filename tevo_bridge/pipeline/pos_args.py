"""TEvo payloads → the POS contract's types: the one place the core translates for plugins."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from tevo_bridge.pos import types as pos
from tevo_bridge.tevo.models import Item, Order

_CENT = Decimal("0.01")


def currency(order: Order) -> str:
    """The order's ISO 4217 code: TEvo's ``currency`` when it sends one, else US dollars."""
    code = (order.currency or "").strip().upper()
    return code or pos.DEFAULT_CURRENCY


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
        currency=currency(order),
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


def fee_shares(fee: Decimal, costs: Sequence[Decimal]) -> list[Decimal]:
    """``fee`` split over lines in proportion to their ``costs``, in cents; the last line takes the rounding,
    so the shares always add up to the fee a POS reconciles against TEvo's total."""
    whole = sum(costs, Decimal(0))
    if not fee or not whole:
        return [Decimal(0)] * len(costs)
    shares = [(fee * cost / whole).quantize(_CENT, ROUND_HALF_EVEN) for cost in costs[:-1]]
    return [*shares, fee - sum(shares, Decimal(0))]


def pos_shipping(order: Order) -> pos.Shipping | None:
    """The first shipment's method, with the order's ``shipping`` charge (the shipment's ``cost`` if absent)."""
    if not order.shipments:
        return None
    shipment = order.shipments[0]
    cost = order.shipping if order.shipping is not None else Decimal(str((shipment.model_extra or {}).get("cost") or 0))
    return pos.Shipping(method=shipment.type.removeprefix("Delivery::"), cost=cost,
                        service_type=shipment.service_type or "", currency=currency(order))


def pos_notes(order: Order) -> tuple[str, ...]:
    """TEvo's ``instructions`` and each of its ``notes`` as text: a note is a string, or an object with
    ``content`` (the shape is not documented, so anything else is skipped rather than refused)."""
    raw = order.notes if isinstance(order.notes, list) else [order.notes]
    texts = [order.instructions, *(n.get("content") if isinstance(n, dict) else n for n in raw)]
    return tuple(text.strip() for text in texts if isinstance(text, str) and text.strip())


def pos_order(order: Order, holds: Mapping[int, str] | None = None) -> pos.Order:
    """``holds`` maps an item id to the global id of the hold that reserved it, for the invoice to consume."""
    holds = holds or {}
    lines = [pos_item(order, item, holds.get(item.id)) for item in order.items]
    service_fee = order.service_fee or Decimal(0)
    shares = fee_shares(service_fee, [i.price * i.quantity for i in lines])
    items = tuple(replace(line, fees=share) for line, share in zip(lines, shares, strict=True))
    total = order.total if order.total is not None else sum((i.price * i.quantity for i in items), Decimal("0"))
    return pos.Order(order_id=order.id, buyer=pos_buyer(order), items=items, total=total,
                     oid=order.oid or "", reference=order.reference or "", currency=currency(order),
                     service_fee=service_fee, shipping=pos_shipping(order), notes=pos_notes(order))


def pos_hold(hold: Any) -> pos.Hold:
    """A stored Order Integration hold (``HoldRow``) as the POS hooks take it."""
    return pos.Hold(global_id=hold.global_id, remote_id=hold.remote_id, quantity=hold.quantity,
                    price=Decimal(hold.price) if hold.price else None, ticket_group_id=hold.ticket_group_id)
