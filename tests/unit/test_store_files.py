"""Keeping the data safe: migrations from every released schema, a newer schema refused, the daemon lock,
backup and restore of real SQLite files, and retention."""

from __future__ import annotations

import hashlib
import sqlite3
from datetime import UTC, datetime, timedelta

import pytest

from tevo_bridge.clock import iso
from tevo_bridge.store import (
    ORDER_STATES,
    SCHEMA_VERSION,
    TERMINAL_STATES,
    DaemonLock,
    Event,
    NotAStore,
    SchemaTooNew,
    SqliteStore,
    StoreError,
    StoreInUse,
    backup_store,
    inspect_store,
    restore_store,
)
from tevo_bridge.store.retention import cutoff, prune_all
from tevo_bridge.store.schema import MIGRATIONS

OLD = iso(datetime.now(UTC) - timedelta(days=200), "milliseconds")


def digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def build_store_at(path, version: int) -> None:
    """A store as tevo-bridge left it at schema ``version``: MIGRATIONS[:version] applied, with data in it."""
    conn = sqlite3.connect(path)
    for script in MIGRATIONS[:version]:
        conn.executescript(script)
    conn.execute(f"PRAGMA user_version = {version}")
    now = "2026-01-02T03:04:05.000Z"
    conn.execute("INSERT INTO orders (id, state, source, first_seen_at, updated_at, invoice_id, snapshot) "
                 "VALUES (402117, 'done', 'webhook', ?, ?, 'INV-1', '{\"id\": 402117}')", (now, now))
    conn.execute("INSERT INTO inbox (channel, kind, dedupe_key, order_id, outcome, payload, received_at) "
                 "VALUES ('webhook', 'order_created', 'k1', 402117, 'queued', '{}', ?)", (now,))
    conn.execute("INSERT INTO audit (order_id, at, action, to_state, reason) VALUES (402117, ?, 'transition', "
                 "'done', 'delivered')", (now,))
    conn.execute("INSERT INTO jobs (kind, key, order_id, state, run_at, created_at, updated_at) "
                 "VALUES ('order', 'order:402117', 402117, 'done', 0, ?, ?)", (now, now))
    conn.commit()
    conn.close()


@pytest.mark.parametrize("version", range(1, SCHEMA_VERSION + 1))
def test_every_released_schema_migrates_to_the_current_one_with_its_data(tmp_path, version):
    path = tmp_path / "state.sqlite3"
    build_store_at(path, version)

    store = SqliteStore(path)
    try:
        assert store.schema_version == SCHEMA_VERSION
        order = store.get_order(402117)
        assert (order.state, order.invoice_id, order.snapshot_json()) == ("done", "INV-1", {"id": 402117})
        assert order.reservation_round == 0
        assert (order.tevo_seen_at, order.tevo_shipments_json(), order.tevo_checks, order.pos_hold_id) == \
            (None, [], 0, None), "an order from before TEvo's word was kept: nothing read yet"
        assert [a.reason for a in store.audit_trail(402117)] == ["delivered"]
        assert (store.count("inbox"), store.count("jobs")) == (1, 1)
        assert not store.record_event(Event("webhook", "order_created", "k1", "{}", order_id=402117)), \
            "the dedupe key survived the migration"
    finally:
        store.close()
    again = SqliteStore(path)  # a second start runs no migration twice
    assert again.schema_version == SCHEMA_VERSION and again.count("orders") == 1
    again.close()


def test_a_store_from_a_newer_tevo_bridge_is_refused_and_left_untouched(tmp_path):
    path = tmp_path / "state.sqlite3"
    SqliteStore(path).close()
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 4}")
    conn.close()
    before = digest(path)

    with pytest.raises(SchemaTooNew) as refused:
        SqliteStore(path, daemon=True)
    message = str(refused.value)
    assert str(path) in message and f"version {SCHEMA_VERSION + 4}" in message
    assert f"up to {SCHEMA_VERSION}" in message and "upgrade tevo-bridge" in message and "restore a backup" in message
    assert digest(path) == before
    with pytest.raises(SchemaTooNew):
        inspect_store(path)
    DaemonLock.acquire(path).release()  # the refused daemon let go of its lock


def test_order_states_are_listed_once_and_include_the_terminal_ones():
    assert len(ORDER_STATES) == len(set(ORDER_STATES)) == 14  # voiding (issue 22) made it 14
    assert TERMINAL_STATES <= set(ORDER_STATES) and "needs_review" in ORDER_STATES


