"""``tevo-bridge store migrate --to postgresql://…``: a SQLite store copied into PostgreSQL, for a seller who grows.

The copy is one PostgreSQL transaction (``COPY`` per table, then the id sequences moved past the
copied ids): the target holds the whole store or nothing of it.  The daemon must be stopped for it,
so the source cannot change underneath (its lock is taken, as ``restore`` does), and the target
must be empty, so nothing there is overwritten or merged by accident.  The old file is then marked
moved (``store/moved.py``): every command and the daemon refuse it, naming the new (masked) URL.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import psycopg

from tevo_bridge.store.files import DaemonLock, inspect_store
from tevo_bridge.store.moved import mark_moved
from tevo_bridge.store.pg_schema import COPIED_TABLES
from tevo_bridge.store.postgres import PostgresStore, mask_url
from tevo_bridge.store.sqlite import SqliteStore
from tevo_bridge.store.vocabulary import StoreError

#: Tables whose ids PostgreSQL generates: their sequences must start after the copied ids.
GENERATED_IDS = ("inbox", "jobs", "audit", "notifications")


def copy_to_postgres(source: Path, url: str) -> dict[str, int]:
    """Copy every row of the store at ``source`` into the empty PostgreSQL store at ``url``; rows copied per table."""
    inspect_store(source)  # a clear error for a wrong path or a newer schema, before anything is written
    lock = DaemonLock.acquire(source, purpose="migrate to PostgreSQL")
    try:
        SqliteStore(source).close()  # brought to this version's schema, so its columns are the target's
        target = PostgresStore(url)
        try:
            return _copy(source, target)
        finally:
            target.close()
    finally:
        lock.release()


def _copy(source: Path, target: PostgresStore) -> dict[str, int]:
    where = mask_url(target.url)
    present = {table: target.count(table) for table in COPIED_TABLES}
    if any(present.values()):
        held = ", ".join(f"{count} {table}" for table, count in present.items() if count)
        raise StoreError(f"the PostgreSQL store at {where} is not empty ({held}). Nothing was changed. Fix: migrate "
                         f"into a new, empty database (createdb), or drop this one's tables if it holds nothing "
                         f"you need.")
    reader = sqlite3.connect(f"{source.resolve().as_uri()}?mode=ro", uri=True)
    # The old file is marked moved in the same step: its mark is written before the copy and committed only
    # once PostgreSQL has committed, so a failed copy leaves it unmarked and in use, a good one never unmarked
    # (bar a crash between the two commits, which leaves it unmarked beside a full target: migrate again
    # then says the target is not empty).
    writer = sqlite3.connect(source, isolation_level=None)
    copied: dict[str, int] = {}
    try:
        reader.execute("BEGIN")  # one snapshot of every table
        writer.execute("BEGIN IMMEDIATE")
        mark_moved(writer, where)
        with target._lock:
            conn = target._conn.raw
            with conn.transaction():
                for table in COPIED_TABLES:
                    columns = [row[1] for row in reader.execute(f"PRAGMA table_info({table})")]
                    with conn.cursor().copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                        for row in reader.execute(f"SELECT {', '.join(columns)} FROM {table}"):
                            copy.write_row(row)
                    copied[table] = conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
                    expected = reader.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
                    if copied[table] != expected:  # cannot happen short of a bug: then nothing is kept
                        raise StoreError(f"{table}: {expected} rows read but {copied[table]} written to {where}; "
                                         f"nothing was kept.")
                for table in GENERATED_IDS:
                    conn.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                                 f"COALESCE(MAX(id), 0) + 1, false) FROM {table}")
        writer.execute("COMMIT")
    except psycopg.Error as exc:  # the target refused a row or went away: its transaction is rolled back
        raise StoreError(f"copying into {where} failed: {type(exc).__name__}: {exc}. Nothing was kept there, and "
                         f"{source} is unchanged and still the store. Fix the target database, then migrate "
                         f"again.") from None
    finally:
        if writer.in_transaction:
            writer.execute("ROLLBACK")
        writer.close()
        reader.close()
    return copied
