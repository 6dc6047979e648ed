"""SqlitePos: the POS hooks over the database in ``store``."""

from __future__ import annotations

import contextlib
import sqlite3
from functools import partial
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from tevo_bridge import hookimpl
from tevo_bridge.paths import ConfigFilePath
from tevo_bridge.pos.errors import VoidRefused
from tevo_bridge.pos.inventory import timestamp
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
from tevo_bridge_sqlite_pos import store
from tevo_bridge_sqlite_pos.writer import GroupWriter

#: The POS contract versions this plugin is built for (docs/plugins.md, "Contract versions").
TEVO_BRIDGE_CONTRACT = (2,)


class SqlitePos:
    """A POS whose stock, holds, customers and invoices are tables in one SQLite file."""

    class Config(BaseModel):
        model_config = ConfigDict(extra="forbid")

        #: An existing database (``tevo-bridge-sqlite-pos init`` creates one): a typo must not
        #: silently start an empty POS that rejects every order. A relative path is under the config
        #: file's folder; ticket PDFs named in the database are under the database's folder.
        database: ConfigFilePath

    def __init__(self, config: Config) -> None:
        self.database = config.database
        store.init_db(self.database)  # adds tables a newer version introduced; changes nothing else
        self._connections = store.ThreadConnections(self.database)
        # Every write first expires lapsed holds: once per batch, in the batch's transaction.
        self._writer = GroupWriter(self._connections.connect,
                                   prepare=lambda conn: store.expire_holds(conn, timestamp()))

    @property
    def ticket_dir(self) -> Path:
        """Where this POS's ticket PDFs live: the daemon reads none from outside it unless told to."""
        return Path(self.database).parent

    @hookimpl
    def pos_health(self) -> PosHealth:
        # Read-only and on a connection of its own: a check must not create a database that went missing.
        uri = f"{Path(self.database).resolve().as_uri()}?mode=ro"
        try:
            with contextlib.closing(sqlite3.connect(uri, uri=True, timeout=2.0)) as conn:
                conn.execute("SELECT 1 FROM ticket_groups LIMIT 1").fetchall()
        except sqlite3.Error as exc:
            return PosHealth(False, f"database {self.database} cannot be read: {exc}")
        return PosHealth(True)

    @hookimpl
    def pos_list_stock(self) -> list[StockListing]:
        with self._connections.connect() as conn:
            counts = store.stock(conn, timestamp())
            rows = [(store.ticket_group(conn, s.remote_id), s.available) for s in counts]
        return [row.stock_listing(available) for row, available in rows if row is not None]

    @hookimpl
    def pos_check_inventory(self, item: Item) -> Availability:
        with self._connections.connect() as conn:
            count = store.available(conn, item.remote_id, timestamp())
        return Availability(item.remote_id, count or 0, known=count is not None)

    @hookimpl
    def pos_accept_price(self, item: Item) -> PriceDecision:
        with self._connections.connect() as conn:
            group = store.ticket_group(conn, item.remote_id)
        if group is None:
            return PriceDecision(False, f"remote_id {item.remote_id!r} is not in the POS")
        return group.price_decision(item.price)

    @hookimpl
    def pos_find_customer(self, buyer: Buyer) -> Customer | None:
        with self._connections.connect() as conn:
            r = conn.execute("SELECT id, name FROM customers WHERE tevo_client_id = ?", (buyer.id,)).fetchone()
        return None if r is None else Customer(str(r["id"]), r["name"] or "")

    @hookimpl
    def pos_create_customer(self, buyer: Buyer) -> Customer:
        def write(conn: sqlite3.Connection) -> Customer:
            conn.execute(
                "INSERT INTO customers (tevo_client_id, name, email, phone) VALUES (?,?,?,?)"
                " ON CONFLICT (tevo_client_id) DO NOTHING",
                (buyer.id, buyer.name, buyer.email, buyer.phone),
            )
            r = conn.execute("SELECT id, name FROM customers WHERE tevo_client_id = ?", (buyer.id,)).fetchone()
            return Customer(str(r["id"]), r["name"] or "")

        return self._writer.run(write)

    @hookimpl
    def pos_hold(self, hold: Hold) -> HoldResult:
        return self._writer.run(lambda conn: self._hold(conn, hold, timestamp()))

    @hookimpl
    def pos_hold_many(self, holds: list[Hold]) -> list[HoldResult | Exception]:
        # One write each (a failing one rolls back alone), queued together: one transaction, one fsync.
        now = timestamp()
        return self._writer.run_many([partial(self._hold, hold=hold, now=now) for hold in holds])

    def _hold(self, conn: sqlite3.Connection, hold: Hold, now: str) -> HoldResult:
        group, count, previous = store.hold_facts(conn, hold.global_id, hold.remote_id, now)
        answer = answer_hold(hold, group, count, previous)
        if answer is not None:
            return answer
        assert count is not None  # answer_hold refuses an unknown group
        conn.execute(
            "INSERT INTO holds VALUES (?,?,?,'held',?,?)",
            (
                hold.global_id,
                hold.remote_id,
                hold.quantity,
                now,
                timestamp(hold.expires_at) if hold.expires_at else None,
            ),
        )
        return HoldResult(True, hold.global_id, count - hold.quantity)

    @hookimpl
    def pos_release_hold(self, hold: Hold) -> bool:
        # Only a held hold is freed: an invoiced one stays invoiced, its tickets stay sold.
        return self._writer.run(lambda conn: conn.execute(
            "UPDATE holds SET state = 'released' WHERE global_id = ? AND state = 'held'", (hold.global_id,)
        ).rowcount == 1)

    @hookimpl
    def pos_create_invoice(self, order: Order, customer: Customer | None) -> Invoice:
        return self._writer.run(lambda conn: self._invoice(conn, order, customer, timestamp()))

    def _invoice(self, conn: sqlite3.Connection, order: Order, customer: Customer | None, now: str) -> Invoice:
        done = conn.execute("SELECT id FROM invoices WHERE tevo_order_id = ?", (order.order_id,)).fetchone()
        if done is not None:
            return Invoice(f"INV-{done['id']}", created=False)
        named = [i.global_id for i in order.items if i.global_id is not None]
        held = {
            r["global_id"]: (r["remote_id"], r["quantity"])
            for r in conn.execute(
                f"SELECT global_id, remote_id, quantity FROM holds WHERE state = 'held'"
                f" AND global_id IN ({','.join('?' * len(named))})", named)
        } if named else {}
        needed, consumed = tickets_to_take(order, held)
        check_supply(needed, lambda remote_id: store.available(conn, remote_id, now))
        cursor = conn.execute(
            "INSERT INTO invoices (tevo_order_id, customer_id, buyer, total, created_at, oid, reference, currency)"
            " VALUES (?,?,?,?,?,?,?,?)",
            (
                order.order_id,
                int(customer.id) if customer else None,
                order.buyer.name or f"{order.buyer.type} {order.buyer.id}",
                str(order.total),
                now,
                order.oid or None,
                order.reference or None,
                order.currency,
            ),
        )
        invoice_id = cursor.lastrowid
        conn.executemany(
            "INSERT INTO invoice_lines VALUES (?,?,?,?)",
            [(invoice_id, i.remote_id, i.quantity, str(i.price)) for i in order.items],
        )
        conn.executemany("UPDATE holds SET state = 'invoiced' WHERE global_id = ?", [(g,) for g in consumed])
        return Invoice(f"INV-{invoice_id}", created=True)

    @hookimpl
    def pos_void_invoice(self, order: Order, invoice_id: str, reason: str) -> None:
        self._writer.run(lambda conn: self._void(conn, invoice_id, reason, timestamp()))

    def _void(self, conn: sqlite3.Connection, invoice_id: str, reason: str, now: str) -> None:
        number = invoice_id.removeprefix("INV-")
        found = number.isdigit() and conn.execute("SELECT 1 FROM invoices WHERE id = ?", (int(number),)).fetchone()
        if not found:
            raise VoidRefused(invoice_id, f"this POS ({self.database}) has no invoice {invoice_id}")
        # A second void of the same invoice finds its row and changes nothing: the hook is idempotent.
        conn.execute("INSERT INTO voids VALUES (?,?,?) ON CONFLICT (invoice_id) DO NOTHING", (int(number), reason, now))

    @hookimpl
    def pos_ticket_files(self, order: Order, item: Item) -> list[TicketFile] | None:
        with self._connections.connect() as conn:
            group = store.ticket_group(conn, item.remote_id)
        return None if group is None else group.ticket_files(item, Path(self.database).parent)

    @hookimpl
    def pos_mobile_transfer(self, order: Order, item: Item) -> MobileTransfer | None:
        with self._connections.connect() as conn:
            group = store.ticket_group(conn, item.remote_id)
        return None if group is None else group.mobile_transfer(item)
