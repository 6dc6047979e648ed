"""The store's vocabulary: its states, errors, rows and schema versions, shared by both backends.

Kept apart from the SQL (``store/statements.py``, ``store/postgres.py``) and the file tools (``store/files.py``)
so that a reader of the pipeline, the dashboard or the CLI finds the words without the statements, and
so that every backend imports them from one place rather than from another backend.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal

from tevo_bridge.store.pg_schema import PG_MIGRATIONS
from tevo_bridge.store.schema import MIGRATIONS


class OrderState(StrEnum):
    """Every ``orders.state`` the pipeline writes (docs/architecture.md, "The order state machine"), in
    pipeline order. A ``StrEnum`` so that a member *is* its string: stored, logged and compared as before."""

    NEW = "new"
    AWAITING_FRAUD = "awaiting_fraud"
    CHECKING = "checking"
    ACCEPTING = "accepting"
    INVOICING = "invoicing"
    FULFILLING = "fulfilling"
    AWAITING_TICKETS = "awaiting_tickets"
    REJECTING = "rejecting"
    VOIDING = "voiding"  # canceled at TEvo after it was invoiced: its POS invoice is being voided
    DONE = "done"
    REJECTED = "rejected"
    CANCELED = "canceled"
    NEEDS_REVIEW = "needs_review"
    RESOLVED = "resolved"


class JobState(StrEnum):
    """A ``jobs.state``: queued until a worker leases it, then done or failed (or queued again on a retry)."""

    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class JobKind(StrEnum):
    """A ``jobs.kind``: what the store queues, and what the worker looks up its handler by
    (``pipeline/worker.py``, ``@handles``). Adding a kind means a member here and a handler there."""

    ORDER = "order"  # bring one order forward (key ``order:<id>``)
    RELEASE_HOLD = "release_hold"  # free a hold TEvo released in the POS (key ``release:<global id>``)
    ORDER_GROUP = "order_group"  # a webhook named only the group: list its orders (key ``group:<id>``)


class HoldState(StrEnum):
    """A ``holds.state``: pending while the POS is asked, then held or failed, then closed one of three ways."""

    PENDING = "pending"
    HELD = "held"
    FAILED = "failed"
    RELEASED = "released"
    INVOICED = "invoiced"
    EXPIRED = "expired"


#: The order states as plain strings, in pipeline order: the one list ``update_order`` enforces, the CLI's
#: ``--state`` validates against, and metrics report (0 for a state no order is in rather than leaving it out).
#: Plain strings, not members, because click and the metrics labels show what they are handed.
ORDER_STATES: tuple[str, ...] = tuple(state.value for state in OrderState)

#: States an order never leaves by itself; ``retry_order`` refuses them (``redeliver`` aside). ``resolved``: a
#: person settled a ``needs_review`` order by hand (``resolve_order``) and nothing more is done to it.
TERMINAL_STATES: frozenset[str] = frozenset(
    {OrderState.DONE, OrderState.REJECTED, OrderState.CANCELED, OrderState.RESOLVED})
JOB_STATES: tuple[str, ...] = tuple(state.value for state in JobState)
JOB_KINDS: tuple[str, ...] = tuple(kind.value for kind in JobKind)
HOLD_STATES: tuple[str, ...] = tuple(state.value for state in HoldState)


@dataclass(frozen=True)
class StoreStats:
    """Counts by state (only the states present) and when the oldest non-terminal order was first seen."""

    orders: dict[str, int]
    jobs: dict[str, int]
    holds: dict[str, int]
    oldest_open_order_seen_at: str | None


#: The store's backends by the names operators read (``--version``, ``check``, backups, the dashboard).
Backend = Literal["SQLite", "PostgreSQL"]

#: The schema version this code writes, per backend. Each backend numbers its own migrations
#: (``store/schema.py``, ``store/pg_schema.py``), so "schema version" always says which backend's:
#: a store at a higher one was written by a newer tevo-bridge.
SQLITE_SCHEMA_VERSION = len(MIGRATIONS)
PG_SCHEMA_VERSION = len(PG_MIGRATIONS)
SCHEMA_VERSIONS: dict[Backend, int] = {"SQLite": SQLITE_SCHEMA_VERSION, "PostgreSQL": PG_SCHEMA_VERSION}
#: The SQLite store's, under the name callers have used since before PostgreSQL.
SCHEMA_VERSION = SQLITE_SCHEMA_VERSION


def schema_versions_text() -> str:
    """Both backends' schema versions in one phrase: ``SQLite 5, PostgreSQL 3``."""
    return ", ".join(f"{backend} {version}" for backend, version in SCHEMA_VERSIONS.items())