def test_one_daemon_per_store(tmp_path):
    path = tmp_path / "state.sqlite3"
    first = SqliteStore(path, daemon=True)
    with pytest.raises(StoreInUse, match="in use by a running tevo-bridge daemon"):
        SqliteStore(path, daemon=True)
    reader = SqliteStore(path)  # the CLI's `orders` commands may still read it
    reader.close()
    first.close()
    SqliteStore(path, daemon=True).close()


def test_backup_copies_what_is_only_in_the_wal_and_refuses_to_overwrite(tmp_path):
    path = tmp_path / "state.sqlite3"
    store = SqliteStore(path)
    store.record_event(Event("webhook", "order_created", "k1", "{}", order_id=1))
    store.record_event(Event("webhook", "order_created", "k2", "{}", order_id=2))
    assert (tmp_path / "state.sqlite3-wal").stat().st_size > 0  # not yet checkpointed into the file

    dest = tmp_path / "backups" / "b.sqlite3"
    facts = backup_store(path, dest)
    assert (facts.schema_version, facts.orders) == (SCHEMA_VERSION, 2)
    assert not (tmp_path / "backups" / "b.sqlite3-wal").exists() and not list(dest.parent.glob("*.partial"))
    with pytest.raises(StoreError, match="already exists.*--force"):
        backup_store(path, dest)
    store.record_event(Event("webhook", "order_created", "k3", "{}", order_id=3))
    assert backup_store(path, dest, force=True).orders == 3
    store.close()


def test_restore_keeps_the_replaced_store_and_refuses_while_a_daemon_runs(tmp_path):
    live = tmp_path / "state.sqlite3"
    store = SqliteStore(live)
    store.record_event(Event("webhook", "order_created", "k1", "{}", order_id=1))
    backup = tmp_path / "backup.sqlite3"
    backup_store(live, backup)
    store.record_event(Event("webhook", "order_created", "k2", "{}", order_id=2))
    store.close()

    daemon = SqliteStore(live, daemon=True)
    with pytest.raises(StoreInUse):
        restore_store(backup, live, "20260101T000000Z")
    daemon.close()

    live.chmod(0o640)
    facts, kept = restore_store(backup, live, "20260101T000000Z")
    assert facts.orders == 1 and kept == tmp_path / "state.sqlite3.before-restore-20260101T000000Z"
    # The owner's bits of the file it replaced, nobody else's: the store holds buyer data (issue 20, item 12).
    assert live.stat().st_mode & 0o777 == 0o600, "the restored file is owner-only whatever the old one allowed"
    assert inspect_store(kept).orders == 2
    restored = SqliteStore(live)
    assert restored.get_order(2) is None and restored.get_order(1) is not None
    restored.close()


def test_restore_refuses_what_is_not_a_store(tmp_path):
    live = tmp_path / "state.sqlite3"
    SqliteStore(live).close()
    before = digest(live)
    junk = tmp_path / "notes.txt"
    junk.write_text("hello " * 1000)
    other = tmp_path / "other.sqlite3"
    sqlite3.connect(other).execute("CREATE TABLE t (x)").connection.close()
    for source in (junk, other, tmp_path / "missing.sqlite3"):
        with pytest.raises(NotAStore, match=str(source)):
            restore_store(source, live, "x")
    assert digest(live) == before and not list(tmp_path.glob("*before-restore*"))


# Retention ---------------------------------------------------------------------------------------


def backdate(where, order_id: int, state: str | None = None) -> None:
    """Make an order and its rows 200 days old, as if time had passed (``where``: a store file, or an open store)."""
    statements = [("UPDATE orders SET updated_at = ?, first_seen_at = ? WHERE id = ?", (OLD, OLD, order_id)),
                  ("UPDATE inbox SET received_at = ? WHERE order_id = ?", (OLD, order_id)),
                  ("UPDATE audit SET at = ? WHERE order_id = ?", (OLD, order_id))]
    if state:
        statements.insert(0, ("UPDATE orders SET state = ? WHERE id = ?", (state, order_id)))
    write(where, statements)


def write(where, statements: list[tuple[str, tuple]]) -> None:
    """Raw SQL in one transaction, on a SQLite file or on an open store of either backend (the test's own hand)."""
    if hasattr(where, "_tx"):
        with where._tx() as conn:
            for sql, args in statements:
                conn.execute(sql, args)
        return
    conn = sqlite3.connect(where)
    with conn:
        for sql, args in statements:
            conn.execute(sql, args)
    conn.close()


def rows(store, order_id: int) -> tuple[int, int]:
    with store._lock:
        conn = store._conn
        return (conn.execute("SELECT COUNT(*) FROM inbox WHERE order_id = ?", (order_id,)).fetchone()[0],
                conn.execute("SELECT COUNT(*) FROM audit WHERE order_id = ?", (order_id,)).fetchone()[0])


