"""E-tickets (docs/tevo-api.md §4): real PDFs, page selection, and the two item ids."""

from __future__ import annotations

import copy
from typing import Any

from tevo_bridge.sandbox import pdf
from tevo_bridge.sandbox.errors import unprocessable
from tevo_bridge.sandbox.rules.common import MAX_PER_PAGE, find_item, find_order, is_int
from tevo_bridge.sandbox.state import World


def list_items(world: World, order_id: int) -> dict[str, Any]:
    with world.lock:
        items = find_order(world, order_id)["items"]
        return {"total_entries": len(items), "per_page": MAX_PER_PAGE, "current_page": 1,
                "items": copy.deepcopy(items)}


def show_item(world: World, order_id: int, item_id: int) -> dict[str, Any]:
    with world.lock:
        return copy.deepcopy(find_item(world, find_order(world, order_id), item_id))


def add_etickets(world: World, order_id: int, item_id: int, body: dict[str, Any]) -> dict[str, Any]:
    """Append uploaded PDFs; pages of several files run on in upload order (§4, open question 10)."""
    with world.lock:
        order = find_order(world, order_id)
        item = find_item(world, order, item_id)
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
        order = find_order(world, order_id)
        item = find_item(world, order, item_id)
        _require_eticket_item(world, order, item)
        store = world.item_files(item_id)
        if store.merged is None:
            raise unprocessable(item, etickets=["must be uploaded before finalizing"])
        keep = body.get("keep_pages")
        if not isinstance(keep, list) or not keep:
            raise unprocessable(item, keep_pages=["can't be blank"])
        total = pdf.page_count(store.merged)
        if not all(is_int(p) and 1 <= int(p) <= total for p in keep) or len(set(map(int, keep))) != len(keep):
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
        order = find_order(world, order_id)
        item = find_item(world, order, item_id)
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
        order = find_order(world, order_id)
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
