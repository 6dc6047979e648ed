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


def make_writer(path: Path, prepare) -> GroupWriter:
    return GroupWriter(store.ThreadConnections(path).connect, prepare=prepare)


def names(path: Path) -> list[str]:
    with store.connect(path) as conn:
        return sorted(r[0] for r in conn.execute("SELECT name FROM notes"))


class Batches:
    """Counts the batches (``prepare`` runs once at the start of each)."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, conn: sqlite3.Connection) -> None:
        self.count += 1


class HeldOpen:
    """A write that keeps its batch open until ``gate`` is set: the writes queued meanwhile share the next batch."""

    def __init__(self) -> None:
        self.gate, self.inside = threading.Event(), threading.Event()

    def __call__(self, conn: sqlite3.Connection) -> None:
        self.inside.set()
        self.gate.wait(10)


def insert(name: str):
    def write(conn: sqlite3.Connection) -> str:
        conn.execute("INSERT INTO notes VALUES (?)", (name,))
        return name

    return write


def test_a_write_is_committed_when_run_returns(database):
    writer = make_writer(database, Batches())
    assert writer.run(insert("a")) == "a"
    assert names(database) == ["a"]  # another connection sees it: committed, not just written


def test_writes_that_queue_share_one_batch_and_a_failing_one_rolls_back_only_itself(database):
    batches = Batches()
    writer = make_writer(database, batches)
    held_open = HeldOpen()

    def half_then_fail(conn: sqlite3.Connection) -> None:
        conn.execute("INSERT INTO notes VALUES ('half')")
        raise ValueError("no stock")

    with ThreadPoolExecutor(8) as pool:
        first = pool.submit(writer.run, held_open)
        assert held_open.inside.wait(10)
        # The first batch is open: these queue up behind it, in this order.
        futures = []
        for write in [*(insert(f"n{i}") for i in range(5)), half_then_fail, insert("n0")]:
            futures.append(pool.submit(writer.run, write))
            while len(writer._queue) < len(futures):
                threading.Event().wait(0.005)
        held_open.gate.set()
        first.result(10)
        assert [f.result(10) for f in futures[:5]] == [f"n{i}" for i in range(5)]
        with pytest.raises(ValueError, match="no stock"):
            futures[5].result(10)
        with pytest.raises(sqlite3.IntegrityError):
            futures[6].result(10)
    assert names(database) == [f"n{i}" for i in range(5)]  # "half" rolled back with its failing write, none twice
    # The first batch, then all seven together: tried plainly, rolled back whole at the failure, then run
    # again with each write in its own savepoint.
    assert batches.count == 3


def test_a_batch_whose_writes_all_succeed_runs_no_savepoint(database):
    statements: list[str] = []
    batches = Batches()

    def prepare(conn: sqlite3.Connection) -> None:
        batches(conn)
        conn.set_trace_callback(statements.append)

    writer = make_writer(database, prepare)
    held_open = HeldOpen()

    with ThreadPoolExecutor(8) as pool:
        first = pool.submit(writer.run, held_open)
        assert held_open.inside.wait(10)
        futures = []
        for write in (insert(f"n{i}") for i in range(6)):
            futures.append(pool.submit(writer.run, write))
            while len(writer._queue) < len(futures):
                threading.Event().wait(0.005)
        held_open.gate.set()
        first.result(10)
        assert [f.result(10) for f in futures] == [f"n{i}" for i in range(6)]
    assert names(database) == [f"n{i}" for i in range(6)]
    assert batches.count == 2  # the first batch, then all six together, once
    assert not [s for s in statements if s.startswith(("SAVEPOINT", "RELEASE", "ROLLBACK"))]


def test_when_the_batch_cannot_start_every_caller_gets_the_error_and_nothing_is_written(database):
    def broken(conn: sqlite3.Connection) -> None:
        raise sqlite3.OperationalError("disk I/O error")

    writer = make_writer(database, broken)
    with pytest.raises(sqlite3.OperationalError, match="disk I/O error"):
        writer.run(insert("a"))
    assert names(database) == []


def test_a_write_alone_runs_on_the_callers_thread(database):
    writer = make_writer(database, Batches())
    assert writer.run(lambda conn: threading.get_ident()) == threading.get_ident()  # no hand-off when idle


def test_an_interrupted_batch_still_answers_its_writes_and_the_next_write_leads(database):
    writer = make_writer(database, Batches())

    def interrupted(conn: sqlite3.Connection) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        writer.run(interrupted)
    assert writer.run(insert("after")) == "after"  # not wedged waiting for a leader that is gone
    assert names(database) == ["after"]


def test_run_many_commits_its_writes_in_one_batch_each_answered_alone(database):
    batches = Batches()
    writer = make_writer(database, batches)

    def fails(conn: sqlite3.Connection) -> None:
        conn.execute("INSERT INTO notes VALUES ('half')")
        raise ValueError("no stock")

    answers = writer.run_many([insert("a"), fails, insert("b"), insert("a")])
    assert answers[0::2] == ["a", "b"]
    assert isinstance(answers[1], ValueError) and isinstance(answers[3], sqlite3.IntegrityError)
    assert names(database) == ["a", "b"]  # "half" rolled back with its failing write
    assert batches.count == 2  # tried plainly, rolled back whole at the failure, then each in its savepoint
    assert writer.run_many([]) == []


def test_run_many_queued_behind_a_batch_and_longer_than_one_is_answered_whole(database):
    """More writes than a batch takes, queued while another caller leads: the caller leads what is left."""
    batches = Batches()
    writer = GroupWriter(store.ThreadConnections(database).connect, prepare=batches, max_batch=3)
    held_open = HeldOpen()

    with ThreadPoolExecutor(2) as pool:
        first = pool.submit(writer.run, held_open)
        assert held_open.inside.wait(10)
        many = pool.submit(writer.run_many, [insert(f"n{i}") for i in range(7)])
        while len(writer._queue) < 7:
            threading.Event().wait(0.005)
        held_open.gate.set()
        first.result(10)
        assert many.result(10) == [f"n{i}" for i in range(7)]
    assert names(database) == [f"n{i}" for i in range(7)]
    assert batches.count == 4  # the first batch, then 3 + 3 + 1


def test_run_many_and_run_from_many_threads_write_each_once(database):
    writer = make_writer(database, Batches())
    with ThreadPoolExecutor(8) as pool:
        singles = [pool.submit(writer.run, insert(f"s{i}")) for i in range(20)]
        groups = [pool.submit(writer.run_many, [insert(f"m{i}-{j}") for j in range(4)]) for i in range(10)]
        assert [f.result(10) for f in singles] == [f"s{i}" for i in range(20)]
        assert [f.result(10) for f in groups] == [[f"m{i}-{j}" for j in range(4)] for i in range(10)]
    assert len(names(database)) == 60
