"""The CSV POS passes the POS contract suite."""

import csv

import pytest
from tevo_bridge_csv_pos import CsvPos

from tevo_bridge.pos.inventory import CSV_COLUMNS
from tevo_bridge.testing.contract import PosContract


class TestCsvPosContract(PosContract):
    @pytest.fixture
    def pos_plugin(self, tmp_path, pos_inventory):
        with (tmp_path / "inventory.csv").open("w", newline="", encoding="utf-8") as f:
            writer = csv.DictWriter(f, fieldnames=CSV_COLUMNS)
            writer.writeheader()
            writer.writerows(row.to_csv() for row in pos_inventory)
        return CsvPos(CsvPos.Config(directory=tmp_path))

    @pytest.fixture
    def pos_plugin_down(self, pos_plugin, tmp_path):
        """inventory.csv gone under a running plugin (a share unmounted, a file moved)."""
        (tmp_path / "inventory.csv").unlink()
        return pos_plugin
