"""The simulator's books: listings and their tickets, holds, customers, invoices and ticket files.

Every change happens under one lock, so holds and invoices racing from many connections are
arbitrated the way a database transaction would: a ticket is held or sold once. Methods raise
``SimError`` with SkyBox's status code; the app turns it into the configured error body.
"""

from __future__ import annotations

import base64
import functools
import io
import itertools
import threading
import uuid
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from pypdf import PdfReader, PdfWriter

from tevo_bridge.pos.inventory import InventoryRow
from tevo_bridge_skybox_pos.simulator.settings import SimSettings

__all__ = ["SimError", "SimState"]

_STOCK_TYPES = {"Eticket": "ELECTRONIC", "TM_mobile": "MOBILE_TRANSFER", "Flash_seats": "FLASH", "Physical": "HARD"}


class SimError(Exception):
    def __init__(self, status: int, message: str, field_name: str | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.field = status, message, field_name


def now() -> datetime:
    return datetime.now(UTC)


def iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_time(value: Any, name: str) -> datetime:
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise SimError(400, f"{name}: cannot parse {value!r} as a date-time", name) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@dataclass
class Ticket:
    id: int
    inventory_id: int
    seat: int
    status: str = "AVAILABLE"  # AVAILABLE, SOLD
    sell_price: float = 0.0
    cost: float = 0.0
    file_name: str | None = None
    bar_code: str | None = None
    external_ticket_id: str | None = None
    hold_id: int | None = None
    invoice_line_id: int | None = None


@dataclass
class Listing:
    id: int
    exchange_pos_id: int
    event_id: int
    event_name: str
    event_date: str
    venue: str
    section: str
    row: str
    list_price: float
    cost: float
    stock_type: str
    split_type: str = "ANY"
    tickets: list[int] = field(default_factory=list)
    origin_id: int | None = None  # a listing split off by a partial hold
    version: int = 1
    last_update: datetime = field(default_factory=now)


@dataclass
class HoldRec:
    id: int
    inventory_id: int
    quantity: int
    ticket_ids: list[int]
    expiry: datetime
    external_ref: str | None
    customer_id: int | None
    notes: str | None
    created: datetime = field(default_factory=now)
    removed: datetime | None = None


@dataclass
class InvoiceRec:
    id: int
    customer_id: int
    external_ref: str | None
    body: dict[str, Any]
    lines: list[dict[str, Any]]
    created: datetime = field(default_factory=now)


class SimState:
    ACCOUNT_ID = 4711

    def __init__(self, settings: SimSettings | None = None) -> None:
        self.settings = settings or SimSettings()
        self.lock = threading.RLock()
        self._ids = itertools.count(1_000_001)
        self._ticket_ids = itertools.count(2_660_431_492)  # beyond 2**31, as live ticket ids are
        self._pos_ids = itertools.count(700_000_001)
        self.listings: dict[int, Listing] = {}
        self.tickets: dict[int, Ticket] = {}
        self.holds: dict[int, HoldRec] = {}
        self.customers: dict[int, dict[str, Any]] = {}
        self.invoices: dict[int, InvoiceRec] = {}
        self.assets: dict[str, bytes] = {}
        self.pos_id_history: dict[int, int] = {}  # every exchangePosId a listing ever had -> its id
        self.defaults: list[dict[str, Any]] = []
        self.calls: list[tuple[str, str]] = []  # (method, path) of every authorised call
        self.rate_limited = 0  # calls answered 429
        self.spec_mismatches: list[str] = []  # answers SkyBox's models refuse (with ``spec_check``)
        self.refused_bodies: list[str] = []  # request bodies refused because SkyBox's models refuse them
        tevo = self.create_customer(self.customer_body("Ticket Evolution", "orders@ticketevolution.com",
                                                       customer_type="MARKETPLACE"))
        self.tevo_customer_id = tevo["id"]
        self.defaults.append({"accountId": self.ACCOUNT_ID, "customerId": tevo["id"],
                              "marketplace": "TICKET_EVOLUTION"})

    # -- seeding (not part of SkyBox's API) --------------------------------------------------------

    def seed(self, rows: Iterable[InventoryRow], *, files_ready: bool = True) -> dict[str, int]:
        """Load inventory rows as listings; returns remote_id -> exchangePosId (numeric remote ids are kept)."""
        mapping: dict[str, int] = {}
        with self.lock:
            for row in rows:
                pos_id = int(row.remote_id) if row.remote_id.isdigit() else next(self._pos_ids)
                listing = Listing(
                    id=next(self._ids), exchange_pos_id=pos_id, event_id=zlib.crc32(row.event.encode()) % 900_000 + 100_000,
                    event_name=row.event, event_date=row.occurs_at, venue=row.venue, section=row.section,
                    row=row.row, list_price=float(row.min_price), cost=float(row.min_price * Decimal("0.8")),
                    stock_type=_STOCK_TYPES.get(row.format, "HARD"),
                )
                pages = _split_pdf(row) if files_ready else {}
                for seat in row.seats[: row.quantity]:
                    ticket = Ticket(next(self._ticket_ids), listing.id, int(seat), sell_price=listing.list_price,
                                    cost=listing.cost)
                    if seat in pages:
                        ticket.file_name = self._store_asset(pages[seat])
                    if len(row.transfer_links) == len(row.seats):
                        ticket.external_ticket_id = row.transfer_links[row.seats.index(seat)]
                    self.tickets[ticket.id] = ticket
                    listing.tickets.append(ticket.id)
                self.listings[listing.id] = listing
                self.pos_id_history[pos_id] = listing.id
                mapping[row.remote_id] = pos_id
        return mapping

    def _store_asset(self, pdf: bytes) -> str:
        name = f"{uuid.uuid4().hex}.pdf"  # 36 characters: within fileName's 45
        self.assets[name] = pdf
        return name

    # -- time --------------------------------------------------------------------------------------

    def expire_holds(self) -> None:
        """With ``holds_expire``, SkyBox frees a hold at its expiry date; otherwise it never does."""
        if not self.settings.holds_expire:
            return
        moment = now()
        for hold in self.holds.values():
            if hold.removed is None and hold.expiry <= moment:
                self._remove_hold(hold, moment)

    # -- listings ----------------------------------------------------------------------------------

    def listing(self, inventory_id: int) -> Listing:
        found = self.listings.get(inventory_id)
        if found is None or not found.tickets:  # a split-off part merged back is gone
            raise SimError(404, f"inventory {inventory_id} not found")
        return found

    def free_tickets(self, listing: Listing) -> list[Ticket]:
        return [t for t in (self.tickets[i] for i in listing.tickets) if t.status == "AVAILABLE" and t.hold_id is None]

    def inventory_json(self, listing: Listing, *, include_tickets: bool, summary: bool = True) -> dict[str, Any]:
        tickets = [self.tickets[i] for i in listing.tickets]
        free = self.free_tickets(listing)
        live = [t for t in tickets if t.status == "AVAILABLE"]
        held = [t for t in live if t.hold_id is not None]
        status = "AVAILABLE" if free else ("ON_HOLD" if held else "DEPLETED")
        seats = sorted(t.seat for t in (free or held or tickets))
        # Inventory.quantity is at least 1 in SkyBox's model: a sold-out listing is left out of searches, and read
        # by its id it answers DEPLETED with the quantity it had (the plugin sells none of a DEPLETED listing).
        body: dict[str, Any] = {
            "id": listing.id, "accountId": self.ACCOUNT_ID, "eventId": listing.event_id,
            "quantity": len(free) or len(held) or len(tickets), "section": listing.section, "row": listing.row,
            "lowSeat": seats[0] if seats else None, "highSeat": seats[-1] if seats else None,
            "seatType": "CONSECUTIVE", "stockType": listing.stock_type, "splitType": listing.split_type,
            "cost": listing.cost, "listPrice": listing.list_price, "status": status,
            "exchangePosId": listing.exchange_pos_id, "ticketIds": [t.id for t in live],
            "filesUploaded": bool(tickets) and all(t.file_name for t in tickets),
            "barCodesEntered": False, "broadcast": True, "version": listing.version,
            "lastUpdate": iso(listing.last_update),
        }
        if summary:
            first_hold = next((self.holds[t.hold_id] for t in held if t.hold_id), None)
            body |= {"seatNumbers": ",".join(str(s) for s in seats), "listed": bool(free),
                     "holdId": first_hold.id if first_hold else None, "currencies": ["USD"],
                     "event": {"id": listing.event_id, "name": listing.event_name, "date": listing.event_date,
                               "venue": {"name": listing.venue}}}
        if include_tickets:
            body["tickets"] = [self.ticket_json(t) for t in tickets]
        return body

    def ticket_json(self, t: Ticket) -> dict[str, Any]:
        listing = self.listings[t.inventory_id]
        return {"id": t.id, "seatNumber": t.seat, "section": listing.section, "row": listing.row,
                "status": t.status, "cost": t.cost, "faceValue": t.cost, "sellPrice": t.sell_price,
                "stockType": listing.stock_type, "fileName": t.file_name, "barCode": t.bar_code,
                "externalTicketId": t.external_ticket_id,
                "inventoryId": t.inventory_id, "invoiceLineId": t.invoice_line_id, "eventId": listing.event_id}

    def search_inventory(self, ids: Sequence[int], pos_ids: Sequence[int], include_tickets: bool) -> list[dict[str, Any]]:
        rows = [lst for lst in self.listings.values()
                if (not ids or lst.id in ids) and (not pos_ids or lst.exchange_pos_id in pos_ids)]
        return [self.inventory_json(lst, include_tickets=include_tickets) for lst in rows
                if any(self.tickets[i].status == "AVAILABLE" for i in lst.tickets)]  # SkyBox omits sold-out listings

    def update_inventory(self, inventory_id: int, body: dict[str, Any]) -> None:
        """``PUT /inventory/{id}``: only ticket files are taken from the body here."""
        listing = self.listing(inventory_id)
        uploaded = False
        for item in body.get("tickets") or []:
            ticket = self.tickets.get(int(item.get("id", 0)))
            if ticket is None or ticket.inventory_id != inventory_id:
                raise SimError(400, f"ticket {item.get('id')} is not on inventory {inventory_id}", "tickets")
            if item.get("base64FileBytes"):
                try:
                    pdf = base64.b64decode(item["base64FileBytes"], validate=True)
                except ValueError:
                    raise SimError(400, "base64FileBytes is not base64", "tickets.base64FileBytes") from None
                ticket.file_name = self._store_asset(pdf)
                uploaded = True
        if uploaded and self.settings.new_pos_id_on_upload:
            listing.exchange_pos_id = next(self._pos_ids)
            self.pos_id_history[listing.exchange_pos_id] = listing.id
        listing.version += 1
        listing.last_update = now()

    # -- holds -------------------------------------------------------------------------------------

    def _ref_matches(self, stored: str | None, wanted: Sequence[str]) -> bool:
        if stored is None:
            return False
        s = stored.lower()
        if self.settings.external_ref_substring:
            return any(w.lower() in s for w in wanted)
        return any(w.lower() == s for w in wanted)

    def hold_json(self, hold: HoldRec) -> dict[str, Any]:
        listing = self.listings[hold.inventory_id]
        seats = sorted(self.tickets[i].seat for i in hold.ticket_ids)
        written = _ranges(seats) if self.settings.hold_seats == "ranges" else ",".join(str(s) for s in seats)
        return {"id": hold.id, "accountId": self.ACCOUNT_ID, "inventoryId": hold.inventory_id,
                "eventId": listing.event_id, "quantity": hold.quantity, "section": listing.section,
                "row": listing.row, "seats": written, "cost": listing.cost,
                "listPrice": listing.list_price, "externalRef": hold.external_ref, "customerId": hold.customer_id,
                "notes": hold.notes, "createdDate": iso(hold.created), "expiryDate": iso(hold.expiry),
                "removedDate": iso(hold.removed), "removedByUserId": 1 if hold.removed else None}

    def create_hold(self, body: dict[str, Any]) -> dict[str, Any]:
        if "expiryDate" not in body or body["expiryDate"] in (None, ""):
            raise SimError(400, "expiryDate is required", "expiryDate")
        expiry = parse_time(body["expiryDate"], "expiryDate")
        if expiry <= now():
            raise SimError(400, "expiryDate must be in the future", "expiryDate")
        if body.get("inventoryId") is not None:
            listing = self.listing_or_400(int(body["inventoryId"]))
        elif body.get("exchangePosId") is not None:
            inventory_id = self.pos_id_history.get(int(body["exchangePosId"]))
            listing = self.listing_or_400(inventory_id or -1)
        else:
            raise SimError(400, "inventoryId or exchangePosId is required", "inventoryId")
        ref = body.get("externalRef")
        if ref and self.settings.refuse_duplicate_external_ref and any(
                h.external_ref == ref for h in self.holds.values()):
            raise SimError(400, f"externalRef {ref} already exists", "externalRef")
        free = self.free_tickets(listing)
        quantity = int(body.get("quantity") or len(free))
        if quantity < 1:
            raise SimError(400, "quantity must be at least 1", "quantity")
        if quantity > len(free):
            raise SimError(400, f"not enough tickets: {quantity} requested, {len(free)} available", "quantity")
        chosen = sorted(free, key=lambda t: t.seat)[:quantity]
        target = listing
        if self.settings.partial_holds == "split" and quantity < len(free):
            target = self._split(listing, chosen)
        hold = HoldRec(next(self._ids), target.id, quantity, [t.id for t in chosen], expiry, ref,
                       body.get("customerId"), body.get("notes"))
        for t in chosen:
            t.hold_id = hold.id
        self.holds[hold.id] = hold
        listing.last_update = now()
        return self.hold_json(hold)

    def listing_or_400(self, inventory_id: int) -> Listing:
        listing = self.listings.get(inventory_id)
        if listing is None or not listing.tickets:
            raise SimError(400, f"inventory {inventory_id} not found", "inventoryId")
        return listing

    def _split(self, listing: Listing, chosen: list[Ticket]) -> Listing:
        """Move the held tickets to a new listing with its own id and exchangePosId."""
        part = Listing(next(self._ids), next(self._pos_ids), listing.event_id, listing.event_name,
                       listing.event_date, listing.venue, listing.section, listing.row, listing.list_price,
                       listing.cost, listing.stock_type, listing.split_type, origin_id=listing.id)
        for t in chosen:
            listing.tickets.remove(t.id)
            part.tickets.append(t.id)
            t.inventory_id = part.id
        self.listings[part.id] = part
        self.pos_id_history[part.exchange_pos_id] = part.id
        return part

    def _remove_hold(self, hold: HoldRec, moment: datetime) -> None:
        hold.removed = moment
        for i in hold.ticket_ids:
            t = self.tickets[i]
            if t.hold_id == hold.id:
                t.hold_id = None
        self._merge_back(self.listings[hold.inventory_id])

    def _merge_back(self, part: Listing) -> None:
        """A listing split off by a partial hold gives its free tickets back to the one it came from, once no
        live hold keeps it apart (the hold ended, or a void returned tickets sold from it)."""
        if part.origin_id is None or part.origin_id not in self.listings:
            return
        if any(h.removed is None and h.inventory_id == part.id for h in self.holds.values()):
            return
        origin = self.listings[part.origin_id]
        for i in list(part.tickets):
            if self.tickets[i].status == "AVAILABLE":
                part.tickets.remove(i)
                origin.tickets.append(i)
                self.tickets[i].inventory_id = origin.id

    def delete_hold(self, hold_id: int) -> dict[str, Any] | None:
        hold = self.holds.get(hold_id)
        if hold is None or hold.removed is not None:
            if self.settings.delete_gone_hold_404:
                raise SimError(404, f"hold {hold_id} not found")
            return None if hold is None else self.hold_json(hold)
        self._remove_hold(hold, now())
        return self.hold_json(hold)

    def delete_listing_holds(self, inventory_id: int) -> None:
        """``DELETE /inventory/{id}/hold``: every hold on the listing goes (the plugin must never call it)."""
        self.listing(inventory_id)
        for hold in self.holds.values():
            if hold.removed is None and hold.inventory_id == inventory_id:
                self._remove_hold(hold, now())

    def search_holds(self, *, refs: Sequence[str], inventory_id: int | None, hold_id: int | None,
                     expiry_to: datetime | None, expiry_from: datetime | None = None) -> list[dict[str, Any]]:
        out = []
        for hold in sorted(self.holds.values(), key=lambda h: h.id):
            if refs and not self._ref_matches(hold.external_ref, refs):
                continue
            if hold.removed is not None and self.settings.hide_removed_holds:
                continue
            if inventory_id is not None and hold.inventory_id != inventory_id:
                continue
            if hold_id is not None and hold.id != hold_id:
                continue
            if expiry_to is not None and hold.expiry > expiry_to:
                continue
            if expiry_from is not None and hold.expiry < expiry_from:
                continue
            out.append(self.hold_json(hold))
        return out

    # -- customers ---------------------------------------------------------------------------------

    def customer_body(self, display_name: str, email: str = "", *, customer_type: str = "RETAIL") -> dict[str, Any]:
        """A customer as SkyBox's model requires one (seeding and tests: the API path validates bodies)."""
        return {"accountId": self.ACCOUNT_ID, "displayName": display_name, "email": email,
                "customerType": customer_type, "salesTerm": "NET0", "paymentMethod": "OTHER",
                "defaultDeliveryMethod": "EMAIL",
                "address": {"address1": "", "city": "Unknown", "state": "UNKNOWN", "postalCode": "00000",
                            "country": "US", "phone1": ""}}

    def create_customer(self, body: dict[str, Any]) -> dict[str, Any]:
        if not body.get("displayName"):
            raise SimError(400, "displayName is required", "displayName")
        if len(body["displayName"]) > 100:
            raise SimError(400, "displayName is longer than 100 characters", "displayName")
        customer = dict(body) | {"id": next(self._ids), "accountId": self.ACCOUNT_ID, "createdDate": iso(now())}
        self.customers[customer["id"]] = customer
        return customer

    def search_customers(self, email: str | None, display_name: str | None) -> list[dict[str, Any]]:
        def like(value: Any, wanted: str | None) -> bool:  # substring, case-blind: the loosest reading
            return wanted is None or wanted.lower() in str(value or "").lower()

        return [c for c in self.customers.values() if like(c.get("email"), email) and like(c.get("displayName"),
                                                                                           display_name)]

    # -- invoices ----------------------------------------------------------------------------------

    def create_invoice(self, body: dict[str, Any], force: bool) -> dict[str, Any]:
        customer_id = body.get("customerId")
        if customer_id not in self.customers:
            raise SimError(400, f"customer {customer_id} not found", "customerId")
        lines = body.get("lines") or []
        if not lines:
            raise SimError(400, "lines is required", "lines")
        ref = body.get("externalRef")
        if ref is not None and len(str(ref)) > 255:
            raise SimError(400, "externalRef is longer than 255 characters", "externalRef")
        if ref and self.settings.refuse_duplicate_external_ref and any(
                i.external_ref == ref for i in self.invoices.values()):
            raise SimError(400, f"externalRef {ref} already exists", "externalRef")
        wanted: list[Ticket] = []
        for n, line in enumerate(lines):
            if line.get("lineItemType") != "INVENTORY":
                raise SimError(400, f"lines[{n}].lineItemType must be INVENTORY here", f"lines[{n}].lineItemType")
            if "amount" not in line:
                raise SimError(400, f"lines[{n}].amount is required", f"lines[{n}].amount")
            for ticket_id in line.get("itemIds") or []:
                ticket = self.tickets.get(int(ticket_id))
                if ticket is None:
                    raise SimError(400, f"ticket {ticket_id} not found", f"lines[{n}].itemIds")
                if ticket.status != "AVAILABLE" or ticket in wanted:
                    raise SimError(400, f"ticket {ticket_id} is not available", f"lines[{n}].itemIds")
                if ticket.hold_id is not None and self.settings.force_required and not force:
                    raise SimError(400, f"ticket {ticket_id} is on hold; use force to invoice it",
                                   f"lines[{n}].itemIds")
                wanted.append(ticket)
            if not line.get("itemIds"):
                raise SimError(400, f"lines[{n}].itemIds is required", f"lines[{n}].itemIds")
        invoice = InvoiceRec(next(self._ids), customer_id, ref, dict(body), [])
        for line in lines:
            line_id = next(self._ids)
            ids = [int(i) for i in line["itemIds"]]
            invoice.lines.append({"id": line_id, "accountId": self.ACCOUNT_ID, "lineItemType": "INVENTORY",
                                  "lineType": "INVOICE", "itemIds": ids, "amount": line["amount"],
                                  "quantity": len(ids), "cancelled": False})
            share = round(float(line["amount"]) / len(ids), 2)
            for i in ids:
                t = self.tickets[i]
                t.status, t.invoice_line_id, t.sell_price = "SOLD", line_id, share
        touched = {t.hold_id for t in wanted if t.hold_id is not None}
        for hold_id in touched:
            hold = self.holds[hold_id]
            if self.settings.invoice_ends_hold and all(self.tickets[i].status == "SOLD" for i in hold.ticket_ids):
                # Ended as a deletion ends it: its tickets let go of it, so a void that returns them to the
                # pool (DELETE of the invoice's lines) puts them back on sale, not back on a dead hold.
                self._remove_hold(hold, now())
        self.invoices[invoice.id] = invoice
        return self.invoice_json(invoice)

    def invoice_json(self, invoice: InvoiceRec) -> dict[str, Any]:
        b = invoice.body
        return {"id": invoice.id, "accountId": self.ACCOUNT_ID, "customerId": invoice.customer_id,
                "externalRef": invoice.external_ref, "salesTerm": b.get("salesTerm", "NET0"),
                "paymentStatus": b.get("paymentStatus", "UNPAID"),
                "fulfillmentStatus": b.get("fulfillmentStatus", "PENDING"),
                "currencyCode": b.get("currencyCode", "USD"), "taxAmount": 0, "shippingAmount": 0,
                "otherAmount": 0, "createdDate": iso(invoice.created), "lines": invoice.lines,
                "total": sum(float(line["amount"]) for line in invoice.lines),
                "filesUploaded": all(self.tickets[i].file_name for line in invoice.lines for i in line["itemIds"])}

    def update_invoice(self, invoice_id: int, body: dict[str, Any]) -> dict[str, Any]:
        """``PUT /invoices/{id}``: statuses and notes; lines change through their own endpoints."""
        invoice = self.invoice(invoice_id)
        for key in ("paymentStatus", "fulfillmentStatus", "publicNotes", "internalNotes"):
            if key in body:
                invoice.body[key] = body[key]
        return self.invoice_json(invoice)

    def delete_invoice_line(self, invoice_id: int, line_id: int) -> None:
        """``DELETE /invoices/{id}/lines/{lineId}``: SkyBox's spec says the tickets go back to the inventory pool."""
        invoice = self.invoice(invoice_id)
        line = next((ln for ln in invoice.lines if ln["id"] == line_id), None)
        if line is None:
            raise SimError(400, f"line {line_id} is not on invoice {invoice_id}", "lineId")
        invoice.lines.remove(line)
        for ticket_id in line["itemIds"]:
            t = self.tickets[ticket_id]
            t.status, t.invoice_line_id, t.sell_price = "AVAILABLE", None, self.listings[t.inventory_id].list_price
            self.listings[t.inventory_id].last_update = now()
        for listing_id in {self.tickets[i].inventory_id for i in line["itemIds"]}:
            self._merge_back(self.listings[listing_id])

    def invoice(self, invoice_id: int) -> InvoiceRec:
        found = self.invoices.get(invoice_id)
        if found is None:
            raise SimError(404, f"invoice {invoice_id} not found")
        return found

    def search_invoices(self, refs: Sequence[str]) -> list[dict[str, Any]]:
        return [self.invoice_json(i) for i in sorted(self.invoices.values(), key=lambda i: i.id)
                if not refs or self._ref_matches(i.external_ref, refs)]

    def line_tickets(self, invoice_id: int, line_id: int) -> list[dict[str, Any]]:
        line = next((ln for ln in self.invoice(invoice_id).lines if ln["id"] == line_id), None)
        if line is None:
            raise SimError(400, f"line {line_id} is not on invoice {invoice_id}")
        return [self.ticket_json(self.tickets[i]) for i in line["itemIds"]]

    # -- inspection for tests ----------------------------------------------------------------------

    def sold(self, pos_id: int) -> int:
        with self.lock:
            inventory_id = self.pos_id_history[pos_id]
            family = [lst for lst in self.listings.values() if lst.id == inventory_id or lst.origin_id == inventory_id]
            return sum(self.tickets[i].status == "SOLD" for lst in family for i in lst.tickets)

    def live_holds(self) -> list[HoldRec]:
        with self.lock:
            return [h for h in self.holds.values() if h.removed is None]


def _ranges(seats: list[int]) -> str:
    """Seats as SkyBox may write them on a hold: runs of consecutive seats as ``low-high`` (``1-3,7``)."""
    runs: list[list[int]] = []
    for seat in seats:
        if runs and seat == runs[-1][-1] + 1:
            runs[-1].append(seat)
        else:
            runs.append([seat])
    return ",".join(f"{r[0]}-{r[-1]}" if len(r) > 1 else str(r[0]) for r in runs)


def _split_pdf(row: InventoryRow) -> dict[str, bytes]:
    """One single-page PDF per seat, cut from the row's PDF: SkyBox keeps a file per ticket."""
    if not row.eticket_pdf or not row.eticket_pages:
        return {}
    return dict(_pages_of(row.eticket_pdf, tuple(row.eticket_pages.items())))


@functools.lru_cache(maxsize=256)
def _pages_of(path: str, pages: tuple[tuple[str, int], ...]) -> tuple[tuple[str, bytes], ...]:
    """Cut once per file: tests seed a fresh simulator from the same PDFs hundreds of times."""
    with open(path, "rb") as f:
        reader = PdfReader(io.BytesIO(f.read()))
    out = []
    for seat, page in pages:
        writer = PdfWriter()
        writer.add_page(reader.pages[page - 1])
        buffer = io.BytesIO()
        writer.write(buffer)
        out.append((seat, buffer.getvalue()))
    return tuple(out)
