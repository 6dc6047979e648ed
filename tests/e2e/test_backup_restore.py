"""A backup taken while the daemon runs, restored into a fresh store, runs on without repeating anything:
neither the orders it holds nor one finished after it was taken (TEvo and the POS are ahead of it)."""

from __future__ import annotations

import threading

from typer.testing import CliRunner

from tests.e2e.test_exactly_once import send_webhook
from tevo_bridge.cli import app
from tevo_bridge.loopback.seed import seed_sqlite_mirror
from tevo_bridge.loopback.stack import API_KEY, WEBHOOK_TOKEN, Stack, settings_for, webhook_form
from tevo_bridge.sandbox.driver import DriverSettings
from tevo_bridge.sandbox.inventory import demo_inventory
from tevo_bridge.sandbox.scenarios import Channel, Scenario
from tevo_bridge.sandbox.server import running_sandbox
from tevo_bridge.serve import free_port, running_daemon
from tevo_bridge.store import SCHEMA_VERSION, inspect_store

runner = CliRunner()
SCENARIOS = (Scenario.OFFICE_ETICKET, Scenario.FEDEX, Scenario.UNDERPRICED, Scenario.OUT_OF_STOCK)


def test_backup_while_running_then_restore_repeats_no_accept_and_no_invoice(tmp_path):
    port = free_port()
    bridge = f"http://127.0.0.1:{port}"
    driver = DriverSettings(webhook_url=f"{bridge}/webhooks/tevo/{WEBHOOK_TOKEN}", oi_base_url=bridge,
                            oi_api_key=API_KEY, retry_scale=0.005, fraud_delay=0.3)
    inventory = demo_inventory()
    pos_db = tmp_path / "pos.sqlite3"
    seed_sqlite_mirror(pos_db, inventory, tmp_path / "tickets")
    live = tmp_path / "state.sqlite3"
    restored = tmp_path / "restored" / "state.sqlite3"
    backup = tmp_path / "backups" / "state.backup"
    live_config, restored_config = tmp_path / "live.toml", tmp_path / "restored.toml"
    live_config.write_text(f'[store]\npath = "{live}"\n')
    restored_config.write_text(f'[store]\npath = "{restored}"\n')

    with running_sandbox(seed=11, driver=driver, inventory=inventory) as sandbox:
        settings = settings_for(sandbox, tmp_path, pos_db, port)
        with running_daemon(settings) as daemon:
            run = Stack(sandbox, daemon, pos_db, tmp_path)
            ids = [sandbox.driver.create_sync(s, [Channel.WEBHOOK]).order_id for s in SCENARIOS]
            states = run.wait_settled(ids)
            assert sorted(states.values()) == ["done", "done", "rejected", "rejected"], states

            stop, writes = threading.Event(), [0]

            def keep_writing() -> None:  # the daemon's own connection writes all through the backup
                while not stop.is_set():
                    run.store.audit("test.concurrent_write", details=writes[0])
                    writes[0] += 1

            writer = threading.Thread(target=keep_writing)
            writer.start()
            try:
                made = runner.invoke(app, ["store", "backup", str(backup), "-c", str(live_config)])
            finally:
                stop.set()
                writer.join()
            assert made.exit_code == 0, made.output
            assert f"schema version {SCHEMA_VERSION}, {len(ids)} orders" in made.output and writes[0] > 0
            refused = runner.invoke(app, ["store", "restore", str(backup), "-c", str(live_config)])
            assert refused.exit_code == 2 and "in use by a running tevo-bridge daemon" in refused.output
            assert inspect_store(live).orders == len(ids), "the refused restore changed the live store"
            # An order the backup does not know: done after it, so the restored store is behind TEvo and the POS.
            later = sandbox.driver.create_sync(Scenario.OFFICE_ETICKET, [Channel.WEBHOOK]).order_id
            assert run.wait_settled([later])[later] == "done"
            ids.append(later)
            states[later] = "done"

        done_before = {oid: (sandbox.inspect(oid)["accept_calls"], run.invoices_for(oid)) for oid in ids}
        assert sorted(done_before.values()) == [(0, 0), (0, 0), (1, 1), (1, 1), (1, 1)]

        put_back = runner.invoke(app, ["store", "restore", str(backup), "-c", str(restored_config)])
        assert put_back.exit_code == 0 and f"{len(ids) - 1} orders" in put_back.output, put_back.output

        # TEvo tells the restored daemon about every order again: by its start-up poll and by webhooks.
        again = settings_for(sandbox, tmp_path, pos_db, port, store={"path": str(restored)},
                             poller={"enabled": True})
        with running_daemon(again) as daemon:
            run = Stack(sandbox, daemon, pos_db, tmp_path)
            assert run.store.path == restored and run.store.schema_version == SCHEMA_VERSION
            for oid in ids:
                send_webhook(run, webhook_form(sandbox.world.order(oid)))
            run.poll()
            idle = run.wait_for(lambda: not {"queued", "running"} & set(run.store.job_counts()), timeout=20)
            assert idle, run.store.job_counts()
            assert {oid: run.state(oid) for oid in ids} == states
        assert {oid: (sandbox.inspect(oid)["accept_calls"], run.invoices_for(oid)) for oid in ids} == done_before