class StoreError(Exception):
    """A store file this code must not use; the message names the file and the fix (for the CLI to print)."""


class SchemaTooNew(StoreError):
    """Written by a newer tevo-bridge: its migrations are unknown here, so nothing may read or write it."""

    def __init__(self, path: Path | str, version: int) -> None:
        self.path, self.version = Path(path), version
        super().__init__(
            f"{path} has SQLite store schema version {version}, but this tevo-bridge knows SQLite schema versions up to "
            f"{SCHEMA_VERSION}: it was written by a newer tevo-bridge. Nothing was changed. Fix: upgrade "
            f"tevo-bridge (pip install -U tevo-bridge), or restore a backup made by this version "
            f"(tevo-bridge store restore BACKUP).")


class StoreNotDurable(StoreError):
    """The disk failed to make committed writes durable (an fsync of the SQLite store's log failed): they are in
    the file as SQLite sees it but may not survive a power loss, and after a failed fsync the disk cannot be trusted
    to say so again. The store refuses every call from then on; a restart reads the file as the disk has it."""

    def __init__(self, path: Path | str, error: OSError) -> None:
        self.path = Path(path)
        super().__init__(
            f"{path}: the disk failed to make the store's last writes durable ({error.strerror or error}); nothing more "
            f"is read or written. Fix: check the disk (dmesg, free space), then restart tevo-bridge: it reads what the "
            f"disk holds, and every request whose answer was not sent is asked again.")


class StoreBusy(StoreError):
    """The store could not commit for concurrent writers (PostgreSQL serialization failures past the retries):
    the request is answered 503 and may be sent again."""


class StoreUnavailable(StoreError):
    """The store's database cannot be reached (PostgreSQL down, a connection broken): answered 503, retried later."""


class StoreInUse(StoreError):
    """Another process holds the daemon lock of this store."""


class NotAStore(StoreError):
    """The file is not a tevo-bridge store (not SQLite, or no schema version)."""


class StoreMoved(StoreError):
    """``store migrate`` copied this file to PostgreSQL: reading it would show stale orders, writing it
    would lose them, so every command and the daemon refuse it and say where the store is now."""

    def __init__(self, path: Path | str, url: str, moved_at: str) -> None:
        self.path, self.url = Path(path), url
        super().__init__(
            f"{path} was moved to PostgreSQL ({url}) by `tevo-bridge store migrate` at {moved_at}: it is "
            f"no longer the store. Nothing was read or changed. Fix: set [store] url (or TEVO_BRIDGE_STORE__URL) "
            f"to {url}, with its password.")

class BatchTainted(Exception):
    """A call in a group commit run without savepoints failed: the batch was rolled back as a whole, and
    ``AsyncStore`` runs its calls again, each in its own savepoint. Never reaches a caller."""

    def __init__(self) -> None:
        super().__init__("a call in the batch failed; the batch was rolled back")


#: What ``retry_order`` did: queued it, found no such order, or refused a finished one.
RetryOutcome = Literal["queued", "unknown", "terminal"]
#: What ``resolve_order`` did: resolved it, found no such order, or refused one not in ``needs_review``.
ResolveOutcome = Literal["resolved", "unknown", "not_in_review"]


@dataclass(frozen=True)
class OrderQuery:
    """The dashboard's order search: every field set narrows it; ``before_id`` pages (ids descend)."""

    state: str | None = None
    source: str | None = None
    buyer_type: str | None = None
    seen_from: str | None = None  # first_seen_at >= this ISO time
    seen_until: str | None = None  # first_seen_at < this ISO time
    order_id: int | None = None
    invoice_id: str | None = None
    before_id: int | None = None


