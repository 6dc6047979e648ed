"""The seller's own stock as the sandbox's listings: ``tevo-bridge sandbox inventory-from``.

The reverse of ``mirror.py``: there the sandbox's listings become POS rows; here a POS's stock
(``pos_list_stock``, whatever the POS) becomes listings, so a rehearsal sells what the seller
really holds and every order is one the POS can answer. What TEvo would know and the POS does not
(TEvo's ids, its prices) is derived so that a second run gives the same file:

- ``ticket_group_id`` and ``event_id`` come from a hash of the POS's ids, so a state file kept
  with ``--state`` still matches after the stock is converted again;
- the wholesale price is the POS's minimum divided by ``mirror.MIN_PRICE_SHARE`` (rounded up to a
  cent): TEvo's ordinary orders are accepted, the ``underpriced`` scenario (half price) is not;
- only the seats still for sale are listed: the last ``available`` of the group's seats, since a
  POS that counts sales need not say which seats went.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import ROUND_UP, Decimal

from tevo_bridge.pos.types import StockListing
from tevo_bridge.sandbox.inventory import FORMATS, TicketGroupSpec
from tevo_bridge.sandbox.mirror import MIN_PRICE_SHARE

__all__ = ["Converted", "listings_from_stock"]

RETAIL_MARKUP = Decimal("1.15")  # what a website buyer pays over TEvo's wholesale price
_TICKET_GROUP_BASE = 600_000_000  # far from the demo's 318… and generated 400… ids
_EVENT_BASE = 5_000_000
_CENT = Decimal("0.01")


@dataclass
class Converted:
    """The listings, and each group left out with the reason, for the command to report."""

    listings: list[TicketGroupSpec] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def listings_from_stock(stock: Iterable[StockListing]) -> Converted:
    converted = Converted()
    used_ids: set[int] = set()
    for group in sorted(stock, key=lambda g: g.remote_id):
        reason = _unusable(group)
        if reason:
            converted.skipped.append(f"{group.remote_id}: {reason}")
            continue
        ticket_group_id = _stable_id(_TICKET_GROUP_BASE, group.remote_id, used_ids)
        converted.listings.append(_spec(group, ticket_group_id))
    return converted


def _unusable(group: StockListing) -> str | None:
    """Why a group cannot be a listing; None when it can."""
    if group.available <= 0:
        return "nothing available"
    if not group.seats:
        return "no seat numbers (the sandbox's buyers order seats by number)"
    if group.format not in FORMATS:
        return f"format {group.format!r} (the sandbox lists {', '.join(FORMATS)})"
    return None


def _spec(group: StockListing, ticket_group_id: int) -> TicketGroupSpec:
    wholesale = max(_CENT, (group.price / MIN_PRICE_SHARE).quantize(_CENT, rounding=ROUND_UP))
    seats = list(group.seats[-group.available:]) if group.available < len(group.seats) else list(group.seats)
    return TicketGroupSpec(
        remote_id=group.remote_id, ticket_group_id=ticket_group_id, event_name=group.event_name,
        venue=group.venue, occurs_at=group.occurs_at, section=group.section, row=group.row, seats=seats,
        wholesale_price=wholesale, retail_price=(wholesale * RETAIL_MARKUP).quantize(_CENT, rounding=ROUND_UP),
        format=group.format, event_id=_stable_id(_EVENT_BASE, f"{group.event_name}|{group.occurs_at}", set()),
    )


def _stable_id(base: int, key: str, used: set[int]) -> int:
    """The same id for the same key on every run; the next free one on the (rare) collision."""
    value = base + int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big") % 100_000_000
    while value in used:
        value += 1
    used.add(value)
    return value
