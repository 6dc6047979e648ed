"""A seller rehearses with their own stock: a seeded SQLite POS is converted with one command, the sandbox
lists exactly that stock, and the daemon sells from it (accepts, invoices, delivers; refuses what it must)."""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path

from typer.testing import CliRunner

from tevo_bridge.cli import app
from tevo_bridge.loopback.seed import seed_sqlite_pos
from tevo_bridge.loopback.stack import stack
from tevo_bridge.sandbox.inventory import TicketGroupSpec
from tevo_bridge.sandbox.inventory_file import load_inventory_file
from tevo_bridge.sandbox.scenarios import Scenario

SOLD = (Scenario.OFFICE_ETICKET, Scenario.FEDEX, Scenario.TBD_MOBILE, Scenario.OI_INVOICE)
REFUSED = (Scenario.UNDERPRICED, Scenario.OUT_OF_STOCK)


def seller_pos(folder: Path) -> Path:
    """The seller's own POS and config, as they would have them before rehearsing."""
    folder.mkdir()
    seed_sqlite_pos(folder / "pos.sqlite3", folder / "tickets", groups=12, seed=3)
    config = folder / "config.toml"
    config.write_text('[pos]\nplugin = "sqlite_pos"\n\n[plugins.sqlite_pos]\ndatabase = "pos.sqlite3"\n')
    return config


def inventory_from(config: Path, output: Path) -> list[TicketGroupSpec]:
    result = CliRunner().invoke(app, ["sandbox", "inventory-from", "--config", str(config), "-o", str(output)])
    assert result.exit_code == 0, result.output
    return load_inventory_file(output)


def pos_rows(database: Path, sql: str, *args: object) -> list[tuple[object, ...]]:
    with contextlib.closing(sqlite3.connect(database)) as conn:
        return conn.execute(sql, args).fetchall()


def test_the_sandbox_sells_the_sellers_own_stock_and_the_daemon_delivers_it(tmp_path: Path) -> None:
    config = seller_pos(tmp_path / "seller")
    database = config.parent / "pos.sqlite3"
    listings = inventory_from(config, tmp_path / "inventory.json")
    stock = dict(pos_rows(database, "SELECT remote_id, seats FROM ticket_groups"))
    assert {g.remote_id for g in listings} == set(stock)

    (tmp_path / "run").mkdir()
    with stack(tmp_path / "run", inventory=listings, plugins={"sqlite_pos": {"database": str(database)}}) as run:
        created = [run.sandbox.driver.create_sync(s) for s in SOLD + REFUSED]
        states = run.wait_settled([c.order_id for c in created], timeout=40)
        for made in created:
            seen = run.sandbox.inspect(made.order_id)
            invoices = pos_rows(database, "SELECT COUNT(*) FROM invoices WHERE tevo_order_id = ?", made.order_id)
            where = f"{made.scenario.value}: {states[made.order_id]}, {seen['state']}"
            if made.scenario in SOLD:
                assert states[made.order_id] == "done" and invoices == [(1,)], where
            else:
                assert states[made.order_id] == "rejected" and invoices == [(0,)], where
                assert seen["rejection_reason"] == made.expected.reject_reason, where
        eticket = run.sandbox.inspect(created[0].order_id)
        assert all(i["finalized"] and i["pages_delivered"] == i["quantity"] for i in eticket["items"].values())

    # What was sold is no longer offered when the seller converts again.
    again = {g.remote_id: g for g in inventory_from(config, tmp_path / "again.json")}
    sold = dict(pos_rows(database, "SELECT remote_id, SUM(quantity) FROM invoice_lines GROUP BY remote_id"))
    first = {g.remote_id: g for g in listings}
    assert sold and all(len(again[r].seats) == len(first[r].seats) - n for r, n in sold.items() if r in again)
    assert {g.ticket_group_id for g in again.values()} <= {g.ticket_group_id for g in listings}
