"""What the bridge did to each order, in one dict, for assertions and the demo.

The same view is the Python API (``inspect_order``) and ``GET /_sandbox/orders/{id}``,
so a test and a human looking at a running sandbox see the same facts.
"""

from __future__ import annotations

import copy
from typing import Any

from tevo_bridge.sandbox import pdf
from tevo_bridge.sandbox.state import World


def inspect_order(world: World, order_id: int) -> dict[str, Any]:
    """Raises ``KeyError`` for an unknown order."""
    with world.lock:
        world.advance()
        order = world.orders[order_id]
        record = world.record(order_id)
        items: dict[int, dict[str, Any]] = {}
        for item in order["items"]:
            files = world.files.get(item["id"])
            items[item["id"]] = {
                "order_item_id": item["order_item_id"],
                "remote_id": item["ticket_group"]["remote_id"],
                "quantity": item["quantity"],
                "finalized": item["eticket_finalized"],
                "uploads": len(files.uploads) if files else 0,
                "upload_calls": files.upload_calls if files else 0,
                "pages_uploaded": pdf.page_count(files.merged) if files and files.merged else 0,
                "pages_delivered": pdf.page_count(files.final) if files and files.final else 0,
                "keep_pages": files.keep_pages if files else None,
                "delivered_by": files.delivered_by if files else None,
            }
        return {
            "order_id": order_id,
            "oid": order["oid"].strip(),
            "scenario": record.scenario,
            "state": order["seller_state"],
            "fraud_check_status": order["fraud_check_status"],
            "rejection_reason": order["seller_rejection_reason"],
            "accept_calls": record.accept_calls,
            "reject_calls": record.reject_calls,
            "items": items,
            "shipments": [_shipment_summary(s) for s in order["shipments"]],
            "shipment_history": copy.deepcopy(record.shipment_history),
            "events": copy.deepcopy(record.events),
            "calls": copy.deepcopy(record.calls),
        }


def _shipment_summary(shipment: dict[str, Any]) -> dict[str, Any]:
    keys = ("id", "type", "state", "tracking_number", "mobile_transfer_type", "tm_mobile_link", "transfer_source",
            "ship_from_name", "pickup_time_range")
    return {k: shipment.get(k) for k in keys}


def summary(world: World) -> list[dict[str, Any]]:
    """One line per order, newest first: enough for a demo dashboard."""
    with world.lock:
        world.advance()
        return [
            {"order_id": o["id"], "oid": o["oid"].strip(), "scenario": world.record(o["id"]).scenario,
             "state": o["seller_state"], "buyer": f"{o['buyer']['type']} {o['buyer']['id']}",
             "fraud_check_status": o["fraud_check_status"], "accept_calls": world.record(o["id"]).accept_calls,
             "reject_calls": world.record(o["id"]).reject_calls,
             "shipments": [f"{s['type']}:{s['state']}" for s in o["shipments"]]}
            for o in sorted(world.orders.values(), key=lambda o: o["id"], reverse=True)
        ]


def delivered_pdf(world: World, item_id: int) -> bytes | None:
    """The e-ticket file the buyer would receive for an item (after finalize or deliver)."""
    with world.lock:
        files = world.files.get(item_id)
        return files.final if files else None


def delivered_page_texts(world: World, item_id: int) -> list[str]:
    """Text of each delivered page, so a test can check that seat 105 really is on page 1."""
    raw = delivered_pdf(world, item_id)
    return pdf.page_texts(raw) if raw else []
