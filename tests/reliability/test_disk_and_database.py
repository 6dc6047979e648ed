"""Part 7: a full disk or a read-only database: 503, never an acknowledgement of what was not stored."""

from __future__ import annotations

import sqlite3

import pytest

from tests.reliability.disk import describe, run_disk_full, run_page_limit, run_read_only
from tevo_bridge.store import Event, SqliteStore


def test_a_read_only_database_answers_503_stores_nothing_and_recovers(tmp_path, figures):
    run = run_read_only(tmp_path)
    figures(run.figures())
    assert run.clean and run.refused_503 == 4, describe(run)


def test_a_database_at_its_page_limit_answers_503_stores_nothing_and_recovers(tmp_path, figures):
    run = run_page_limit(tmp_path)
    figures(run.figures())
    assert run.clean and run.refused_503 >= 1, describe(run)


def test_a_full_file_system_answers_503_stores_nothing_and_recovers(tmp_path, figures):
    run = run_disk_full(tmp_path)
    if run is None:
        pytest.skip("mounting a tmpfs needs root")
    figures(run.figures())
    assert run.clean and run.refused_503 >= 4, describe(run)


class FailingCommit:
    """The store's connection, except that the next COMMIT fails as on a full disk (the WAL write)."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn, self.armed = conn, True

    def __getattr__(self, name):
        return getattr(self.conn, name)

    def execute(self, sql, *args):
        if sql == "COMMIT" and self.armed:
            self.armed = False
            raise sqlite3.OperationalError("database or disk is full")
        return self.conn.execute(sql, *args)


def test_a_failed_commit_is_rolled_back_and_the_store_keeps_working(tmp_path):
    store = SqliteStore(tmp_path / "state.sqlite3")
    real = store._db.conn
    store._db.conn = FailingCommit(real)  # type: ignore[assignment]
    with pytest.raises(sqlite3.OperationalError):
        store.record_event(Event("webhook", "order_created", "lost", "{}", order_id=1))
    assert not real.in_transaction  # before the fix: left open, and every later BEGIN failed
    assert store.record_event(Event("webhook", "order_created", "next", "{}", order_id=2))
    assert [row[0] for row in real.execute("SELECT dedupe_key FROM inbox")] == ["next"]
    store._db.conn = real
    store.close()
