"""CsvPos: the POS hooks over a folder of CSV files (see ``files``)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from tevo_bridge import hookimpl
from tevo_bridge.paths import ConfigDirectoryPath
from tevo_bridge.pos.errors import VoidRefused
from tevo_bridge.pos.inventory import InventoryRow, timestamp
from tevo_bridge.pos.rules import answer_hold, check_supply, tickets_to_take
from tevo_bridge.pos.types import (
    Availability,
    Buyer,
    Customer,
    Hold,
    HoldResult,
    Invoice,
    Item,
    MobileTransfer,
    Order,
    PosHealth,
    PriceDecision,
    StockListing,
    TicketFile,
)
from tevo_bridge_csv_pos.files import CUSTOMERS, HOLDS, INVENTORY, INVOICES, VOIDS, CsvFolder, Record

#: The POS contract versions this plugin is built for (docs/plugins.md, "Contract versions").
TEVO_BRIDGE_CONTRACT = (2,)


@dataclass
class _Books:
    """Everything the stock arithmetic needs, read in one go under the folder's lock."""

    inventory: dict[str, InventoryRow]
    holds: list[Record]
    invoices: list[Record]
    voided: set[str]

    @classmethod
    def read(cls, folder: CsvFolder, now: str) -> _Books:
        voided = {r["invoice_id"] for r in folder.read(VOIDS)}
        books = cls(folder.inventory(), folder.read(HOLDS), folder.read(INVOICES), voided)
        invoiced = {r["global_id"] for r in books.invoices if r["global_id"]}
        for hold in books.holds:
            if hold["state"] != "held":
                continue
            # invoices.csv is written before holds.csv: a crash between the two leaves a hold
            # "held" whose invoice exists. The invoice is the truth.
            if hold["global_id"] in invoiced:
                hold["state"] = "invoiced"
            elif hold["expires_at"] and hold["expires_at"] <= now:
                hold["state"] = "expired"
        return books

    def hold(self, global_id: str) -> Record | None:
        return next((h for h in self.holds if h["global_id"] == global_id), None)

    def available(self, remote_id: str) -> int | None:
        group = self.inventory.get(remote_id)
        if group is None:
            return None
        held = sum(int(h["quantity"]) for h in self.holds if h["remote_id"] == remote_id and h["state"] == "held")
        sold = sum(int(r["quantity"]) for r in self.invoices
                   if r["remote_id"] == remote_id and r["invoice_id"] not in self.voided)
        return max(0, group.quantity - held - sold)


def _next_id(records: list[Record], column: str, prefix: str = "") -> int:
    return max((int(r[column].removeprefix(prefix)) for r in records if r[column]), default=0) + 1


