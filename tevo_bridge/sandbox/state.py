"""The simulated TEvo world: orders, items, shipments, users, and what was done to them.

One lock guards everything because the API (on the server's event loop), the
driver and the tests (on their own threads) all touch it; every operation is
short, so contention never matters.  The whole world is plain JSON so that
``--state FILE`` can survive a restart byte for byte.
"""

from __future__ import annotations

import base64
import copy
import json
import os
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tevo_bridge.sandbox.orders import (
    SELLER,
    SELLER_BROKERAGE_ID,
    SELLER_OFFICE_ID,
    NewIds,
    OrderRequest,
    build_order,
)

DEFAULT_REVIEWER_ID = 4711

# Each id kind has its own range, so an id used in the wrong place is never also valid.
ID_STARTS = {
    "order": 500001,
    "order_group": 81001,
    "shipment": 330001,
    "item": 910001,
    "order_item": 770001,
    "order_item_link": 640001,
}


def utc_now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class ItemFiles:
    """The e-ticket files TEvo holds for one item (keyed by ``items[].id``)."""

    uploads: list[bytes] = field(default_factory=list)
    merged: bytes | None = None
    final: bytes | None = None
    keep_pages: list[int] | None = None
    delivered_by: str | None = None  # "finalize_etickets" or "deliver_etickets"
    upload_calls: int = 0

    def to_json(self) -> dict[str, Any]:
        def b64(raw: bytes | None) -> str | None:
            return base64.b64encode(raw).decode("ascii") if raw is not None else None

        return {"uploads": [b64(u) for u in self.uploads], "merged": b64(self.merged), "final": b64(self.final),
                "keep_pages": self.keep_pages, "delivered_by": self.delivered_by, "upload_calls": self.upload_calls}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ItemFiles:
        def raw(text: str | None) -> bytes | None:
            return base64.b64decode(text) if text is not None else None

        return cls([base64.b64decode(u) for u in data["uploads"]], raw(data["merged"]), raw(data["final"]),
                   data["keep_pages"], data["delivered_by"], data["upload_calls"])


