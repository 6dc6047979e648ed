"""Orders and users (docs/tevo-api.md §3): listing, showing, and accept/reject only from pending."""

from __future__ import annotations

import copy
from typing import Any

from tevo_bridge.sandbox.errors import not_found, unprocessable
from tevo_bridge.sandbox.orders import SELLER_OFFICE_ID
from tevo_bridge.sandbox.rules.common import (
    MAX_PER_PAGE,
    find_order,
    is_int,
    positive_int,
    require_reviewer,
    require_state,
)
from tevo_bridge.sandbox.state import World

REJECT_REASONS = (
    "Tickets No Longer Available",
    "Tickets Priced Incorrectly",
    "Duplicate Order",
    "Test Order",
    "Fraudulent Order",
    "Other",
)


def list_orders(world: World, params: dict[str, str]) -> dict[str, Any]:
    """Orders / Index with the filters the bridge uses and TEvo's pagination envelope (§3.2, §9)."""
    page = positive_int(params.get("page"), 1)
    per_page = min(positive_int(params.get("per_page"), MAX_PER_PAGE), MAX_PER_PAGE)
    with world.lock:
        world.advance()
        orders = sorted(world.orders.values(), key=lambda o: o["id"], reverse=True)  # newest first (assumed)
        selected = [o for o in orders if _matches(o, params)]
        start = (page - 1) * per_page
        return {
            "total_entries": len(selected),
            "per_page": per_page,
            "current_page": page,
            "orders": copy.deepcopy(selected[start:start + per_page]),
        }


def _matches(order: dict[str, Any], params: dict[str, str]) -> bool:
    if "state" in params and order["seller_state"] != params["state"]:
        return False
    # `type` is case-sensitive and a value TEvo does not know filters nothing (§3.2);
    # every sandbox order is a sale, so "PurchaseOrder" matches none.
    if params.get("type") == "PurchaseOrder":
        return False
    if "direct_buyer_type" in params and order["buyer"]["type"] != params["direct_buyer_type"]:
        return False
    if "seller_id" in params and params["seller_id"] != str(SELLER_OFFICE_ID):
        return False
    if "buyer_id" in params and str(order["buyer"]["id"]) != params["buyer_id"]:
        return False
    for key in ("id", "order_id"):
        if key in params and str(order["id"]) != params[key]:
            return False
    if "order_group_id" in params and order["oid"].strip().split("-")[0] != params["order_group_id"]:
        return False
    if "needs_eticket" in params:
        wanted = params["needs_eticket"] == "true"
        needs = any(i["needs_eticket"] and not i["eticket_finalized"] for i in order["items"])
        if needs != wanted:
            return False
    return True


def show_order(world: World, order_id: int) -> dict[str, Any]:
    with world.lock:
        world.advance()
        return copy.deepcopy(find_order(world, order_id))


def accept_order(world: World, order_id: int, body: dict[str, Any]) -> dict[str, Any]:
    """Accept commits the seller to deliver; only a pending order can be accepted (§3.1)."""
    with world.lock:
        order = find_order(world, order_id)
        world.record(order_id).accept_calls += 1
        require_reviewer(world, order, body)
        seats = body.get("seats")
        if seats is not None and (not isinstance(seats, list) or not all(is_int(s) for s in seats)):
            raise unprocessable(order, seats=["must be a list of seat numbers"])
        require_state(order, "pending", "accepted")
        world.set_seller_state(order, "accepted")
        world.record(order_id).events.append({"event": "accepted", "reviewer_id": body["reviewer_id"],
                                             "seats": seats, "at": world.clock()})
        world.changed()
        return copy.deepcopy(order)


def reject_order(world: World, order_id: int, body: dict[str, Any]) -> dict[str, Any]:
    """Reject takes one of six exact reasons, and only from pending (§3.1)."""
    with world.lock:
        order = find_order(world, order_id)
        world.record(order_id).reject_calls += 1
        reason = body.get("reason")
        if not reason:
            raise unprocessable(order, reason=["can't be blank"])
        if reason not in REJECT_REASONS:
            raise unprocessable(order, reason=["is not included in the list"])
        require_reviewer(world, order, body)
        require_state(order, "pending", "rejected")
        order["seller_rejection_reason"] = reason
        world.set_seller_state(order, "rejected")
        world.record(order_id).events.append({"event": "rejected", "reason": reason,
                                             "rejection_notes": body.get("rejection_notes"), "at": world.clock()})
        world.changed()
        return copy.deepcopy(order)


def complete_order(world: World, order_id: int) -> dict[str, Any]:
    """Undocumented (§3.1); here it completes an accepted order and nothing else."""
    with world.lock:
        order = find_order(world, order_id)
        require_state(order, "accepted", "completed")
        world.set_seller_state(order, "completed")
        world.changed()
        return copy.deepcopy(order)


def show_user(world: World, user_id: int) -> dict[str, Any]:
    """Only users of the seller's brokerage are visible to its credential."""
    user = world.brokerage_user(user_id)
    if user is None:
        raise not_found("User", user_id)
    return copy.deepcopy(user)
