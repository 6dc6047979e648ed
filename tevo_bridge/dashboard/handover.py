"""What the "to ship / to hand over" page shows of an order: its saved FedEx airbills and its local pickups.

The store says which orders qualify (``handover_orders``: an airbill saved or pickup details sent, TEvo not
yet done); the order's history says where each airbill was saved; the snapshot says whether TEvo already
marked a shipment delivered, who the buyer is and what the event is.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tevo_bridge.config import LocalPickupSettings
from tevo_bridge.store.vocabulary import AuditRow, OrderRow

#: Shipment states after which there is nothing left to ship or hand over.
FINISHED = ("delivered", "canceled")


def calls(trail: Sequence[AuditRow], action: str) -> list[dict[str, Any]]:
    """The details of an order's calls of one kind (``airbill.saved``, ``pickup.update``), oldest first."""
    found = []
    for entry in trail:
        if entry.action == action and entry.details:
            try:
                data = json.loads(entry.details)
            except ValueError:
                continue
            if isinstance(data, dict):
                found.append(dict(data, at=entry.at))
    return found


def airbill_path(trail: Sequence[AuditRow], shipment_id: int, folder: Path) -> Path | None:
    """Where the pipeline saved this shipment's airbill, if it is a file inside ``[fulfillment] airbill_dir``:
    the path comes from the store, and the dashboard serves nothing from outside that folder."""
    saved = [c for c in calls(trail, "airbill.saved") if c.get("shipment_id") == shipment_id and c.get("path")]
    if not saved:
        return None
    path = Path(str(saved[-1]["path"])).resolve()
    return path if path.is_relative_to(folder.resolve()) and path.is_file() else None


def entry(row: OrderRow, trail: Sequence[AuditRow], pickup: LocalPickupSettings) -> dict[str, Any]:
    """One order of the page: its open airbills and pickups (none left: TEvo says each is done)."""
    snapshot = row.snapshot_json() or {}
    shipments = {s.get("id"): s for s in snapshot.get("shipments") or [] if isinstance(s, dict)}
    finished = {sid for sid, s in shipments.items() if s.get("state") in FINISHED}
    airbills = {}
    for call in calls(trail, "airbill.saved"):
        sid = call.get("shipment_id")
        if sid not in finished:
            airbills[sid] = {"shipment_id": sid, "tracking": call.get("tracking_number"), "saved_at": call["at"],
                             "to": (shipments.get(sid) or {}).get("ship_to_name")}
    pickups = {}
    for call in calls(trail, "pickup.update"):
        sid = call.get("shipment_id")
        if "old_shipment_id" in call and sid not in finished:  # a sent update (not a doubtful answer's re-read)
            pickups[sid] = dict(_place(shipments.get(sid) or {}, pickup), shipment_id=sid, sent_at=call["at"])
    items = snapshot.get("items") or []
    group = (items[0].get("ticket_group") or {}) if items else {}
    event = group.get("event") or {}
    buyer = snapshot.get("buyer") or {}
    return {"id": row.id, "state": row.state, "seller_state": row.seller_state, "buyer": buyer.get("name"),
            "event": event.get("name"), "occurs_at": event.get("occurs_at"),
            "quantity": sum(i.get("quantity") or 0 for i in items),
            "airbills": list(airbills.values()), "pickups": list(pickups.values())}


def _place(shipment: dict[str, Any], pickup: LocalPickupSettings) -> dict[str, Any]:
    """When and where the buyer collects: as TEvo has it, else as configured (what the pipeline sent)."""
    if shipment.get("pickup_time_range"):
        address = shipment.get("ship_from_address") or {}
        parts = [address.get(k) for k in ("street_address", "extended_address", "locality", "region", "postal_code")]
        return {"when": shipment.get("pickup_time_range"), "who": shipment.get("ship_from_name"),
                "where": ", ".join(p for p in parts if p), "instructions": shipment.get("pickup_instructions"),
                "from_config": False}
    parts = [pickup.street_address, pickup.extended_address, pickup.locality, pickup.region, pickup.postal_code]
    return {"when": pickup.time_range, "who": pickup.contact_name, "where": ", ".join(p for p in parts if p),
            "instructions": pickup.instructions, "from_config": True}