@dataclass
class OrderRecord:
    """What the bridge did to one order, for tests and the demo to assert on."""

    scenario: str | None = None
    accept_calls: int = 0
    reject_calls: int = 0
    calls: list[dict[str, Any]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    shipment_history: list[dict[str, Any]] = field(default_factory=list)


class World:
    """All sandbox state.  Use ``with world.lock:`` around multi-step reads."""

    def __init__(
        self,
        reviewer_ids: tuple[int, ...] = (DEFAULT_REVIEWER_ID, 4712, 4713),
        foreign_user_ids: tuple[int, ...] = (9001,),
        clock: Callable[[], str] = utc_now,
        state_file: Path | None = None,
        fedex_transit_seconds: float | None = None,
    ) -> None:
        self.lock = threading.RLock()
        self.clock = clock
        self.state_file = state_file
        self.fedex_transit_seconds = fedex_transit_seconds
        self.orders: dict[int, dict[str, Any]] = {}
        self.records: dict[int, OrderRecord] = {}
        self.files: dict[int, ItemFiles] = {}
        self.replaced_shipments: dict[int, int] = {}  # old id -> the id that replaced it (§5.3)
        self.in_transit: dict[int, float] = {}  # FedEx shipment id -> epoch when tracking says delivered
        self.global_calls: list[dict[str, Any]] = []
        self.counters = dict(ID_STARTS)
        # Kept across restarts so a restarted driver neither reuses a hold's global id nor offers seats
        # it set aside (a hold that ended without an answer) to another buyer.
        self.hold_ids: set[str] = set()
        self.set_aside: dict[str, set[str]] = {}
        self.users: dict[int, dict[str, Any]] = {}
        for n, user_id in enumerate(reviewer_ids):
            self.users[user_id] = _user(user_id, f"Order Processor {n + 1}" if n else "Order Processor",
                                        SELLER_OFFICE_ID, SELLER_BROKERAGE_ID)
        for user_id in foreign_user_ids:
            self.users[user_id] = _user(user_id, "Someone Elsewhere", 3001, 3002)
        if state_file is not None and state_file.exists():
            self._load(state_file)

    # -- ids and lookups ---------------------------------------------------------------

    def next_id(self, kind: str) -> int:
        with self.lock:
            value = self.counters[kind]
            self.counters[kind] = value + 1
            return value

    def brokerage_user(self, user_id: object) -> dict[str, Any] | None:
        """A user of the seller's brokerage, the only kind that may be a ``reviewer_id`` (§1)."""
        if isinstance(user_id, bool) or not isinstance(user_id, int | str):
            return None
        try:
            user = self.users.get(int(user_id))
        except ValueError:
            return None
        if user is None or user["office"]["brokerage"]["id"] != SELLER_BROKERAGE_ID:
            return None
        return user

    def order(self, order_id: int) -> dict[str, Any] | None:
        return self.orders.get(order_id)

    def find_item(self, order: dict[str, Any], item_id: int) -> dict[str, Any] | None:
        return next((i for i in order["items"] if i["id"] == item_id), None)

    def find_shipment(self, shipment_id: int) -> tuple[dict[str, Any], dict[str, Any]] | None:
        """(order, shipment) for a live shipment id; a replaced id is gone, as at TEvo."""
        for order in self.orders.values():
            for shipment in order["shipments"]:
                if shipment["id"] == shipment_id:
                    return order, shipment
        return None

    def record(self, order_id: int) -> OrderRecord:
        return self.records.setdefault(order_id, OrderRecord())

    def item_files(self, item_id: int) -> ItemFiles:
        return self.files.setdefault(item_id, ItemFiles())

    # -- creating and changing orders (used by the driver and by tests) --------------------

    def create_order(self, request: OrderRequest) -> dict[str, Any]:
        """Add a new order; returns a copy of its TEvo JSON."""
        with self.lock:
            ids = NewIds(
                order_id=self.next_id("order"),
                order_group_id=self.next_id("order_group"),
                shipment_id=self.next_id("shipment"),
                item_ids=[(self.next_id("item"), self.next_id("order_item"), self.next_id("order_item_link"))
                          for _ in request.items],
            )
            order = build_order(request, ids, self.clock())
            self.orders[order["id"]] = order
            self.record(order["id"]).scenario = request.scenario
            self.changed()
            return copy.deepcopy(order)

    def touch(self, order: dict[str, Any]) -> None:
        """Every change moves ``updated_at``: the bridge's dedupe keys depend on it (§6.2)."""
        order["updated_at"] = self.clock()

    def set_seller_state(self, order: dict[str, Any], state: str) -> None:
        order["seller_state"] = state
        order["buyer_state"] = state
        self.touch(order)

    def set_fraud_status(self, order_id: int, status: str) -> dict[str, Any]:
        """Riskified's answer arriving (§3.5)."""
        with self.lock:
            order = self._require(order_id)
            order["fraud_check_status"] = status
            self.touch(order)
            self.changed()
            return copy.deepcopy(order)

    def cancel_order(self, order_id: int, state: str = "canceled", reason: str | None = None) -> dict[str, Any]:
        """TEvo (or the buyer) canceling an order under the bridge's feet; ``reason`` is TEvo's note."""
        with self.lock:
            order = self._require(order_id)
            self.set_seller_state(order, state)
            if reason is not None:
                order["buyer_cancellation_reason"] = reason
            self.changed()
            return copy.deepcopy(order)

    def deliver_shipment(self, shipment_id: int) -> dict[str, Any]:
        """Mark a shipment delivered, as FedEx tracking or a pickup handover would."""
        with self.lock:
            found = self.find_shipment(shipment_id)
            if found is None:
                raise KeyError(shipment_id)
            order, shipment = found
            shipment["state"] = "delivered"
            shipment["updated_at"] = self.clock()
            self.in_transit.pop(shipment_id, None)
            self.settle(order)
            self.changed()
            return copy.deepcopy(shipment)

    def settle(self, order: dict[str, Any]) -> None:
        """Complete the order once every delivery is done (§3.3).

        An e-ticket shipment counts as delivered when all its items are finalized.
        """
        for shipment in order["shipments"]:
            if shipment["type"] == "Eticket" and shipment["state"] != "delivered":
                items = [i for i in order["items"] if i["delivery_id"] == shipment["id"]]
                if items and all(i["eticket_finalized"] for i in items):
                    shipment["state"] = "delivered"
                    shipment["updated_at"] = self.clock()
        if order["seller_state"] == "accepted" and all(s["state"] == "delivered" for s in order["shipments"]):
            self.set_seller_state(order, "completed")

    def advance(self, now: float | None = None) -> None:
        """Let simulated time act: FedEx tracking delivers shipments whose transit is over."""
        now = time.time() if now is None else now
        with self.lock:
            due = [sid for sid, at in self.in_transit.items() if at <= now]
            for shipment_id in due:
                self.deliver_shipment(shipment_id)

    def claim_hold_id(self, global_id: str) -> bool:
        """Record a hold's global id before it is sent; False when it was ever used (TEvo never reuses one)."""
        with self.lock:
            if global_id in self.hold_ids:
                return False
            self.hold_ids.add(global_id)
            self.changed()
            return True

    def put_aside(self, remote_id: str, seats: list[str]) -> None:
        """Seats no buyer may be offered again, remembered before the release that frees them is sent."""
        with self.lock:
            self.set_aside.setdefault(remote_id, set()).update(seats)
            self.changed()

    # -- call log -----------------------------------------------------------------------

    def record_call(self, order_id: int | None, method: str, path: str, status: int) -> None:
        entry = {"method": method, "path": path, "status": status, "at": self.clock()}
        with self.lock:
            if order_id is not None and order_id in self.orders:
                self.record(order_id).calls.append(entry)
            else:
                self.global_calls.append(entry)
            self.changed()

    # -- persistence ----------------------------------------------------------------------

    def changed(self) -> None:
        """Write the state file after every change, atomically, when one was asked for."""
        if self.state_file is None:
            return
        with self.lock:
            data = self.to_json()
            tmp = self.state_file.with_suffix(self.state_file.suffix + ".tmp")
            tmp.write_text(json.dumps(data))
            os.replace(tmp, self.state_file)

    def to_json(self) -> dict[str, Any]:
        with self.lock:
            return {
                "version": 1,
                "orders": list(self.orders.values()),
                "records": {str(k): asdict(v) for k, v in self.records.items()},
                "files": {str(k): v.to_json() for k, v in self.files.items()},
                "replaced_shipments": {str(k): v for k, v in self.replaced_shipments.items()},
                "in_transit": {str(k): v for k, v in self.in_transit.items()},
                "global_calls": self.global_calls,
                "counters": self.counters,
                "users": list(self.users.values()),
                "hold_ids": sorted(self.hold_ids),
                "set_aside": {k: sorted(v) for k, v in self.set_aside.items()},
            }

    def _load(self, path: Path) -> None:
        data = json.loads(path.read_text())
        self.orders = {o["id"]: o for o in data["orders"]}
        self.records = {int(k): OrderRecord(**v) for k, v in data["records"].items()}
        self.files = {int(k): ItemFiles.from_json(v) for k, v in data["files"].items()}
        self.replaced_shipments = {int(k): v for k, v in data["replaced_shipments"].items()}
        self.in_transit = {int(k): v for k, v in data["in_transit"].items()}
        self.global_calls = data["global_calls"]
        self.counters = data["counters"]
        self.users = {u["id"]: u for u in data["users"]}
        # A state file written before these were kept has neither: nothing was set aside, no id to avoid.
        self.hold_ids = set(data.get("hold_ids", []))
        self.set_aside = {k: set(v) for k, v in data.get("set_aside", {}).items()}

    def _require(self, order_id: int) -> dict[str, Any]:
        order = self.orders.get(order_id)
        if order is None:
            raise KeyError(order_id)
        return order


def _user(user_id: int, name: str, office_id: int, brokerage_id: int) -> dict[str, Any]:
    office = {"id": office_id, "name": SELLER["name"] if office_id == SELLER_OFFICE_ID else "Other Office",
              "url": f"/offices/{office_id}",
              "brokerage": {"id": brokerage_id, "url": f"/brokerages/{brokerage_id}"}}
    return {"id": user_id, "url": f"/users/{user_id}", "name": name,
            "email": f"user{user_id}@example.com", "office": office}
