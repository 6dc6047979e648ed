"""What the SQLite POS does beyond the contract: several processes, hold expiry, its command."""

from __future__ import annotations

import csv
import sqlite3
import subprocess
import sys
import textwrap
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from tevo_bridge_sqlite_pos import SqlitePos, store
from tevo_bridge_sqlite_pos.cli import app
from typer.testing import CliRunner

from tevo_bridge.pos.inventory import CSV_COLUMNS, InventoryRow, timestamp
from tevo_bridge.pos.types import Buyer, Hold, Item, Order

GROUP = InventoryRow(
    "TG-50",
    "Wicked",
    "Gershwin Theatre",
    "2026-12-05T14:00:00Z",
    "Orch",
    "C",
    tuple(str(n) for n in range(1, 51)),
    50,
    Decimal("100"),
    format="Physical",
)

# Each process tries 30 one-ticket holds of a 50-ticket group: 120 attempts for 50 tickets.
HOLDER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from tevo_bridge.pos.types import Hold
    from tevo_bridge_sqlite_pos import SqlitePos

    database, folder, n = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
    pos = SqlitePos(SqlitePos.Config(database=database))
    (folder / f"ready-{n}").touch()
    while not (folder / "go").exists():
        time.sleep(0.005)
    held = sum(pos.pos_hold(hold=Hold(f"G-{n}-{i}", "TG-50", 1)).held for i in range(30))
    print(held)
    """
)


@pytest.fixture
def database(tmp_path: Path) -> Path:
    path = tmp_path / "pos.sqlite3"
    store.init_db(path)
    with store.connect(path) as conn:
        store.upsert_ticket_groups(conn, [GROUP])
    return path


@pytest.fixture
def pos(database: Path) -> SqlitePos:
    return SqlitePos(SqlitePos.Config(database=database))


def _available(pos: SqlitePos) -> int:
    return pos.pos_check_inventory(item=Item(None, 1, "TG-50", 1, Decimal(100))).available


def test_four_processes_racing_for_fifty_tickets_hold_exactly_fifty(database: Path, tmp_path: Path) -> None:
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", HOLDER, str(database), str(tmp_path), str(n)], stdout=subprocess.PIPE, text=True
        )
        for n in range(4)
    ]
    deadline = time.monotonic() + 60
    while not all((tmp_path / f"ready-{n}").exists() for n in range(4)) and time.monotonic() < deadline:
        time.sleep(0.01)
    (tmp_path / "go").touch()
    held = [int(p.communicate(timeout=60)[0]) for p in procs]
    with sqlite3.connect(database) as conn:
        rows = conn.execute("SELECT COUNT(*), SUM(quantity) FROM holds WHERE state = 'held'").fetchone()
    assert (sum(held), rows) == (50, (50, 50))


def test_the_database_is_in_wal_mode_so_readers_never_wait_for_the_daemon(database: Path) -> None:
    with sqlite3.connect(database) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_a_hold_past_its_expiry_no_longer_counts(pos: SqlitePos) -> None:
    pos.pos_hold(hold=Hold("G-old", "TG-50", 5, expires_at=datetime.now(UTC) - timedelta(seconds=1)))
    assert _available(pos) == 50


def test_a_hold_before_its_expiry_counts(pos: SqlitePos) -> None:
    pos.pos_hold(hold=Hold("G-new", "TG-50", 5, expires_at=datetime.now(UTC) + timedelta(minutes=15)))
    assert _available(pos) == 45


def test_an_expired_hold_is_marked_expired_and_cannot_be_released(pos: SqlitePos, database: Path) -> None:
    pos.pos_hold(hold=Hold("G-old", "TG-50", 5, expires_at=datetime.now(UTC) - timedelta(seconds=1)))
    released = pos.pos_release_hold(hold=Hold("G-old", "TG-50", 5))
    with sqlite3.connect(database) as conn:
        state = conn.execute("SELECT state FROM holds WHERE global_id = 'G-old'").fetchone()[0]
    assert (released, state) == (False, "expired")


def test_a_hold_reads_what_it_decides_on_in_one_statement(pos: SqlitePos, database: Path) -> None:
    # The group, its stock and an earlier hold of the same global id: one statement (three were three GIL
    # hand-offs per hold under load), then the insert; no savepoint around a write alone.
    assert pos.pos_hold(hold=Hold("G-warm", "TG-50", 1)).held  # this thread's connection, opened
    statements: list[str] = []
    conn = pos._connections._local.conn
    conn.set_trace_callback(statements.append)
    try:
        result = pos.pos_hold(hold=Hold("G-1", "TG-50", 5))
    finally:
        conn.set_trace_callback(None)
    assert result.held and result.available == 44
    heads = [" ".join(s.split()[:2]) for s in statements]
    assert heads == ["BEGIN IMMEDIATE", "UPDATE holds", "SELECT g.*,", "INSERT INTO", "COMMIT"]


def test_hold_facts_of_an_unknown_group_a_repeat_and_a_lapsed_hold(pos: SqlitePos, database: Path) -> None:
    pos.pos_hold(hold=Hold("G-1", "TG-50", 5))
    pos.pos_hold(hold=Hold("G-old", "TG-50", 7, expires_at=datetime.now(UTC) - timedelta(seconds=1)))
    now = timestamp(datetime.now(UTC))
    with store.connect(database) as conn:
        unknown = store.hold_facts(conn, "G-2", "TG-none", now)
        repeat = store.hold_facts(conn, "G-1", "TG-50", now)
        fresh = store.hold_facts(conn, "G-2", "TG-50", now)
        group = store.ticket_group(conn, "TG-50")
    assert unknown == store.HoldFacts(None, None, None)
    assert repeat.previous == ("TG-50", 5, "held") and repeat.available == 45  # the lapsed hold no longer counts
    assert fresh.previous is None and fresh.group == group and fresh.available == 45


def test_a_groups_held_count_is_read_from_the_index_alone(pos: SqlitePos, database: Path) -> None:
    """However many holds a group has, summing them reads no table row (each was one, per hold asked)."""
    now = timestamp(datetime.now(UTC))
    with store.connect(database) as conn:
        plan = " / ".join(row[3] for row in conn.execute(
            f"EXPLAIN QUERY PLAN {store._HOLD_FACTS_SQL}", {"now": now, "rid": "TG-50", "gid": "G-1"}))
    assert "SEARCH h USING COVERING INDEX holds_stock (remote_id=? AND state=?)" in plan, plan


def test_a_database_from_before_the_covering_index_gets_it_in_place_of_the_old_one(database: Path) -> None:
    with store.connect(database) as conn:
        conn.execute("DROP INDEX holds_stock")
        conn.execute("CREATE INDEX holds_by_group ON holds (remote_id, state)")
    SqlitePos(SqlitePos.Config(database=database))
    with store.connect(database) as conn:
        indexes = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE tbl_name = 'holds' "
                                                  "AND type = 'index' AND sql IS NOT NULL")}
    assert indexes == {"holds_stock", "holds_by_expiry"}


def test_reimporting_a_group_keeps_its_holds(pos: SqlitePos, database: Path) -> None:
    pos.pos_hold(hold=Hold("G-1", "TG-50", 5))
    with store.connect(database) as conn:
        store.upsert_ticket_groups(conn, [GROUP])
    assert _available(pos) == 45


def test_the_plugin_refuses_a_database_that_does_not_exist(tmp_path: Path) -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="database"):
        SqlitePos.Config(database=tmp_path / "typo.sqlite3")


# -- tevo-bridge-sqlite-pos ---------------------------------------------------------------------


def _inventory_csv(path: Path, rows: list[InventoryRow]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=CSV_COLUMNS)
        writer.writeheader()
        writer.writerows(row.to_csv() for row in rows)
    return path


def test_the_command_initialises_imports_and_shows_stock(tmp_path: Path) -> None:
    runner = CliRunner()
    database = tmp_path / "new.sqlite3"
    csv_file = _inventory_csv(tmp_path / "inventory.csv", [GROUP])
    assert runner.invoke(app, ["init", str(database)]).exit_code == 0
    assert runner.invoke(app, ["import", str(database), str(csv_file)]).exit_code == 0
    SqlitePos(SqlitePos.Config(database=database)).pos_hold(hold=Hold("G-1", "TG-50", 4))
    shown = runner.invoke(app, ["show", str(database)], env={"COLUMNS": "200"})
    assert "│ TG-50     │ Wicked │ Orch    │ C   │ 50      │ 4    │ 0    │ 46        │" in shown.output


def test_a_database_from_before_voids_gets_its_voids_table_and_shows_a_voided_invoice(tmp_path: Path) -> None:
    runner = CliRunner()
    database = tmp_path / "old.sqlite3"
    assert runner.invoke(app, ["import", str(database), str(_inventory_csv(tmp_path / "i.csv", [GROUP]))]).exit_code == 0
    with sqlite3.connect(database) as conn:
        conn.execute("DROP TABLE voids")  # as an older version of the plugin left it
    shown = runner.invoke(app, ["show", str(database)], env={"COLUMNS": "250"})
    assert shown.exit_code == 0, shown.output
    pos = SqlitePos(SqlitePos.Config(database=database))
    item = Item(None, 1, "TG-50", 4, GROUP.min_price)
    order = Order(31, Buyer("Office", 6, "Ticket Evolution"), (replace(item, order_id=31),), GROUP.min_price * 4)
    invoice = pos.pos_create_invoice(order=order, customer=None)
    pos.pos_void_invoice(order=order, invoice_id=invoice.invoice_id, reason="canceled at TEvo (canceled)")
    pos.pos_void_invoice(order=order, invoice_id=invoice.invoice_id, reason="canceled at TEvo (canceled)")
    shown = runner.invoke(app, ["show", str(database)], env={"COLUMNS": "250"})
    assert "│ TG-50     │ Wicked │ Orch    │ C   │ 50      │ 0    │ 0    │ 50        │" in shown.output, shown.output
    with sqlite3.connect(database) as conn:
        (voided_at,) = conn.execute("SELECT voided_at FROM voids").fetchone()
    assert f"TG-50 x4 │ {voided_at}" in shown.output, shown.output


def test_the_command_reports_a_bad_inventory_row_by_column(tmp_path: Path) -> None:
    csv_file = tmp_path / "inventory.csv"
    csv_file.write_text("remote_id,quantity\nTG-1,four\n")
    result = CliRunner().invoke(app, ["import", str(tmp_path / "pos.sqlite3"), str(csv_file)])
    assert (result.exit_code, "TG-1: quantity 'four' is not a whole number" in result.output) == (1, True)


def test_the_import_refuses_a_missing_ticket_pdf_by_line_and_column_and_changes_nothing(tmp_path: Path) -> None:
    runner = CliRunner()
    database = tmp_path / "pos.sqlite3"
    assert runner.invoke(app, ["import", str(database), str(_inventory_csv(tmp_path / "a.csv", [GROUP]))]).exit_code == 0
    more = replace(GROUP, quantity=60)
    eticket = replace(GROUP, remote_id="TG-51", format="Eticket", eticket_pdf="tickets/TG-51.pdf", eticket_pages={"1": 1})
    csv_file = _inventory_csv(tmp_path / "inventory.csv", [more, eticket])

    result = runner.invoke(app, ["import", str(database), str(csv_file)])

    assert result.exit_code == 1
    assert (f"line 3 (TG-51), column eticket_pdf: tickets/TG-51.pdf does not exist (looked for "
            f"{tmp_path}/tickets/TG-51.pdf)") in result.output
    assert "Nothing was imported" in result.output
    with store.connect(database) as conn:
        assert [tuple(r) for r in conn.execute("SELECT remote_id, quantity FROM ticket_groups")] == [("TG-50", 50)]
    assert runner.invoke(app, ["import", str(tmp_path / "new.sqlite3"), str(csv_file)]).exit_code == 1
    assert not (tmp_path / "new.sqlite3").exists()

    (tmp_path / "tickets").mkdir()
    (tmp_path / "tickets" / "TG-51.pdf").write_bytes(b"%PDF-1.4")  # where the POS reads it: next to the database
    assert runner.invoke(app, ["import", str(database), str(csv_file)]).exit_code == 0
    with store.connect(database) as conn:
        assert conn.execute("SELECT COUNT(*) FROM ticket_groups").fetchone()[0] == 2


def test_a_reimport_replaces_on_hand_and_keeps_sales_as_the_readme_says(pos: SqlitePos, database: Path) -> None:
    """README "How quantity works": quantity is the size before this POS's sales, which stay subtracted."""
    from tevo_bridge.pos.types import Buyer, Order

    item = Item(1, 1, "TG-50", 1, Decimal(100), seats=("1",))
    pos.pos_create_invoice(order=Order(1, Buyer("Office", 6), (item,), Decimal(100)), customer=None)
    assert _available(pos) == 49
    with store.connect(database) as conn:
        store.upsert_ticket_groups(conn, [GROUP])  # the original size again: right
    assert _available(pos) == 49
    with store.connect(database) as conn:
        store.upsert_ticket_groups(conn, [replace(GROUP, quantity=49)])  # "what I still have": sold twice
    assert _available(pos) == 48
    with store.connect(database) as conn:
        store.upsert_ticket_groups(conn, [replace(GROUP, quantity=0)])
    assert _available(pos) == 0  # never negative


