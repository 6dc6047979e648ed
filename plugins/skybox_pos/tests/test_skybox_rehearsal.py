"""Rehearsing on SkyBox: the simulator loads a seller's listings (``--listings``), and ``pos_list_stock``
gives them back as TEvo would list them, which ``tevo-bridge sandbox inventory-from`` turns into the sandbox's
inventory."""

from __future__ import annotations

import csv
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path

from typer.testing import CliRunner

from tevo_bridge.cli import app
from tevo_bridge.pos.inventory import CSV_COLUMNS, InventoryRow
from tevo_bridge.pos.types import Hold
from tevo_bridge.sandbox.inventory_file import load_inventory_file
from tevo_bridge.testing.inventory import generate_inventory


def test_pos_list_stock_lists_each_broadcast_listing_with_what_is_left(skybox, make_plugin, pos_inventory) -> None:
    plugin = make_plugin()
    before = {s.remote_id: s for s in plugin.pos_list_stock()}
    assert set(before) == {str(pos_id) for pos_id in skybox.pos_ids.values()}
    row = pos_inventory[0]
    remote_id = str(skybox.pos_ids[row.remote_id])
    listed = before[remote_id]
    assert (listed.event_name, listed.section, listed.row, listed.seats, listed.available) == (
        row.event, row.section, row.row, row.seats[: row.quantity], row.quantity)
    assert listed.price == row.min_price.quantize(Decimal("0.01"))  # price_rule list_price, no tolerance
    assert plugin.pos_hold(Hold("G-rehearsal", remote_id, 1)).held
    assert {s.remote_id: s for s in plugin.pos_list_stock()}[remote_id].available == row.quantity - 1


def written_csv(folder: Path, rows: list[InventoryRow]) -> Path:
    path = folder / "inventory.csv"
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=CSV_COLUMNS)
        writer.writeheader()
        writer.writerows(r.to_csv() for r in rows)
    return path


@contextmanager
def simulator(*options: str, listings: int) -> Iterator[str]:
    """``python -m tevo_bridge_skybox_pos.simulator`` in a child process; yields its banner, read up to the
    last of the ``listings`` lines that map a remote id to its exchangePosId."""
    process = subprocess.Popen([sys.executable, "-m", "tevo_bridge_skybox_pos.simulator", "--port", "0", *options],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert process.stdout is not None
        lines = []
        for line in process.stdout:
            lines.append(line)
            if sum("-> exchangePosId" in seen for seen in lines) == listings:
                break
        yield "".join(lines)
    finally:
        process.send_signal(signal.SIGINT)
        process.communicate(timeout=15)


def test_the_simulator_serves_a_sellers_listings_and_inventory_from_lists_them(tmp_path: Path) -> None:
    rows = generate_inventory(tmp_path / "tickets", groups=6, seed=2)
    with simulator("--listings", str(written_csv(tmp_path, rows)), listings=len(rows)) as banner:
        pos_ids = dict(re.findall(r"(DEMO-\d+) -> exchangePosId (\d+)", banner))
        config = tmp_path / "config.toml"
        config.write_text('[pos]\nplugin = "skybox_pos"\n\n[plugins.skybox_pos]\n'
                          + "\n".join(re.findall(r"^(base_url = .*|account_id = .*)$", banner, re.M)) + "\n")
        env = dict(re.findall(r"export (TEVO_BRIDGE_\w+)=(\S+)", banner))
        out = tmp_path / "inventory.json"
        result = CliRunner().invoke(app, ["sandbox", "inventory-from", "--config", str(config), "-o", str(out)],
                                    env=env)
    assert result.exit_code == 0, result.output
    listed = {g.remote_id: g for g in load_inventory_file(out)}
    wanted = {pos_ids[r.remote_id]: r for r in rows if r.format in ("Eticket", "Physical", "TM_mobile")}
    assert set(listed) == set(wanted)
    assert all(listed[p].seats == list(r.seats) and listed[p].event_name == r.event for p, r in wanted.items())


def test_a_listings_file_with_a_problem_is_named_and_nothing_starts(tmp_path: Path) -> None:
    path = tmp_path / "inventory.csv"
    path.write_text(",".join(CSV_COLUMNS) + "\nG1,Hamilton,Theatre,2027-01-01T20:00:00Z,1,A,1 2,two,100,Eticket"
                    + ",,,,\n")
    process = subprocess.run([sys.executable, "-m", "tevo_bridge_skybox_pos.simulator", "--listings", str(path)],
                             capture_output=True, text=True, timeout=60)
    assert process.returncode == 1
    assert f"--listings: {path}: 1 problem(s)" in process.stderr and "quantity 'two' is not a whole number" \
        in process.stderr


def test_inventory_from_with_a_refused_token_names_the_plugin_and_never_the_token(skybox, tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text(f'[pos]\nplugin = "skybox_pos"\n\n[plugins.skybox_pos]\nbase_url = "{skybox.base_url}"\n'
                      f"account_id = {skybox.credentials.account}\n")
    wrong = "wrong-api-token-0123456789"
    env = {"TEVO_BRIDGE_PLUGINS__SKYBOX_POS__API_TOKEN": wrong,
           "TEVO_BRIDGE_PLUGINS__SKYBOX_POS__APPLICATION_TOKEN": skybox.credentials.application_token}
    out = tmp_path / "inventory.json"
    result = CliRunner().invoke(app, ["sandbox", "inventory-from", "--config", str(config), "-o", str(out)], env=env)
    assert result.exit_code == 2 and "POS plugin 'skybox_pos'" in result.output, result.output
    assert wrong not in result.output and not out.exists()
