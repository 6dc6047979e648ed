"""``--inventory FILE``: the shipped JSON Schema is the format; a wrong file is named field by field, nothing starts."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema_rs
import pytest
from typer.testing import CliRunner

from tevo_bridge.sandbox.cli import sandbox_app
from tevo_bridge.sandbox.inventory import demo_inventory
from tevo_bridge.sandbox.inventory_file import InventoryFileError, inventory_schema, load_inventory_file

ROOT = Path(__file__).resolve().parents[2]


def listings() -> list[dict[str, Any]]:
    return [g.to_json() for g in demo_inventory()]


def written(tmp_path: Path, data: object) -> Path:
    path = tmp_path / "inventory.json"
    path.write_text(json.dumps(data))
    return path


def problems(tmp_path: Path, data: object) -> list[str]:
    with pytest.raises(InventoryFileError) as caught:
        load_inventory_file(written(tmp_path, data))
    return str(caught.value).splitlines()


def test_the_shipped_schema_is_a_valid_json_schema_and_accepts_the_demo_listings(tmp_path: Path) -> None:
    jsonschema_rs.meta.validate(inventory_schema())
    assert load_inventory_file(written(tmp_path, {"listings": listings()})) == demo_inventory()


def test_a_bare_list_is_still_read_as_the_listings(tmp_path: Path) -> None:
    assert load_inventory_file(written(tmp_path, listings())) == demo_inventory()


def test_prices_may_be_numbers_or_decimal_strings(tmp_path: Path) -> None:
    data = listings()[:1]
    data[0]["wholesale_price"], data[0]["retail_price"] = 245, "289.50"
    loaded = load_inventory_file(written(tmp_path, data))[0]
    assert (str(loaded.wholesale_price), str(loaded.retail_price)) == ("245", "289.50")


def test_a_missing_field_is_named(tmp_path: Path) -> None:
    data = listings()
    del data[2]["seats"]
    path = tmp_path / "inventory.json"
    assert problems(tmp_path, {"listings": data}) == [f"{path}: listings[2].seats: missing (required)"]


def test_a_wrong_type_is_named_with_the_type_it_must_be(tmp_path: Path) -> None:
    data = listings()
    data[3]["wholesale_price"] = "a lot"
    data[5]["ticket_group_id"] = "318094870"
    data[6]["format"] = "Paper"
    path = tmp_path / "inventory.json"
    assert problems(tmp_path, {"listings": data}) == [
        f'{path}: listings[3].wholesale_price: must be a number (245.0, or a decimal string "245.00"), not \'a lot\'',
        f"{path}: listings[5].ticket_group_id: must be a whole number",
        f"{path}: listings[6].format: must be one of 'Eticket', 'Physical', 'TM_mobile', not 'Paper'",
    ]


def test_duplicate_ids_are_named_with_the_listing_that_has_them_first(tmp_path: Path) -> None:
    data = listings()
    data[4]["remote_id"] = data[0]["remote_id"]
    data[7]["ticket_group_id"] = data[1]["ticket_group_id"]
    data[8]["seats"] = ["1", "1"]
    found = problems(tmp_path, data)
    assert [line.split(": ", 1)[1] for line in found] == [
        "listings[8].seats: lists the same seat twice",
        "listings[4].remote_id: '88213' is already the remote_id of listings[0]",
        f"listings[7].ticket_group_id: '{data[1]['ticket_group_id']}' is already the ticket_group_id of listings[1]",
    ]


def test_an_unknown_field_is_refused_so_a_typo_is_not_silently_ignored(tmp_path: Path) -> None:
    data = listings()[:1]
    data[0]["wholesale_prize"] = data[0].pop("wholesale_price")
    assert [line.split(": ", 1)[1] for line in problems(tmp_path, data)] == [
        "listings[0].wholesale_price: missing (required)",
        "listings[0]: unknown field(s) 'wholesale_prize' (the fields are in inventory.schema.json)",
    ]


def test_a_file_that_is_not_json_says_where_it_stops_being_json(tmp_path: Path) -> None:
    path = tmp_path / "inventory.json"
    path.write_text('{"listings": [\n  {"remote_id": "1",}\n]}')
    with pytest.raises(InventoryFileError, match=r"inventory\.json: not JSON \(line 2, column 21: Expecting property name"):
        load_inventory_file(path)


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(InventoryFileError, match=r"nowhere\.json: cannot be read \(No such file or directory\)"):
        load_inventory_file(tmp_path / "nowhere.json")


def test_serve_refuses_a_wrong_file_with_the_field_and_starts_nothing(tmp_path: Path) -> None:
    data = listings()
    data[3]["wholesale_price"] = True
    path = written(tmp_path, data)
    process = subprocess.run([sys.executable, "-m", "tevo_bridge.sandbox", "serve", "--port", "0",
                              "--inventory", str(path)], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert process.returncode == 2
    assert "listings[3].wholesale_price: must be a number" in process.stderr
    assert "Traceback" not in process.stderr and "listening" not in process.stdout


def test_the_schema_command_prints_the_shipped_schema() -> None:
    result = CliRunner().invoke(sandbox_app, ["inventory-schema"])
    assert result.exit_code == 0 and json.loads(result.output) == inventory_schema()