def test_retention_prunes_old_finished_orders_only(store_backend):
    store = store_backend.open()
    for order_id in (1, 2, 3, 4):
        store.record_event(Event("webhook", "order_created", f"k{order_id}", "{}", order_id=order_id))
        store.audit("note", order_id=order_id, reason="something happened")
    store.update_order(3, state="done", reason="delivered")
    backdate(store, 1, state="checking")      # old, but still in the pipeline
    backdate(store, 2, state="done")          # old and finished: its inbox and audit go
    backdate(store, 4, state="rejected")
    # order 3 finished recently: stays
    store.record_event(Event("order_integration", "hold", "h1", "{}", global_id="G-held"))
    store.record_event(Event("order_integration", "hold", "h2", "{}", global_id="G-gone"))
    write(store, [("UPDATE inbox SET received_at = ? WHERE global_id IS NOT NULL", (OLD,))] + [
        ("INSERT INTO holds (global_id, remote_id, quantity, state, created_at, expires_at, updated_at) "
         "VALUES (?, 'R', 1, ?, ?, ?, ?)", (gid, state, OLD, OLD, OLD))
        for gid, state in (("G-held", "held"), ("G-gone", "expired"))])
    before = {oid: rows(store, oid) for oid in (1, 2, 3, 4)}

    deleted = prune_all(store, days=90, batch=1)  # one row per batch: the loop finishes the job

    assert rows(store, 1) == before[1] and store.job_for_order(1) is not None, "an open order lost rows"
    assert rows(store, 3) == before[3], "a recently finished order lost rows"
    assert rows(store, 2) == (0, 0) and rows(store, 4) == (0, 0)
    assert store.get_order(2).state == "done", "the order itself stays: it answers repeats"
    with store._lock:
        remaining = {r[0] for r in store._conn.execute("SELECT global_id FROM inbox WHERE global_id IS NOT NULL")}
    assert remaining == {"G-held"}
    assert deleted == {"inbox": 3, "audit": before[2][1] + before[4][1]}
    assert prune_all(store, days=90) == {"inbox": 0, "audit": 0}
    store.close()


def test_cutoff_is_days_before_now():
    now = datetime(2026, 5, 1, tzinfo=UTC)
    assert cutoff(90, now) == "2026-01-31T00:00:00.000Z"


def test_a_state_outside_order_states_is_refused(tmp_path):
    store = SqliteStore(tmp_path / "state.sqlite3")
    store.ensure_order(1, "webhook")
    with pytest.raises(ValueError, match="add it to ORDER_STATES"):
        store.update_order(1, state="almost_done")
    assert store.get_order(1).state == "new"
    store.close()


def test_two_processes_starting_at_once_run_each_migration_once(tmp_path):
    """A daemon and an `orders` command opening an old store together: the version is read inside each
    migration's transaction, so neither runs a migration the other already ran (it would fail)."""
    import threading

    path = tmp_path / "state.sqlite3"
    build_store_at(path, 1)
    errors: list[BaseException] = []
    barrier = threading.Barrier(4)

    def open_store() -> None:
        barrier.wait()
        try:
            SqliteStore(path).close()
        except BaseException as exc:  # noqa: BLE001 - collected for the assertion
            errors.append(exc)

    threads = [threading.Thread(target=open_store) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    assert inspect_store(path).schema_version == SCHEMA_VERSION


class _LockedFirst:
    """A connection whose WAL switch finds the file locked ``times`` times, as when another process opens it at once."""

    def __init__(self, times: int, error: str = "database is locked") -> None:
        self.times, self.error, self.tries = times, error, 0

    def execute(self, sql: str) -> None:
        self.tries += 1
        if self.tries <= self.times:
            raise sqlite3.OperationalError(self.error)


def test_the_wal_switch_waits_out_a_lock_sqlite_answers_at_once():
    from tevo_bridge.store.sqlite import _use_wal

    conn = _LockedFirst(3)
    _use_wal(conn)  # type: ignore[arg-type]
    assert conn.tries == 4


def test_the_wal_switch_gives_up_after_its_patience_and_passes_other_errors_on():
    from tevo_bridge.store.sqlite import _use_wal

    with pytest.raises(sqlite3.OperationalError, match="locked"):
        _use_wal(_LockedFirst(10**9), patience=0.05)  # type: ignore[arg-type]
    other = _LockedFirst(1, "disk I/O error")
    with pytest.raises(sqlite3.OperationalError, match="disk I/O"):
        _use_wal(other)  # type: ignore[arg-type]
    assert other.tries == 1
