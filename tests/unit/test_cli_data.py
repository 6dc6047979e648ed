"""The CLI a seller expects: --version, validated options, one JSON shape, 80-column tables, help everywhere,
and the store commands (backup, restore, prune) with clear refusals."""

from __future__ import annotations

import io
import json
import sqlite3

import click
import pytest
import typer
from rich.console import Console
from typer.testing import CliRunner

from tevo_bridge import __version__
from tevo_bridge.cli import app
from tevo_bridge.cli_views import order_rows, order_table
from tevo_bridge.serve import free_port
from tevo_bridge.store import ORDER_STATES, PG_SCHEMA_VERSION, SCHEMA_VERSION, Event, SqliteStore

runner = CliRunner()


@pytest.fixture
def config(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text('[store]\npath = "state.sqlite3"\n')
    return path


@pytest.fixture
def store(config):
    store = SqliteStore(config.parent / "state.sqlite3")
    snapshot = {"id": 7001, "items": [{"quantity": 2, "price": "120.00",
                                       "ticket_group": {"id": 55, "remote_id": "88702"}}]}
    for order_id in (7001, 7002, 7003):
        store.record_event(Event("webhook", "order_created", f"k{order_id}", "{}", order_id=order_id))
    store.update_order(7001, state="done", reason="delivered", buyer_type="Office", buyer_id=1234,
                       snapshot=json.dumps(snapshot), invoice_id="INV-9")
    store.update_order(7002, state="rejected", reason="underpriced", reject_reason="Tickets Priced Incorrectly")
    store.update_order(7003, state="needs_review", reason="boom",
                       last_error="POS error: the inventory database is locked by another program " * 2)
    yield store
    store.close()


def test_version_flag_and_command():
    for args in (["--version"], ["version"]):
        result = runner.invoke(app, args)
        assert result.exit_code == 0 and result.output.strip() == \
            f"tevo-bridge {__version__} (store schema: SQLite {SCHEMA_VERSION}, PostgreSQL {PG_SCHEMA_VERSION})"


def test_every_option_and_argument_has_help():
    """Walk the whole typer app (sub-apps included): no option or argument a seller sees lacks help text."""
    root = typer.main.get_command(app)
    missing = []

    def walk(command: click.Command, path: str) -> None:
        for param in command.params:
            if param.name == "help":
                continue
            if not getattr(param, "help", None):
                missing.append(f"{path} {param.name}")
        for name, sub in getattr(command, "commands", {}).items():
            walk(sub, f"{path} {name}")

    walk(root, "tevo-bridge")
    assert not missing, missing


def test_an_unknown_state_is_refused_with_the_valid_ones(config, store):
    result = runner.invoke(app, ["orders", "list", "--state", "pending", "-c", str(config)])
    assert result.exit_code == 2 and "'pending' is not an order state" in result.output
    assert ", ".join(ORDER_STATES) in result.output and "Traceback" not in result.output


def test_json_is_one_shape_with_typed_fields(config, store):
    listed = runner.invoke(app, ["orders", "list", "--json", "-c", str(config)])
    assert listed.exit_code == 0, listed.output
    orders = {o["id"]: o for o in json.loads(listed.stdout)}
    done = orders[7001]
    assert done["items"] == [{"quantity": 2, "remote_id": "88702", "ticket_group_id": 55, "price": "120.00"}]
    assert done["buyer"] == {"type": "Office", "id": 1234} and isinstance(done["age_seconds"], int)
    assert orders[7002]["reject_reason"] == "Tickets Priced Incorrectly" and orders[7003]["items"] == []
    shown = runner.invoke(app, ["orders", "show", "7001", "--json", "-c", str(config)])
    one = json.loads(shown.stdout)
    assert {k: v for k, v in one.items() if k not in ("snapshot", "audit", "age_seconds")} == \
        {k: v for k, v in done.items() if k != "age_seconds"}, "show and list give an order the same shape"
    assert one["audit"][-1]["to_state"] == "done"
    only = json.loads(runner.invoke(app, ["orders", "list", "--state", "rejected", "--json", "-c", str(config)]).stdout)
    assert [o["id"] for o in only] == [7002]


def test_the_table_fits_80_columns_and_shows_why_an_order_was_rejected(store):
    out = io.StringIO()
    Console(file=out, width=80).print(order_table(order_rows(store.list_orders())))
    text = out.getvalue()
    assert max(len(line) for line in text.splitlines()) <= 80, text
    assert "Tickets Priced Incorrectly" in text and "needs_review" in text and "1x" not in text
    assert "2x88702" in text and "Office 1234" in text


def newer_store(config) -> None:
    path = config.parent / "state.sqlite3"
    SqliteStore(path).close()
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()


@pytest.mark.parametrize("args", [["orders", "list"], ["orders", "show", "1"], ["check"], ["run"],
                                  ["store", "backup", "b.sqlite3"], ["store", "prune"]])
def test_every_command_refuses_a_store_from_a_newer_tevo_bridge(config, monkeypatch, args):
    newer_store(config)
    monkeypatch.setenv("TEVO_BRIDGE_TEVO__TOKEN", "a" * 32)
    monkeypatch.setenv("TEVO_BRIDGE_TEVO__SECRET", "b" * 40)
    monkeypatch.setenv("TEVO_BRIDGE_TEVO__REVIEWER_ID", "4711")
    monkeypatch.setenv("TEVO_BRIDGE_SERVER__PORT", str(free_port()))  # `run` takes its port before the store
    monkeypatch.chdir(config.parent)
    result = runner.invoke(app, [*args, "-c", str(config)])
    assert result.exit_code == 2, result.output
    assert f"schema version {SCHEMA_VERSION + 1}" in result.output and "upgrade tevo-bridge" in result.output
    assert str(config.parent / "state.sqlite3") in result.output and "Traceback" not in result.output


def test_backup_restore_and_prune_commands(config, store, tmp_path):
    backup = tmp_path / "b.sqlite3"
    made = runner.invoke(app, ["store", "backup", str(backup), "-c", str(config)])
    assert made.exit_code == 0 and f"schema version {SCHEMA_VERSION}, 3 orders" in made.output
    again = runner.invoke(app, ["store", "backup", str(backup), "-c", str(config)])
    assert again.exit_code == 2 and "already exists" in again.output and "--force" in again.output
    forced = runner.invoke(app, ["store", "backup", str(backup), "--force", "--json", "-c", str(config)])
    assert json.loads(forced.stdout)["orders"] == 3

    store._conn.execute("DELETE FROM orders WHERE id = 7003")  # a mistake to undo
    restored = runner.invoke(app, ["store", "restore", str(backup), "-c", str(config)])
    assert restored.exit_code == 0 and "3 orders" in restored.output and "before-restore-" in restored.output

    pruned = runner.invoke(app, ["store", "prune", "--json", "-c", str(config)])
    assert json.loads(pruned.stdout) == {"retention_days": 90, "deleted": {"inbox": 0, "audit": 0}}


def test_restore_is_refused_while_the_daemon_runs(config, tmp_path):
    daemon = SqliteStore(config.parent / "state.sqlite3", daemon=True)
    backup = tmp_path / "b.sqlite3"
    runner.invoke(app, ["store", "backup", str(backup), "-c", str(config)])
    result = runner.invoke(app, ["store", "restore", str(backup), "-c", str(config)])
    assert result.exit_code == 2 and "in use by a running tevo-bridge daemon" in result.output
    assert "stop that daemon" in result.output
    daemon.close()


def test_the_readme_lists_the_order_states_the_cli_accepts():
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    assert ", ".join(f"`{state}`" for state in ORDER_STATES) in " ".join(readme.split())


@pytest.mark.parametrize("args", [["orders", "list"], ["orders", "show", "1"], ["run"],
                                  ["store", "backup", "b.sqlite3"], ["store", "prune"]])
def test_every_command_and_run_refuse_a_store_moved_to_postgresql(config, monkeypatch, args):
    from tevo_bridge.store.moved import mark_moved

    path = config.parent / "state.sqlite3"
    SqliteStore(path).close()
    with sqlite3.connect(path) as conn:  # what `store migrate` leaves (tests/integration/test_store_migrate.py)
        mark_moved(conn, "postgresql://tevo:***@db.internal:5432/tevo_bridge")
    monkeypatch.setenv("TEVO_BRIDGE_TEVO__TOKEN", "a" * 32)
    monkeypatch.setenv("TEVO_BRIDGE_TEVO__SECRET", "b" * 40)
    monkeypatch.setenv("TEVO_BRIDGE_TEVO__REVIEWER_ID", "4711")
    monkeypatch.setenv("TEVO_BRIDGE_SERVER__PORT", str(free_port()))  # `run` takes its port before the store
    monkeypatch.chdir(config.parent)
    result = runner.invoke(app, [*args, "-c", str(config)])
    assert result.exit_code == 2, result.output
    assert f"{path} was moved to PostgreSQL (postgresql://tevo:***@db.internal:5432/tevo_bridge)" in result.output
    assert "Fix: set [store] url (or TEVO_BRIDGE_STORE__URL)" in result.output and "Traceback" not in result.output


def test_off_a_terminal_the_table_prints_every_value_whole_on_one_line(config, store):
    long_id = "REMOTE-GROUP-" + "7" * 40
    store.update_order(7001, snapshot=json.dumps({"id": 7001, "items": [
        {"quantity": 2, "price": "120.0", "ticket_group": {"id": 55, "remote_id": long_id}}]}))

    listed = runner.invoke(app, ["orders", "list", "-c", str(config)])  # CliRunner: a pipe, not a terminal

    assert listed.exit_code == 0, listed.output
    lines = listed.stdout.splitlines()
    reason = "POS error: the inventory database is locked by another program " * 2
    assert any(reason.strip() in line for line in lines), listed.stdout  # before: folded at 80 columns
    assert any(f"2x{long_id}" in line and "Office 1234" in line for line in lines), listed.stdout


def test_json_audit_details_are_objects_and_prices_are_tevos_own_text(config, store):
    from tests.conftest import load_fixture
    from tevo_bridge.tevo.models import Order

    store.audit("etickets.finalize", order_id=7001, reason="finalized", details={"keep_pages": [1, 2], "ok": None})
    tevo_json = load_fixture("orders/office_sale_eticket.json")
    snapshot = json.dumps(Order.model_validate(tevo_json).model_dump(mode="json"))  # as the pipeline keeps it
    store.update_order(7002, snapshot=snapshot)

    shown = json.loads(runner.invoke(app, ["orders", "show", "7001", "--json", "-c", str(config)]).stdout)
    listed = {o["id"]: o for o in json.loads(runner.invoke(app, ["orders", "list", "--json", "-c", str(config)]).stdout)}

    assert shown["audit"][-1]["details"] == {"keep_pages": [1, 2], "ok": None}  # before: a JSON string
    assert all(entry["details"] is None or isinstance(entry["details"], dict) for entry in shown["audit"])
    assert [i["price"] for i in listed[7002]["items"]] == [i["price"] for i in tevo_json["items"]] == ["245.0"]
