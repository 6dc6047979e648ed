"""The listeners' HTTP parser: httptools where installed, h11 when the config says so; `check` and `run` refuse
"httptools" where it is not installed, naming the key and the fix (tests/integration/test_http_parser.py: the one
chosen is the one that serves)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from tevo_bridge import httpparser
from tevo_bridge.cli import app
from tevo_bridge.config import ServerSettings

ROOT = Path(__file__).resolve().parents[2]


def test_auto_is_httptools_where_it_is_installed_else_h11(monkeypatch: pytest.MonkeyPatch) -> None:
    assert httpparser.chosen("auto") == "httptools"
    assert httpparser.chosen("h11") == "h11"
    monkeypatch.setattr(httpparser, "httptools_available", lambda: False)
    assert httpparser.chosen("auto") == "h11"


def test_insisting_on_httptools_where_it_is_missing_is_a_config_error_naming_the_fix(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(httpparser, "httptools_available", lambda: False)
    with pytest.raises(ValueError, match="pip install -U httptools uvicorn"):
        ServerSettings(http_parser="httptools")
    assert ServerSettings(http_parser="auto").http_parser == "auto"  # auto falls back instead


@pytest.mark.parametrize("command", ["check", "run"])
def test_check_and_run_refuse_httptools_where_it_is_missing(command: str, tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    from tevo_bridge_sqlite_pos import store

    config = tmp_path / "config.toml"
    text = (ROOT / "config.example.toml").read_text()
    assert 'http_parser = "auto"' in text
    config.write_text(text.replace('http_parser = "auto"', 'http_parser = "httptools"', 1))
    store.init_db(tmp_path / "pos.sqlite3")
    monkeypatch.setenv("TEVO_BRIDGE_TEVO__TOKEN", "Y" * 32)
    monkeypatch.setenv("TEVO_BRIDGE_TEVO__SECRET", "Z" * 40)
    monkeypatch.setenv("TEVO_BRIDGE_TEVO__REVIEWER_ID", "4711")
    monkeypatch.setattr(httpparser, "httptools_available", lambda: False)
    result = CliRunner().invoke(app, [command, "--config", str(config)])
    assert result.exit_code == 2, result.output
    assert "http_parser" in result.output and "pip install -U httptools uvicorn" in result.output
    assert "Traceback" not in result.output


def test_a_uvicorn_that_cannot_name_the_running_request_counts_as_no_httptools(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The guard follows ``HttpToolsProtocol._start_asgi_task`` to know which pipelined request runs; without it
    every request's deadlines would go unwatched, so ``auto`` must fall back to h11 rather than run unguarded."""
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

    assert httpparser.httptools_available()
    monkeypatch.delattr(HttpToolsProtocol, "_start_asgi_task")
    assert not httpparser.httptools_available()
    assert httpparser.chosen("auto") == "h11"
