"""Durable state: inbox, orders, holds, jobs and the audit log (SQLite, or PostgreSQL: ``store.postgres``)."""

from tevo_bridge.clock import now_iso
from tevo_bridge.store.aio import AsyncStore
from tevo_bridge.store.base import Store
from tevo_bridge.store.files import DaemonLock, StoreFacts, backup_store, inspect_store, restore_store
from tevo_bridge.store.sqlite import SqliteStore
from tevo_bridge.store.vocabulary import (
    ORDER_STATES,
    PG_SCHEMA_VERSION,
    SCHEMA_VERSION,
    SCHEMA_VERSIONS,
    SQLITE_SCHEMA_VERSION,
    TERMINAL_STATES,
    AuditNote,
    Backend,
    Event,
    HoldRow,
    HoldState,
    Job,
    JobKind,
    JobState,
    NotAStore,
    OrderQuery,
    OrderRow,
    OrderState,
    ResolveOutcome,
    RetryOutcome,
    SchemaTooNew,
    StoreBusy,
    StoreError,
    StoreInUse,
    StoreMoved,
    StoreUnavailable,
)

__all__ = [
    "ORDER_STATES", "PG_SCHEMA_VERSION", "SCHEMA_VERSION", "SCHEMA_VERSIONS", "SQLITE_SCHEMA_VERSION",
    "TERMINAL_STATES", "AsyncStore", "AuditNote", "Backend", "DaemonLock", "Event", "HoldRow", "HoldState", "Job", "JobKind", "JobState",
    "NotAStore", "OrderQuery", "OrderRow", "OrderState", "ResolveOutcome", "RetryOutcome", "SchemaTooNew",
    "SqliteStore", "Store", "StoreBusy", "StoreError", "StoreUnavailable", "StoreFacts", "StoreInUse", "StoreMoved",
    "backup_store", "inspect_store", "now_iso", "restore_store",
]
