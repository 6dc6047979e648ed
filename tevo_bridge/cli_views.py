"""Plain-data views of store rows for the operator CLI (table or JSON).

One view per kind of thing, used by every command that shows it, so ``--json`` has one shape
everywhere (docs/operations.md "JSON output"): numbers are numbers, ages are whole seconds,
items are a list, absent values are ``null``.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from tevo_bridge.term import cell

if TYPE_CHECKING:  # the tables are the CLI's; the dashboard shares the views without loading rich
    from rich.console import Console
    from rich.table import Table


def age_seconds(first_seen: str, now: datetime | None = None) -> int | None:
    """Seconds since a store timestamp; None if it cannot be read."""
    try:
        seen = datetime.fromisoformat(first_seen.replace("Z", "+00:00"))
    except ValueError:
        return None
    return max(0, int(((now or datetime.now(UTC)) - seen).total_seconds()))


def short_age(seconds: int | None) -> str:
    """``3d``, ``5h``, ``12m``, ``40s``: the table's age column."""
    if seconds is None:
        return "?"
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def ago(seconds: int | None) -> str:
    """``3 min ago``: how old a fact is, in the words a person reads beside it."""
    if seconds is None:
        return "at an unknown time"
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds // size} {unit} ago"
    return f"{seconds} s ago"


def tevo_view(row: Any) -> dict[str, Any]:
    """What TEvo last said of the order (its state, each shipment's state and tracking), when, and how long ago.

    ``said`` is the one phrase every view shows (``completed, 3 min ago``): a state without its age would
    read as TEvo's word now, and a stale "accepted" tempts a seller to deliver again by hand.
    """
    seen_at = row.tevo_seen_at
    age = age_seconds(seen_at) if seen_at else None
    state = row.seller_state
    when = ago(age) if seen_at else None
    said = f"{state}, {when}" if state and when else (state or "not read yet")
    return {"state": state, "seen_at": seen_at, "age_seconds": age, "ago": when, "said": said,
            "shipments": row.tevo_shipments_json()}


def pos_view(row: Any) -> dict[str, Any]:
    """The POS's own ids of the order: what a person searches for in the POS (a SkyBox hold id, say)."""
    return {"hold_id": row.pos_hold_id, "invoice_id": row.invoice_id, "customer_id": row.customer_id}


def shipment_text(shipment: dict[str, Any]) -> str:
    """``413 Eticket delivered`` or ``414 FedEx pending, tracking 7712``: one shipment as TEvo last said."""
    text = f"{shipment.get('id')} {shipment.get('type') or '?'} {shipment.get('state') or '?'}"
    return text + (f", tracking {shipment['tracking_number']}" if shipment.get("tracking_number") else "")


def _items(snapshot: dict[str, Any]) -> list[dict[str, Any]]:
    items = []
    for item in snapshot.get("items") or []:
        group = item.get("ticket_group") or {}
        items.append({"quantity": item.get("quantity"), "remote_id": group.get("remote_id"),
                      "ticket_group_id": group.get("id"), "price": item.get("price")})
    return items


def order_view(row: Any) -> dict[str, Any]:
    """An order as ``orders list --json`` and ``orders show --json`` give it."""
    return {
        "id": row.id, "state": row.state, "seller_state": row.seller_state,
        "buyer": {"type": row.buyer_type, "id": row.buyer_id},
        "items": _items(row.snapshot_json() or {}),
        "age_seconds": age_seconds(row.first_seen_at), "first_seen_at": row.first_seen_at,
        "updated_at": row.updated_at, "source": row.source, "global_id": row.global_id,
        "invoice_id": row.invoice_id, "reject_reason": row.reject_reason, "last_error": row.last_error,
        "tevo": tevo_view(row), "pos": pos_view(row),
    }


def audit_view(row: Any) -> dict[str, Any]:
    """An audit line as ``orders show --json`` gives it: ``details`` is the object it was written as, not the
    JSON text the store keeps it in (a script would otherwise have to decode JSON inside JSON)."""
    return {**vars(row), "details": _decoded(row.details)}


def _decoded(details: str | None) -> Any:
    if not details:
        return None
    try:
        return json.loads(details)
    except ValueError:  # not written by this code's audit(): shown as it is rather than dropped
        return details


def table_console() -> Console:
    """The console tables print on: a terminal's own width there; elsewhere (a pipe, a file, cron's mail)
    wide enough for every value whole, where rich would otherwise assume 80 columns and cut them."""
    from rich.console import Console

    console = Console()
    return console if console.is_terminal else Console(width=UNBOUNDED_WIDTH)


#: Wider than any table a store holds; rich sizes a table to its content, not to this.
UNBOUNDED_WIDTH = 100_000


def order_rows(rows: list[Any]) -> list[dict[str, Any]]:
    return [order_view(row) for row in rows]


def note(view: dict[str, Any]) -> str:
    """What a person wants to know next to the state: why it was rejected, or what went wrong last."""
    if view["state"] == "rejected" and view["reject_reason"]:
        return str(view["reject_reason"])
    return str(view["last_error"] or "")


def audit_move(action: str, from_state: str | None, to_state: str | None) -> str:
    """``checking -> needs_review`` for a transition, else the action (``tevo.accept``): one line of an order's history."""
    return f"{from_state or ''} -> {to_state}" if to_state else action


def tevo_cell(tevo: dict[str, Any]) -> str:
    """``completed 3m``: TEvo's last word and its age, short enough for the 80-column table."""
    if not tevo["state"]:
        return "-"
    return f"{tevo['state']} {short_age(tevo['age_seconds'])}" if tevo["seen_at"] else str(tevo["state"])


def order_table(views: list[dict[str, Any]], *, fit: bool = True) -> Table:
    """The ``orders list`` table: id and state never wrap; buyer, items and the reason fold to fit 80 columns.

    The reason is the reject reason for a rejected order, else the last error.  ``fit=False`` (no terminal)
    lifts the buyer and items widths too, so a script reading the table gets each value on one line, whole.
    """
    from rich.table import Table

    narrow = {"buyer": 12, "items": 16, "tevo": 12} if fit else {}
    table = Table(box=None, pad_edge=False, padding=(0, 1, 0, 0), header_style="bold")
    table.add_column("id", no_wrap=True, justify="right")
    table.add_column("state", no_wrap=True)
    table.add_column("TEvo", overflow="fold", max_width=narrow.get("tevo"))
    table.add_column("age", no_wrap=True, justify="right")
    table.add_column("buyer", overflow="fold", max_width=narrow.get("buyer"))
    table.add_column("items", overflow="fold", max_width=narrow.get("items"))
    table.add_column("reason", overflow="fold", ratio=1)
    for view in views:
        buyer = f"{view['buyer']['type'] or '?'} {view['buyer']['id'] or ''}".strip()
        items = ", ".join(f"{i['quantity']}x{i['remote_id']}" for i in view["items"])
        # Text cells: a reason or remote id holding "[/x]" is data, not rich markup (which would raise).
        table.add_row(*map(cell, (view["id"], view["state"], tevo_cell(view["tevo"]), short_age(view["age_seconds"]),
                                  buyer, items, note(view))))
    return table
