"""The SQLite POS database: schema, connections, and the stock arithmetic.

The schema is public: other tools (a seller's reports, the demo) read these tables directly.
Available stock is never stored, it is derived (on hand - active holds - sold), so there is no
counter that a crash could leave out of step. Every write that depends on stock runs inside
``BEGIN IMMEDIATE``, which takes SQLite's write lock before the stock is read: two threads or
two processes cannot both see the same last ticket.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from contextlib import closing, contextmanager
from decimal import Decimal
from pathlib import Path
from typing import NamedTuple

from tevo_bridge.pos.inventory import InventoryRow

SCHEMA = """
CREATE TABLE IF NOT EXISTS ticket_groups (
    remote_id TEXT PRIMARY KEY,
    event TEXT, venue TEXT, occurs_at TEXT, section TEXT, row TEXT,
    seats TEXT,              -- JSON array
    quantity INTEGER,        -- on hand: not reduced by sales, which live in invoice_lines
    min_price TEXT,          -- decimal
    format TEXT,
    eticket_pdf TEXT,        -- path (relative to this database's folder) or NULL
    eticket_pages TEXT,      -- JSON {seat: page} or NULL
    transfer_links TEXT,     -- JSON array of claim URLs (one per seat, or one for the group) or NULL
    transfer_source TEXT     -- TEvo platform code (TM, AXS...) or NULL
);
CREATE TABLE IF NOT EXISTS holds (
    global_id TEXT PRIMARY KEY,
    remote_id TEXT, quantity INTEGER,
    state TEXT,              -- held | released | invoiced | expired
    created_at TEXT, expires_at TEXT
);
-- A group's stock sums its held holds' quantities: every column the sum reads is in this index, so it reads no
-- table row (with (remote_id, state) alone, as holds_by_group before, each held hold was a row read per hold asked).
CREATE INDEX IF NOT EXISTS holds_stock ON holds (remote_id, state, expires_at, quantity);
DROP INDEX IF EXISTS holds_by_group;
-- Every write first expires lapsed holds: without this index that is a scan of every hold ever made.
CREATE INDEX IF NOT EXISTS holds_by_expiry ON holds (state, expires_at);
CREATE TABLE IF NOT EXISTS customers (
    id INTEGER PRIMARY KEY, tevo_client_id INTEGER UNIQUE, name TEXT, email TEXT, phone TEXT
);
CREATE TABLE IF NOT EXISTS invoices (
    id INTEGER PRIMARY KEY, tevo_order_id INTEGER UNIQUE, customer_id INTEGER NULL,
    buyer TEXT, total TEXT, created_at TEXT,
    oid TEXT, reference TEXT, currency TEXT   -- TEvo's order number and reference; ISO 4217 code of total
);
CREATE TABLE IF NOT EXISTS invoice_lines (invoice_id INTEGER, remote_id TEXT, quantity INTEGER, price TEXT);
CREATE INDEX IF NOT EXISTS invoice_lines_by_group ON invoice_lines (remote_id);
-- A voided invoice keeps its row and lines (the history of the sale); its lines no longer count as sold.
CREATE TABLE IF NOT EXISTS voids (invoice_id INTEGER PRIMARY KEY, reason TEXT, voided_at TEXT);
"""

# Waiting this long for another writer is far beyond any single transaction here; hitting it
# means something holds the database open for writing, which should surface as an error.
BUSY_TIMEOUT_S = 30.0


_WRITE_LOCKS: dict[str, threading.Lock] = {}
_WRITE_LOCKS_GUARD = threading.Lock()


def _write_lock(path: Path) -> threading.Lock:
    key = os.path.realpath(path)
    with _WRITE_LOCKS_GUARD:
        return _WRITE_LOCKS.setdefault(key, threading.Lock())


class _Connection(sqlite3.Connection):
    """A connection that knows the in-process writer lock of its database file."""

    write_lock: threading.Lock | None = None


def open_connection(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_S, isolation_level=None, factory=_Connection,
                           check_same_thread=True)
    conn.row_factory = sqlite3.Row
    conn.write_lock = _write_lock(path)
    return conn


@contextmanager
def connect(path: Path) -> Iterator[sqlite3.Connection]:
    """A connection for one call (the CLI, tools), never shared between threads."""
    with closing(open_connection(path)) as conn:
        yield conn


class ThreadConnections:
    """One connection per thread to one database, kept from call to call (the plugin's hooks).

    A fresh connection per hook call costs about 3 ms in WAL mode: its first transaction
    maps the WAL index, its page cache starts cold, and the last connection to close
    checkpoints and deletes the WAL, which the next one re-creates.  Still never shared
    between threads: each of the host's worker threads has its own, for its reads and for
    the batches of writes it leads (``writer.GroupWriter``).
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._local = threading.local()

    @contextmanager
    def connect(self) -> Iterator[sqlite3.Connection]:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = open_connection(self.path)
        elif conn.in_transaction:  # an earlier call died between BEGIN and ROLLBACK: start clean
            conn.rollback()
        yield conn


@contextmanager
def write_transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """``BEGIN IMMEDIATE``: take the write lock before reading stock, commit or roll back.

    Writers in this process queue on a ``threading.Lock`` first.  SQLite's own busy handler
    waits by sleeping (1, 2, 5 … 100 ms steps), which turns a 1 ms transaction into hundreds
    of milliseconds at the tail; a lock hands over at once.  The hooks' writes already take
    turns in ``writer.GroupWriter``; the lock orders them against this process's other
    writers (a second plugin instance on the same file, the import command).  Other
    processes still meet SQLite's lock and its busy timeout.
    """
    lock = getattr(conn, "write_lock", None)
    if lock is not None and not lock.acquire(timeout=BUSY_TIMEOUT_S):
        raise sqlite3.OperationalError("database is locked (another writer in this process)")
    try:
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
    finally:
        if lock is not None:
            lock.release()


def init_db(path: Path) -> None:
    """Create the database (WAL, so readers never wait for the daemon) and any missing table."""
    with connect(path) as conn:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.executescript(SCHEMA)
        _add_missing_columns(conn, "invoices", INVOICE_COLUMNS_ADDED)


#: Columns a later version added to a table, with their type: ``CREATE TABLE IF NOT EXISTS`` leaves
#: an older database's table as it was, so they are added to it here (empty on the old rows).
INVOICE_COLUMNS_ADDED = {"oid": "TEXT", "reference": "TEXT", "currency": "TEXT"}


def _add_missing_columns(conn: sqlite3.Connection, table: str, columns: dict[str, str]) -> None:
    have = {row[1] for row in conn.execute(f"PRAGMA table_info({table})")}
    for name, kind in columns.items():
        if name in have:
            continue
        try:
            conn.execute(f"ALTER TABLE {table} ADD COLUMN {name} {kind}")
        except sqlite3.OperationalError as exc:  # another process starting at the same moment added it first
            if "duplicate column" not in str(exc):
                raise


def upsert_ticket_groups(conn: sqlite3.Connection, rows: Iterable[InventoryRow]) -> int:
    """Insert or replace ticket groups by remote_id; holds and sales of a group are kept."""
    count = 0
    with write_transaction(conn):
        for row in rows:
            conn.execute(
                """INSERT INTO ticket_groups VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)
                   ON CONFLICT (remote_id) DO UPDATE SET event=excluded.event, venue=excluded.venue,
                   occurs_at=excluded.occurs_at, section=excluded.section, row=excluded.row,
                   seats=excluded.seats, quantity=excluded.quantity, min_price=excluded.min_price,
                   format=excluded.format, eticket_pdf=excluded.eticket_pdf,
                   eticket_pages=excluded.eticket_pages, transfer_links=excluded.transfer_links,
                   transfer_source=excluded.transfer_source""",
                (
                    row.remote_id,
                    row.event,
                    row.venue,
                    row.occurs_at,
                    row.section,
                    row.row,
                    json.dumps(list(row.seats)),
                    row.quantity,
                    str(row.min_price),
                    row.format,
                    row.eticket_pdf,
                    json.dumps(dict(row.eticket_pages)) if row.eticket_pages else None,
                    json.dumps(list(row.transfer_links)) if row.transfer_links else None,
                    row.transfer_source,
                ),
            )
            count += 1
    return count


def ticket_group(conn: sqlite3.Connection, remote_id: str) -> InventoryRow | None:
    r = conn.execute("SELECT * FROM ticket_groups WHERE remote_id = ?", (remote_id,)).fetchone()
    return None if r is None else _inventory_row(r)


def _inventory_row(r: sqlite3.Row) -> InventoryRow:
    return InventoryRow(
        remote_id=r["remote_id"],
        event=r["event"] or "",
        venue=r["venue"] or "",
        occurs_at=r["occurs_at"] or "",
        section=r["section"] or "",
        row=r["row"] or "",
        seats=tuple(json.loads(r["seats"] or "[]")),
        quantity=r["quantity"],
        min_price=Decimal(r["min_price"] or "0"),
        format=r["format"] or "",
        eticket_pdf=r["eticket_pdf"],
        eticket_pages=json.loads(r["eticket_pages"]) if r["eticket_pages"] else None,
        transfer_links=tuple(json.loads(r["transfer_links"])) if r["transfer_links"] else (),
        transfer_source=r["transfer_source"],
    )


class Stock(NamedTuple):
    remote_id: str
    on_hand: int
    held: int
    sold: int

    @property
    def available(self) -> int:
        # Never less than nothing, even if a re-import lowered on-hand below what was sold.
        return max(0, self.on_hand - self.held - self.sold)


# A hold past its expires_at no longer counts, even before a write marks it expired.
_HELD_SQL = """COALESCE((SELECT SUM(h.quantity) FROM holds h WHERE h.remote_id = g.remote_id AND h.state = 'held'
              AND (h.expires_at IS NULL OR h.expires_at > :now)), 0)"""
_SOLD_SQL = """COALESCE((SELECT SUM(l.quantity) FROM invoice_lines l WHERE l.remote_id = g.remote_id
              AND l.invoice_id NOT IN (SELECT invoice_id FROM voids)), 0)"""
_STOCK_SQL = f"""
SELECT remote_id, quantity, {_HELD_SQL}, {_SOLD_SQL}
FROM ticket_groups g
"""
# What a hold decides on, in one statement (three were three GIL hand-offs per hold): the group, its stock,
# and an earlier hold with the same global id. A row always comes back; its columns are NULL for what is not there.
_HOLD_FACTS_SQL = f"""
SELECT g.*, {_HELD_SQL} AS held, {_SOLD_SQL} AS sold,
    p.global_id AS previous_global_id, p.remote_id AS previous_remote_id, p.quantity AS previous_quantity, p.state AS previous_state
FROM (SELECT 1) AS one
LEFT JOIN ticket_groups g ON g.remote_id = :rid
LEFT JOIN holds p ON p.global_id = :gid
"""


class HoldFacts(NamedTuple):
    group: InventoryRow | None
    available: int | None  # None for an unknown group
    previous: tuple[str, int, str] | None  # (remote_id, quantity, state) of an earlier hold with the global id


def hold_facts(conn: sqlite3.Connection, global_id: str, remote_id: str, now: str) -> HoldFacts:
    """The group, its available stock (as ``available``) and an earlier hold of ``global_id``, read at once."""
    r = conn.execute(_HOLD_FACTS_SQL, {"now": now, "rid": remote_id, "gid": global_id}).fetchone()
    previous = None if r["previous_global_id"] is None else (
        r["previous_remote_id"], r["previous_quantity"], r["previous_state"])
    if r["remote_id"] is None:
        return HoldFacts(None, None, previous)
    return HoldFacts(_inventory_row(r), Stock(r["remote_id"], r["quantity"], r["held"], r["sold"]).available, previous)


def stock(conn: sqlite3.Connection, now: str, remote_id: str | None = None) -> list[Stock]:
    """On hand, held and sold for one ticket group, or for all of them by remote_id."""
    if remote_id is None:
        rows = conn.execute(_STOCK_SQL + " ORDER BY remote_id", {"now": now})
    else:
        rows = conn.execute(_STOCK_SQL + " WHERE remote_id = :rid", {"now": now, "rid": remote_id})
    return [Stock(*r) for r in rows]


def available(conn: sqlite3.Connection, remote_id: str, now: str) -> int | None:
    """On hand - active holds - sold, or ``None`` for an unknown group."""
    found = stock(conn, now, remote_id)
    return found[0].available if found else None


def expire_holds(conn: sqlite3.Connection, now: str) -> None:
    """Mark lapsed holds ``expired`` so the table says what the arithmetic already assumes."""
    conn.execute(
        "UPDATE holds SET state = 'expired' WHERE state = 'held' AND expires_at IS NOT NULL AND expires_at <= ?",
        (now,),
    )
