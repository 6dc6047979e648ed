"""``tevo-bridge-sqlite-pos``: create the database, import inventory from CSV, show what is in it."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from tevo_bridge.cli_views import table_console  # per print: off a terminal, tables whole, not cut at 80
from tevo_bridge.pos.inventory import InventoryFileError, read_inventory_csv, timestamp
from tevo_bridge.term import cell, echo, markup
from tevo_bridge_sqlite_pos import store

app = typer.Typer(help="The SQLite sample POS of tevo-bridge.", no_args_is_help=True)

Database = Annotated[Path, typer.Argument(help="The POS database file.")]


@app.command()
def init(database: Database) -> None:
    """Create the database and its tables (safe to run again)."""
    store.init_db(database)
    table_console().print(f"initialised {markup(database)}")


@app.command("import")
def import_csv(
    database: Database,
    csv_file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="Inventory CSV to import.")],
) -> None:
    """Add or update ticket groups from a CSV (columns as tevo_bridge.pos.inventory.CSV_COLUMNS).

    All or nothing: one bad row, or an ``eticket_pdf`` that is not where the POS will read it (a
    relative path is under the database's folder), and nothing is imported.
    """
    try:
        rows = read_inventory_csv(csv_file, pdf_dir=database.absolute().parent)
    except InventoryFileError as exc:
        echo(f"{exc}\nNothing was imported: fix the file and run the import again.", err=True)
        raise typer.Exit(1) from None
    store.init_db(database)
    with store.connect(database) as conn:
        count = store.upsert_ticket_groups(conn, rows)
    table_console().print(f"imported {count} ticket groups into {markup(database)}")


def _table(title: str, columns: list[str], rows: list[tuple[object, ...]]) -> Table:
    table = Table(title=title)
    for column in columns:
        table.add_column(column)
    for row in rows:
        table.add_row(*map(cell, row))  # data (a buyer, a remote id), never markup
    return table


@app.command()
def show(database: Annotated[Path, typer.Argument(exists=True, dir_okay=False)]) -> None:
    """Print stock (on hand, held, sold, available), holds and invoices (a voided one says when)."""
    now = timestamp()
    store.init_db(database)  # a database from before voids gets its (empty) voids table, as the plugin would add
    with store.connect(database) as conn:
        events = {
            r["remote_id"]: tuple(r)[1:]
            for r in conn.execute("SELECT remote_id, event, section, row FROM ticket_groups")
        }
        stock = [
            (s.remote_id, *events[s.remote_id], s.on_hand, s.held, s.sold, s.available) for s in store.stock(conn, now)
        ]
        holds = [tuple(r) for r in conn.execute("SELECT * FROM holds ORDER BY created_at")]
        invoices = [
            tuple(r)
            for r in conn.execute(
                "SELECT 'INV-' || i.id, i.tevo_order_id, i.buyer, i.total, i.created_at,"
                " group_concat(l.remote_id || ' x' || l.quantity, ', '), COALESCE(v.voided_at, '')"
                " FROM invoices i LEFT JOIN invoice_lines l ON l.invoice_id = i.id"
                " LEFT JOIN voids v ON v.invoice_id = i.id GROUP BY i.id ORDER BY i.id"
            )
        ]
    table_console().print(
        _table("Stock", ["remote_id", "event", "section", "row", "on hand", "held", "sold", "available"], stock)
    )
    table_console().print(_table("Holds", ["global_id", "remote_id", "quantity", "state", "created", "expires"], holds))
    table_console().print(_table("Invoices", ["invoice", "TEvo order", "buyer", "total", "created", "lines", "voided"],
                                 invoices))
