"""The stock rules of the contract, as pure functions any POS plugin can call under its own lock.

Where a POS keeps its data is its own business; what a hold or an invoice may do is not. These
functions hold the decisions (replay or refuse a hold, what an invoice takes from stock, whether
it can be supplied) so the sample plugins, and yours, make them the same way. Call them inside
the transaction or lock that also writes the result, or two callers can both see the last ticket.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping

from tevo_bridge.pos.errors import OutOfStock, UnknownRemoteId
from tevo_bridge.pos.inventory import InventoryRow
from tevo_bridge.pos.types import Hold, HoldResult, Order

__all__ = ["answer_hold", "check_supply", "tickets_to_take"]


def answer_hold(
    hold: Hold,
    group: InventoryRow | None,
    available: int | None,
    previous: tuple[str, int, str] | None,
) -> HoldResult | None:
    """The answer to ``hold`` when it reserves nothing new, or ``None``: reserve it now.

    ``available`` is the group's stock before this hold (``None`` for an unknown group);
    ``previous`` is ``(remote_id, quantity, state)`` of an earlier hold with the same global id.
    """
    if previous is not None:
        remote_id, quantity, state = previous
        if state == "held" and (remote_id, quantity) == (hold.remote_id, hold.quantity):
            return HoldResult(True, hold.global_id, available)  # a replay: the same hold, nothing more
        return HoldResult(False, hold.global_id, available, "global_id_used")
    if group is None or available is None:
        return HoldResult(False, available=0, reason="unknown_remote_id")
    if hold.price is not None and not group.price_decision(hold.price).acceptable:
        return HoldResult(False, available=available, reason="price_not_acceptable")
    if hold.quantity > available:
        return HoldResult(False, available=available, reason="insufficient_quantity")
    return None


def tickets_to_take(order: Order, held: Mapping[str, tuple[str, int]]) -> tuple[Counter[str], list[str]]:
    """Tickets per remote id the invoice takes from stock, and the global ids of the holds it consumes.

    ``held`` maps the global id of each *held* hold named by an item (``Item.global_id``) to its
    ``(remote_id, quantity)``. An item consumes its hold when the hold is for exactly its tickets:
    those are already out of the available count, so they are not taken a second time. An item
    whose hold lapsed or names other tickets takes from stock like an item with no hold.
    """
    needed = Counter[str]()
    consumed: list[str] = []
    for item in order.items:
        if item.global_id is not None and held.get(item.global_id) == (item.remote_id, item.quantity):
            if item.global_id not in consumed:
                consumed.append(item.global_id)
                continue
        needed[item.remote_id] += item.quantity
    return needed, consumed


def check_supply(needed: Counter[str], available: Callable[[str], int | None]) -> None:
    """Raise ``UnknownRemoteId`` or ``OutOfStock`` unless every group has what ``needed`` asks."""
    for remote_id, quantity in needed.items():
        count = available(remote_id)
        if count is None:
            raise UnknownRemoteId(remote_id)
        if quantity > count:
            raise OutOfStock(remote_id, quantity, count)
