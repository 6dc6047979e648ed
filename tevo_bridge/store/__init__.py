"""Durable state: inbox, orders, holds, jobs and the audit log (SQLite, or PostgreSQL: ``store.postgres``)."""

from tevo_bridge.clock import now_iso
from tevo_bridge.store.aio import AsyncStore
from tevo_bridge.store.base import Store
from tevo_bridge.store.sqlite import (
    ORDER_STATES,
    SCHEMA_VERSION,
    TERMINAL_STATES,
    DaemonLock,
    Event,
    HoldRow,
    Job,
    NotAStore,
    OrderQuery,
    OrderRow,
    ResolveOutcome,
    RetryOutcome,
    SchemaTooNew,
    SqliteStore,
    StoreBusy,
    StoreError,
    StoreFacts,
    StoreInUse,
    StoreUnavailable,
    backup_store,
    inspect_store,
    restore_store,
)

__all__ = [
    "ORDER_STATES", "SCHEMA_VERSION", "TERMINAL_STATES", "AsyncStore", "DaemonLock", "Event", "HoldRow", "Job",
    "NotAStore", "OrderQuery", "OrderRow", "ResolveOutcome", "RetryOutcome", "SchemaTooNew", "SqliteStore", "Store", "StoreBusy", "StoreError", "StoreUnavailable", "StoreFacts",
    "StoreInUse", "backup_store", "inspect_store", "now_iso", "restore_store",
]
