"""The order list as CSV, the way brokers reconcile it in a spreadsheet: one line per item of an order.

Every text cell that a spreadsheet would read as a formula (starting with ``=``, ``+``, ``-``, ``@``,
or a tab or carriage return that some of them skip) gets a leading ``'``: buyer names and event
names come from TEvo and the buyer, and ``=HYPERLINK(...)`` in a name must stay text (OWASP, "CSV
injection"). Quoting is the ``csv`` module's, so commas, quotes and line breaks survive.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from typing import Any

from tevo_bridge.store import OrderRow

HEADER = ("TEvo order id", "date", "event", "event date", "venue", "quantity", "section", "row", "seats",
          "price", "total", "buyer", "buyer email", "POS invoice id", "state")
#: What makes a spreadsheet treat a cell as a formula.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def safe(value: Any) -> Any:
    """A text cell a spreadsheet will show as text; numbers and blanks as they are."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return "" if value is None else value


def lines(row: OrderRow) -> list[list[Any]]:
    """An order's CSV lines: one per item (an order TEvo has not described yet: one line without items)."""
    snapshot = row.snapshot_json() or {}
    if not isinstance(snapshot, dict):
        snapshot = {}
    buyer = snapshot.get("buyer") or {}
    emails = [e.get("address") for e in buyer.get("email_addresses") or [] if isinstance(e, dict)]
    who = buyer.get("name") or " ".join(str(p) for p in (row.buyer_type, row.buyer_id) if p) or None
    head = [row.id, snapshot.get("created_at") or row.created_at or row.first_seen_at]
    tail = [snapshot.get("total"), who, ", ".join(e for e in emails if e) or None, row.invoice_id, row.state]
    items = snapshot.get("items") or [{}]
    out = []
    for item in items:
        group = item.get("ticket_group") or {}
        event = group.get("event") or {}
        seats = item.get("seats") or group.get("seats") or []
        out.append([*head, event.get("name"), event.get("occurs_at"), (event.get("venue") or {}).get("name"),
                    item.get("quantity"), group.get("section"), group.get("row"), ", ".join(map(str, seats)) or None,
                    item.get("price"), *tail])
    return out


def csv_text(rows: Iterable[OrderRow], *, header: bool = False) -> str:
    """The CSV lines of ``rows`` (and the header line first, if asked), every cell made safe."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    if header:
        writer.writerow(HEADER)
    for row in rows:
        writer.writerows([safe(cell) for cell in line] for line in lines(row))
    return buffer.getvalue()
