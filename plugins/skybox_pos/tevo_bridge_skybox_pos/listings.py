"""From TEvo's ``remote_id`` to the SkyBox listing it names, read fresh on every call.

SkyBox gives exchanges a listing's ``exchangePosId``, and changes it when files or barcodes are
edited or the section or row is; so a remote id is looked up as a current ``exchangePosId`` first,
then through SkyBox's history of exchange ids, then (optionally) as an inventory id. Nothing is
cached: a listing read a minute ago may have been sold since.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from tevo_bridge.pos.types import PriceDecision
from tevo_bridge_skybox_pos.client import BadRequest, Deadline, NotFound, SkyBoxClient
from tevo_bridge_skybox_pos.settings import SkyBoxSettings

__all__ = ["FILE_STOCK_TYPES", "Listing", "cents", "resolve"]

#: Stock types whose tickets are delivered as files; the others have none to give.
FILE_STOCK_TYPES = frozenset({"ELECTRONIC", "FLASH"})


def cents(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class Listing:
    id: int
    pos_id: int | None
    quantity: int
    status: str
    list_price: Decimal
    cost: Decimal
    stock_type: str
    tickets: tuple[dict[str, Any], ...]

    @classmethod
    def from_json(cls, row: dict[str, Any]) -> Listing:
        return cls(
            id=int(row["id"]),
            pos_id=row.get("exchangePosId"),
            quantity=int(row.get("quantity") or 0),
            status=str(row.get("status") or "AVAILABLE"),
            list_price=Decimal(str(row.get("listPrice") or 0)),
            cost=Decimal(str(row.get("cost") or 0)),
            stock_type=str(row.get("stockType") or ""),
            tickets=tuple(row.get("tickets") or ()),
        )

    @property
    def available(self) -> int:
        """``quantity`` counts tickets only while the listing is AVAILABLE (ON_HOLD and DEPLETED sell none)."""
        return self.quantity if self.status == "AVAILABLE" else 0

    def price_decision(self, price: Decimal, settings: SkyBoxSettings, remote_id: str) -> PriceDecision:
        if settings.price_rule == "any":
            return PriceDecision(True)
        base = self.list_price if settings.price_rule == "list_price" else self.cost
        floor = cents(base * (100 - settings.price_tolerance_percent) / 100)
        if price >= floor:
            return PriceDecision(True)
        name = "listPrice" if settings.price_rule == "list_price" else "cost"
        return PriceDecision(False, f"price {price} is below {floor} ({name} {base} of SkyBox listing {self.id}, "
                                    f"remote_id {remote_id})")


def resolve(client: SkyBoxClient, remote_id: str, deadline: Deadline, *, tickets: bool = False) -> Listing | None:
    """The listing ``remote_id`` names now (with its tickets if asked: a big answer for a big listing);
    ``None`` only when every lookup missed."""
    if not remote_id.strip().isdigit():
        return None  # SkyBox ids are integers: nothing there can have this id
    number = int(remote_id)
    rows = client.search("/inventory", {"exchangePosId": number, "includeTickets": tickets}, deadline=deadline)
    exact = [r for r in rows if r.get("exchangePosId") == number]
    if exact:
        return Listing.from_json(exact[0])
    try:
        history = client.get(f"/inventory/exchange_pos_id/{number}", deadline=deadline)
    except (NotFound, BadRequest):  # SkyBox's spec declares no "unknown id" answer: both are seen as one
        history = None
    entries = history if isinstance(history, list) else (history.get("rows") if isinstance(history, dict) and
                                                         "rows" in history else [history])
    for entry in entries or []:
        if isinstance(entry, dict) and entry.get("inventoryId") and entry.get("exchangePosId") in (number, None):
            found = _by_inventory_id(client, int(entry["inventoryId"]), deadline)
            if found is not None:
                return found
    if client.settings.match_inventory_id:
        return _by_inventory_id(client, number, deadline)
    return None


def _by_inventory_id(client: SkyBoxClient, inventory_id: int, deadline: Deadline) -> Listing | None:
    try:
        row = client.get(f"/inventory/{inventory_id}", deadline=deadline)
    except (NotFound, BadRequest):
        return None
    return Listing.from_json(row) if isinstance(row, dict) and row.get("id") is not None else None
