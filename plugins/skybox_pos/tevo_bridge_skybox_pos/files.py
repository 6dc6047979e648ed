"""Ticket files: SkyBox keeps a file per ticket (``Ticket.fileName``), fetched with ``GET /assets/{fileName}``.

A seat's file is its own PDF, so its page is 1. When several seats name one file, the file is taken
to hold one page per seat in seat order, and is refused if its page count says otherwise: a wrong
page would send one buyer another's ticket.
"""

from __future__ import annotations

import base64
import binascii
import io
import json
from collections import defaultdict
from typing import Any

from pypdf import PdfReader

from tevo_bridge.pos.errors import TicketsNotReady
from tevo_bridge.pos.types import Item, MobileTransfer, Order, TicketFile
from tevo_bridge_skybox_pos.client import Deadline, SkyBoxClient, SkyBoxError
from tevo_bridge_skybox_pos.listings import FILE_STOCK_TYPES, resolve
from tevo_bridge_skybox_pos.sales import SalesDesk

__all__ = ["mobile_transfer", "ticket_files"]


def ticket_files(client: SkyBoxClient, sales: SalesDesk, order: Order, item: Item,
                 deadline: Deadline) -> list[TicketFile] | None:
    tickets = _invoiced_tickets(client, sales, order, item, deadline)
    if tickets is None:  # not invoiced yet (the check before accepting): the item's seats on the listing
        listing = resolve(client, item.remote_id, deadline, tickets=True)
        if listing is None:
            return None
        tickets = _seats_of(item, list(listing.tickets))
    if not tickets or not any(t.get("stockType") in FILE_STOCK_TYPES for t in tickets):
        return None  # physical or mobile tickets: no files to give
    missing = [str(t.get("seatNumber")) for t in tickets if not t.get("fileName")]
    if missing:
        raise TicketsNotReady(f"SkyBox has no file yet for seat(s) {', '.join(missing)} of remote_id {item.remote_id}")
    by_file: dict[str, list[str]] = defaultdict(list)
    for t in sorted(tickets, key=lambda t: int(t.get("seatNumber") or 0)):
        by_file[str(t["fileName"])].append(str(t["seatNumber"]))
    files = []
    for name, seats in by_file.items():
        pdf = _decode(client.get(f"/assets/{name}", deadline=deadline), name)
        pages = len(PdfReader(io.BytesIO(pdf)).pages)
        if len(seats) > 1 and pages != len(seats):
            raise SkyBoxError(f"SkyBox file {name} is shared by seats {', '.join(seats)} but has {pages} pages: "
                              "cannot tell which page is which seat")
        files.append(TicketFile(pdf, {seat: n for n, seat in enumerate(seats, 1)}, name))
    return files


def mobile_transfer(client: SkyBoxClient, sales: SalesDesk, order: Order, item: Item,
                    deadline: Deadline) -> MobileTransfer | None:
    """How the item transfers, from the listing's ``stockType``; claim links are read from the tickets'
    ``externalTicketId`` when every one is a URL (SkyBox has no field of its own for them)."""
    listing = resolve(client, item.remote_id, deadline, tickets=True)
    if listing is None:
        return None
    if listing.stock_type == "ELECTRONIC":
        return MobileTransfer("Eticket")
    source = client.settings.mobile_transfer_source
    if listing.stock_type == "FLASH":
        return MobileTransfer("FlashSeats", transfer_source="FS")
    if listing.stock_type not in ("MOBILE_TRANSFER", "MOBILE_SCREENCAP"):
        return None
    tickets = _invoiced_tickets(client, sales, order, item, deadline) or _seats_of(item, list(listing.tickets))
    links = tuple(str(t.get("externalTicketId") or "") for t in sorted(tickets, key=lambda t: int(t["seatNumber"])))
    if tickets and all(link.startswith("https://") for link in links):
        return MobileTransfer("TMMobileLink", links, source)
    return MobileTransfer("TMMobile", transfer_source=source)


def _invoiced_tickets(client: SkyBoxClient, sales: SalesDesk, order: Order, item: Item,
                      deadline: Deadline) -> list[dict[str, Any]] | None:
    """The tickets of the invoice line sold for ``item``: the line holding exactly its seats, else the line at
    the item's position (the plugin writes one line per item, in order)."""
    invoice = sales.invoice_by_ref(order.order_id, deadline)
    if invoice is None:
        return None
    lines = client.get(f"/invoices/{invoice['id']}/lines", deadline=deadline)
    lines = lines.get("rows", []) if isinstance(lines, dict) else lines or []
    per_line = [_line_tickets(client, int(invoice["id"]), line, deadline) for line in lines]
    for tickets in per_line:
        if item.seats and sorted(str(t.get("seatNumber")) for t in tickets) == sorted(item.seats):
            return tickets
    index = next((n for n, i in enumerate(order.items) if i.item_id == item.item_id), None)
    return per_line[index] if index is not None and index < len(per_line) else None


def _line_tickets(client: SkyBoxClient, invoice_id: int, line: dict[str, Any],
                  deadline: Deadline) -> list[dict[str, Any]]:
    """A line's tickets. Live SkyBox answers them all; its spec declares one ``Ticket``: when fewer come than
    the line sold, the rest are read from their listing (each ticket names its ``invoiceLineId``)."""
    found = client.get(f"/invoices/{invoice_id}/lines/{line['id']}/tickets", deadline=deadline)
    tickets: list[dict[str, Any]] = (found.get("rows", []) if isinstance(found, dict) and "rows" in found else
                                     found if isinstance(found, list) else [found] if found else [])
    sold = int(line.get("quantity") or len(line.get("itemIds") or []))
    if 0 < len(tickets) < sold and tickets[0].get("inventoryId"):
        listing = client.get(f"/inventory/{tickets[0]['inventoryId']}", deadline=deadline)
        on_line = [t for t in (listing or {}).get("tickets") or [] if t.get("invoiceLineId") == line["id"]]
        tickets = on_line if len(on_line) > len(tickets) else tickets
    return tickets


def _seats_of(item: Item, tickets: list[dict[str, Any]]) -> list[dict[str, Any]]:
    live = [t for t in tickets if t.get("status") != "CANCELLED"]
    if item.seats:
        return [t for t in live if str(t.get("seatNumber")) in item.seats]
    return sorted(live, key=lambda t: int(t.get("seatNumber") or 0))[: item.quantity]


def _decode(answer: Any, name: str) -> bytes:
    """``GET /assets`` answers base64, as plain text or as a JSON string."""
    text = answer if isinstance(answer, str) else json.dumps(answer)
    text = text.strip()
    if text.startswith('"'):
        text = json.loads(text)
    try:
        pdf = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise SkyBoxError(f"SkyBox file {name} is not base64") from None
    if not pdf.startswith(b"%PDF"):
        raise SkyBoxError(f"SkyBox file {name} is not a PDF")
    return pdf
