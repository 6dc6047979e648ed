"""Loading the configured POS plugin, and listing installed ones, through real entry points.

The fake distribution below is a ``.dist-info`` folder on ``sys.path``: importlib.metadata finds
it exactly as it finds a pip-installed plugin, without installing anything.
"""

from __future__ import annotations

import json
import sys
from decimal import Decimal
from pathlib import Path

import pytest
from rich.console import Console

from tevo_bridge.pos.cli import plugins_command
from tevo_bridge.pos.errors import (
    PluginConfigError,
    PluginHookError,
    PluginImportError,
    PluginMissingHooks,
    PluginNotFound,
    PluginStartError,
)
from tevo_bridge.pos.host import PluginHost, discover_plugins
from tevo_bridge.pos.types import Item

ENTRY_POINTS = """\
[tevo_bridge]
stub_pos = tests.pos_stubs:StubPos
without_holds = tests.pos_stubs:WithoutHolds
misspelt_pos = tests.pos_stubs:MisspeltPos
start_fails = tests.pos_stubs:StartFails
wrong_argument_pos = tests.pos_stubs:WrongArgumentPos
broken_pos = broken_pos_plugin:Plugin
"""


@pytest.fixture
def fake_plugins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Install (by sys.path) a distribution naming the stub plugins and one that cannot import."""
    dist = tmp_path / "acme_pos_plugins-1.2.3.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: acme-pos-plugins\nVersion: 1.2.3\n")
    (dist / "entry_points.txt").write_text(ENTRY_POINTS)
    (tmp_path / "broken_pos_plugin.py").write_text("import acme_pos_sdk_that_is_not_installed\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "broken_pos_plugin", raising=False)
    return tmp_path


@pytest.fixture
def sqlite_database(tmp_path: Path) -> Path:
    from tevo_bridge_sqlite_pos import store

    database = tmp_path / "pos.sqlite3"
    store.init_db(database)
    return database


def _item(remote_id: str) -> Item:
    return Item(None, 1, remote_id, 1, Decimal(1))


def _by_name(name: str):
    return next(info for info in discover_plugins() if info.name == name)


# -- load ---------------------------------------------------------------------------------------


async def test_the_sample_sqlite_plugin_loads_from_its_entry_point(sqlite_database: Path) -> None:
    with PluginHost.load("sqlite_pos", {"database": str(sqlite_database)}) as host:
        availability = await host.check_inventory(_item("88213"))
    assert availability.known is False


async def test_the_sample_csv_plugin_loads_from_its_entry_point(tmp_path: Path) -> None:
    (tmp_path / "inventory.csv").write_text("remote_id,quantity\nTG-1,4\n")
    with PluginHost.load("csv_pos", {"directory": str(tmp_path)}) as host:
        availability = await host.check_inventory(_item("TG-1"))
    assert availability.available == 4


def test_an_unknown_plugin_name_lists_the_installed_ones() -> None:
    with pytest.raises(PluginNotFound) as raised:
        PluginHost.load("sqlite_pso", {})
    assert "sqlite_pos" in raised.value.available and "csv_pos" in str(raised.value)


def test_a_missing_config_key_is_named_with_its_table(tmp_path: Path) -> None:
    with pytest.raises(PluginConfigError) as raised:
        PluginHost.load("sqlite_pos", {})
    assert raised.value.problems == (("plugins.sqlite_pos.database", "Field required"),)


def test_an_unknown_config_key_is_refused(sqlite_database: Path) -> None:
    with pytest.raises(PluginConfigError, match=r"plugins\.sqlite_pos\.databse: Extra inputs are not permitted"):
        PluginHost.load("sqlite_pos", {"database": str(sqlite_database), "databse": "typo"})


def test_a_plugin_lacking_required_hooks_is_refused_naming_them(fake_plugins: Path) -> None:
    with pytest.raises(PluginMissingHooks) as raised:
        PluginHost.load("without_holds", {})
    assert (raised.value.plugin, raised.value.missing) == (
        "without_holds",
        (
            "pos_find_customer",
            "pos_create_customer",
            "pos_hold",
            "pos_release_hold",
            "pos_create_invoice",
            "pos_ticket_files",
        ),
    )


def test_the_refusal_message_names_plugin_and_hooks(fake_plugins: Path) -> None:
    with pytest.raises(
        PluginMissingHooks, match=r"'without_holds' lacks required hooks: pos_find_customer, .*pos_ticket_files"
    ):
        PluginHost.load("without_holds", {})


def test_a_misspelt_hook_is_a_load_error(fake_plugins: Path) -> None:
    with pytest.raises(PluginHookError, match="pos_hodl"):
        PluginHost.load("misspelt_pos", {})


def test_an_active_plugin_that_fails_to_import_is_a_load_error(fake_plugins: Path) -> None:
    with pytest.raises(PluginImportError, match="acme_pos_sdk_that_is_not_installed"):
        PluginHost.load("broken_pos", {})


def test_a_plugin_whose_init_raises_is_a_start_error(fake_plugins: Path) -> None:
    with pytest.raises(PluginStartError, match="cannot open /var/pos/pos.db"):
        PluginHost.load("start_fails", {})


def test_a_good_plugin_loads_beside_a_broken_one(fake_plugins: Path) -> None:
    with PluginHost.load("stub_pos", {"stock": 3}) as host:
        assert host.call_sync("pos_check_inventory", item=_item("TG-1")).available == 3


# -- discover and `tevo-bridge plugins` ---------------------------------------------------------


def test_discovery_reports_a_plugin_that_fails_to_import_as_broken(fake_plugins: Path) -> None:
    info = _by_name("broken_pos")
    assert (info.status, info.distribution, info.version) == ("broken", "acme-pos-plugins", "1.2.3")
    assert "acme_pos_sdk_that_is_not_installed" in info.error


def test_discovery_reports_missing_hooks_as_broken(fake_plugins: Path) -> None:
    info = _by_name("without_holds")
    assert (info.status, "lacks required hooks: pos_find_customer" in info.error) == ("broken", True)


def test_discovery_lists_the_hooks_of_a_good_plugin() -> None:
    info = _by_name("sqlite_pos")
    assert (info.status, "pos_mobile_transfer" in info.hooks, info.distribution) == (
        "ok",
        True,
        "tevo-bridge-sqlite-pos",
    )


def _run_plugins(active: str | None, as_json: bool) -> tuple[int, str]:
    console = Console(record=True, width=300, force_terminal=False)
    status = plugins_command(active, as_json, console=console)
    return status, console.export_text()


def test_plugins_command_lists_a_broken_plugin_and_still_succeeds(fake_plugins: Path) -> None:
    status, out = _run_plugins("sqlite_pos", as_json=False)
    assert (status, "broken_pos" in out, "acme_pos_sdk_that_is_not_installed" in out) == (0, True, True)


def test_plugins_command_json_marks_the_active_plugin(fake_plugins: Path) -> None:
    status, out = _run_plugins("csv_pos", as_json=True)
    rows = {row["name"]: row for row in json.loads(out)}
    assert (status, rows["csv_pos"]["active"], rows["broken_pos"]["status"]) == (0, True, "broken")


def test_plugins_command_fails_when_the_active_plugin_is_broken(fake_plugins: Path) -> None:
    status, _ = _run_plugins("broken_pos", as_json=False)
    assert status == 1


def test_plugins_command_fails_when_the_active_plugin_is_not_installed() -> None:
    status, out = _run_plugins("nope_pos", as_json=False)
    assert (status, "'nope_pos' is not installed" in out) == (1, True)