def test_a_ticket_pdf_moved_away_is_named_as_unreadable_not_raised_raw(tmp_path: Path) -> None:
    from tevo_bridge.pos.errors import TicketFileUnreadable
    from tevo_bridge.pos.types import Buyer, Order

    database = tmp_path / "pos.sqlite3"
    store.init_db(database)
    eticket = replace(GROUP, remote_id="TG-51", format="Eticket", eticket_pdf="tickets/TG-51.pdf",
                      eticket_pages={"1": 1, "2": 2})
    with store.connect(database) as conn:
        store.upsert_ticket_groups(conn, [eticket])
    (tmp_path / "tickets").mkdir()
    (tmp_path / "tickets" / "TG-51.pdf").write_bytes(b"%PDF-1.4")
    pos = SqlitePos(SqlitePos.Config(database=database))
    item = Item(9, 1, "TG-51", 2, Decimal(100), ("1", "2"))
    order = Order(9, Buyer("Office", 6, "Ticket Evolution"), (item,), Decimal(200))
    assert pos.pos_ticket_files(order=order, item=item)

    (tmp_path / "tickets" / "TG-51.pdf").unlink()
    with pytest.raises(TicketFileUnreadable) as caught:  # a bare FileNotFoundError before: retried for minutes
        pos.pos_ticket_files(order=order, item=item)

    assert caught.value.path == tmp_path / "tickets" / "TG-51.pdf" and "No such file" in str(caught.value)


def test_show_off_a_terminal_prints_every_value_whole(tmp_path: Path) -> None:
    runner = CliRunner()
    database = tmp_path / "new.sqlite3"
    event = "The Phantom of the Opera - 35th Anniversary Gala Performance with Orchestra " * 2
    csv_file = _inventory_csv(tmp_path / "inventory.csv", [replace(GROUP, event=event.strip())])
    assert runner.invoke(app, ["init", str(database)]).exit_code == 0
    assert runner.invoke(app, ["import", str(database), str(csv_file)]).exit_code == 0

    shown = runner.invoke(app, ["show", str(database)], env={"COLUMNS": None})  # a pipe: no terminal width

    assert any(event.strip() in line for line in shown.output.splitlines()), shown.output  # before: cut at 80
