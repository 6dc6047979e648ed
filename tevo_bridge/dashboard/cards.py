"""What an order's card shows beyond its row: the buyer's name and the first item's event and date (a phone
shows the list as cards, and a broker knows an order by its event, not its id)."""

from __future__ import annotations

from tevo_bridge.store import OrderRow


def event_of(row: OrderRow) -> dict[str, object]:
    """The buyer's name, the first item's event and its date, from the TEvo snapshot (None where it has none)."""
    snapshot = row.snapshot_json() or {}
    if not isinstance(snapshot, dict):
        snapshot = {}
    items = snapshot.get("items") or [{}]
    event = ((items[0] or {}).get("ticket_group") or {}).get("event") or {}
    return {"buyer_name": (snapshot.get("buyer") or {}).get("name"), "event": event.get("name"),
            "occurs_at": event.get("occurs_at")}
