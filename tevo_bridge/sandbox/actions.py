"""TEvo's rules, enforced: what each endpoint does to the world and when it refuses.

Each function takes the world and the parsed request and returns the JSON body
TEvo would answer with, or raises ``TevoApiError`` with TEvo's status and body.
Section numbers refer to TEVO_API.md; where TEvo's behaviour is unknown the
choice made here is noted, and docs/sandbox.md lists them all.
"""

from __future__ import annotations

import copy
import time
from typing import Any

from tevo_bridge.sandbox import pdf
from tevo_bridge.sandbox.errors import TevoApiError, not_found, unprocessable
from tevo_bridge.sandbox.orders import SELLER_OFFICE_ID
from tevo_bridge.sandbox.state import World

REJECT_REASONS = (
    "Tickets No Longer Available",
    "Tickets Priced Incorrectly",
    "Duplicate Order",
    "Test Order",
    "Fraudulent Order",
    "Other",
)
MOBILE_TRANSFER_TYPES = ("TMMobileLink", "TMMobile", "FlashSeats", "Eticket")
TRANSFER_SOURCES = ("AXS", "AM", "BA", "DICE", "FS", "MPV", "PAC", "RDP", "SG", "SH", "TM", "VIV")
PICKUP_REQUIRED = ("ship_from_name", "ship_from_phone_number_attributes", "ship_from_address_attributes",
                   "pickup_time_range")
MAX_PER_PAGE = 100


# -- orders (§3) ----------------------------------------------------------------------------

def list_orders(world: World, params: dict[str, str]) -> dict[str, Any]:
    """Orders / Index with the filters the bridge uses and TEvo's pagination envelope (§3.2, §9)."""
    page = _positive_int(params.get("page"), 1)
    per_page = min(_positive_int(params.get("per_page"), MAX_PER_PAGE), MAX_PER_PAGE)
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
        return copy.deepcopy(_order(world, order_id))


def accept_order(world: World, order_id: int, body: dict[str, Any]) -> dict[str, Any]:
    """Accept commits the seller to deliver; only a pending order can be accepted (§3.1)."""
    with world.lock:
        order = _order(world, order_id)
        world.record(order_id).accept_calls += 1
        _require_reviewer(world, order, body)
        seats = body.get("seats")
        if seats is not None and (not isinstance(seats, list) or not all(_is_int(s) for s in seats)):
            raise unprocessable(order, seats=["must be a list of seat numbers"])
        _require_state(order, "pending", "accepted")
        world.set_seller_state(order, "accepted")
        world.record(order_id).events.append({"event": "accepted", "reviewer_id": body["reviewer_id"],
                                             "seats": seats, "at": world.clock()})
        world.changed()
        return copy.deepcopy(order)


def reject_order(world: World, order_id: int, body: dict[str, Any]) -> dict[str, Any]:
    """Reject takes one of six exact reasons, and only from pending (§3.1)."""
    with world.lock:
        order = _order(world, order_id)
        world.record(order_id).reject_calls += 1
        reason = body.get("reason")
        if not reason:
            raise unprocessable(order, reason=["can't be blank"])
        if reason not in REJECT_REASONS:
            raise unprocessable(order, reason=["is not included in the list"])
        _require_reviewer(world, order, body)
        _require_state(order, "pending", "rejected")
        order["seller_rejection_reason"] = reason
        world.set_seller_state(order, "rejected")
        world.record(order_id).events.append({"event": "rejected", "reason": reason,
                                             "rejection_notes": body.get("rejection_notes"), "at": world.clock()})
        world.changed()
        return copy.deepcopy(order)


def complete_order(world: World, order_id: int) -> dict[str, Any]:
    """Undocumented (§3.1); here it completes an accepted order and nothing else."""
    with world.lock:
        order = _order(world, order_id)
        _require_state(order, "accepted", "completed")
        world.set_seller_state(order, "completed")
        world.changed()
        return copy.deepcopy(order)


def show_user(world: World, user_id: int) -> dict[str, Any]:
    """Only users of the seller's brokerage are visible to its credential."""
    user = world.brokerage_user(user_id)
    if user is None:
        raise not_found()
    return copy.deepcopy(user)


# -- e-tickets (§4) -------------------------------------------------------------------------

def list_items(world: World, order_id: int) -> dict[str, Any]:
    with world.lock:
        items = _order(world, order_id)["items"]
        return {"total_entries": len(items), "per_page": MAX_PER_PAGE, "current_page": 1,
                "items": copy.deepcopy(items)}


