"""Availability, holds and releases: what TEvo's checkout and the daemon's reservations ask of SkyBox.

A hold answers within ``hold_deadline_seconds`` whatever SkyBox does: when SkyBox is slow, rate
limited or down, the answer is "unavailable" (``insufficient_quantity``), and if a ``POST /holds``
was sent whose outcome is unknown, a background thread deletes whatever it made, so no tickets stay
held for a buyer who was told no.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

from tevo_bridge.pos.types import Availability, Hold, HoldResult, Item
from tevo_bridge_skybox_pos.client import (
    BadRequest,
    Deadline,
    NotFound,
    SkyBoxClient,
    SkyBoxError,
    Unavailable,
    Uncertain,
)
from tevo_bridge_skybox_pos.holds import StripedLocks, Sweeper, hold_notes, holds_by_ref, iso
from tevo_bridge_skybox_pos.listings import Listing, resolve

__all__ = ["StockDesk"]

log = logging.getLogger(__name__)


class StockDesk:
    def __init__(self, client: SkyBoxClient, locks: StripedLocks) -> None:
        self.client, self.settings, self.locks = client, client.settings, locks
        self.sweeper = Sweeper(client, self.settings.expired_hold_sweep_seconds)
        # A hold's two look-ups (our hold by ref, the listing) go out together: one round trip of waiting, not two.
        self._lookups = ThreadPoolExecutor(max_workers=16, thread_name_prefix="skybox-lookup")
        # Global ids this process has held: if SkyBox leaves removed holds out of its search answers, this is
        # how a replay of a released or lapsed global id is still refused (the daemon's store also refuses it).
        self._used: OrderedDict[str, None] = OrderedDict()
        self._used_lock = threading.Lock()

    def availability(self, item: Item, deadline: Deadline) -> Availability:
        listing = resolve(self.client, item.remote_id, deadline)
        if listing is None:
            return Availability(item.remote_id, 0, known=False)
        if self.sweeper.sweep(deadline):
            listing = resolve(self.client, item.remote_id, deadline) or listing
        return Availability(item.remote_id, listing.available)

    # -- hold ----------------------------------------------------------------------------------------

    def hold(self, hold: Hold, within: Deadline) -> HoldResult:
        """Answers by ``hold_deadline_seconds`` or ``within`` (the host's deadline), whichever comes first."""
        deadline = Deadline(min(self.settings.hold_deadline_seconds, within.left()))
        posted = threading.Event()
        with self.locks.of(hold.global_id):
            try:
                return self._hold(hold, deadline, posted)
            except Unavailable as exc:
                failure = exc
                log.warning("skybox_pos: hold %s: SkyBox unavailable: %s", hold.global_id, exc)
        if posted.is_set():
            threading.Thread(target=self._undo, args=(hold.global_id,), name="skybox-undo-hold", daemon=True).start()
        if hold.order_id is not None:
            # The daemon's reservation for an order TEvo already made: a fault is retried later, whereas a
            # refusal would reject the sale because SkyBox was down for a moment.
            raise failure
        return HoldResult(False, available=0, reason="insufficient_quantity")  # the checkout buyer hears "no" now

    def _hold(self, hold: Hold, deadline: Deadline, posted: threading.Event) -> HoldResult:
        by_ref = self._lookups.submit(holds_by_ref, self.client, hold.global_id, deadline)
        listing = resolve(self.client, hold.remote_id, deadline)
        previous = by_ref.result()
        available = listing.available if listing else 0
        if previous:
            live = [p for p in previous if p.live]
            if live and (live[0].remote_id, live[0].quantity) == (hold.remote_id, hold.quantity):
                return HoldResult(True, str(live[0].id), available)  # a replay: the same hold, nothing more
            return HoldResult(False, str(previous[0].id), available, "global_id_used")
        if hold.global_id in self._used:
            return HoldResult(False, available=available, reason="global_id_used")
        if listing is None:
            return HoldResult(False, available=0, reason="unknown_remote_id")
        if hold.price is not None and not listing.price_decision(hold.price, self.settings, hold.remote_id).acceptable:
            return HoldResult(False, available=available, reason="price_not_acceptable")
        if hold.quantity > available and self.sweeper.sweep(deadline, force=True):
            listing = resolve(self.client, hold.remote_id, deadline) or listing
            available = listing.available
        if hold.quantity > available:
            return HoldResult(False, available=available, reason="insufficient_quantity")
        return self._post(hold, listing, deadline, posted)

    def _post(self, hold: Hold, listing: Listing, deadline: Deadline, posted: threading.Event) -> HoldResult:
        expiry = hold.expires_at or datetime.now(UTC) + timedelta(minutes=self.settings.hold_expiry_minutes)
        body = {"inventoryId": listing.id, "quantity": hold.quantity, "expiryDate": iso(expiry),
                "externalRef": hold.global_id, "notes": hold_notes(hold.remote_id, hold.order_id)}
        while True:
            posted.set()
            try:
                created = self.client.write("POST", "/holds", body=body, deadline=deadline)
                self._remember(hold.global_id)
                return HoldResult(True, str(created["id"]), max(listing.available - hold.quantity, 0))
            except BadRequest as exc:
                # Someone took the tickets first, or SkyBox refuses a second hold with this externalRef.
                mine = [p for p in holds_by_ref(self.client, hold.global_id, deadline) if p.live]
                if mine:
                    return HoldResult(True, str(mine[0].id), max(listing.available - hold.quantity, 0))
                log.info("skybox_pos: hold %s refused by SkyBox: %s", hold.global_id, exc)
                fresh = resolve(self.client, hold.remote_id, deadline)
                return HoldResult(False, available=fresh.available if fresh else 0, reason="insufficient_quantity")
            except Uncertain:
                self._remember(hold.global_id)  # it may exist: never start it afresh under the same id
                mine = [p for p in holds_by_ref(self.client, hold.global_id, deadline) if p.live]
                if mine:
                    return HoldResult(True, str(mine[0].id), max(listing.available - hold.quantity, 0))
                deadline.check("a second POST /holds")  # it did not happen: try again while there is time

    def _remember(self, global_id: str, most: int = 200_000) -> None:
        with self._used_lock:
            self._used[global_id] = None
            self._used.move_to_end(global_id)
            while len(self._used) > most:
                self._used.popitem(last=False)

    def _undo(self, global_id: str) -> None:
        """Delete a hold made by a POST whose answer came too late; the buyer was told no."""
        time.sleep(self.settings.read_timeout)  # a POST still on its way when we gave up lands by then
        deadline = Deadline(max(self.settings.read_timeout, 10.0) * 3)
        with self.locks.of(global_id):
            try:
                for found in holds_by_ref(self.client, global_id, deadline):
                    if not found.removed:
                        self._delete(found.id, deadline)
                        log.warning("skybox_pos: deleted hold %s (%s) made after its answer was due",
                                    found.id, global_id)
            except Exception as exc:  # a background thread: log, never die loudly (the plugin may be closing)
                log.error("skybox_pos: could not delete late hold %s (it expires, then the sweep deletes it): %s",
                          global_id, exc)

    # -- release -------------------------------------------------------------------------------------

    def release(self, hold: Hold, deadline: Deadline) -> bool:
        with self.locks.of(hold.global_id):
            freed = False
            for found in holds_by_ref(self.client, hold.global_id, deadline):
                if found.removed:
                    continue
                sold = self._all_sold(found.inventory_id, found.seats, deadline)
                self._delete(found.id, deadline)
                freed = freed or (not found.expired and not sold)
            return freed

    def _all_sold(self, inventory_id: int, seats: tuple[int, ...], deadline: Deadline) -> bool:
        """Whether a hold's tickets were invoiced (SkyBox may keep such a hold open)."""
        try:
            row = self.client.get(f"/inventory/{inventory_id}", deadline=deadline)
        except NotFound:
            return False
        tickets = [t for t in (row or {}).get("tickets") or [] if t.get("seatNumber") in seats]
        return bool(tickets) and all(t.get("status") == "SOLD" for t in tickets)

    def _delete(self, hold_id: int, deadline: Deadline) -> None:
        """``DELETE /holds/{id}``; gone already counts as done, a lost answer is checked, not assumed."""
        for _ in range(3):
            try:
                self.client.write("DELETE", f"/holds/{hold_id}", deadline=deadline)
                return
            except NotFound:
                return
            except Uncertain:
                rows = self.client.search("/holds", {"id": hold_id}, deadline=deadline)
                if all(r.get("removedDate") for r in rows if r.get("id") == hold_id):
                    return
        raise Unavailable(f"DELETE /holds/{hold_id}: no certain answer after 3 tries")

    def delete_consumed(self, hold_ids: list[int], deadline: Deadline) -> None:
        for hold_id in hold_ids:
            try:
                self._delete(hold_id, deadline)
            except SkyBoxError as exc:  # the invoice stands; the sweep deletes it when it expires
                log.warning("skybox_pos: hold %s outlived its invoice: %s", hold_id, exc)
