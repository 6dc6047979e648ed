"""Customers and invoices: a TEvo order becomes one SkyBox invoice, found again by its ``externalRef``.

SkyBox has no idempotency key for invoices, so the order id in ``externalRef`` is the key: search
first and return an exact match, and after a timeout or a 5xx search again before sending another.
Tickets are picked by the plugin (SkyBox invoices ticket ids): those of the item's own hold, else
the lowest free seats, under a per-listing lock so the plugin's own invoices do not pick the same
seats; SkyBox refusing a seat someone else sold first makes the plugin pick again.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

from tevo_bridge.pos.errors import OutOfStock, UnknownRemoteId, VoidRefused
from tevo_bridge.pos.types import Buyer, Customer, Invoice, Item, Order
from tevo_bridge_skybox_pos.client import BadRequest, Deadline, NotFound, SkyBoxClient, SkyBoxError, Uncertain
from tevo_bridge_skybox_pos.holds import MARK, SkyBoxHold, StripedLocks, holds_by_ref
from tevo_bridge_skybox_pos.listings import Listing, cents, resolve
from tevo_bridge_skybox_pos.stock import StockDesk

__all__ = ["SalesDesk"]

log = logging.getLogger(__name__)

#: How many times an invoice picks seats again after SkyBox refused seats sold meanwhile.
PICK_ATTEMPTS = 6


class SalesDesk:
    def __init__(self, client: SkyBoxClient, stock: StockDesk) -> None:
        self.client, self.settings, self.stock = client, client.settings, stock
        # One set of locks per kind of key: an order's lock is held while its listings' are taken, so the two
        # must never share a stripe (a plain Lock taken twice by one thread waits for ever).
        self._clients, self._orders, self._listings = StripedLocks(), StripedLocks(), StripedLocks()
        self._tevo_customer: int | None = self.settings.tevo_customer_id

    # -- customers -----------------------------------------------------------------------------------

    @staticmethod
    def display_name(buyer: Buyer) -> str:
        name = buyer.name.strip() or f"TEvo client {buyer.id}"
        # Without an email the name is the only key: the TEvo id keeps two clients of one name apart.
        return (name if buyer.email else f"{name} (TEvo {buyer.id})")[:100]

    def find_customer(self, buyer: Buyer, deadline: Deadline) -> Customer | None:
        if buyer.email:
            rows = self.client.search("/customers", {"email": buyer.email}, deadline=deadline)
            match = [r for r in rows if str(r.get("email") or "").strip().lower() == buyer.email.strip().lower()]
        else:
            name = self.display_name(buyer)
            rows = self.client.search("/customers", {"displayName": name}, deadline=deadline)
            match = [r for r in rows if r.get("displayName") == name]
        match = [r for r in match if not r.get("deleted")]
        if not match:
            return None
        first = min(match, key=lambda r: int(r["id"]))
        return Customer(str(first["id"]), str(first.get("displayName") or ""))

    def create_customer(self, buyer: Buyer, deadline: Deadline) -> Customer:
        with self._clients.of(str(buyer.id)):
            for _ in range(3):
                found = self.find_customer(buyer, deadline)  # again, right before creating
                if found is not None:
                    return found
                try:
                    created = self.client.write("POST", "/customers", body=self._customer_body(buyer),
                                                deadline=deadline)
                    return Customer(str(created["id"]), str(created.get("displayName") or ""))
                except Uncertain as exc:
                    log.warning("skybox_pos: customer for TEvo client %s uncertain, searching again: %s", buyer.id, exc)
            raise SkyBoxError(f"POST /customers for TEvo client {buyer.id}: no certain answer after 3 tries")

    def _customer_body(self, buyer: Buyer) -> dict[str, Any]:
        first, _, last = buyer.name.strip().partition(" ")
        return {
            "accountId": self.settings.account_id, "email": buyer.email or "", "displayName": self.display_name(buyer),
            "firstName": first, "lastName": last, "customerType": "RETAIL", "salesTerm": "NET0",
            "paymentMethod": self.settings.client_payment_method, "defaultDeliveryMethod": "EMAIL",
            "notes": f"TEvo client {buyer.id}",
            "address": {"address1": "", "city": "Unknown", "state": "UNKNOWN", "postalCode": "00000",
                        "country": "US", "phone1": buyer.phone or ""},
        }

    def tevo_customer(self, deadline: Deadline) -> int:
        if self._tevo_customer is None:
            defaults = self.client.get("/customers/defaults", deadline=deadline)
            rows = defaults.get("rows", []) if isinstance(defaults, dict) else defaults or []
            found = [r for r in rows if r.get("marketplace") == "TICKET_EVOLUTION" and r.get("customerId")]
            if not found:
                raise SkyBoxError("SkyBox has no default customer for the TICKET_EVOLUTION marketplace: set "
                                  "[plugins.skybox_pos] tevo_customer_id to the customer TEvo's sales go to")
            self._tevo_customer = int(found[0]["customerId"])
        return self._tevo_customer

    # -- invoices ------------------------------------------------------------------------------------

    def invoice_by_ref(self, order_id: int, deadline: Deadline) -> dict[str, Any] | None:
        ref = str(order_id)
        rows = self.client.search("/invoices", {"externalRef": ref}, deadline=deadline)
        match = [r for r in rows if str(r.get("externalRef")) == ref and r.get("paymentStatus") != "VOID"]
        return min(match, key=lambda r: int(r["id"])) if match else None

    def create_invoice(self, order: Order, customer: Customer | None, deadline: Deadline) -> Invoice:
        with self._orders.of(str(order.order_id)):
            existing = self.invoice_by_ref(order.order_id, deadline)
            if existing is not None:
                self._close_holds(order, deadline)
                return Invoice(str(existing["id"]), created=False)
            customer_id = int(customer.id) if customer is not None else self.tevo_customer(deadline)
            for attempt in range(PICK_ATTEMPTS):
                with self._listing_locks(order):
                    lines, consumed, force = self._pick(order, deadline)
                    body = self._invoice_body(order, customer_id, lines)
                    try:
                        created = self.client.write("POST", "/invoices", params={"force": force}, body=body,
                                                    deadline=deadline)
                    except BadRequest as exc:
                        again = self.invoice_by_ref(order.order_id, deadline)  # a refused duplicate is ours
                        if again is not None:
                            return Invoice(str(again["id"]), created=False)
                        if attempt == PICK_ATTEMPTS - 1:
                            raise
                        log.info("skybox_pos: invoice for order %s refused, picking seats again: %s",
                                 order.order_id, exc)
                        continue
                    except Uncertain as exc:
                        again = self.invoice_by_ref(order.order_id, deadline)
                        if again is None:
                            log.warning("skybox_pos: invoice for order %s not made, sending again: %s",
                                        order.order_id, exc)
                            continue
                        created = again
                self.stock.delete_consumed([h.id for h in consumed], deadline)
                return Invoice(str(created["id"]), created=True)
            raise SkyBoxError(f"order {order.order_id}: SkyBox gave no certain answer to {PICK_ATTEMPTS} invoices")

    # -- voids ---------------------------------------------------------------------------------------

    def void_invoice(self, order: Order, invoice_id: str, reason: str, deadline: Deadline) -> None:
        """Undo a sale: SkyBox's spec has no "void invoice" call, but ``DELETE /invoices/{id}/lines/{lineId}``
        returns a line's tickets to the inventory pool, and ``Invoice.paymentStatus`` has ``VOID``. So every
        line is deleted, then the invoice is marked VOID with TEvo's reason. Each step is checked before it is
        made, so a repeat (or a retry after a crash between steps) finishes the void and changes nothing more."""
        with self._orders.of(str(order.order_id)):
            invoice = self._invoice_to_void(invoice_id, deadline)
            for line in self._lines(invoice_id, deadline):
                self._delete_line(invoice_id, int(line["id"]), deadline)
            if invoice.get("paymentStatus") != "VOID":
                note = f"Voided by tevo-bridge: TEvo canceled order {order.order_id}: {reason}"[:1000]
                notes = "\n".join(n for n in (invoice.get("internalNotes"), note) if n)
                body = invoice | {"lines": [], "paymentStatus": "VOID", "internalNotes": notes}
                self.client.write("PUT", f"/invoices/{invoice_id}", body=body, deadline=deadline)

    def _invoice_to_void(self, invoice_id: str, deadline: Deadline) -> dict[str, Any]:
        if not invoice_id.isdigit():
            raise VoidRefused(invoice_id, "not a SkyBox invoice id")
        try:
            invoice = self.client.get(f"/invoices/{invoice_id}", deadline=deadline)
        except NotFound:
            raise VoidRefused(invoice_id, "SkyBox has no such invoice (deleted by hand?): check the tickets "
                                          "are back on sale") from None
        if invoice.get("paymentStatus") in ("PAID", "PARTIAL"):
            raise VoidRefused(invoice_id, f"SkyBox shows it {invoice['paymentStatus']}: refund the payment, then "
                                          "void it in SkyBox by hand")
        return dict(invoice)

    def _lines(self, invoice_id: str, deadline: Deadline) -> list[dict[str, Any]]:
        lines = self.client.get(f"/invoices/{invoice_id}/lines", deadline=deadline)
        rows = lines.get("rows", []) if isinstance(lines, dict) else lines or []
        return [line for line in rows if not line.get("cancelled")]

    def _delete_line(self, invoice_id: str, line_id: int, deadline: Deadline) -> None:
        try:
            self.client.write("DELETE", f"/invoices/{invoice_id}/lines/{line_id}", deadline=deadline)
        except (BadRequest, Uncertain):
            # Gone already (a lost answer, or an earlier try), or truly refused: only a fresh read tells.
            if any(int(line["id"]) == line_id for line in self._lines(invoice_id, deadline)):
                raise

    @contextmanager
    def _listing_locks(self, order: Order) -> Iterator[None]:
        with ExitStack() as stack:
            for lock in self._listings.all_of([i.remote_id for i in order.items]):
                stack.enter_context(lock)
            yield

    def _invoice_body(self, order: Order, customer_id: int, lines: list[dict[str, Any]]) -> dict[str, Any]:
        return {"customerId": customer_id, "externalRef": str(order.order_id), "currencyCode": self.settings.currency,
                "salesTerm": "NET0", "paymentStatus": "UNPAID", "fulfillmentStatus": "PENDING", "taxAmount": 0,
                "shippingAmount": 0, "otherAmount": 0, "deliveryMethod": "EMAIL",
                "publicNotes": f"TEvo order {order.order_id}", "lines": lines}

    def _pick(self, order: Order, deadline: Deadline) -> tuple[list[dict[str, Any]], list[SkyBoxHold], bool]:
        """One INVENTORY line per item, and whether held tickets are among them (``force``).

        TEvo's seats are sold when SkyBox has them free or held by one of our own holds: SkyBox picked the
        seats of each hold without knowing which seats TEvo would assign to which order, and the buyer's files
        must be the seats TEvo sold. Otherwise the item's own hold's tickets, else the lowest free seats;
        ``CannotSupply`` if any item has too few. The hold whose seats were taken finds them sold when its
        order is invoiced, and takes its order's seats (freed by this invoice's hold) from stock then.
        """
        lines, consumed, taken, force = [], [], set[int](), False
        for item in order.items:
            listing = resolve(self.client, item.remote_id, deadline, tickets=True)
            if listing is None:
                raise UnknownRemoteId(item.remote_id)
            held, hold = self._held_tickets(item, deadline)
            ours = self._held_by_us(listing, hold, taken, deadline) if self.settings.force_held_invoices else []
            if hold is not None:
                consumed.append(hold)
                ids = _seats_wanted(item, self._free(listing, taken, deadline) + held + ours) or [
                    int(t["id"]) for t in held]
            else:
                ids = _seats_wanted(item, self._free(listing, taken, deadline) + ours) or self._free_tickets(
                    item, listing, taken, deadline)
            force = force or bool({int(t["id"]) for t in held + ours} & set(ids))
            taken.update(ids)
            lines.append({"accountId": self.settings.account_id, "lineItemType": "INVENTORY", "lineType": "INVOICE",
                          "itemIds": ids, "quantity": item.quantity,
                          "amount": float(cents(item.price * item.quantity))})
        return lines, consumed, force and self.settings.force_held_invoices

    def _held_by_us(self, listing: Listing, own: SkyBoxHold | None, taken: set[int],
                    deadline: Deadline) -> list[dict[str, Any]]:
        """Tickets of the listing held by our other live holds (for other TEvo orders or checkouts)."""
        seats = {seat for row in self.client.search("/holds", {"inventoryId": listing.id}, deadline=deadline)
                 for hold in [SkyBoxHold.from_json(row)]
                 if hold.live and hold.notes.startswith(MARK) and (own is None or hold.id != own.id)
                 for seat in hold.seats}
        return [t for t in listing.tickets if t.get("status") == "AVAILABLE" and t.get("seatNumber") in seats
                and int(t["id"]) not in taken]

    def _held_tickets(self, item: Item, deadline: Deadline) -> tuple[list[dict[str, Any]], SkyBoxHold | None]:
        if not item.global_id:
            return [], None
        live = [h for h in holds_by_ref(self.client, item.global_id, deadline)
                if h.live and (h.remote_id, h.quantity) == (item.remote_id, item.quantity)]
        if not live:
            return [], None  # the hold lapsed or names other tickets: take from stock like any item
        hold = live[0]
        row = self.client.get(f"/inventory/{hold.inventory_id}", deadline=deadline)
        tickets = [t for t in row.get("tickets") or []
                   if t.get("seatNumber") in hold.seats and t.get("status") == "AVAILABLE"]
        return (tickets, hold) if len(tickets) == item.quantity else ([], None)

    def _free(self, listing: Listing, taken: set[int], deadline: Deadline) -> list[dict[str, Any]]:
        """The listing's unsold tickets that no live hold has, lowest seat first."""
        held_seats = {seat for row in self.client.search("/holds", {"inventoryId": listing.id}, deadline=deadline)
                      if not row.get("removedDate")
                      for seat in SkyBoxHold.from_json(row).seats}
        return sorted((t for t in listing.tickets if t.get("status") == "AVAILABLE"
                       and t.get("seatNumber") not in held_seats and int(t["id"]) not in taken),
                      key=lambda t: int(t.get("seatNumber") or 0))

    def _free_tickets(self, item: Item, listing: Listing, taken: set[int], deadline: Deadline) -> list[int]:
        free = self._free(listing, taken, deadline)
        if len(free) < item.quantity and self.stock.sweeper.sweep(deadline, force=True):
            fresh = resolve(self.client, item.remote_id, deadline, tickets=True)
            return self._free_tickets(item, fresh, taken, deadline) if fresh else []
        if len(free) < item.quantity:
            raise OutOfStock(item.remote_id, item.quantity, min(len(free), listing.available))
        return _seats_wanted(item, free) or [int(t["id"]) for t in free[: item.quantity]]

    def _close_holds(self, order: Order, deadline: Deadline) -> None:
        """On a repeated invoice: delete item holds the first call left open (it stopped after the sale)."""
        for item in order.items:
            if item.global_id:
                hold_ids = [h.id for h in holds_by_ref(self.client, item.global_id, deadline) if not h.removed]
                self.stock.delete_consumed(hold_ids, deadline)


def _seats_wanted(item: Item, pool: list[dict[str, Any]]) -> list[int]:
    """The ids of exactly the seats TEvo sold, when all are in ``pool``: the buyer's tickets then match TEvo's."""
    by_seat = {str(t.get("seatNumber")): int(t["id"]) for t in pool}
    if item.seats and len(item.seats) == item.quantity and all(seat in by_seat for seat in item.seats):
        return [by_seat[seat] for seat in item.seats]
    return []
