"""``check`` refuses exactly what ``run`` refuses, with the same words; ``plugins`` agrees on hooks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.test_pos_loading import fake_plugins  # noqa: F401  (a fixture)
from tevo_bridge.cli import app

runner = CliRunner()


@pytest.fixture
def credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEVO_BRIDGE_TEVO__TOKEN", "T" * 32)
    monkeypatch.setenv("TEVO_BRIDGE_TEVO__SECRET", "S" * 40)
    monkeypatch.setenv("TEVO_BRIDGE_TEVO__REVIEWER_ID", "4711")


def _check_and_run(config: Path) -> tuple[object, object]:
    return (runner.invoke(app, ["check", "--config", str(config)]),
            runner.invoke(app, ["run", "--config", str(config)]))


def test_a_plugin_config_error_fails_check_and_run_with_the_same_message(tmp_path: Path, credentials: None) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[pos]\nplugin = "csv_pos"\n')  # no [plugins.csv_pos] directory
    check, run = _check_and_run(config)
    assert (check.exit_code, run.exit_code) == (2, 2)
    assert check.output == run.output
    assert f"error: {config}: [plugins.csv_pos] directory: Field required" in check.output


def test_a_misspelt_plugin_key_suggests_the_right_one(tmp_path: Path, credentials: None) -> None:
    (tmp_path / "pos").mkdir()
    config = tmp_path / "config.toml"
    config.write_text('[pos]\nplugin = "csv_pos"\n[plugins.csv_pos]\ndirectory = "pos"\ndirectroy = "pos"\n')
    check, run = _check_and_run(config)
    assert (check.exit_code, check.output) == (run.exit_code, run.output)
    assert f"error: {config}: [plugins.csv_pos] directroy: unknown key. Fix: did you mean 'directory'?\n" in check.output


def test_a_plugin_path_error_names_the_resolved_path_and_the_variable(tmp_path: Path, credentials: None,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[pos]\nplugin = "sqlite_pos"\n')
    monkeypatch.setenv("TEVO_BRIDGE_PLUGINS__SQLITE_POS__DATABASE", "pos.sqlite3")
    check, run = _check_and_run(config)
    assert (check.exit_code, check.output) == (run.exit_code, run.output)
    assert (f"error: TEVO_BRIDGE_PLUGINS__SQLITE_POS__DATABASE: no file at {tmp_path / 'pos.sqlite3'}"
            in check.output)


def test_an_unknown_budget_fails_check_and_run_alike(tmp_path: Path, credentials: None) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[pos]\nplugin = "sqlite_pos"\nbudgets = { pos_hodl = 3.0 }\n')
    check, run = _check_and_run(config)
    assert (check.exit_code, check.output) == (run.exit_code, run.output) == (2, check.output)
    assert "[pos] budgets: unknown hook 'pos_hodl'" in check.output and "Traceback" not in check.output


def test_a_wrong_hook_argument_fails_check_plugins_and_run_alike(tmp_path: Path, credentials: None,
                                                                 fake_plugins: Path) -> None:  # noqa: F811
    config = tmp_path / "config.toml"
    config.write_text('[pos]\nplugin = "wrong_argument_pos"\n')
    check, run = _check_and_run(config)
    listed = runner.invoke(app, ["plugins", "--json", "--config", str(config)])
    assert (check.exit_code, run.exit_code, listed.exit_code) == (2, 2, 1)
    assert check.output == run.output
    row = next(r for r in json.loads(listed.stdout) if r["name"] == "wrong_argument_pos")
    assert row["status"] == "broken" and "hodl" in row["error"]
    assert "cannot be used" in check.output and row["error"] in check.output


def test_check_prints_every_warning_validate_finds(tmp_path: Path, credentials: None) -> None:
    from tevo_bridge.config import load_settings
    from tevo_bridge.validation import validate

    (tmp_path / "csv").mkdir()
    (tmp_path / "csv" / "inventory.csv").write_text("remote_id\n")
    config = tmp_path / "config.toml"
    config.write_text('[pos]\nplugin = "csv_pos"\n[plugins.csv_pos]\ndirectory = "csv"\n')
    problems = validate(load_settings(config))
    assert problems and all(p.severity == "warning" for p in problems)
    check = runner.invoke(app, ["check", "--config", str(config)])
    assert check.exit_code == 0 and all(str(p) in check.output for p in problems)


@pytest.mark.parametrize("settings, words", [
    ('[server]\nadmin_port = 9180\nadmin_host = "0.0.0.0"\n',
     'auth = "none" while the admin listener is on 0.0.0.0'),
    ('[server]\nadmin_port = 9180\n[dashboard]\nauth = "proxy"\n',
     'auth = "proxy" without [server] trusted_proxies'),
])
def test_an_open_or_unverifiable_dashboard_fails_check_and_run_alike(tmp_path: Path, credentials: None,
                                                                     settings: str, words: str) -> None:
    from tevo_bridge_sqlite_pos import store

    store.init_db(tmp_path / "pos.sqlite3")
    config = tmp_path / "config.toml"
    config.write_text(f'[pos]\nplugin = "sqlite_pos"\n[plugins.sqlite_pos]\ndatabase = "pos.sqlite3"\n{settings}')
    check, run = _check_and_run(config)
    assert (check.exit_code, run.exit_code) == (2, 2)
    assert check.output == run.output
    assert f"error: [dashboard] {words}" in check.output and "Fix:" in check.output
