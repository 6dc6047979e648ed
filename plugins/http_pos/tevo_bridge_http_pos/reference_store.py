"""The reference POS's SQLite database: every request is one transaction, so each answer is all or nothing.

A write first takes SQLite's write lock (``BEGIN IMMEDIATE``) and only then reads stock, so two requests (or two
server processes on one file) can never both see the last ticket. Idempotency is by each resource's natural key,
which is what the request's ``Idempotency-Key`` must be: a hold by ``global_id``, an invoice by the TEvo order id,
a void by the invoice id, a customer by the TEvo buyer id. A repeat answers from what is stored.

The domain errors raised here (``Refused``) carry the API's error code; reference.py turns them into answers.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from tevo_bridge.pos.inventory import InventoryRow, timestamp
from tevo_bridge.pos.rules import answer_hold, tickets_to_take
from tevo_bridge.pos.types import Buyer, Hold, Item, Order
from tevo_bridge_http_pos.wire import CustomerRequest, HoldRequest, InvoiceRequest

__all__ = ["ReferenceStore", "Refused"]

SCHEMA = """
CREATE TABLE IF NOT EXISTS listings (
    remote_id TEXT PRIMARY KEY,
    row_csv TEXT NOT NULL,            -- the InventoryRow, as its CSV record in JSON
    files_ready INTEGER NOT NULL DEFAULT 1
);
CREATE TABLE IF NOT EXISTS holds (
    global_id TEXT PRIMARY KEY, remote_id TEXT NOT NULL, quantity INTEGER NOT NULL,
    state TEXT NOT NULL,              -- held | released | invoiced
    expires_at TEXT                   -- inventory.timestamp() text, compared as text
);
CREATE TABLE IF NOT EXISTS customers (
    buyer_id INTEGER PRIMARY KEY, customer_id TEXT NOT NULL UNIQUE, name TEXT, email TEXT, phone TEXT
);
CREATE TABLE IF NOT EXISTS invoices (
    invoice_id TEXT PRIMARY KEY, order_id INTEGER NOT NULL UNIQUE, customer_id TEXT,
    state TEXT NOT NULL,              -- open | void
    void_reason TEXT
);
CREATE TABLE IF NOT EXISTS invoice_lines (invoice_id TEXT NOT NULL, remote_id TEXT NOT NULL, quantity INTEGER NOT NULL);
"""

#: Holds that count against stock now: held and not lapsed.
LIVE = "state = 'held' AND (expires_at IS NULL OR expires_at > ?)"


@dataclass
class Refused(Exception):
    """The request cannot be done; nothing was written. ``code`` is the API's error code."""

    status: int
    code: str
    message: str
    details: dict[str, object] = field(default_factory=dict)

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


