"""Durable state: inbox, orders, holds, jobs and the audit log (SQLite; one interface for other backends)."""

from tevo_bridge.clock import now_iso
from tevo_bridge.store.aio import AsyncStore
from tevo_bridge.store.base import Store
from tevo_bridge.store.sqlite import TERMINAL_STATES, Event, HoldRow, Job, OrderRow, RetryOutcome, SqliteStore

__all__ = [
    "TERMINAL_STATES", "AsyncStore", "Event", "HoldRow", "Job", "OrderRow", "RetryOutcome", "SqliteStore", "Store",
    "now_iso",
]
