"""Which config a command reads: ``--config``, ``$TEVO_BRIDGE_CONFIG``, ``./config.toml``,
``/etc/tevo-bridge/config.toml``, in that order, said on stderr so a ``--json`` stdout stays one document."""

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tevo_bridge import config as config_module
from tevo_bridge.cli import app

ROOT = Path(__file__).resolve().parents[2]
runner = CliRunner()


def _seller_folder(folder: Path) -> Path:
    from tevo_bridge_sqlite_pos import store

    folder.mkdir(parents=True, exist_ok=True)
    config = folder / "config.toml"
    shutil.copy(ROOT / "config.example.toml", config)
    store.init_db(folder / "pos.sqlite3")
    return config


@pytest.fixture
def seller_env(tmp_path, monkeypatch):
    """Secrets in the environment, no config variable, and an /etc fallback of the test's own."""
    monkeypatch.delenv("TEVO_BRIDGE_CONFIG", raising=False)
    monkeypatch.setenv("TEVO_BRIDGE_TEVO__TOKEN", "Y" * 32)
    monkeypatch.setenv("TEVO_BRIDGE_TEVO__SECRET", "Z" * 40)
    monkeypatch.setenv("TEVO_BRIDGE_TEVO__REVIEWER_ID", "4711")
    etc = tmp_path / "etc" / "config.toml"
    monkeypatch.setattr(config_module, "DEFAULT_CONFIG_FILES", (Path("config.toml"), etc))
    return etc


def test_check_without_config_reads_the_config_toml_of_the_working_folder(tmp_path, seller_env, monkeypatch):
    config = _seller_folder(tmp_path / "seller")
    monkeypatch.chdir(config.parent)
    result = runner.invoke(app, ["check"])
    assert result.exit_code == 0, result.output  # before: an empty config, blamed for the file's plugin settings
    assert result.stderr.splitlines()[0] == f"config: {config} (from ./config.toml)"
    assert "config OK (config.toml)" in result.stdout


def test_the_variable_comes_before_the_working_folder_and_config_before_both(tmp_path, seller_env, monkeypatch):
    here = _seller_folder(tmp_path / "here")
    there = _seller_folder(tmp_path / "there")
    explicit = _seller_folder(tmp_path / "explicit")
    monkeypatch.chdir(here.parent)
    monkeypatch.setenv("TEVO_BRIDGE_CONFIG", str(there))
    by_variable = runner.invoke(app, ["check"])
    assert by_variable.exit_code == 0, by_variable.output
    assert by_variable.stderr.splitlines()[0] == f"config: {there} (from $TEVO_BRIDGE_CONFIG)"
    by_option = runner.invoke(app, ["check", "--config", str(explicit)])
    assert by_option.stderr.splitlines()[0] == f"config: {explicit} (from --config)"


def test_the_system_file_is_the_last_resort(tmp_path, seller_env, monkeypatch):
    etc_config = _seller_folder(seller_env.parent)
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.chdir(empty)
    result = runner.invoke(app, ["check"])
    assert result.exit_code == 0, result.output
    assert result.stderr.splitlines()[0] == f"config: {etc_config} (from {etc_config})"


def test_with_no_file_it_says_what_it_looked_for_and_json_stays_pure(tmp_path, seller_env, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["plugins", "--json"])
    assert result.exit_code == 0, result.output
    assert isinstance(json.loads(result.stdout), list)
    assert result.stderr.splitlines()[0] == (
        f"config: no file found (looked for --config, $TEVO_BRIDGE_CONFIG, ./config.toml, {seller_env}); "
        "using TEVO_BRIDGE_* variables and defaults")


def test_a_named_file_that_is_missing_is_an_error_naming_it(tmp_path, seller_env, monkeypatch):
    _seller_folder(tmp_path)  # a ./config.toml that must not be used instead
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TEVO_BRIDGE_CONFIG", str(tmp_path / "typo.toml"))
    result = runner.invoke(app, ["check"])
    assert result.exit_code == 2
    assert f"error: {tmp_path / 'typo.toml'}: no such file" in result.stderr