class ReferenceStore:
    """One SQLite connection behind a lock; each public method is one transaction."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=30)
        self._conn.row_factory = sqlite3.Row
        self._conn.execute("PRAGMA journal_mode = WAL")
        self._conn.executescript(SCHEMA)
        self._lock = threading.Lock()

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    # -- stock ----------------------------------------------------------------------------------

    def seed(self, rows: Iterable[InventoryRow]) -> None:
        """Add or replace ticket groups (holds and sales of a replaced group stay counted)."""
        with self._transaction() as conn:
            conn.executemany(
                "INSERT INTO listings (remote_id, row_csv) VALUES (?, ?) "
                "ON CONFLICT (remote_id) DO UPDATE SET row_csv = excluded.row_csv",
                [(row.remote_id, json.dumps(row.to_csv())) for row in rows])

    def set_files_ready(self, remote_id: str, ready: bool) -> None:
        with self._transaction() as conn:
            conn.execute("UPDATE listings SET files_ready = ? WHERE remote_id = ?", (int(ready), remote_id))

    @staticmethod
    def _listing(conn: sqlite3.Connection, remote_id: str) -> InventoryRow | None:
        found = conn.execute("SELECT row_csv FROM listings WHERE remote_id = ?", (remote_id,)).fetchone()
        return None if found is None else InventoryRow.from_csv(json.loads(found["row_csv"]))

    @staticmethod
    def _available(conn: sqlite3.Connection, row: InventoryRow) -> int:
        held = conn.execute(f"SELECT COALESCE(SUM(quantity), 0) FROM holds WHERE remote_id = ? AND {LIVE}",
                            (row.remote_id, timestamp())).fetchone()[0]
        sold = conn.execute("SELECT COALESCE(SUM(l.quantity), 0) FROM invoice_lines l JOIN invoices i USING "
                            "(invoice_id) WHERE l.remote_id = ? AND i.state = 'open'", (row.remote_id,)).fetchone()[0]
        return max(0, row.quantity - int(held) - int(sold))

    def listing(self, remote_id: str) -> tuple[InventoryRow, int, bool]:
        """The group, what is available, and whether its files are in hand; ``Refused`` when unknown."""
        with self._transaction() as conn:
            row = self._known(conn, remote_id)
            ready = conn.execute("SELECT files_ready FROM listings WHERE remote_id = ?", (remote_id,)).fetchone()[0]
            return row, self._available(conn, row), bool(ready)

    def _known(self, conn: sqlite3.Connection, remote_id: str) -> InventoryRow:
        row = self._listing(conn, remote_id)
        if row is None:
            raise Refused(404, "unknown_listing", f"no ticket group {remote_id!r}", {"remote_id": remote_id})
        return row

    # -- holds ----------------------------------------------------------------------------------

    def hold(self, request: HoldRequest) -> tuple[str, int]:
        """``(hold_id, available after it)``; a repeat of a live hold of the same tickets answers the same."""
        hold = Hold(request.global_id, request.remote_id, request.quantity, request.price,
                    expires_at=request.expires_at, order_id=request.order_id)
        with self._transaction() as conn:
            row = self._listing(conn, hold.remote_id)
            available = None if row is None else self._available(conn, row)
            answer = answer_hold(hold, row, available, self._previous(conn, hold.global_id))
            if answer is None:
                expires = None if hold.expires_at is None else timestamp(hold.expires_at)
                conn.execute("INSERT INTO holds VALUES (?, ?, ?, 'held', ?)",
                             (hold.global_id, hold.remote_id, hold.quantity, expires))
                return hold.global_id, (available or 0) - hold.quantity
        if answer.held:
            return hold.global_id, answer.available or 0
        raise self._hold_refusal(answer.reason, hold, answer.available)

    @staticmethod
    def _previous(conn: sqlite3.Connection, global_id: str) -> tuple[str, int, str] | None:
        found = conn.execute(f"SELECT remote_id, quantity, {LIVE} AS live FROM holds WHERE global_id = ?",
                             (timestamp(), global_id)).fetchone()
        if found is None:
            return None
        return found["remote_id"], found["quantity"], "held" if found["live"] else "closed"

    @staticmethod
    def _hold_refusal(reason: str | None, hold: Hold, available: int | None) -> Refused:
        details: dict[str, object] = {"remote_id": hold.remote_id, "requested": hold.quantity,
                                      "available": available or 0}
        if reason == "unknown_remote_id":
            return Refused(404, "unknown_listing", f"no ticket group {hold.remote_id!r}", details)
        if reason == "price_not_acceptable":
            return Refused(409, "price_not_acceptable", f"{hold.price} is below the minimum price", details)
        if reason == "global_id_used":
            return Refused(409, "hold_closed", f"hold {hold.global_id!r} was released, invoiced or expired, or "
                           "named other tickets", details)
        return Refused(409, "out_of_stock", f"{hold.quantity} requested, {available} available", details)

    def release(self, global_id: str) -> bool:
        with self._transaction() as conn:
            done = conn.execute(f"UPDATE holds SET state = 'released' WHERE global_id = ? AND {LIVE}",
                                (global_id, timestamp()))
            return done.rowcount == 1

    # -- customers ------------------------------------------------------------------------------

    def customer(self, buyer_id: int) -> tuple[str, str] | None:
        with self._transaction() as conn:
            found = conn.execute("SELECT customer_id, name FROM customers WHERE buyer_id = ?", (buyer_id,)).fetchone()
            return None if found is None else (found["customer_id"], found["name"] or "")

    def create_customer(self, request: CustomerRequest) -> tuple[str, str]:
        with self._transaction() as conn:
            conn.execute("INSERT INTO customers VALUES (?, ?, ?, ?, ?) ON CONFLICT (buyer_id) DO NOTHING",
                         (request.buyer_id, f"CUST-{request.buyer_id}", request.name, request.email, request.phone))
            found = conn.execute("SELECT customer_id, name FROM customers WHERE buyer_id = ?",
                                 (request.buyer_id,)).fetchone()
            return found["customer_id"], found["name"] or ""

    # -- invoices -------------------------------------------------------------------------------

    def invoice(self, request: InvoiceRequest) -> tuple[str, bool]:
        """``(invoice_id, created)``: all the order's items sold, or ``Refused`` and nothing written."""
        with self._transaction() as conn:
            found = conn.execute("SELECT invoice_id FROM invoices WHERE order_id = ?", (request.order_id,)).fetchone()
            if found is not None:
                return found["invoice_id"], False
            order = _order(request)
            live = conn.execute(f"SELECT global_id, remote_id, quantity FROM holds WHERE {LIVE}", (timestamp(),))
            held = {h["global_id"]: (h["remote_id"], h["quantity"]) for h in live}
            needed, consumed = tickets_to_take(order, held)
            for remote_id, quantity in needed.items():
                available = self._available(conn, self._known(conn, remote_id))
                if quantity > available:
                    raise Refused(409, "out_of_stock", f"{remote_id}: {quantity} requested, {available} available",
                                  {"remote_id": remote_id, "requested": quantity, "available": available})
            invoice_id = f"INV-{request.order_id}"
            conn.execute("INSERT INTO invoices VALUES (?, ?, ?, 'open', NULL)",
                         (invoice_id, request.order_id, request.customer_id))
            conn.executemany("UPDATE holds SET state = 'invoiced' WHERE global_id = ?", [(g,) for g in consumed])
            conn.executemany("INSERT INTO invoice_lines VALUES (?, ?, ?)",
                             [(invoice_id, i.remote_id, i.quantity) for i in request.items])
            return invoice_id, True

    def void(self, invoice_id: str, reason: str, refuse: str | None = None) -> None:
        """Void an open invoice (its tickets are counted as available again); a void one stays void."""
        with self._transaction() as conn:
            found = conn.execute("SELECT state FROM invoices WHERE invoice_id = ?", (invoice_id,)).fetchone()
            if found is None:
                raise Refused(404, "unknown_invoice", f"no invoice {invoice_id!r}", {"invoice_id": invoice_id})
            if found["state"] == "void":
                return
            if refuse:
                raise Refused(409, "void_refused", refuse, {"invoice_id": invoice_id})
            conn.execute("UPDATE invoices SET state = 'void', void_reason = ? WHERE invoice_id = ?",
                         (reason, invoice_id))

    # -- what tests look at ---------------------------------------------------------------------

    def count(self, table: str, **where: object) -> int:
        """Rows of ``table`` matching ``where`` (the tests' view: how many holds, invoices, customers)."""
        if table not in {"holds", "customers", "invoices", "invoice_lines"}:
            raise ValueError(table)
        clause = " AND ".join(f"{column} = ?" for column in where) or "1"
        with self._lock:
            found = self._conn.execute(f"SELECT COUNT(*) FROM {table} WHERE {clause}", tuple(where.values()))
            return int(found.fetchone()[0])


def _order(request: InvoiceRequest) -> Order:
    """The request as the contract's ``Order``, so the contract's own stock rules decide what it takes."""
    buyer = Buyer(request.buyer.type, request.buyer.id, request.buyer.name, request.buyer.email, request.buyer.phone)
    items = tuple(Item(request.order_id, line.item_id, line.remote_id, line.quantity, Decimal(line.price),
                       tuple(line.seats), global_id=line.global_id) for line in request.items)
    return Order(request.order_id, buyer, items, request.total)

