"""GroupWriter: writes that queue up share one transaction, each still all-or-nothing, none answered early."""

from __future__ import annotations

import sqlite3
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from tevo_bridge_sqlite_pos import store
from tevo_bridge_sqlite_pos.writer import GroupWriter


@pytest.fixture
def database(tmp_path: Path) -> Path:
    path = tmp_path / "pos.sqlite3"
    store.init_db(path)
    with store.connect(path) as conn:
        conn.execute("CREATE TABLE notes (name TEXT UNIQUE)")
    return path


def names(path: Path) -> list[str]:
    with store.connect(path) as conn:
        return sorted(r[0] for r in conn.execute("SELECT name FROM notes"))


class Batches:
    """Counts the batches (``prepare`` runs once at the start of each)."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, conn: sqlite3.Connection) -> None:
        self.count += 1


def insert(name: str):
    def write(conn: sqlite3.Connection) -> str:
        conn.execute("INSERT INTO notes VALUES (?)", (name,))
        return name

    return write


def test_a_write_is_committed_when_run_returns(database):
    writer = GroupWriter(database, prepare=Batches())
    try:
        assert writer.run(insert("a")) == "a"
        assert names(database) == ["a"]  # another connection sees it: committed, not just written
    finally:
        writer.close()


def test_writes_that_queue_share_one_batch_and_a_failing_one_rolls_back_only_itself(database):
    batches = Batches()
    writer = GroupWriter(database, prepare=batches)
    gate, inside = threading.Event(), threading.Event()

    def held_open(conn: sqlite3.Connection) -> None:
        inside.set()
        gate.wait(10)

    def half_then_fail(conn: sqlite3.Connection) -> None:
        conn.execute("INSERT INTO notes VALUES ('half')")
        raise ValueError("no stock")

    try:
        with ThreadPoolExecutor(8) as pool:
            first = pool.submit(writer.run, held_open)
            assert inside.wait(10)
            # The writer is busy with the first batch: these queue up behind it.
            queued = [pool.submit(writer.run, insert(f"n{i}")) for i in range(5)]
            failing = pool.submit(writer.run, half_then_fail)
            duplicate = pool.submit(writer.run, insert("n0"))
            while writer._queue.qsize() < 7:  # all seven are waiting
                threading.Event().wait(0.01)
            gate.set()
            first.result(10)
            assert [f.result(10) for f in queued] == [f"n{i}" for i in range(5)]
            with pytest.raises(ValueError, match="no stock"):
                failing.result(10)
            with pytest.raises(sqlite3.IntegrityError):
                duplicate.result(10)
        assert names(database) == [f"n{i}" for i in range(5)]  # "half" rolled back with its write
        assert batches.count == 2  # the gate's batch, then all seven together
    finally:
        writer.close()


def test_when_the_batch_cannot_start_every_caller_gets_the_error_and_nothing_is_written(database):
    def broken(conn: sqlite3.Connection) -> None:
        raise sqlite3.OperationalError("disk I/O error")

    writer = GroupWriter(database, prepare=broken)
    try:
        with pytest.raises(sqlite3.OperationalError, match="disk I/O error"):
            writer.run(insert("a"))
        assert names(database) == []
    finally:
        writer.close()


def test_a_stopped_writer_refuses_new_writes(database):
    writer = GroupWriter(database, prepare=Batches())
    writer.run(insert("a"))
    writer.close()
    with pytest.raises(sqlite3.OperationalError, match="stopped"):
        writer.run(insert("b"))
    assert names(database) == ["a"]
