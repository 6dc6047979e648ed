"""Holds in SkyBox, keyed by TEvo's global id in the hold's ``externalRef``.

SkyBox arbitrates the stock (``POST /holds`` takes tickets or answers 400); the plugin makes the
calls idempotent: every write is preceded by a search for its ``externalRef`` and a live match is
reused, one thread at a time per global id. Expired holds of ours are deleted by a sweep, because
SkyBox may never free them itself; ``DELETE /inventory/{id}/hold`` is never used (it drops every
hold on the listing, other people's too).
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from tevo_bridge_skybox_pos.client import Deadline, DeadlineExceeded, NotFound, SkyBoxClient, SkyBoxError

__all__ = ["MARK", "SkyBoxHold", "StripedLocks", "Sweeper", "hold_notes", "holds_by_ref", "iso", "parse_seats",
           "parse_time"]

log = logging.getLogger(__name__)

#: Every hold the plugin makes starts its notes with this, so the sweep never touches a broker's own holds.
MARK = "tevo-bridge"


def iso(moment: datetime) -> str:
    """UTC with an explicit ``Z``: SkyBox's time zone for zone-less values is unknown."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_time(value: Any) -> datetime | None:
    if not value:
        return None
    moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def parse_seats(text: Any) -> tuple[int, ...]:
    """``Hold.seats`` is a free string in SkyBox's model: seats one by one (``"5,6,7"``), runs as ranges
    (``"5-7"``) or both (``"5, 7-8"``). Anything else names no seat (the hold is then matched by its ticket
    count alone), rather than failing every hook that reads the hold."""
    seats: list[int] = []
    for part in str(text or "").replace(" ", "").split(","):
        low, dash, high = part.partition("-")
        if low.isdigit() and not dash:
            seats.append(int(low))
        elif low.isdigit() and high.isdigit() and int(low) <= int(high):
            seats += range(int(low), int(high) + 1)
    return tuple(seats)


class StripedLocks:
    """A fixed set of locks picked by key: one thread at a time per global id, order id or listing."""

    def __init__(self, stripes: int = 256) -> None:
        self._locks = [threading.Lock() for _ in range(stripes)]

    def index(self, key: str) -> int:
        return int.from_bytes(hashlib.blake2b(key.encode(), digest_size=4).digest()) % len(self._locks)

    def of(self, key: str) -> threading.Lock:
        return self._locks[self.index(key)]

    def all_of(self, keys: list[str]) -> list[threading.Lock]:
        """Locks for several keys, each once and in one global order, so two callers cannot deadlock."""
        return [self._locks[i] for i in sorted({self.index(k) for k in keys})]


@dataclass(frozen=True)
class SkyBoxHold:
    id: int
    inventory_id: int
    quantity: int
    seats: tuple[int, ...]
    external_ref: str
    notes: str
    expiry: datetime | None
    removed: bool

    @classmethod
    def from_json(cls, row: dict[str, Any]) -> SkyBoxHold:
        return cls(int(row["id"]), int(row.get("inventoryId") or 0), int(row.get("quantity") or 0),
                   parse_seats(row.get("seats")),
                   str(row.get("externalRef") or ""), str(row.get("notes") or ""),
                   parse_time(row.get("expiryDate")), bool(row.get("removedDate")))

    @property
    def expired(self) -> bool:
        return self.expiry is not None and self.expiry <= datetime.now(UTC)

    @property
    def live(self) -> bool:
        """Holding tickets for us now: not removed and not past its expiry."""
        return not self.removed and not self.expired

    @property
    def remote_id(self) -> str | None:
        for word in self.notes.split():
            if word.startswith("remote_id="):
                return word.partition("=")[2]
        return None


def holds_by_ref(client: SkyBoxClient, ref: str, deadline: Deadline) -> list[SkyBoxHold]:
    """Our holds with exactly this ``externalRef`` (SkyBox may match by substring or case-blind), oldest first."""
    rows = client.search("/holds", {"externalRef": ref}, deadline=deadline)
    return sorted((SkyBoxHold.from_json(r) for r in rows if r.get("externalRef") == ref), key=lambda h: h.id)


def hold_notes(remote_id: str, order_id: int | None) -> str:
    return f"{MARK} remote_id={remote_id}" + (f" order={order_id}" if order_id is not None else "")


class Sweeper:
    """Deletes our expired holds that SkyBox still counts, at most every ``interval`` seconds."""

    #: How far back expired holds are looked for: a sweep runs every few seconds, so only a long outage
    #: leaves older ones, and SkyBox keeps removed holds in its search answers.
    LOOKBACK = timedelta(days=7)

    def __init__(self, client: SkyBoxClient, interval: float) -> None:
        self.client, self.interval = client, interval
        self._lock = threading.Lock()
        self._last = 0.0
        self._refused: set[int] = set()  # holds whose DELETE SkyBox refused: logged once, tried every sweep

    def sweep(self, deadline: Deadline, *, force: bool = False) -> int:
        """How many holds were deleted; 0 when another thread is sweeping or the last sweep is recent.

        Cleanup never fails its caller (availability, a new hold, an invoice): a hold SkyBox will not delete
        now (a 400 or 410 its spec never declares, a 5xx, no time left) is logged and tried again by the
        next sweep, which finds it expired again."""
        if not force and time.monotonic() - self._last < self.interval:
            return 0
        if not self._lock.acquire(blocking=force):
            return 0
        try:
            self._last = time.monotonic()
            moment = datetime.now(UTC)
            rows = self.client.search("/holds", {"expiryDateFrom": iso(moment - self.LOOKBACK),
                                                 "expiryDateTo": iso(moment)}, deadline=deadline)
            return sum(self._delete(hold, deadline) for hold in (SkyBoxHold.from_json(r) for r in rows)
                       if not hold.removed and hold.expired and hold.notes.startswith(MARK))
        except SkyBoxError as exc:
            log.warning("skybox_pos: expired-hold sweep stopped, the next one goes on: %s", exc)
            return 0
        finally:
            self._lock.release()

    def _delete(self, hold: SkyBoxHold, deadline: Deadline) -> bool:
        try:
            self.client.write("DELETE", f"/holds/{hold.id}", deadline=deadline)
        except NotFound:
            return False
        except DeadlineExceeded:
            raise
        except SkyBoxError as exc:
            if hold.id not in self._refused:
                self._refused.add(hold.id)
                log.warning("skybox_pos: SkyBox refused to delete expired hold %s (%s); kept for a later sweep: %s",
                            hold.id, hold.external_ref, exc)
            return False
        self._refused.discard(hold.id)
        return True