@dataclass(frozen=True)
class Job:
    id: int
    kind: str
    key: str
    order_id: int | None
    global_id: str | None
    attempts: int
    lease_until: float


@dataclass(frozen=True)
class OrderRow:
    id: int
    state: str
    seller_state: str | None
    buyer_type: str | None
    buyer_id: int | None
    global_id: str | None
    customer_id: str | None
    invoice_id: str | None
    reject_reason: str | None
    last_error: str | None
    snapshot: str | None
    source: str
    created_at: str | None
    first_seen_at: str
    accepted_at: str | None
    updated_at: str
    reservation_round: int = 0
    buyer_search: str | None = None  # the snapshot's buyer name and e-mails, lower-cased (store/search.py)
    tevo_seen_at: str | None = None  # when the pipeline last read the order from TEvo (``seller_state``, shipments)
    tevo_shipments: str | None = None  # JSON: [{"id", "type", "state", "tracking_number"}] as TEvo last said
    tevo_checks: int = 0  # looks at TEvo after delivery, waiting for "completed" ([pipeline] after_delivery_checks)
    pos_hold_id: str | None = None  # the POS's own id(s) of the order's hold(s), comma-separated

    def snapshot_json(self) -> Any:
        return json.loads(self.snapshot) if self.snapshot else None

    def tevo_shipments_json(self) -> list[dict[str, Any]]:
        """TEvo's shipments as last read: a list (empty when never read, or written by an older tevo-bridge)."""
        try:
            shipments = json.loads(self.tevo_shipments) if self.tevo_shipments else []
        except ValueError:
            return []
        return shipments if isinstance(shipments, list) else []


@dataclass(frozen=True)
class HoldRow:
    global_id: str
    remote_id: str
    quantity: int
    price: str | None
    ticket_group_id: int | None
    state: str
    hold_id: str | None
    reason: str | None
    status: int | None
    response: str | None
    order_id: int | None
    created_at: str
    expires_at: str
    updated_at: str

    def closed_as(self) -> str | None:
        """``released``, ``expired`` or ``invoiced`` once the hold no longer holds tickets for TEvo, else None.

        A hold TEvo has sent the invoice call for counts as invoiced from that moment: its tickets are
        the order's now, even before the POS invoice is written.
        """
        if self.state in (HoldState.RELEASED, HoldState.EXPIRED, HoldState.INVOICED):
            return self.state
        if self.state == HoldState.HELD and self.order_id is not None:
            return HoldState.INVOICED
        return None

    def outcome_reason(self, reason: str | None) -> str:
        """The reason of the audit row ``finish_hold`` writes, the hold's one row until it is released, expired or
        invoiced: what was asked for (``2 x 91508``), then why it came out so when the POS or the daemon said."""
        asked = f"{self.quantity} x {self.remote_id}"
        return f"{asked}: {reason}" if reason else asked


@dataclass(frozen=True)
class OiInvoiceRow:
    global_id: str
    order_id: int
    status: int | None
    response: str | None
    created_at: str


@dataclass(frozen=True)
class AuditNote:
    """An order's audit row written by ``update_order`` in the transaction of its change, before its transition row.

    For a record of the same moment as the move it precedes (the POS invoice and the move to ``fulfilling``):
    one commit instead of two, and no run that crashed between the two writes leaves the record without the move.
    """

    action: str
    reason: str | None = None
    details: Any = None


@dataclass(frozen=True)
class AuditRow:
    at: str
    action: str
    from_state: str | None
    to_state: str | None
    reason: str | None
    details: str | None


@dataclass(frozen=True)
class Event:
    """An inbound event to record: the inbox row and, unless ignored, the job it queues."""

    channel: str
    kind: str
    dedupe_key: str
    payload: str
    order_id: int | None = None
    global_id: str | None = None
    ignored: bool = False
    order_group_id: str | None = None  # when only the group is known: its orders are listed by a job
