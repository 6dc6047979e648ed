"""Shipments (docs/tevo-api.md §5): replacement on update, mobile transfers, pickups, FedEx airbills."""

from __future__ import annotations

import base64
import copy
import time
from typing import Any

from tevo_bridge.sandbox import pdf
from tevo_bridge.sandbox.errors import unprocessable
from tevo_bridge.sandbox.rules.common import find_shipment, is_int
from tevo_bridge.sandbox.state import World

MOBILE_TRANSFER_TYPES = ("TMMobileLink", "TMMobile", "FlashSeats", "Eticket")
TRANSFER_SOURCES = ("AXS", "AM", "BA", "DICE", "FS", "MPV", "PAC", "RDP", "SG", "SH", "TM", "VIV")
PICKUP_REQUIRED = ("ship_from_name", "ship_from_phone_number_attributes", "ship_from_address_attributes",
                   "pickup_time_range")


def show_shipment(world: World, shipment_id: int) -> dict[str, Any]:
    with world.lock:
        world.advance()
        order, shipment = find_shipment(world, shipment_id)
        return _shipment_view(order, shipment)


def update_shipment(world: World, shipment_id: int, body: dict[str, Any]) -> dict[str, Any]:
    """PUT replaces the shipment: the answer has a new id and the old id is gone (§5.3)."""
    with world.lock:
        order, shipment = find_shipment(world, shipment_id)
        view = _shipment_view(order, shipment)
        _require_shipment_order(order, view)
        if shipment["state"] == "delivered":
            raise unprocessable(view, state=["is delivered; the shipment can no longer change"])
        new = copy.deepcopy(shipment)
        if shipment["type"] in ("TBD", "Tbd"):
            _apply_mobile_type(order, new, view, body)
        elif shipment["type"] == "LocalPickup":
            _apply_pickup(new, view, body)
        else:
            for key in ("ship_to_name", "service_type", "signature_type", "residential", "notes"):
                if key in body:
                    new[key] = body[key]
        new_id = world.next_id("shipment")
        now = world.clock()
        new.update(id=new_id, url=f"/shipment/{new_id}", created_at=now, updated_at=now)
        order["shipments"] = [new if s is shipment else s for s in order["shipments"]]
        for item in order["items"]:
            if item["delivery_id"] == shipment_id:
                item["delivery_id"] = new_id
                if new["type"] == "Eticket":
                    item["needs_eticket"] = True
        world.replaced_shipments[shipment_id] = new_id
        world.record(order["id"]).shipment_history.append(
            {"event": "replaced", "old_id": shipment_id, "new_id": new_id, "type": new["type"], "at": now})
        world.touch(order)
        world.changed()
        return _shipment_view(order, new)


def _apply_mobile_type(order: dict[str, Any], new: dict[str, Any], view: dict[str, Any],
                       body: dict[str, Any]) -> None:
    # tm_mobile_shipment_type is the older name and still works (§5.6).
    kind = body.get("mobile_transfer_type") or body.get("tm_mobile_shipment_type")
    if not kind:
        raise unprocessable(view, mobile_transfer_type=["can't be blank"])
    if kind not in MOBILE_TRANSFER_TYPES:
        raise unprocessable(view, mobile_transfer_type=["is not included in the list"])
    _check_transfer_source(view, body)
    new.update(type=kind, mobile_transfer_type=kind, state="pending")
    if body.get("transfer_source"):
        new["transfer_source"] = body["transfer_source"]
    if kind == "TMMobile":
        # The transfer goes to the buyer's address, which the answer includes (§5.6).
        address = (order["client"] or {}).get("email_addresses", [{}])[0].get("address") \
            or f"transfers+{order['id']}@ticketevolution.example"
        new["email_address"] = {"id": order["id"], "address": address, "label": "transfer"}


def _apply_pickup(new: dict[str, Any], view: dict[str, Any], body: dict[str, Any]) -> None:
    missing = {key: ["can't be blank"] for key in PICKUP_REQUIRED if not body.get(key)}
    if missing:
        raise unprocessable(view, **missing)
    for key in ("ship_from_phone_number_attributes", "ship_from_address_attributes"):
        if not isinstance(body[key], dict):
            raise unprocessable(view, **{key: ["must be a hash of attributes"]})
    new.update(
        ship_from_name=body["ship_from_name"],
        pickup_time_range=body["pickup_time_range"],
        pickup_instructions=body.get("pickup_instructions"),
        ship_from_phone_number={"id": new["id"] * 10 + 3, **body["ship_from_phone_number_attributes"]},
        ship_from_address={"id": new["id"] * 10 + 4, **body["ship_from_address_attributes"]},
    )


