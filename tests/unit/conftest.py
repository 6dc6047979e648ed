"""Fixtures the CLI's tests share."""

import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def seller(tmp_path, monkeypatch):
    """The example config copied into a seller's folder, its POS database beside it, secrets in the environment."""
    from tevo_bridge_sqlite_pos import store

    config = tmp_path / "config.toml"
    shutil.copy(ROOT / "config.example.toml", config)
    store.init_db(tmp_path / "pos.sqlite3")
    monkeypatch.setenv("TEVO_BRIDGE_TEVO__TOKEN", "Y" * 32)
    monkeypatch.setenv("TEVO_BRIDGE_TEVO__SECRET", "Z" * 40)
    monkeypatch.setenv("TEVO_BRIDGE_TEVO__REVIEWER_ID", "4711")
    return config
