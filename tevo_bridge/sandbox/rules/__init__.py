"""TEvo's rules, enforced: what each endpoint does to the world and when it refuses.

Each function takes the world and the parsed request and returns the JSON body
TEvo would answer with, or raises ``TevoApiError`` with TEvo's status and body.
Section numbers refer to docs/tevo-api.md; where TEvo's behaviour is unknown the
choice made is noted, and docs/sandbox.md lists them all.
"""

from tevo_bridge.sandbox.rules.common import error_for_bad_json
from tevo_bridge.sandbox.rules.etickets import (
    add_etickets,
    deliver_etickets,
    finalize_etickets,
    list_items,
    remove_etickets,
    show_item,
)
from tevo_bridge.sandbox.rules.orders import (
    REJECT_REASONS,
    accept_order,
    complete_order,
    list_orders,
    reject_order,
    show_order,
    show_user,
)
from tevo_bridge.sandbox.rules.shipments import (
    MOBILE_TRANSFER_TYPES,
    TRANSFER_SOURCES,
    airbill_json,
    airbill_pdf,
    complete_shipment,
    generate_airbill,
    show_shipment,
    update_shipment,
)

__all__ = [
    "MOBILE_TRANSFER_TYPES",
    "REJECT_REASONS",
    "TRANSFER_SOURCES",
    "accept_order",
    "add_etickets",
    "airbill_json",
    "airbill_pdf",
    "complete_order",
    "complete_shipment",
    "deliver_etickets",
    "error_for_bad_json",
    "finalize_etickets",
    "generate_airbill",
    "list_items",
    "list_orders",
    "reject_order",
    "remove_etickets",
    "show_item",
    "show_order",
    "show_shipment",
    "show_user",
    "update_shipment",
]