class CsvPos:
    """A POS kept in ``inventory.csv`` (the seller's), ``customers.csv``, ``holds.csv`` and ``invoices.csv``."""

    class Config(BaseModel):
        model_config = ConfigDict(extra="forbid")

        #: The folder holding ``inventory.csv``; the other files are created in it when missing. A relative
        #: path is under the config file's folder, so the daemon finds it whatever its working directory.
        directory: ConfigDirectoryPath

    def __init__(self, config: Config) -> None:
        self.folder = CsvFolder(config.directory)
        if not (config.directory / INVENTORY).is_file():
            raise FileNotFoundError(f"{config.directory / INVENTORY} does not exist: the POS has no stock")
        # A bad row or a missing ticket PDF stops the start, named by line: not an order accepted and stuck later.
        self.folder.inventory(check_pdfs=True)
        self.folder.create_missing()

    @property
    def ticket_dir(self) -> Path:
        """Where this POS's ticket PDFs live: the daemon reads none from outside it unless told to."""
        return self.folder.directory

    def _group(self, remote_id: str) -> InventoryRow | None:
        with self.folder.locked():
            return self.folder.inventory().get(remote_id)

    @hookimpl
    def pos_health(self) -> PosHealth:
        # Without the folder's lock: health must answer while a long write holds it, and a read needs none.
        path = self.folder.directory / INVENTORY
        try:
            with path.open(encoding="utf-8") as f:
                f.readline()
        except OSError as exc:
            return PosHealth(False, f"{path} cannot be read: {exc.strerror or exc}")
        return PosHealth(True)

    @hookimpl
    def pos_check_inventory(self, item: Item) -> Availability:
        with self.folder.locked():
            count = _Books.read(self.folder, timestamp()).available(item.remote_id)
        return Availability(item.remote_id, count or 0, known=count is not None)

    @hookimpl
    def pos_list_stock(self) -> list[StockListing]:
        with self.folder.locked():
            books = _Books.read(self.folder, timestamp())
        return [row.stock_listing(books.available(remote_id) or 0) for remote_id, row in books.inventory.items()]

    @hookimpl
    def pos_accept_price(self, item: Item) -> PriceDecision:
        group = self._group(item.remote_id)
        if group is None:
            return PriceDecision(False, f"remote_id {item.remote_id!r} is not in the POS")
        return group.price_decision(item.price)

    @hookimpl
    def pos_find_customer(self, buyer: Buyer) -> Customer | None:
        with self.folder.locked():
            customers = self.folder.read(CUSTOMERS)
        found = next((c for c in customers if c["tevo_client_id"] == str(buyer.id)), None)
        return None if found is None else Customer(found["id"], found["name"])

    @hookimpl
    def pos_create_customer(self, buyer: Buyer) -> Customer:
        with self.folder.locked():
            customers = self.folder.read(CUSTOMERS)
            found = next((c for c in customers if c["tevo_client_id"] == str(buyer.id)), None)
            if found is None:
                found = {
                    "id": str(_next_id(customers, "id")),
                    "tevo_client_id": str(buyer.id),
                    "name": buyer.name,
                    "email": buyer.email or "",
                    "phone": buyer.phone or "",
                }
                self.folder.write(CUSTOMERS, [*customers, found])
        return Customer(found["id"], found["name"])

    @hookimpl
    def pos_hold(self, hold: Hold) -> HoldResult:
        return self._place([hold])[0]

    @hookimpl
    def pos_hold_many(self, holds: list[Hold]) -> list[HoldResult | Exception]:
        # The whole folder is read and the holds file rewritten per call: a batch pays that once, not per hold.
        return list(self._place(holds))

    def _place(self, holds: list[Hold]) -> list[HoldResult]:
        """Each hold decided in order against the books as the earlier ones left them; one write for all."""
        now = timestamp()
        with self.folder.locked():
            books = _Books.read(self.folder, now)
            known = len(books.holds)
            answers = [self._hold(books, hold, now) for hold in holds]
            if len(books.holds) > known:  # a replay or a refusal adds no row: nothing to write
                self.folder.write(HOLDS, books.holds)
        return answers

    @staticmethod
    def _hold(books: _Books, hold: Hold, now: str) -> HoldResult:
        count = books.available(hold.remote_id)
        previous = books.hold(hold.global_id)
        answer = answer_hold(
            hold,
            books.inventory.get(hold.remote_id),
            count,
            None if previous is None else (previous["remote_id"], int(previous["quantity"]), previous["state"]),
        )
        if answer is not None:
            return answer
        assert count is not None  # answer_hold refuses an unknown group
        books.holds.append(
            {
                "global_id": hold.global_id,
                "remote_id": hold.remote_id,
                "quantity": str(hold.quantity),
                "state": "held",
                "created_at": now,
                "expires_at": timestamp(hold.expires_at) if hold.expires_at else "",
            }
        )
        return HoldResult(True, hold.global_id, count - hold.quantity)

    @hookimpl
    def pos_release_hold(self, hold: Hold) -> bool:
        with self.folder.locked():
            books = _Books.read(self.folder, timestamp())
            found = books.hold(hold.global_id)
            # Only a held hold is freed: an invoiced one stays invoiced, its tickets stay sold.
            if found is None or found["state"] != "held":
                return False
            found["state"] = "released"
            self.folder.write(HOLDS, books.holds)
        return True

    @hookimpl
    def pos_create_invoice(self, order: Order, customer: Customer | None) -> Invoice:
        now = timestamp()
        with self.folder.locked():
            books = _Books.read(self.folder, now)
            done = next((r for r in books.invoices if r["tevo_order_id"] == str(order.order_id)), None)
            if done is not None:
                return Invoice(done["invoice_id"], created=False)
            held = {
                h["global_id"]: (h["remote_id"], int(h["quantity"]))
                for h in (books.hold(i.global_id) for i in order.items if i.global_id is not None)
                if h is not None and h["state"] == "held"
            }
            needed, consumed = tickets_to_take(order, held)
            check_supply(needed, books.available)
            invoice_id = f"INV-{_next_id(books.invoices, 'invoice_id', 'INV-')}"
            head = {
                "invoice_id": invoice_id,
                "tevo_order_id": str(order.order_id),
                "customer_id": customer.id if customer else "",
                "buyer": order.buyer.name or f"{order.buyer.type} {order.buyer.id}",
                "total": str(order.total),
                "created_at": now,
                "currency": order.currency,
                "oid": order.oid,
                "reference": order.reference,
            }
            lines = [
                {**head, "global_id": i.global_id if i.global_id in consumed else "", "remote_id": i.remote_id,
                 "quantity": str(i.quantity), "price": str(i.price), "fees": str(i.fees)}
                for i in order.items
            ]
            # Invoices first: if the process dies before holds.csv is rewritten, reading derives
            # the hold's "invoiced" state from the invoice, so the tickets are never counted free.
            self.folder.write(INVOICES, [*books.invoices, *lines])
            if consumed:
                for hold in books.holds:
                    if hold["global_id"] in consumed:
                        hold["state"] = "invoiced"
                self.folder.write(HOLDS, books.holds)
        return Invoice(invoice_id, created=True)

    @hookimpl
    def pos_void_invoice(self, order: Order, invoice_id: str, reason: str) -> None:
        with self.folder.locked():
            books = _Books.read(self.folder, timestamp())
            if invoice_id in books.voided:
                return  # voided before: the hook is idempotent
            line = next((r for r in books.invoices if r["invoice_id"] == invoice_id), None)
            if line is None:
                raise VoidRefused(invoice_id, f"{self.folder.directory / INVOICES} has no invoice {invoice_id}")
            voids = self.folder.read(VOIDS)
            void = {"invoice_id": invoice_id, "tevo_order_id": line["tevo_order_id"], "reason": reason,
                    "voided_at": timestamp()}
            self.folder.write(VOIDS, [*voids, void])

    @hookimpl
    def pos_ticket_files(self, order: Order, item: Item) -> list[TicketFile] | None:
        group = self._group(item.remote_id)
        return None if group is None else group.ticket_files(item, self.folder.directory)

    @hookimpl
    def pos_mobile_transfer(self, order: Order, item: Item) -> MobileTransfer | None:
        group = self._group(item.remote_id)
        return None if group is None else group.mobile_transfer(item)
