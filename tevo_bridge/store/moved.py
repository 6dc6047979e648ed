"""The mark ``store migrate`` leaves in a SQLite store it copied to PostgreSQL (issue 21, item 3).

Without it, a command run without the new URL (a shell missing ``TEVO_BRIDGE_STORE__URL``, an old
config) silently read, and the daemon wrote, the old file while the real store lived elsewhere.
The mark is a one-row table in the old file itself, so it travels with the file; it holds the URL
masked (no password at rest), which is what the refusal shows.  Plain ``sqlite3`` here: the store
module reads it while opening a connection, before its own schema work.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime

__all__ = ["MOVED_TABLE", "MovedMark", "mark_moved", "moved_mark"]

MOVED_TABLE = "moved_to"


@dataclass(frozen=True)
class MovedMark:
    url: str  # masked
    moved_at: str


def mark_moved(conn: sqlite3.Connection, masked_url: str) -> None:
    """Write the mark in ``conn``'s open transaction: the caller commits it only once the copy has committed."""
    conn.execute(f"CREATE TABLE IF NOT EXISTS {MOVED_TABLE} (url TEXT NOT NULL, moved_at TEXT NOT NULL)")
    conn.execute(f"DELETE FROM {MOVED_TABLE}")
    conn.execute(f"INSERT INTO {MOVED_TABLE} (url, moved_at) VALUES (?, ?)",
                 (masked_url, datetime.now(UTC).isoformat(timespec="seconds")))


def moved_mark(conn: sqlite3.Connection) -> MovedMark | None:
    """The mark, if this store was moved; None for a store in use."""
    present = conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (MOVED_TABLE,)).fetchone()
    if present is None:
        return None
    row = conn.execute(f"SELECT url, moved_at FROM {MOVED_TABLE} LIMIT 1").fetchone()
    return None if row is None else MovedMark(str(row[0]), str(row[1]))
