"""What this daemon can deliver, known before an order is accepted rather than found out after.

An order accepted at TEvo must be delivered, so what the daemon can already tell it cannot
deliver is decided here, once, for every caller: ``tevo-bridge check`` warns with it, and the
pipeline refuses with it before accepting.  Both checks change nothing and call no one.
"""

from __future__ import annotations

import os
from pathlib import Path

from tevo_bridge.config import FulfillmentSettings, LocalPickupSettings

__all__ = ["FEDEX", "LOCAL_PICKUP", "PICKUP_REQUIRED", "missing_pickup_keys", "missing_settings"]

#: Shipment kinds (``Shipment.kind``: TEvo's type without ``Delivery::``, lower case) that need settings.
FEDEX = "fedex"
LOCAL_PICKUP = "localpickup"
#: [fulfillment.local_pickup] keys TEvo's required pickup fields are built from (docs/tevo-api.md §5.5).
PICKUP_REQUIRED = ("contact_name", "phone_number", "street_address", "locality", "region", "postal_code",
                   "country_code", "time_range")


def missing_pickup_keys(pickup: LocalPickupSettings) -> list[str]:
    return [key for key in PICKUP_REQUIRED if not str(getattr(pickup, key)).strip()]


def missing_settings(settings: FulfillmentSettings) -> dict[str, str]:
    """Shipment kind → why orders of that kind cannot be fulfilled with these settings, naming the key and the
    fix; empty when nothing is missing.

    Only kinds that depend on settings can appear (``localpickup``, ``fedex``): e-tickets and mobile
    transfers depend on the POS instead.  The airbill folder is looked at (it must be, or be creatable as,
    a folder this user can write), never created: the daemon makes it when the first airbill arrives.
    """
    missing: dict[str, str] = {}
    keys = missing_pickup_keys(settings.local_pickup)
    if keys:
        example = LocalPickupSettings.model_fields[keys[0]].examples or [""]
        missing[LOCAL_PICKUP] = (
            f"local pickup orders cannot be fulfilled: [fulfillment.local_pickup] {', '.join(keys)} "
            f"{'is' if len(keys) == 1 else 'are'} empty, and TEvo needs them to tell the buyer where and when "
            f'to collect. Fix: set them in that section, e.g. {keys[0]} = "{example[0]}".')
    problem = _unwritable(settings.airbill_dir)
    if problem:
        missing[FEDEX] = (f"FedEx orders cannot be fulfilled: [fulfillment] airbill_dir = {settings.airbill_dir} "
                          f"{problem}, so their airbills cannot be saved. Fix: point airbill_dir at a folder "
                          "this user can write.")
    return missing


def _unwritable(directory: Path) -> str | None:
    """Why no file can be written in ``directory`` (after creating it if need be), or None."""
    if directory.exists():
        if not directory.is_dir():
            return "is a file, not a folder"
        return None if os.access(directory, os.W_OK | os.X_OK) else "is a folder this user cannot write"
    parent = directory.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        return f"cannot be created: {parent} is a file"
    return None if os.access(parent, os.W_OK | os.X_OK) else f"does not exist and this user cannot create it in {parent}"

