"""``tevo-bridge store migrate --to postgresql://…``: a SQLite store copied whole into PostgreSQL, then used there."""

from __future__ import annotations

import json
import re
import sqlite3

import psycopg
import pytest
from typer.testing import CliRunner

from tevo_bridge.cli import app
from tevo_bridge.store import DaemonLock, Event, SqliteStore, StoreMoved
from tevo_bridge.store.pg_schema import COPIED_TABLES
from tevo_bridge.store.postgres import PostgresStore

runner = CliRunner()
KEYS = {"orders": "id", "holds": "global_id", "oi_invoices": "global_id", "inbox": "id", "jobs": "id", "audit": "id",
        "revoked_sessions": "sid", "notifications": "id", "notify_cursor": "name"}


@pytest.fixture
def config(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text('[store]\npath = "state.sqlite3"\n')
    return path


def fill(store: SqliteStore) -> None:
    """A store in the middle of its life: orders in every kind of state, holds, an invoice call, jobs, audit."""
    for order_id in range(402100, 402130):
        store.record_event(Event("webhook", "order_created", f"k{order_id}", f'{{"id":{order_id}}}', order_id=order_id))
    store.update_order(402100, state="done", reason="delivered", buyer_type="Office", buyer_id=88123456789,
                       snapshot=json.dumps({"id": 402100, "total": "240.00"}), invoice_id="INV-9", customer_id="C-1")
    store.update_order(402101, state="rejected", reason="underpriced", reject_reason="Tickets Priced Incorrectly")
    store.audit("accept", order_id=402102, reason="calling TEvo accept", details={"attempt": 1, "ok": None})
    store.begin_hold(Event("order_integration", "hold", "oi:hold:g1", "{}", global_id="g1"), "91508", 2, "415.00",
                     318233019, "2999-01-01T00:00:00Z")
    store.finish_hold("g1", "held", 200, '{"status":"held","global_id":"g1"}', hold_id="h1")
    store.begin_hold(Event("order_integration", "hold", "oi:hold:g2", "{}", global_id="g2"), "91509", 1, None, None,
                     "2000-01-01T00:00:00Z")
    store.finish_hold("g2", "held", 200, "{}")
    store.expire_holds("2026-01-01T00:00:00Z")
    store.revoke_session("logged-out-session", 4102444800.0)  # a dashboard logout, valid until 2100
    store.record_oi_invoice(Event("order_integration", "invoice", "oi:invoice:g1", "{}", order_id=402190,
                                  global_id="g1"))
    store.set_oi_invoice_response("g1", 202, '{"status":"queued"}')
    job = store.claim_job(60)
    store.retry_job(job, "TEvo 503 — try later", 30.5)
    job = store.claim_job(60)
    store.fail_job(job, "POS: unreachable", review=True)
    store.record_from_audit(600, 100)  # the notifications outbox: its cursor, then an event not yet sent
    store.record_notification("daily_summary:2026-12-04", "daily_summary", {"date": "2026-12-04"})


def rows(conn, table: str) -> list[tuple]:
    return [tuple(row) for row in conn.execute(f"SELECT * FROM {table} ORDER BY {KEYS[table]}").fetchall()]


def test_a_sqlite_store_is_copied_whole_and_the_daemon_carries_on_there(config, pg_url):
    source = SqliteStore(config.parent / "state.sqlite3")
    fill(source)
    source.close()

    result = runner.invoke(app, ["store", "migrate", "--to", pg_url, "--config", str(config), "--json"])
    assert result.exit_code == 0, result.output
    copied = json.loads(result.stdout)["copied"]

    lite = sqlite3.connect(config.parent / "state.sqlite3")
    with psycopg.connect(pg_url) as pg:
        for table in COPIED_TABLES:
            expected = rows(lite, table)
            assert copied[table] == len(expected) > 0, table
            assert rows(pg, table) == expected, table  # content, column by column, types included
    on_postgres = config.parent / "pg.toml"
    on_postgres.write_text(f'[store]\nurl = "{pg_url}"\n')
    listed = runner.invoke(app, ["orders", "list", "--json", "--config", str(on_postgres)])
    assert listed.exit_code == 0, listed.output
    assert len(json.loads(listed.stdout)) == copied["orders"]  # the operator's commands read it there
    store = PostgresStore(pg_url)
    try:  # new rows get ids after the copied ones, and the copied jobs run
        before = store.count("inbox")
        assert store.record_event(Event("webhook", "order_created", "new", "{}", order_id=500001))
        assert store.count("inbox") == before + 1
        assert not store.record_event(Event("webhook", "order_created", "k402105", "{}", order_id=402105))
        assert store.get_hold("g1").response == '{"status":"held","global_id":"g1"}'  # replayed byte for byte
        assert store.claim_job(60) is not None
    finally:
        store.close()


def test_a_target_that_is_not_empty_is_refused_and_left_alone(config, pg_url):
    source = SqliteStore(config.parent / "state.sqlite3")
    fill(source)
    source.close()
    target = PostgresStore(pg_url)
    target.record_event(Event("webhook", "order_created", "theirs", "{}", order_id=1))
    target.close()

    result = runner.invoke(app, ["store", "migrate", "--to", pg_url, "--config", str(config)])
    assert result.exit_code != 0
    assert "is not empty (1 orders, 1 inbox, 1 jobs, 1 audit)" in result.output and "Nothing was changed" in result.output
    with psycopg.connect(pg_url) as pg:
        assert pg.execute("SELECT COUNT(*) FROM orders").fetchone()[0] == 1


@pytest.mark.slow  # among the fast lane's slowest (README, Development); every full run has it
def test_migrate_refuses_while_the_daemon_runs_and_never_prints_the_password(config, pg_url):
    SqliteStore(config.parent / "state.sqlite3").close()
    lock = DaemonLock.acquire(config.parent / "state.sqlite3")
    try:
        result = runner.invoke(app, ["store", "migrate", "--to", pg_url, "--config", str(config)])
    finally:
        lock.release()
    assert result.exit_code != 0 and "stop that daemon first" in result.output

    wrong = "postgresql://tevo:hunter2@127.0.0.1:1/none"
    result = runner.invoke(app, ["store", "migrate", "--to", wrong, "--config", str(config)])
    assert result.exit_code != 0 and "hunter2" not in result.output and "tevo:***@" in result.output
    result = runner.invoke(app, ["store", "migrate", "--to", "mysql://x", "--config", str(config)])
    assert result.exit_code != 0 and "must be a PostgreSQL URL" in result.output


def test_backup_and_restore_say_to_use_pg_dump_on_postgresql(tmp_path, pg_url):
    config = tmp_path / "config.toml"
    config.write_text(f'[store]\nurl = "{pg_url}"\n')
    for args in (["store", "backup", str(tmp_path / "b.sqlite3")], ["store", "restore", str(tmp_path / "b.sqlite3")]):
        result = runner.invoke(app, [*args, "--config", str(config)])
        assert result.exit_code != 0 and "pg_dump" in result.output, result.output


def test_the_url_comes_from_the_environment_and_check_shows_it_masked(tmp_path, monkeypatch):
    from tevo_bridge_sqlite_pos import store as pos

    pos.init_db(tmp_path / "pos.sqlite3")
    config = tmp_path / "config.toml"
    config.write_text('[plugins.sqlite_pos]\ndatabase = "pos.sqlite3"\n')
    for name, value in {"TOKEN": "T" * 32, "SECRET": "S" * 40, "REVIEWER_ID": "4711"}.items():
        monkeypatch.setenv(f"TEVO_BRIDGE_TEVO__{name}", value)
    monkeypatch.setenv("TEVO_BRIDGE_STORE__URL", "postgresql://tevo:hunter2@db.internal:5432/tevo_bridge")
    result = runner.invoke(app, ["check", "--config", str(config)])
    assert "store:     postgresql://tevo:***@db.internal:5432/tevo_bridge" in result.output, result.output
    assert "hunter2" not in result.output
    monkeypatch.setenv("TEVO_BRIDGE_STORE__URL", "sqlite:///x.db")
    result = runner.invoke(app, ["check", "--config", str(config)])
    assert result.exit_code == 2 and "must be a PostgreSQL URL" in result.output, result.output


def test_the_old_file_is_marked_moved_and_every_command_and_the_daemon_refuse_it_naming_the_masked_url(config, pg_url):
    source = SqliteStore(config.parent / "state.sqlite3")
    fill(source)
    source.close()
    password = psycopg.conninfo.conninfo_to_dict(pg_url).get("password")
    backup = config.parent / "before-the-move.sqlite3"
    assert runner.invoke(app, ["store", "backup", str(backup), "--config", str(config)]).exit_code == 0
    assert runner.invoke(app, ["store", "migrate", "--to", pg_url, "--config", str(config)]).exit_code == 0
    from tevo_bridge.dburl import mask_url

    masked = mask_url(pg_url)
    for args in (["orders", "list"], ["orders", "list", "--json"], ["orders", "show", "402100"],
                 ["orders", "retry", "402101"], ["store", "prune"], ["store", "backup", str(config.parent / "b.db")],
                 ["store", "migrate", "--to", pg_url]):
        result = runner.invoke(app, [*args, "--config", str(config)])  # before: the stale orders, silently
        assert result.exit_code == 2, (args, result.output)
        assert f"was moved to PostgreSQL ({masked})" in result.output, (args, result.output)
        assert f"Fix: set [store] url (or TEVO_BRIDGE_STORE__URL) to {masked}" in result.output
        assert result.stdout == "" and "Traceback" not in result.output
        assert not password or password not in result.output
    with pytest.raises(StoreMoved, match=re.escape(masked)):  # how `run` opens it
        SqliteStore(config.parent / "state.sqlite3", daemon=True)
    DaemonLock.acquire(config.parent / "state.sqlite3").release()  # the refusal let go of the daemon lock

    restored = runner.invoke(app, ["store", "restore", str(backup), "--config", str(config)])  # the way back
    assert restored.exit_code == 0, restored.output
    assert runner.invoke(app, ["orders", "list", "--config", str(config)]).exit_code == 0


def test_a_copy_failing_part_way_leaves_the_old_file_unmarked_and_in_use(config, pg_url):
    source = SqliteStore(config.parent / "state.sqlite3")
    fill(source)
    source.close()
    before = runner.invoke(app, ["orders", "list", "--json", "--config", str(config)]).stdout
    PostgresStore(pg_url).close()
    with psycopg.connect(pg_url, autocommit=True) as pg:  # empty, but the last table's COPY will fail
        pg.execute("ALTER TABLE audit ADD COLUMN must_be_set TEXT NOT NULL")

    failed = runner.invoke(app, ["store", "migrate", "--to", pg_url, "--config", str(config)])

    assert failed.exit_code != 0 and "must_be_set" in failed.output, failed.output
    listed = runner.invoke(app, ["orders", "list", "--json", "--config", str(config)])
    assert listed.exit_code == 0, listed.output
    assert listed.stdout == before and len(json.loads(before)) > 0
    with psycopg.connect(pg_url) as pg:
        assert pg.execute("SELECT COUNT(*) FROM orders").fetchone()[0] == 0  # nothing half-copied either
