"""``[pipeline] workers`` unset is decided by the store: 16 on SQLite, 8 on PostgreSQL (connections per replica)."""

from __future__ import annotations

from typer.testing import CliRunner

from tevo_bridge.cli import app, summary
from tevo_bridge.config import WORKERS_POSTGRESQL, WORKERS_SQLITE, Settings, load_settings
from tevo_bridge.store.backends import pg_connections

PG = {"url": "postgresql://tevo:pw@127.0.0.1:5432/tevo_bridge"}


def test_unset_workers_follow_the_store():
    assert Settings().pipeline.workers == WORKERS_SQLITE == 16
    assert Settings(store=PG).pipeline.workers == WORKERS_POSTGRESQL == 8


def test_workers_set_are_kept_on_either_store(tmp_path, monkeypatch):
    assert Settings(store=PG, pipeline={"workers": 16}).pipeline.workers == 16
    assert Settings(pipeline={"workers": 3}).pipeline.workers == 3
    config = tmp_path / "config.toml"
    config.write_text("[pipeline]\nworkers = 12\n")
    monkeypatch.setenv("TEVO_BRIDGE_STORE__URL", PG["url"])
    assert load_settings(config).pipeline.workers == 12


def test_the_url_from_the_environment_picks_the_postgresql_default(tmp_path, monkeypatch):
    config = tmp_path / "config.toml"
    config.write_text("[pipeline]\nmax_attempts = 4\n")
    monkeypatch.setenv("TEVO_BRIDGE_STORE__URL", PG["url"])
    assert load_settings(config).pipeline.workers == WORKERS_POSTGRESQL


def test_four_default_replicas_fit_postgresql_default_max_connections():
    assert 4 * pg_connections(WORKERS_POSTGRESQL) <= 100
    assert 4 * pg_connections(WORKERS_SQLITE) > 100  # why PostgreSQL keeps fewer


def test_check_says_the_workers_and_on_postgresql_the_connections():
    lines = summary(Settings(store=PG))
    assert any(f"{WORKERS_POSTGRESQL} workers" in line and f"up to {pg_connections(8)} PostgreSQL connections"
               in line for line in lines)
    assert not any("PostgreSQL connections" in line for line in summary(Settings()))


def test_check_prints_the_sqlite_default_of_the_example_config(seller):
    result = CliRunner().invoke(app, ["check", "--config", str(seller)])
    assert result.exit_code == 0, result.output
    assert f"pipeline:  {WORKERS_SQLITE} workers" in result.output
