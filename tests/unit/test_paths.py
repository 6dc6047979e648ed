"""Relative paths mean "next to the config file", in the core and in plugins, whatever the working directory."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import BaseModel, ConfigDict, ValidationError

from tevo_bridge.config import load_settings
from tevo_bridge.paths import ConfigDirectoryPath, ConfigFilePath, ConfigPath, config_dir
from tevo_bridge.pos.host import PluginHost
from tevo_bridge.pos.inventory import CSV_COLUMNS

ROOT = Path(__file__).resolve().parents[2]


class Model(BaseModel):
    model_config = ConfigDict(validate_default=True)  # a relative default is resolved too

    any_path: ConfigPath = Path("state.sqlite3")
    file: ConfigFilePath | None = None
    folder: ConfigDirectoryPath | None = None


def test_a_relative_path_resolves_against_the_context_folder(tmp_path):
    (tmp_path / "pos.sqlite3").touch()
    model = Model.model_validate({"file": "pos.sqlite3", "folder": "."}, context={"config_dir": tmp_path})
    assert (model.any_path, model.file, model.folder) == (tmp_path / "state.sqlite3", tmp_path / "pos.sqlite3",
                                                          tmp_path / ".")


def test_the_context_variable_gives_the_folder_too(tmp_path):
    with config_dir(tmp_path):
        assert Model().any_path == tmp_path / "state.sqlite3"


def test_without_a_folder_a_relative_path_is_left_to_the_working_directory():
    assert Model(any_path="state.sqlite3").any_path == Path("state.sqlite3")


def test_absolute_and_home_paths_are_kept(tmp_path):
    model = Model.model_validate({"any_path": "/var/lib/x", "folder": "~"}, context={"config_dir": tmp_path})
    assert (model.any_path, model.folder) == (Path("/var/lib/x"), Path.home())


def test_existence_is_checked_after_resolving_and_names_where_it_looked(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "pos.sqlite3").touch()  # in the working directory, not in the config folder
    elsewhere = tmp_path / "etc"
    elsewhere.mkdir()
    with pytest.raises(ValidationError) as info:
        Model.model_validate({"file": "pos.sqlite3"}, context={"config_dir": elsewhere})
    assert f"no file at {elsewhere / 'pos.sqlite3'}" in str(info.value)
    with pytest.raises(ValidationError, match="is not a folder"):
        Model.model_validate({"folder": "pos.sqlite3"}, context={"config_dir": tmp_path})


def _seller(folder: Path) -> Path:
    """A seller's folder: config.toml with relative paths, a SQLite POS and a CSV POS beside it."""
    from tevo_bridge_sqlite_pos import store

    folder.mkdir()
    store.init_db(folder / "pos.sqlite3")
    (folder / "csv").mkdir()
    (folder / "csv" / "inventory.csv").write_text(",".join(CSV_COLUMNS) + "\n")  # no stock yet: enough to start
    config = folder / "config.toml"
    config.write_text('[store]\npath = "state/bridge.sqlite3"\n[fulfillment]\nairbill_dir = "airbills"\n'
                      '[plugins.sqlite_pos]\ndatabase = "pos.sqlite3"\n[plugins.csv_pos]\ndirectory = "csv"\n')
    return config


def test_core_and_plugin_paths_are_under_the_config_folder_from_another_working_directory(tmp_path, monkeypatch):
    config = _seller(tmp_path / "seller")
    monkeypatch.chdir("/")
    settings = load_settings(config)
    folder = config.parent
    assert (settings.store.path, settings.fulfillment.airbill_dir) == (folder / "state/bridge.sqlite3",
                                                                        folder / "airbills")
    with PluginHost.load("sqlite_pos", settings.plugins["sqlite_pos"], base_dir=settings.config_dir) as host:
        assert host.plugin.database == folder / "pos.sqlite3"
    with PluginHost.load("csv_pos", settings.plugins["csv_pos"], base_dir=settings.config_dir) as host:
        assert host.plugin.folder.directory == folder / "csv"


def test_a_path_from_a_variable_is_under_the_config_folder_too(tmp_path, monkeypatch):
    config = _seller(tmp_path / "seller")
    monkeypatch.chdir("/")
    monkeypatch.setenv("TEVO_BRIDGE_STORE__PATH", "other.sqlite3")
    assert load_settings(config).store.path == config.parent / "other.sqlite3"


@pytest.mark.slow  # two `check` processes: among the fast lane's slowest (README, Development)
def test_check_passes_when_started_in_the_root_folder(tmp_path):
    config = _seller(tmp_path / "seller")
    env = {**os.environ, "TEVO_BRIDGE_TEVO__TOKEN": "T" * 32, "TEVO_BRIDGE_TEVO__SECRET": "S" * 40,
           "TEVO_BRIDGE_TEVO__REVIEWER_ID": "4711"}
    for plugin in ("sqlite_pos", "csv_pos"):
        result = subprocess.run([sys.executable, "-m", "tevo_bridge.cli", "check", "-c", str(config)],
                                cwd="/", env={**env, "TEVO_BRIDGE_POS__PLUGIN": plugin},
                                capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stderr
        assert f"store:     {config.parent / 'state/bridge.sqlite3'}" in result.stdout
