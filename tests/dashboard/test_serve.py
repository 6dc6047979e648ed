"""``tevo-bridge dashboard serve``: the dashboard over a store without a daemon (what ``demo --keep`` prints)."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import httpx

from tevo_bridge.demo import write_dashboard_config
from tevo_bridge.serve import free_port
from tevo_bridge.store import SqliteStore


def test_serve_shows_a_store_and_queues_a_retry_for_the_next_daemon(tmp_path):
    store = SqliteStore(tmp_path / "state.sqlite3")
    store.ensure_order(4242, "webhook")
    store.update_order(4242, state="needs_review", reason="test", last_error="POS: unreachable")
    store.close()
    config = write_dashboard_config(tmp_path)
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("TEVO_BRIDGE_")}
    process = subprocess.Popen([sys.executable, "-m", "tevo_bridge.cli", "dashboard", "serve", "--config",
                                str(config), "--port", str(port)], env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                page = httpx.get(base + "/dashboard/review", timeout=5)
                break
            except httpx.TransportError:
                assert process.poll() is None and time.monotonic() < deadline, "dashboard serve did not start"
                time.sleep(0.1)
        assert page.status_code == 200 and "POS: unreachable" in page.text
        assert "no daemon runs in this process" in httpx.get(base + "/dashboard/", timeout=5).text
        csrf = page.text.split('name="csrf" value="')[1].split('"')[0]
        retried = httpx.post(base + "/dashboard/orders/4242/retry", data={"csrf": csrf, "from": "review"},
                             cookies=page.cookies, timeout=5)
        assert retried.status_code == 303 and retried.headers["location"].endswith("msg=retried_no_daemon")
        assert httpx.get(base + "/metrics", timeout=5).status_code == 404  # only the dashboard is served
        rebound = httpx.get(base + "/dashboard/review", headers={"Host": "attacker.example"}, timeout=5)
        assert rebound.status_code == 421 and "POS: unreachable" not in rebound.text
        assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    finally:
        process.terminate()
        process.wait(timeout=15)
    again = SqliteStore(tmp_path / "state.sqlite3")
    assert again.get_order(4242).state == "new" and again.job_for_order(4242)["state"] == "queued"
    again.close()


def test_serve_refuses_a_no_login_dashboard_on_a_wide_address(tmp_path):
    from typer.testing import CliRunner

    from tevo_bridge.cli import app

    config = write_dashboard_config(tmp_path)
    result = CliRunner().invoke(app, ["dashboard", "serve", "--config", str(config), "--host", "0.0.0.0"])
    assert result.exit_code == 2 and "auth = \"none\"" in result.output and "hash-password" in result.output
    assert not (tmp_path / "state.sqlite3").exists()  # refused before the store was opened


def test_serve_opens_a_postgresql_store_like_every_other_command(tmp_path, pg_url):
    """``[store] url`` is served, not refused with "fix [store] path": the same opening as ``orders list``."""
    from tevo_bridge.store.postgres import PostgresStore

    store = PostgresStore(pg_url)
    store.ensure_order(4343, "webhook")
    store.update_order(4343, state="needs_review", reason="test", last_error="POS: on PostgreSQL")
    store.close()
    config = tmp_path / "dashboard.toml"
    config.write_text("[store]\n", encoding="utf-8")  # no SQLite file: the URL comes from the environment
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("TEVO_BRIDGE_")} | {"TEVO_BRIDGE_STORE__URL": pg_url}
    process = subprocess.Popen([sys.executable, "-m", "tevo_bridge.cli", "dashboard", "serve", "--config",
                                str(config), "--port", str(port)], env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                page = httpx.get(base + "/dashboard/review", timeout=5)
                break
            except httpx.TransportError:
                assert process.poll() is None, f"dashboard serve exited: {process.stdout.read()}"
                assert time.monotonic() < deadline, "dashboard serve did not start"
                time.sleep(0.1)
        assert page.status_code == 200 and "POS: on PostgreSQL" in page.text
        csrf = page.text.split('name="csrf" value="')[1].split('"')[0]
        retried = httpx.post(base + "/dashboard/orders/4343/retry", data={"csrf": csrf, "from": "review"},
                             cookies=page.cookies, timeout=5)
        assert retried.status_code == 303 and retried.headers["location"].endswith("msg=retried_no_daemon")
    finally:
        process.terminate()
        output = process.communicate(timeout=15)[0]
    assert "over postgresql://" in output and not (tmp_path / "tevo-bridge.sqlite3").exists()
    again = PostgresStore(pg_url)
    try:
        assert again.get_order(4343).state == "new" and again.job_for_order(4343)["state"] == "queued"
    finally:
        again.close()
