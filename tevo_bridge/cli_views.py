"""Plain-data views of store rows for the operator CLI (table or JSON)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any


def _age(first_seen: str) -> str:
    try:
        seen = datetime.fromisoformat(first_seen.replace("Z", "+00:00"))
    except ValueError:
        return "?"
    seconds = int((datetime.now(UTC) - seen).total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def order_rows(rows: list[Any]) -> list[dict[str, Any]]:
    views = []
    for row in rows:
        snapshot = row.snapshot_json() or {}
        items = ", ".join(
            f"{i.get('quantity')}x{(i.get('ticket_group') or {}).get('remote_id')}" for i in snapshot.get("items", [])
        )
        views.append({
            "id": row.id, "buyer": f"{row.buyer_type or '?'} {row.buyer_id or ''}".strip(), "items": items,
            "state": row.state, "seller_state": row.seller_state, "age": _age(row.first_seen_at),
            "invoice_id": row.invoice_id, "last_error": row.last_error,
        })
    return views
