"""The sandbox hands a seller's POS its listings: ``--inventory-csv`` and ``GET /_sandbox/inventory``.

"Sandbox + my POS" works only if the POS holds the listings the sandbox's buyers order from; the
export is in the sample POS import format, and these tests import it as it is.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import httpx
from tevo_bridge_sqlite_pos import SqlitePos
from tevo_bridge_sqlite_pos.cli import app as sqlite_pos_app
from typer.testing import CliRunner

from tests.sandbox.test_cli import banner_value, served
from tevo_bridge.pos.inventory import CSV_COLUMNS
from tevo_bridge.pos.types import Item
from tevo_bridge.sandbox.cli import banner, sandbox_app
from tevo_bridge.sandbox.driver import DriverSettings
from tevo_bridge.sandbox.inventory import demo_inventory
from tevo_bridge.sandbox.server import running_sandbox


def test_serve_writes_the_inventory_csv_and_it_imports_into_the_sqlite_pos_as_is(tmp_path: Path) -> None:
    written = tmp_path / "seller" / "inventory.csv"
    with served("--seed", "5", "--inventory-csv", str(written), until="Inspect:") as (text, _):
        url = banner_value(text, r"listening on (\S+)")
        as_csv = httpx.get(url + "/_sandbox/inventory", params={"format": "csv"})
        by_accept = httpx.get(url + "/_sandbox/inventory", headers={"Accept": "text/csv"})
        as_json = httpx.get(url + "/_sandbox/inventory").json()
    assert as_csv.headers["content-type"].startswith("text/csv")
    assert as_csv.text == by_accept.text == written.read_text(encoding="utf-8")
    assert as_json["columns"] == list(CSV_COLUMNS)

    database = tmp_path / "pos" / "pos.sqlite3"  # another folder: the PDF paths must still be found
    database.parent.mkdir()
    runner = CliRunner()
    assert runner.invoke(sqlite_pos_app, ["init", str(database)]).exit_code == 0
    imported = runner.invoke(sqlite_pos_app, ["import", str(database), str(written)])
    assert imported.exit_code == 0, imported.output
    listings = demo_inventory()
    assert f"imported {len(listings)} ticket groups" in imported.output

    pos = SqlitePos(SqlitePos.Config(database=database))
    for spec in listings:  # every listing is in stock, at the listing's price, with its tickets
        item = Item(1, 1, spec.remote_id, len(spec.seats), spec.wholesale_price, seats=tuple(spec.seats))
        assert pos.pos_check_inventory(item=item).available == len(spec.seats)
        assert pos.pos_accept_price(item=item).acceptable
        if spec.format == "Eticket":
            assert pos.pos_ticket_files(order=None, item=item)[0].pdf.startswith(b"%PDF-")
    assert (written.parent / "tickets").is_dir()


def test_the_http_export_without_a_file_has_readable_pdfs_too() -> None:
    with running_sandbox(seed=6) as tevo:
        rows = list(csv.DictReader(io.StringIO(httpx.get(tevo.base_url + "/_sandbox/inventory?format=csv").text)))
        pdfs = [Path(r["eticket_pdf"]) for r in rows if r["eticket_pdf"]]
        assert pdfs and all(p.is_absolute() and p.read_bytes().startswith(b"%PDF-") for p in pdfs)
    assert not any(p.exists() for p in pdfs)  # the temporary folder goes with the sandbox


def test_the_banner_says_how_to_get_the_inventory(tmp_path: Path) -> None:
    with running_sandbox(seed=7, inventory_csv=tmp_path / "inventory.csv") as tevo:
        text = banner(tevo)
    assert f"curl -o inventory.csv '{tevo.base_url}/_sandbox/inventory?format=csv'" in text
    assert f"written to {tmp_path / 'inventory.csv'}" in text


def test_the_banner_says_orders_arrive_only_by_polling_without_webhook_or_oi_url() -> None:
    with running_sandbox(seed=8) as tevo:
        quiet = banner(tevo)
    with running_sandbox(seed=8, driver=DriverSettings(webhook_url="http://127.0.0.1:9/webhooks/tevo/x")) as tevo:
        announced = banner(tevo)
    assert "finds them only when its poller asks" in quiet
    assert "poller" not in announced


def test_an_unknown_scenario_option_lists_the_valid_ones() -> None:
    result = CliRunner().invoke(sandbox_app, ["serve", "--scenario", "fedx"])
    assert result.exit_code == 2
    assert "unknown scenario 'fedx'" in result.output and "fedex" in result.output
