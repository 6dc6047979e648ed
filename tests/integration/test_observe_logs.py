"""`tevo-bridge run` as a seller runs it (a child process, real ports): what its log lines look like.

TEvo is a stub that answers 401 to everything, so the start-up poll makes one TEvo call (a debug
line), fails (a warning line) and counts an auth failure, without any sleep: the test reads the
child's stderr line by line and acts on what it reads.
"""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from tests.integration.conftest import API_KEY, SECRET, TOKEN, WEBHOOK_TOKEN
from tevo_bridge.serve import free_port

LINE_TIMEOUT = 30.0


class _Refuse(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 (the stdlib's name)
        body = b'{"error":"Unauthorized"}'
        self.send_response(401)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def tevo_401() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Refuse)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def write_config(tmp_path: Path, pos_db: Path, tevo_url: str, *, level: str = "info") -> tuple[Path, int, int]:
    port, admin_port = free_port(), free_port()
    config = tmp_path / "config.toml"
    config.write_text(f"""
[tevo]
base_url = "{tevo_url}"
token = "{TOKEN}"
secret = "{SECRET}"
reviewer_id = 4711
max_retries = 0

[server]
port = {port}
admin_port = {admin_port}
webhook_token = "{WEBHOOK_TOKEN}"

[server.order_integration]
api_keys = ["{API_KEY}"]

[store]
path = "state.sqlite3"

[poller]
interval = 60.0

[fulfillment]
airbill_dir = "airbills"

[pos]
plugin = "sqlite_pos"

[plugins.sqlite_pos]
database = "{pos_db}"

[log]
level = "{level}"
format = "json"
""", encoding="utf-8")
    return config, port, admin_port


class Child:
    """The daemon's process; its stderr lines arrive on a queue as they are written."""

    def __init__(self, args: list[str], cwd: Path) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("TEVO_BRIDGE_")}
        self.proc = subprocess.Popen([sys.executable, "-c", "from tevo_bridge.cli import app; app()", *args],
                                     cwd=cwd, env=env, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
        self.lines: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self._queue.put(line.rstrip("\n"))
        self._queue.put(None)

    def wait_for(self, *predicates: Callable[[str], bool]) -> None:
        """Read lines until each predicate has matched one (in any order)."""
        pending = list(predicates)
        while pending:
            line = self._queue.get(timeout=LINE_TIMEOUT)
            if line is None:
                raise AssertionError("the daemon exited:\n" + "\n".join(self.lines))
            self.lines.append(line)
            pending = [p for p in pending if not p(line)]

    def stop(self) -> int:
        self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(timeout=LINE_TIMEOUT)
        while (line := self._queue.get(timeout=LINE_TIMEOUT)) is not None:
            self.lines.append(line)
        return code

    def records(self) -> list[dict]:
        return [json.loads(line) for line in self.lines]


def has(text: str) -> Callable[[str], bool]:
    return lambda line: text in line


@contextmanager
def daemon(tmp_path: Path, pos_db: Path, tevo_url: str, *args: str, level: str = "info"
           ) -> Iterator[tuple[Child, int, int]]:
    config, port, admin_port = write_config(tmp_path, pos_db, tevo_url, level=level)
    child = Child(["run", "--config", str(config), *args], tmp_path)
    try:
        # The start-up poll has been refused by TEvo, and (where info lines are written) both listeners bound.
        bound = [has(f"127.0.0.1:{port}"), has(f"127.0.0.1:{admin_port}")] if level != "warning" else []
        child.wait_for(*bound, has("poll.failed"))
        yield child, port, admin_port
    finally:
        if child.proc.poll() is None:
            child.stop()


def test_every_line_is_json_with_logger_and_a_utc_iso_timestamp_and_no_ansi(tmp_path, pos_db, tevo_401):
    with daemon(tmp_path, pos_db, tevo_401, "--log-level", "info") as (child, port, admin_port):
        metrics = httpx.get(f"http://127.0.0.1:{admin_port}/metrics", timeout=10).text
        assert "tevo_bridge_tevo_auth_failures_total 1.0" in metrics
        assert httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).status_code == 404
        assert child.stop() == 0
    records = child.records()
    assert {"daemon.started", "poll.failed", "daemon.stopped"} <= {r["event"] for r in records}
    for record in records:
        assert record["logger"], record
        stamp = datetime.fromisoformat(record["timestamp"].replace("Z", "+00:00"))
        assert record["timestamp"].endswith("Z") and stamp.utcoffset() == UTC.utcoffset(None), record
        assert "color_message" not in record and "\x1b[" not in json.dumps(record), record
        assert record["level"] != "debug", record
    assert any(r["logger"].startswith("uvicorn") for r in records)  # uvicorn's lines come through structlog
    assert SECRET not in "\n".join(child.lines) and TOKEN not in "\n".join(child.lines)


def test_log_level_debug_on_the_command_line_overrides_the_config(tmp_path, pos_db, tevo_401):
    with daemon(tmp_path, pos_db, tevo_401, "--log-level", "debug") as (child, _, _):
        assert child.stop() == 0
    assert any(r["event"] == "tevo.call" and r["level"] == "debug" for r in child.records())


def test_log_level_in_the_config_is_honoured(tmp_path, pos_db, tevo_401):
    with daemon(tmp_path, pos_db, tevo_401, level="warning") as (child, _, _):
        assert child.stop() == 0
    levels = {r["level"] for r in child.records() if r["logger"].startswith("tevo_bridge")}
    assert levels and levels <= {"warning", "error"}, levels


def test_check_online_logs_utc_iso_json_too(tmp_path, pos_db, tevo_401):
    config, _, _ = write_config(tmp_path, pos_db, tevo_401)
    env = {k: v for k, v in os.environ.items() if not k.startswith("TEVO_BRIDGE_")}
    result = subprocess.run([sys.executable, "-c", "from tevo_bridge.cli import app; app()", "check", "--config",
                             str(config), "--online", "--log-level", "debug"],
                            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "TEvo refused the credentials" in result.stderr
    records = [json.loads(line) for line in result.stderr.splitlines() if line.startswith("{")]
    assert records, result.stderr
    for record in records:
        assert record["timestamp"].endswith("Z") and record["logger"], record
