"""``tevo-bridge sandbox inventory-from``: any POS's ``pos_list_stock`` becomes the sandbox's listings."""

from __future__ import annotations

import csv
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from tests.pos_stubs import StubPos
from tevo_bridge import hookimpl
from tevo_bridge.cli import app
from tevo_bridge.pos.errors import PosError
from tevo_bridge.pos.host import PluginHost
from tevo_bridge.pos.inventory import CSV_COLUMNS
from tevo_bridge.pos.types import StockListing
from tevo_bridge.sandbox.from_pos import listings_from_stock
from tevo_bridge.sandbox.inventory_file import load_inventory_file
from tevo_bridge.testing.inventory import generate_inventory


def listing(remote_id: str = "A1", seats: tuple[str, ...] = ("1", "2", "3", "4"), available: int = 4,
            price: str = "90", fmt: str = "Eticket") -> StockListing:
    return StockListing(remote_id, "Hamilton", "Richard Rodgers Theatre", "2027-03-01T20:00:00Z", "Orchestra", "K",
                        seats, available, Decimal(price), fmt)


def test_the_price_is_set_so_full_price_orders_pass_and_half_price_ones_do_not() -> None:
    spec = listings_from_stock([listing(price="90")]).listings[0]
    assert (spec.wholesale_price, spec.retail_price) == (Decimal("100.00"), Decimal("115.00"))
    assert spec.wholesale_price * Decimal("0.9") >= Decimal("90") > spec.wholesale_price / 2


def test_only_the_seats_still_for_sale_are_listed() -> None:
    assert listings_from_stock([listing(available=2)]).listings[0].seats == ["3", "4"]


def test_groups_that_cannot_be_listed_are_left_out_with_the_reason() -> None:
    converted = listings_from_stock([listing("A1", available=0), listing("A2", seats=()),
                                     listing("A3", fmt="Flash_seats"), listing("A4")])
    assert [g.remote_id for g in converted.listings] == ["A4"]
    assert converted.skipped == [
        "A1: nothing available", "A2: no seat numbers (the sandbox's buyers order seats by number)",
        "A3: format 'Flash_seats' (the sandbox lists Eticket, Physical, TM_mobile)"]


def test_ids_are_the_same_on_every_run_and_never_shared() -> None:
    stock = [listing(f"G{n}") for n in range(50)]
    first, second = listings_from_stock(stock).listings, listings_from_stock(reversed(stock)).listings
    assert [g.ticket_group_id for g in first] == [g.ticket_group_id for g in second]
    assert len({g.ticket_group_id for g in first}) == 50
    assert len({g.event_id for g in first}) == 1  # one event, one TEvo event id


def csv_folder(folder: Path) -> Path:
    folder.mkdir()
    rows = generate_inventory(folder / "tickets", groups=5, seed=1)
    with (folder / "inventory.csv").open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=CSV_COLUMNS)
        writer.writeheader()
        writer.writerows(r.to_csv() for r in rows)
    config = folder / "config.toml"
    config.write_text(f'[pos]\nplugin = "csv_pos"\n\n[plugins.csv_pos]\ndirectory = "{folder}"\n')
    return config


def test_a_csv_pos_folder_becomes_an_inventory_the_sandbox_reads(tmp_path: Path) -> None:
    config = csv_folder(tmp_path / "pos")
    out = tmp_path / "inventory.json"
    result = CliRunner().invoke(app, ["sandbox", "inventory-from", "--config", str(config), "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "wrote 5 listing(s) of POS plugin 'csv_pos'" in result.output
    assert [g.remote_id for g in load_inventory_file(out)] == [f"DEMO-{n:04d}" for n in range(1, 6)]


def test_a_plugin_that_cannot_be_loaded_is_named_and_nothing_is_written(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[pos]\nplugin = "csv_pos"\n\n[plugins.csv_pos]\ndirectory = "nowhere"\n')
    out = tmp_path / "inventory.json"
    result = CliRunner().invoke(app, ["sandbox", "inventory-from", "--config", str(config), "-o", str(out)])
    assert result.exit_code == 2 and "POS plugin 'csv_pos' cannot be used" in result.output
    assert not out.exists()


class WrongStockPos(StubPos):
    @hookimpl
    def pos_list_stock(self) -> list[Any]:
        return [{"remote_id": "A1"}]


def test_the_host_refuses_a_list_of_something_else() -> None:
    with PluginHost("wrong_stock", WrongStockPos(StubPos.Config())) as host:
        with pytest.raises(PosError, match="pos_list_stock returned a list holding dict, expected StockListing"):
            host.list_stock_sync()


def test_the_written_file_is_one_json_document(tmp_path: Path) -> None:
    config = csv_folder(tmp_path / "pos")
    out = tmp_path / "inventory.json"
    CliRunner().invoke(app, ["sandbox", "inventory-from", "--config", str(config), "-o", str(out)])
    assert set(json.loads(out.read_text())) == {"listings"} and not list(tmp_path.glob("*.tmp"))
