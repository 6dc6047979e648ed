"""One meaning of "schema version", per backend, said plainly wherever an operator reads one (issue 21).

SQLite and PostgreSQL number their migrations apart (``store/schema.py``, ``store/pg_schema.py``), so a
bare "schema version 3" is ambiguous: ``--version`` names both, and ``check --online``, ``store backup``
and the dashboard say which backend's number they show.
"""

from __future__ import annotations

import json

import httpx
import pytest
from typer.testing import CliRunner

from tests.dashboard.conftest import SESSION_SECRET
from tests.integration.conftest import make_settings
from tevo_bridge import __version__
from tevo_bridge.cli import app
from tevo_bridge.sandbox.server import running_sandbox
from tevo_bridge.serve import running_daemon
from tevo_bridge.store import Event, SqliteStore
from tevo_bridge.store.pg_schema import PG_MIGRATIONS
from tevo_bridge.store.postgres import PostgresStore
from tevo_bridge.store.schema import MIGRATIONS

runner = CliRunner()


def test_version_names_the_schema_version_of_each_backend():
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == (f"tevo-bridge {__version__} (store schema: SQLite {len(MIGRATIONS)}, "
                                     f"PostgreSQL {len(PG_MIGRATIONS)})")


def test_store_backup_says_the_version_is_sqlites(tmp_path):
    store = SqliteStore(tmp_path / "state.sqlite3")
    store.record_event(Event("webhook", "order", "k1", "{}", order_id=1))
    store.close()
    config = tmp_path / "config.toml"
    config.write_text(f'[store]\npath = "{tmp_path / "state.sqlite3"}"\n')
    made = runner.invoke(app, ["store", "backup", str(tmp_path / "b.sqlite3"), "-c", str(config)])
    assert made.exit_code == 0, made.output
    assert f"SQLite schema version {len(MIGRATIONS)}, 1 orders" in made.output
    as_json = runner.invoke(app, ["store", "backup", str(tmp_path / "c.sqlite3"), "--json", "-c", str(config)])
    facts = json.loads(as_json.stdout)
    assert (facts["backend"], facts["schema_version"]) == ("SQLite", len(MIGRATIONS))


def test_check_online_names_the_postgresql_schema_version(tmp_path, pg_url, pos_db, monkeypatch):
    with running_sandbox(seed=11) as sandbox:
        config = tmp_path / "config.toml"
        config.write_text(f'[tevo]\nbase_url = "{sandbox.base_url}"\nreviewer_id = {sandbox.reviewer_id}\n'
                          f'[store]\nurl = "{pg_url}"\n[plugins.sqlite_pos]\ndatabase = "{pos_db}"\n')
        monkeypatch.setenv("TEVO_BRIDGE_TEVO__TOKEN", sandbox.token)
        monkeypatch.setenv("TEVO_BRIDGE_TEVO__SECRET", sandbox.secret)
        empty = runner.invoke(app, ["check", "--online", "--config", str(config)])
        assert empty.exit_code == 0, empty.output
        assert "no PostgreSQL schema yet" in empty.output
        PostgresStore(pg_url).close()  # what a daemon does first: migrate
        migrated = runner.invoke(app, ["check", "--online", "--config", str(config)])
        assert migrated.exit_code == 0, migrated.output
        assert f"PostgreSQL schema version {len(PG_MIGRATIONS)} (this tevo-bridge writes PostgreSQL schema " \
               f"version {len(PG_MIGRATIONS)})" in migrated.output


@pytest.mark.parametrize("backend", ["SQLite", "PostgreSQL"])
def test_the_dashboard_shows_the_schema_version_of_the_store_it_is_on(backend, tmp_path, pos_db, request):
    store = {"url": request.getfixturevalue("pg_url")} if backend == "PostgreSQL" else {}
    expected, other = (len(MIGRATIONS), "PostgreSQL") if backend == "SQLite" else (len(PG_MIGRATIONS), "SQLite")
    settings = make_settings(tmp_path, pos_db, server={"admin_port": 0}, store=store,
                             dashboard={"session_secret": SESSION_SECRET})
    with running_daemon(settings) as daemon, httpx.Client(base_url=daemon.admin_url or "", timeout=10) as http:
        for page in ("/dashboard/", "/dashboard/system"):
            html = http.get(page).text
            assert f"{backend} store schema version {expected}" in html, page
            assert f"{other} store schema" not in html, page
