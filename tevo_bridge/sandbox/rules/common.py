"""Checks shared by the TEvo rules: finding resources (404) and validating common fields (422)."""

from __future__ import annotations

from typing import Any

from tevo_bridge.sandbox.errors import TevoApiError, not_found, unprocessable
from tevo_bridge.sandbox.state import World

MAX_PER_PAGE = 100


def find_order(world: World, order_id: int) -> dict[str, Any]:
    order = world.order(order_id)
    if order is None:
        raise not_found("Order", order_id)
    return order


def find_item(world: World, order: dict[str, Any], item_id: int) -> dict[str, Any]:
    item = world.find_item(order, item_id)
    if item is None:
        raise not_found("Item", item_id)
    return item


def find_shipment(world: World, shipment_id: int) -> tuple[dict[str, Any], dict[str, Any]]:
    found = world.find_shipment(shipment_id)
    if found is None:
        raise not_found("Shipment", shipment_id)
    return found


def require_reviewer(world: World, order: dict[str, Any], body: dict[str, Any]) -> None:
    reviewer = body.get("reviewer_id")
    if reviewer is None:
        raise unprocessable(order, reviewer_id=["can't be blank"])
    if not is_int(reviewer) or world.brokerage_user(reviewer) is None:
        raise unprocessable(order, reviewer_id=["must be a user of the seller's brokerage"])


def require_state(order: dict[str, Any], needed: str, target: str) -> None:
    if order["seller_state"] != needed:
        raise unprocessable(order, seller_state=[
            f"is {order['seller_state']}; only a {needed} order can be {target}"])


def is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def positive_int(text: str | None, default: int) -> int:
    try:
        value = int(text) if text is not None else default
    except ValueError:
        return default
    return value if value >= 1 else default


def error_for_bad_json() -> TevoApiError:
    return TevoApiError(400, {"error": "The request body is not valid JSON"})