def show_item(world: World, order_id: int, item_id: int) -> dict[str, Any]:
    with world.lock:
        return copy.deepcopy(_item(world, _order(world, order_id), item_id))


def add_etickets(world: World, order_id: int, item_id: int, body: dict[str, Any]) -> dict[str, Any]:
    """Append uploaded PDFs; pages of several files run on in upload order (§4, open question 10)."""
    with world.lock:
        order = _order(world, order_id)
        item = _item(world, order, item_id)
        _require_eticket_item(world, order, item)
        files = body.get("files")
        if not isinstance(files, list) or not files:
            raise unprocessable(item, files=["can't be blank"])
        try:
            decoded = [pdf.decode_pdf(f) for f in files]
        except pdf.InvalidPdf as exc:
            raise unprocessable(item, files=[str(exc)]) from None
        store = world.item_files(item_id)
        store.upload_calls += 1
        store.uploads.extend(decoded)
        store.merged = pdf.merge(store.uploads)
        now = world.clock()
        item.update(eticket_pdf_pages=pdf.page_count(store.merged), eticket_file_size=len(store.merged),
                    eticket_updated_at=now, updated_at=now)
        world.touch(order)
        world.changed()
        return copy.deepcopy(item)


def finalize_etickets(world: World, order_id: int, item_id: int, body: dict[str, Any]) -> dict[str, Any]:
    """Keep the chosen pages; their count must equal the quantity unless ``ignore_quantity`` (§4)."""
    with world.lock:
        order = _order(world, order_id)
        item = _item(world, order, item_id)
        _require_eticket_item(world, order, item)
        store = world.item_files(item_id)
        if store.merged is None:
            raise unprocessable(item, etickets=["must be uploaded before finalizing"])
        keep = body.get("keep_pages")
        if not isinstance(keep, list) or not keep:
            raise unprocessable(item, keep_pages=["can't be blank"])
        total = pdf.page_count(store.merged)
        if not all(_is_int(p) and 1 <= int(p) <= total for p in keep) or len(set(map(int, keep))) != len(keep):
            raise unprocessable(item, keep_pages=[f"must be distinct page numbers between 1 and {total}"])
        if len(keep) != item["quantity"] and body.get("ignore_quantity") is not True:
            raise unprocessable(item, keep_pages=[
                f"must keep {item['quantity']} pages to match the quantity, or send ignore_quantity"])
        pages = [int(p) for p in keep]
        store.keep_pages = pages
        store.final = pdf.select_pages(store.merged, pages)
        store.delivered_by = "finalize_etickets"
        _finalize(world, order, item, len(pages), len(store.final))
        return copy.deepcopy(item)


def remove_etickets(world: World, order_id: int, item_id: int) -> dict[str, Any]:
    """Clear the uploads.  A finalized item keeps its tickets (a guess: TEvo's rule is unknown)."""
    with world.lock:
        order = _order(world, order_id)
        item = _item(world, order, item_id)
        if item["eticket_finalized"]:
            raise unprocessable(item, eticket_finalized=["e-tickets are finalized and cannot be removed"])
        store = world.item_files(item_id)
        store.uploads.clear()
        store.merged = None
        now = world.clock()
        item.update(eticket_pdf_pages=None, eticket_file_size=None, eticket_updated_at=now, updated_at=now)
        world.touch(order)
        world.changed()
        return copy.deepcopy(item)


def deliver_etickets(world: World, order_id: int, body: dict[str, Any]) -> dict[str, Any]:
    """One whole PDF per item, addressed by ``order_item_id`` (§4 decision); all or nothing."""
    with world.lock:
        order = _order(world, order_id)
        entries = body.get("etickets")
        if not isinstance(entries, list) or not entries:
            raise unprocessable(order, etickets=["can't be blank"])
        by_order_item_id = {i["order_item_id"]: i for i in order["items"]}
        plan: list[tuple[dict[str, Any], bytes]] = []
        for entry in entries:
            item = by_order_item_id.get(entry.get("item_id")) if isinstance(entry, dict) else None
            if item is None:
                raise unprocessable(order, item_id=["is not an order_item_id of this order"])
            _require_eticket_item(world, order, item)
            try:
                raw = pdf.decode_pdf(entry.get("eticket"))
            except pdf.InvalidPdf as exc:
                raise unprocessable(order, eticket=[str(exc)]) from None
            if pdf.page_count(raw) != item["quantity"]:
                raise unprocessable(order, eticket=[
                    f"must contain exactly {item['quantity']} pages, one per ticket; use add and finalize otherwise"])
            plan.append((item, raw))
        for item, raw in plan:
            store = world.item_files(item["id"])
            store.uploads, store.merged, store.final = [raw], raw, raw
            store.keep_pages = list(range(1, item["quantity"] + 1))
            store.delivered_by = "deliver_etickets"
            store.upload_calls += 1
            _finalize(world, order, item, item["quantity"], len(raw))
        return {"result": "success"}


