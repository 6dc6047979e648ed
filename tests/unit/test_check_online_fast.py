"""Issue 21, item 4: ``check --online`` against a TEvo that does not answer says so after one attempt.

Before, it went through the daemon's retries (4 more attempts, exponential back-off): ~35 s of silence.
A real loopback socket that accepts and hangs up counts the attempts.
"""

from __future__ import annotations

import shutil
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tevo_bridge.cli import app

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def hangs_up() -> Iterator[tuple[str, list[int]]]:
    """A base URL whose server accepts each connection and closes it at once; the list counts connections."""
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.2)
    accepted: list[int] = []
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            accepted.append(1)
            conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}", accepted
    stop.set()
    thread.join(5)
    server.close()


def test_an_unreachable_tevo_is_reported_after_one_attempt(tmp_path, monkeypatch, hangs_up):
    from tevo_bridge_sqlite_pos import store

    base_url, accepted = hangs_up
    config = tmp_path / "config.toml"
    shutil.copy(ROOT / "config.example.toml", config)
    store.init_db(tmp_path / "pos.sqlite3")
    for name, value in {"TOKEN": "Y" * 32, "SECRET": "Z" * 40, "REVIEWER_ID": "4711", "BASE_URL": base_url}.items():
        monkeypatch.setenv(f"TEVO_BRIDGE_TEVO__{name}", value)

    result = CliRunner().invoke(app, ["check", "--online", "--config", str(config)])

    assert result.exit_code == 2, result.output
    assert f"error: could not reach TEvo at {base_url}" in result.output
    assert "(one attempt, at most 5 s). Fix: check [tevo] base_url" in result.output
    assert len(accepted) == 1  # before: 3 under the suite's stamina testing mode (5, backed off, in production)
    assert "Z" * 40 not in result.output and "Traceback" not in result.output
