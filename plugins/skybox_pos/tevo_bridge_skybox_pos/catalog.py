"""``pos_list_stock`` for SkyBox: every listing broadcast to the exchanges, as TEvo would see it.

Only for a rehearsal (``tevo-bridge sandbox inventory-from``): the daemon never asks. A listing
without an ``exchangePosId`` is not on any exchange, so TEvo could not sell it and it is left
out. The price reported is the least ``pos_accept_price`` accepts under the configured
``price_rule``, so the sandbox's ordinary orders pass and its underpriced ones do not.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from tevo_bridge.pos.types import StockListing
from tevo_bridge_skybox_pos.client import Deadline, SkyBoxClient
from tevo_bridge_skybox_pos.listings import Listing, cents
from tevo_bridge_skybox_pos.settings import SkyBoxSettings

__all__ = ["list_stock"]

#: SkyBox's stockType -> TEvo's ticket format.
FORMATS = {"ELECTRONIC": "Eticket", "FLASH": "Flash_seats", "MOBILE_TRANSFER": "TM_mobile",
           "MOBILE_SCREENCAP": "TM_mobile", "HARD": "Physical"}


def list_stock(client: SkyBoxClient, deadline: Deadline) -> list[StockListing]:
    rows = client.search("/inventory", {}, deadline=deadline)
    return [_listing(row, client.settings) for row in rows if row.get("exchangePosId") is not None]


def _listing(row: dict[str, Any], settings: SkyBoxSettings) -> StockListing:
    listing = Listing.from_json(row)
    event = _object(row.get("event"))
    venue = _object(event.get("venue"))
    return StockListing(
        remote_id=str(row["exchangePosId"]), event_name=str(event.get("name") or ""),
        venue=str(venue.get("name") or ""), occurs_at=str(event.get("date") or ""),
        section=str(row.get("section") or ""), row=str(row.get("row") or ""), seats=_seats(row),
        available=listing.available, price=_floor(listing, settings),
        format=FORMATS.get(listing.stock_type, listing.stock_type),
    )


def _object(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _seats(row: dict[str, Any]) -> tuple[str, ...]:
    """``seatNumbers`` (the summary's list), else the range ``lowSeat``..``highSeat``."""
    named = [s.strip() for s in str(row.get("seatNumbers") or "").split(",") if s.strip()]
    if named:
        return tuple(named)
    low, high = row.get("lowSeat"), row.get("highSeat")
    if isinstance(low, int) and isinstance(high, int) and low <= high:
        return tuple(str(seat) for seat in range(low, high + 1))
    return ()


def _floor(listing: Listing, settings: SkyBoxSettings) -> Decimal:
    """The least price per ticket ``Listing.price_decision`` accepts (the list price when any is)."""
    if settings.price_rule == "any":
        return cents(listing.list_price)
    base = listing.list_price if settings.price_rule == "list_price" else listing.cost
    return cents(base * (100 - settings.price_tolerance_percent) / 100)