def _finalize(world: World, order: dict[str, Any], item: dict[str, Any], pages: int, size: int) -> None:
    now = world.clock()
    item.update(eticket_finalized=True, eticket_finalized_at=now, eticket_pdf_pages=pages, eticket_file_size=size,
                eticket_updated_at=now, updated_at=now)
    world.touch(order)
    world.settle(order)
    world.changed()


def _require_eticket_item(world: World, order: dict[str, Any], item: dict[str, Any]) -> None:
    # Checked first: finalizing the last item completes the order, and "already
    # finalized" is the answer that tells the caller its earlier call worked.
    if item["eticket_finalized"]:
        raise unprocessable(item, eticket_finalized=["e-tickets are already finalized"])
    if order["seller_state"] != "accepted":
        raise unprocessable(item, order=[f"is {order['seller_state']}; e-tickets need an accepted order"])
    shipment = next((s for s in order["shipments"] if s["id"] == item["delivery_id"]), None)
    if shipment is None or shipment["type"] != "Eticket":
        raise unprocessable(item, needs_eticket=["this item is not delivered by e-ticket"])


# -- shipments (§5) -------------------------------------------------------------------------

def show_shipment(world: World, shipment_id: int) -> dict[str, Any]:
    with world.lock:
        world.advance()
        order, shipment = _shipment(world, shipment_id)
        return _shipment_view(order, shipment)


def update_shipment(world: World, shipment_id: int, body: dict[str, Any]) -> dict[str, Any]:
    """PUT replaces the shipment: the answer has a new id and the old id is gone (§5.3)."""
    with world.lock:
        order, shipment = _shipment(world, shipment_id)
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
        order, shipment = _shipment(world, shipment_id)
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
        order, shipment = _shipment(world, shipment_id)
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


def airbill_pdf(world: World, shipment_id: int) -> bytes:
    """The printable airbill, as a real PDF (its format at TEvo is unknown, §5.4)."""
    with world.lock:
        order, shipment = _shipment(world, shipment_id)
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
        return pdf.text_pdf(lines, title=f"Airbill {shipment['tracking_number']}")


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
        isinstance(t, dict) and _is_int(t.get("seat"))
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


# -- shared checks --------------------------------------------------------------------------

def _order(world: World, order_id: int) -> dict[str, Any]:
    order = world.order(order_id)
    if order is None:
        raise not_found()
    return order


def _item(world: World, order: dict[str, Any], item_id: int) -> dict[str, Any]:
    item = world.find_item(order, item_id)
    if item is None:
        raise not_found()
    return item


def _shipment(world: World, shipment_id: int) -> tuple[dict[str, Any], dict[str, Any]]:
    found = world.find_shipment(shipment_id)
    if found is None:
        raise not_found()
    return found


def _require_reviewer(world: World, order: dict[str, Any], body: dict[str, Any]) -> None:
    reviewer = body.get("reviewer_id")
    if reviewer is None:
        raise unprocessable(order, reviewer_id=["can't be blank"])
    if not _is_int(reviewer) or world.brokerage_user(reviewer) is None:
        raise unprocessable(order, reviewer_id=["must be a user of the seller's brokerage"])


def _require_state(order: dict[str, Any], needed: str, target: str) -> None:
    if order["seller_state"] != needed:
        raise unprocessable(order, seller_state=[
            f"is {order['seller_state']}; only a {needed} order can be {target}"])


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _positive_int(text: str | None, default: int) -> int:
    try:
        value = int(text) if text is not None else default
    except ValueError:
        return default
    return value if value >= 1 else default


def error_for_bad_json() -> TevoApiError:
    return TevoApiError(400, {"error": "The request body is not valid JSON"})
