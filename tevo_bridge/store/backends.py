"""Which store a config names: the SQLite file at ``[store] path``, or PostgreSQL at ``[store] url``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tevo_bridge.store.aio import AsyncStore
from tevo_bridge.store.sqlite import SqliteStore

if TYPE_CHECKING:
    from tevo_bridge.config import Settings, StoreSettings
    from tevo_bridge.store.postgres import PostgresStore

#: The daemon's store threads on PostgreSQL, each holding one pooled connection: ``INTAKE_THREADS`` of them
#: group-commit the intake's hot writes (store/pg_aio.py), the others take every other call one at a time,
#: so a slow query (a prune, a scrape) or the workers' calls never hold up an Order Integration hold. With
#: PostgreSQL's 8 workers by default (config.WORKERS_POSTGRESQL), 4 replicas need 76 of the server's default
#: max_connections of 100 (``pg_connections``).
PG_STORE_THREADS = 8
#: Pooled connections beyond the store threads and the running jobs: room while one is being replaced.
PG_SPARE = 2


def pg_pool_size(jobs: int) -> int:
    """The pool's connections: the store threads', one per running job (its advisory locks), and the spare."""
    return PG_STORE_THREADS + jobs + PG_SPARE


def pg_connections(workers: int) -> int:
    """The most PostgreSQL connections one daemon opens: its pool and the one that listens for jobs other replicas
    commit."""
    return pg_pool_size(workers) + 1


def open_store(settings: StoreSettings, *, daemon: bool = False, jobs: int = 0) -> SqliteStore | PostgresStore:
    """The configured store; ``daemon`` takes SQLite's one-daemon lock (PostgreSQL needs none: its rules are
    row locks, advisory locks and leases).  ``jobs``: how many jobs may run at once, each holding a connection."""
    url = settings.postgres_url
    if url is None:
        return SqliteStore(settings.path, daemon=daemon)
    from tevo_bridge.store.postgres import PostgresStore

    # The store threads' connections stay open (min_size), so after an outage the pool reopens them in the
    # background before the burst arrives, and running jobs (one connection each, for their advisory locks)
    # can never take the last of them.
    return PostgresStore(url, min_size=PG_STORE_THREADS, max_size=pg_pool_size(jobs))


def open_async_store(settings: Settings) -> AsyncStore:
    """The daemon's store: SQLite on one thread with group commit, PostgreSQL on several threads (``as_async``)."""
    return as_async(open_store(settings.store, daemon=True, jobs=settings.pipeline.workers), settings.store)


def as_async(store: SqliteStore | PostgresStore, settings: StoreSettings) -> AsyncStore:
    """``store`` behind its thread(s): SQLite's one writer batches commits; on PostgreSQL the intake's hot writes
    are group-committed by threads of their own and every other call runs alone on one of the rest."""
    if settings.postgres_url is None:
        return AsyncStore(store)
    from tevo_bridge.store.pg_aio import INTAKE_THREADS, PostgresAsyncStore

    assert not isinstance(store, SqliteStore)  # [store] url names PostgreSQL
    return PostgresAsyncStore(store, threads=PG_STORE_THREADS - INTAKE_THREADS)