def complete_shipment(world: World, shipment_id: int, body: dict[str, Any]) -> dict[str, Any]:
    """Complete a mobile transfer or a pickup; a TMMobileLink needs its claim URL (§5.6)."""
    with world.lock:
        order, shipment = find_shipment(world, shipment_id)
        view = _shipment_view(order, shipment)
        _require_shipment_order(order, view)
        kind = shipment["type"]
        if shipment["state"] == "delivered":
            raise unprocessable(view, state=["is already delivered"])
        if kind in ("TBD", "Tbd"):
            raise unprocessable(view, mobile_transfer_type=["must be chosen with PUT /v9/shipments/:id first"])
        if kind == "FedEx":
            raise unprocessable(view, type=["FedEx shipments are delivered by tracking, not completed"])
        if kind == "Eticket":
            raise unprocessable(view, type=["e-tickets are delivered with finalize_etickets or deliver_etickets"])
        link = body.get("tm_mobile_link")
        if kind == "TMMobileLink" and not (isinstance(link, str) and link.strip()):
            raise unprocessable(view, tm_mobile_link=["can't be blank"])
        if link is not None and not all(u.strip().startswith(("http://", "https://"))
                                        for u in str(link).split(",")):
            raise unprocessable(view, tm_mobile_link=["must be URLs separated by commas"])
        _check_transfer_source(view, body)
        tickets = body.get("tickets")
        if tickets is not None and not _valid_tickets(tickets):
            raise unprocessable(view, tickets=["each needs a seat and a barcode, primary_ticket_id or verification_id"])
        shipment.update(tm_mobile_link=link, transfer_source=body.get("transfer_source"), tickets=tickets)
        world.record(order["id"]).shipment_history.append(
            {"event": "completed", "id": shipment_id, "type": kind, "tm_mobile_link": link, "at": world.clock()})
        world.deliver_shipment(shipment_id)
        return _shipment_view(order, shipment)


def generate_airbill(world: World, shipment_id: int) -> dict[str, Any]:
    """FedEx only, after acceptance (§5.4); the shipment goes in transit and tracking takes over."""
    with world.lock:
        order, shipment = find_shipment(world, shipment_id)
        view = _shipment_view(order, shipment)
        _require_fedex(view)
        _require_shipment_order(order, view)
        if not shipment["tracking_number"]:
            shipment.update(tracking_number=f"7{shipment_id:011d}", airbill=f"/shipments/{shipment_id}/get_airbill",
                            state="in_transit", updated_at=world.clock())
            if world.fedex_transit_seconds is not None:
                world.in_transit[shipment_id] = time.time() + world.fedex_transit_seconds
            world.record(order["id"]).shipment_history.append(
                {"event": "airbill", "id": shipment_id, "tracking_number": shipment["tracking_number"],
                 "at": world.clock()})
            world.touch(order)
            world.changed()
        return _shipment_view(order, shipment)


def airbill_json(world: World, shipment_id: int) -> dict[str, Any]:
    """Get Airbill as JSON, the form both official TEvo clients decode (§5.4): the PDF base64 in ``airbill``."""
    pdf_bytes, tracking_number = _airbill(world, shipment_id)
    return {"id": shipment_id, "tracking_number": tracking_number,
            "airbill": base64.b64encode(pdf_bytes).decode("ascii")}


def airbill_pdf(world: World, shipment_id: int) -> bytes:
    """Get Airbill as raw PDF bytes: the sandbox's ``raw_airbill`` option, for clients that must cope with both."""
    return _airbill(world, shipment_id)[0]


def _airbill(world: World, shipment_id: int) -> tuple[bytes, str]:
    """The printable airbill as a real PDF, and its tracking number (the format at TEvo is unknown, §5.4)."""
    with world.lock:
        order, shipment = find_shipment(world, shipment_id)
        view = _shipment_view(order, shipment)
        _require_fedex(view)
        if not shipment["tracking_number"]:
            raise unprocessable(view, airbill=["has not been generated"])
        address = shipment.get("address") or {}
        lines = [
            "FedEx Airbill",
            f"Tracking number: {shipment['tracking_number']}",
            f"Service: {shipment.get('service_type') or 'LEAST_EXPENSIVE'}",
            f"Order: {order['oid'].strip()}",
            f"Ship to: {shipment.get('ship_to_name') or ''}",
            f"{address.get('street_address', '')}",
            f"{address.get('locality', '')}, {address.get('region', '')} {address.get('postal_code', '')}",
        ]
        return pdf.text_pdf(lines, title=f"Airbill {shipment['tracking_number']}"), shipment["tracking_number"]


def _require_fedex(view: dict[str, Any]) -> None:
    if view["type"] != "FedEx":
        raise unprocessable(view, type=["airbills are only available for FedEx shipments"])


def _require_shipment_order(order: dict[str, Any], view: dict[str, Any]) -> None:
    if order["seller_state"] != "accepted":
        raise unprocessable(view, order=[f"is {order['seller_state']}; the order must be accepted first"])


def _check_transfer_source(view: dict[str, Any], body: dict[str, Any]) -> None:
    source = body.get("transfer_source")
    if source is not None and source not in TRANSFER_SOURCES:
        raise unprocessable(view, transfer_source=["is not included in the list"])


def _valid_tickets(tickets: object) -> bool:
    return isinstance(tickets, list) and all(
        isinstance(t, dict) and is_int(t.get("seat"))
        and any(t.get(k) for k in ("barcode", "primary_ticket_id", "verification_id"))
        for t in tickets
    )


def _shipment_view(order: dict[str, Any], shipment: dict[str, Any]) -> dict[str, Any]:
    """Shipments / Show: the shipment plus its order and items (§5.1)."""
    view = copy.deepcopy(shipment)
    view["order"] = {"id": order["id"], "oid": order["oid"], "url": order["url"],
                     "seller_state": order["seller_state"]}
    view["items"] = [{"id": i["id"], "order_item_id": i["order_item_id"], "quantity": i["quantity"],
                      "url": i["url"]} for i in order["items"] if i["delivery_id"] == shipment["id"]]
    return view
