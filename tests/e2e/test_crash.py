"""Kill the daemon process at the worst lines, restart it, and still see one accept and one invoice."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tevo_bridge.config import settings_env
from tevo_bridge.crashpoints import ENV as CRASHPOINT
from tevo_bridge.loopback.seed import seed_sqlite_mirror
from tevo_bridge.loopback.stack import API_KEY, WEBHOOK_TOKEN, settings_for
from tevo_bridge.sandbox.driver import DriverSettings
from tevo_bridge.sandbox.inventory import demo_inventory
from tevo_bridge.sandbox.scenarios import Channel, Scenario
from tevo_bridge.sandbox.server import running_sandbox
from tevo_bridge.serve import free_port
from tevo_bridge.store import SqliteStore


def daemon_env(settings, crashpoint: str | None) -> dict[str, str]:
    """The whole config as TEVO_BRIDGE_* variables: the daemon process reads nothing else."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TEVO_BRIDGE_")}
    env.update(settings_env(settings))
    if crashpoint:
        env[CRASHPOINT] = crashpoint
    return env


def start(settings, crashpoint, log: Path) -> subprocess.Popen:
    process = subprocess.Popen([sys.executable, "-m", "tevo_bridge.cli", "run"], env=daemon_env(settings, crashpoint),
                               stdout=log.open("a"), stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{settings.server.port}/livez"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return process
        except httpx.TransportError:
            pass
        if process.poll() is not None:
            raise AssertionError(f"daemon exited early:\n{log.read_text()[-3000:]}")
        time.sleep(0.1)
    raise AssertionError("daemon did not start")


def wait_for_state(store_path: Path, order_id: int, wanted: str, log: Path, timeout: float = 30.0) -> None:
    """Until the order reaches ``wanted`` (read from the store file); the daemon's log tail if it never does."""
    deadline = time.monotonic() + timeout
    while state(store_path, order_id) != wanted and time.monotonic() < deadline:
        time.sleep(0.1)
    assert state(store_path, order_id) == wanted, log.read_text()[-3000:]


def state(store_path: Path, order_id: int) -> str | None:
    store = SqliteStore(store_path)
    try:
        row = store.get_order(order_id)
        return row.state if row else None
    finally:
        store.close()


@pytest.mark.parametrize("crashpoint", ["after_accept", "after_invoice", "after_add_etickets"])
def test_killed_between_a_call_and_recording_it_the_order_is_still_accepted_and_invoiced_once(tmp_path, crashpoint):
    port = free_port()
    bridge = f"http://127.0.0.1:{port}"
    driver = DriverSettings(webhook_url=f"{bridge}/webhooks/tevo/{WEBHOOK_TOKEN}", oi_base_url=bridge,
                           oi_api_key=API_KEY, retry_scale=0.01)
    inventory = demo_inventory()
    pos_db = tmp_path / "pos.sqlite3"
    seed_sqlite_mirror(pos_db, inventory, tmp_path / "tickets")
    log = tmp_path / "daemon.log"
    with running_sandbox(seed=3, driver=driver, inventory=inventory) as sandbox:
        settings = settings_for(sandbox, tmp_path, pos_db, port, log={"level": "info"})
        first = start(settings, crashpoint, log)
        try:
            made = sandbox.driver.create_sync(Scenario.OFFICE_ETICKET, [Channel.WEBHOOK])
            assert first.wait(timeout=30) == 137, log.read_text()[-3000:]  # died at the crash point
        finally:
            if first.poll() is None:
                first.send_signal(signal.SIGKILL)
        assert sandbox.inspect(made.order_id)["accept_calls"] == 1
        second = start(settings, None, log)
        try:
            wait_for_state(settings.store.path, made.order_id, "done", log)
        finally:
            second.send_signal(signal.SIGTERM)
            second.wait(timeout=10)  # graceful shutdown within 10 s (uvicorn re-raises SIGTERM after it)
        assert '"daemon.stopped"' in log.read_text()
        seen = sandbox.inspect(made.order_id)
        assert seen["accept_calls"] == 1
        for item in seen["items"].values():  # no page delivered twice
            assert item["finalized"] and item["pages_delivered"] == item["quantity"]
        rows = __import__("sqlite3").connect(pos_db).execute(
            "SELECT COUNT(*) FROM invoices WHERE tevo_order_id = ?", (made.order_id,)).fetchone()
        assert rows == (1,)
        assert sandbox.token not in log.read_text() and sandbox.secret not in log.read_text()


def test_killed_after_the_pos_voided_but_before_it_was_recorded_the_void_happens_once(tmp_path):
    """TEvo cancels a delivered order; the daemon dies right after pos_void_invoice answered. The next daemon voids
    again (the hook is idempotent by invoice id), so the seats come back on sale once and the order goes to a person."""
    port = free_port()
    bridge = f"http://127.0.0.1:{port}"
    driver = DriverSettings(webhook_url=f"{bridge}/webhooks/tevo/{WEBHOOK_TOKEN}", retry_scale=0.01)
    inventory = demo_inventory()
    pos_db = tmp_path / "pos.sqlite3"
    seed_sqlite_mirror(pos_db, inventory, tmp_path / "tickets")
    log = tmp_path / "daemon.log"
    with running_sandbox(seed=3, driver=driver, inventory=inventory) as sandbox:
        settings = settings_for(sandbox, tmp_path, pos_db, port, log={"level": "info"})
        first = start(settings, "after_void", log)
        try:
            made = sandbox.driver.create_sync(Scenario.OFFICE_ETICKET, [Channel.WEBHOOK])
            wait_for_state(settings.store.path, made.order_id, "done", log)
            sandbox.driver.cancel_sync(made.order_id)
            assert first.wait(timeout=30) == 137, log.read_text()[-3000:]  # died at the crash point
        finally:
            if first.poll() is None:
                first.send_signal(signal.SIGKILL)
        assert state(settings.store.path, made.order_id) == "voiding"
        second = start(settings, None, log)
        try:
            wait_for_state(settings.store.path, made.order_id, "needs_review", log)
        finally:
            second.send_signal(signal.SIGTERM)
            second.wait(timeout=10)
    remote_id = sandbox.world.order(made.order_id)["items"][0]["ticket_group"]["remote_id"]
    conn = __import__("sqlite3").connect(pos_db)
    try:
        assert conn.execute("SELECT COUNT(*) FROM voids").fetchone() == (1,)
        sold = conn.execute("SELECT COUNT(*) FROM invoice_lines l WHERE l.remote_id = ? AND l.invoice_id NOT IN "
                            "(SELECT invoice_id FROM voids)", (remote_id,)).fetchone()
        assert sold == (0,), "the voided seats count as sold again"
    finally:
        conn.close()
    store = SqliteStore(settings.store.path)
    try:
        trail = store.audit_trail(made.order_id)
    finally:
        store.close()
    assert [a.action for a in trail].count("invoice_voided") == 1, "recorded once: by the daemon that lived"
