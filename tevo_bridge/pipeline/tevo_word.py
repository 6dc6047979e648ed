"""What TEvo last said of an order, kept with when it was said, and when to ask again after delivery.

A delivered order is ``done`` here the moment its last step succeeds, but TEvo says ``completed`` only
once its shipments are delivered (e-tickets finalized, FedEx tracking, a pickup handed over). A view that
showed the state read before the last step ("TEvo: accepted") would tempt a seller to deliver by hand
again, so every read of the order is stored with its time, and a delivered order is read again, a few
times with growing waits, until TEvo says it is completed.
"""

from __future__ import annotations

import json
from typing import Any

from tevo_bridge.clock import now_iso
from tevo_bridge.config import PipelineSettings
from tevo_bridge.store import OrderRow
from tevo_bridge.tevo.models import Order, Shipment

#: TEvo's word for an order with nothing left to deliver (tevo-api.md §3.3).
COMPLETED = "completed"


def tevo_fields(order: Order) -> dict[str, Any]:
    """The order's columns that record TEvo's word: its state, each shipment's state and tracking, and now."""
    shipments = [shipment_view(s) for s in order.shipments]
    return {"seller_state": order.seller_state, "tevo_seen_at": now_iso(),
            "tevo_shipments": json.dumps(shipments, separators=(",", ":"))}


def shipment_view(shipment: Shipment) -> dict[str, Any]:
    return {"id": shipment.id, "type": shipment.type, "state": shipment.state,
            "tracking_number": shipment.tracking_number}


def next_check_delay(settings: PipelineSettings, row: OrderRow) -> float | None:
    """Seconds until the next look at a delivered order TEvo has not completed yet; None when it is settled
    (completed) or the looks are used up (the views then show TEvo's last word with its age)."""
    if row.seller_state == COMPLETED or row.tevo_checks >= settings.after_delivery_checks:
        return None
    delay: float = settings.after_delivery_check_seconds * 2 ** row.tevo_checks
    return delay


def pos_references(row: OrderRow) -> dict[str, str | None]:
    """The POS's own ids of an order, as every step's log line carries them (an operator greps the POS's id)."""
    return {"pos_hold_id": row.pos_hold_id, "pos_invoice_id": row.invoice_id, "pos_customer_id": row.customer_id}
