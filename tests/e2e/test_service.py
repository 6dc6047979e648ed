"""`tevo-bridge run` started the way the systemd unit starts it: real process, sockets and files.

cwd is /, the config lives in a folder elsewhere (absolute paths), NOTIFY_SOCKET points at a
datagram socket this test reads: READY=1 must arrive, and only when /readyz answers 200.
A port already taken must stop the daemon before it creates its store or calls TEvo.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tevo_bridge.sdnotify import notify
from tevo_bridge.serve import free_port

TOKEN = "wxyzSECRETwebhookTOKENthatIsLong1234567890"
STARTUP = 30.0


def tevo_bridge_command() -> list[str]:
    script = Path(sys.executable).with_name("tevo-bridge")
    return [str(script)] if script.exists() else [shutil.which("tevo-bridge") or "tevo-bridge"]


def daemon_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TEVO_BRIDGE_") and k != "NOTIFY_SOCKET"}
    env.update({"TEVO_BRIDGE_TEVO__TOKEN": "a1b2c3d4" * 4, "TEVO_BRIDGE_TEVO__SECRET": "S" * 40,
                "TEVO_BRIDGE_SERVER__WEBHOOK_TOKEN": TOKEN,
                "TEVO_BRIDGE_SERVER__ORDER_INTEGRATION__API_KEYS": '["an-order-integration-key-0123456789abcdef"]'})
    env.update(extra or {})
    return env


def write_config(folder: Path, state: Path, port: int, tevo_url: str, poller: bool) -> Path:
    from tevo_bridge_sqlite_pos import store as pos_store

    pos_db = state / "pos.sqlite3"
    pos_store.init_db(pos_db)
    config = folder / "config.toml"
    config.write_text(f"""
[tevo]
base_url = "{tevo_url}"
reviewer_id = 4711
connect_timeout = 2.0
read_timeout = 2.0

[server]
host = "127.0.0.1"
port = {port}
public_url = "https://tickets.example.com"

[store]
path = "{state / 'tevo-bridge.sqlite3'}"

[poller]
enabled = {str(poller).lower()}

[fulfillment]
airbill_dir = "{state / 'airbills'}"

[pos]
plugin = "sqlite_pos"

[plugins.sqlite_pos]
database = "{pos_db}"

[log]
format = "json"
""")
    return config


@pytest.fixture
def notify_socket() -> Iterator[tuple[socket.socket, str]]:
    folder = tempfile.mkdtemp(prefix="tb-notify-", dir="/tmp")  # AF_UNIX paths must stay short
    path = os.path.join(folder, "notify")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    try:
        yield sock, path
    finally:
        sock.close()
        shutil.rmtree(folder, ignore_errors=True)


def receive_until(sock: socket.socket, wanted: str, process: subprocess.Popen, deadline: float) -> list[str]:
    """Datagrams until one holds the line ``wanted``; fails if the process exits or time runs out first."""
    seen: list[str] = []
    while time.monotonic() < deadline:
        sock.settimeout(min(0.5, max(0.01, deadline - time.monotonic())))
        try:
            seen.append(sock.recv(4096).decode())
        except TimeoutError:
            if process.poll() is not None:
                break
            continue
        if wanted in seen[-1].splitlines():
            return seen
    pytest.fail(f"no {wanted} (exit code {process.poll()}); got {seen}")


def stop(process: subprocess.Popen) -> tuple[str, str]:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    try:
        out, err = process.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        out, err = process.communicate()
    return out, err


def test_notify_reaches_an_abstract_socket_and_is_a_no_op_without_systemd():
    name = f"tevo-bridge-test-{os.getpid()}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind("\0" + name)
        assert notify("READY=1", {"NOTIFY_SOCKET": "@" + name})
        sock.settimeout(5)
        assert sock.recv(100) == b"READY=1"
    assert notify("READY=1", {}) is False
    assert notify("READY=1", {"NOTIFY_SOCKET": "/nonexistent/notify"}) is False  # logged, not raised


def test_run_as_the_unit_does_reports_ready_once_serving_and_stopping_on_sigterm(tmp_path, notify_socket):
    sock, path = notify_socket
    port = free_port()
    state = tmp_path / "state"
    state.mkdir()
    (tmp_path / "etc").mkdir()
    config = write_config(tmp_path / "etc", state, port, "http://127.0.0.1:9", poller=False)
    process = subprocess.Popen([*tevo_bridge_command(), "run", "-c", str(config)], cwd="/",
                               env=daemon_env({"NOTIFY_SOCKET": path}), stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    try:
        messages = receive_until(sock, "READY=1", process, time.monotonic() + STARTUP)
        assert f"STATUS=serving on 127.0.0.1:{port}" in messages[-1]
        ready = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=5)
        assert ready.status_code == 200, ready.text
        assert (state / "tevo-bridge.sqlite3").exists()  # the absolute path, not one under cwd
        process.send_signal(signal.SIGTERM)
        receive_until(sock, "STOPPING=1", process, time.monotonic() + STARTUP)
    finally:
        out, err = stop(process)
    # uvicorn re-raises the SIGTERM it handled once shut down; systemd counts that as a clean stop.
    assert process.returncode in (0, -signal.SIGTERM), err
    assert "daemon.stopped" in err
    events = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    registered = next(e for e in events if e.get("event") == "daemon.register_with_tevo")
    assert registered["webhook_url"] == "https://tickets.example.com/webhooks/tevo/wxyz…(masked)"
    assert registered["hold_url"] == "https://tickets.example.com/order-integration/holds"
    assert registered["invoice_url"] == "https://tickets.example.com/order-integration/invoices"
    assert TOKEN not in out + err


def test_a_taken_port_stops_run_before_the_store_or_tevo_are_touched(tmp_path):
    with socket.socket() as taken, socket.socket() as tevo:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        tevo.bind(("127.0.0.1", 0))  # a TEvo that only counts connections: any would wait in its backlog
        tevo.listen()
        tevo.setblocking(False)
        state = tmp_path / "state"
        state.mkdir()
        (tmp_path / "etc").mkdir()
        config = write_config(tmp_path / "etc", state, port, f"http://127.0.0.1:{tevo.getsockname()[1]}",
                              poller=True)
        result = subprocess.run([*tevo_bridge_command(), "run", "-c", str(config)], cwd="/", env=daemon_env(),
                                capture_output=True, text=True, timeout=60)
        assert not (state / "tevo-bridge.sqlite3").exists(), result.stderr
        assert not (state / "airbills").exists()
        with pytest.raises(BlockingIOError):
            tevo.accept()  # nobody connected to TEvo
        assert result.returncode == 3, result.stderr
        assert f"cannot listen on 127.0.0.1:{port}" in result.stderr
        assert "[server] port" in result.stderr and "Traceback" not in result.stderr
