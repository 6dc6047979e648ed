"""The README's first-run checklist, run as a person would: each `tevo-bridge` command it names, taken from the
README itself (section "First-run checklist with a real SkyBox account"), against the SkyBox simulator and the TEvo
sandbox with a daemon serving them, and what the checklist says each prints or changes."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from tevo_bridge_skybox_pos.simulator import running
from typer.testing import CliRunner

from tevo_bridge.cli import app
from tevo_bridge.loopback.stack import stack
from tevo_bridge.sandbox.inventory import ETICKET, generated_inventory
from tevo_bridge.sandbox.mirror import mirror_inventory
from tevo_bridge.sandbox.scenarios import Channel, Scenario

README = Path(__file__).resolve().parents[1] / "README.md"
SECTION = "## First-run checklist with a real SkyBox account"


def checklist_commands() -> dict[int, list[str]]:
    """Each step's `tevo-bridge COMMAND ...` commands, by step number, as the README writes them (the hold's note
    `tevo-bridge remote_id=...` is not one)."""
    text = README.read_text().split(SECTION, 1)[1].split("\n## ", 1)[0]
    steps: dict[int, list[str]] = {}
    for number, body in re.findall(r"^(\d+)\. (.*?)(?=^\d+\. |\Z)", text, re.M | re.S):
        commands = [" ".join(c.split()) for c in re.findall(r"`(tevo-bridge [a-z-]+ [^`]*)`", body)]
        if commands:
            steps[int(number)] = commands
    return steps


def test_the_checklist_names_the_commands_this_test_runs():
    assert checklist_commands() == {
        1: ["tevo-bridge check --config config.toml --online"],
        4: ["tevo-bridge orders show ORDER_ID --config config.toml"],
        6: ["tevo-bridge orders retry ORDER_ID --redeliver --config config.toml"],
    }


@pytest.fixture
def seller(tmp_path, monkeypatch):
    """A seller's folder: the daemon on SkyBox (the simulator), and the config.toml the checklist's commands read."""
    inventory = [g for g in generated_inventory(30, seed=3) if g.format == ETICKET][:8]
    with running(rows=mirror_inventory(inventory, tmp_path / "skybox-tickets")) as skybox, \
            stack(tmp_path, inventory=inventory, log_level="info", pos={"plugin": "skybox_pos"},
                  plugins={"skybox_pos": skybox.plugin_settings()}) as run:
        tevo = run.daemon.runtime.settings.tevo
        (tmp_path / "config.toml").write_text(
            f'[tevo]\nbase_url = "{tevo.base_url}"\nreviewer_id = {tevo.reviewer_id}\n{run.store_toml()}'
            f'[pos]\nplugin = "skybox_pos"\n'
            f'[plugins.skybox_pos]\nbase_url = "{skybox.base_url}"\naccount_id = {skybox.credentials.account}\n')
        monkeypatch.setenv("TEVO_BRIDGE_TEVO__TOKEN", tevo.token.get_secret_value())
        monkeypatch.setenv("TEVO_BRIDGE_TEVO__SECRET", tevo.secret.get_secret_value())
        monkeypatch.setenv("TEVO_BRIDGE_PLUGINS__SKYBOX_POS__API_TOKEN", skybox.credentials.api_token)
        monkeypatch.setenv("TEVO_BRIDGE_PLUGINS__SKYBOX_POS__APPLICATION_TOKEN", skybox.credentials.application_token)
        monkeypatch.chdir(tmp_path)  # "--config config.toml", as written, is the seller's own folder's file
        yield run, skybox


def run_step(command: str, order_id: int | None = None) -> str:
    """The command as a person runs it: its own process, in the seller's folder (the daemon's log stays its own)."""
    args = shlex.split(command.replace("ORDER_ID", str(order_id)))
    assert args[0] == "tevo-bridge"
    result = subprocess.run([sys.executable, "-m", "tevo_bridge.cli", *args[1:]], capture_output=True, text=True,
                            timeout=120, env={**os.environ, "COLUMNS": "200"})
    assert result.returncode == 0, f"{command}: {result.stdout}{result.stderr}"
    return result.stdout


def log_lines(run) -> list[dict]:
    return [json.loads(line) for line in (run.tmp / "daemon.log").read_text().splitlines() if line.startswith("{")]


def test_every_command_of_the_checklist_does_what_it_says_against_skybox(seller):
    run, skybox = seller
    steps = checklist_commands()

    # 1: the three headers are proved.
    assert "plugin OK: skybox_pos started" in run_step(steps[1][0])

    # 4: an Order Integration hold, then TEvo's order for it: orders show and the log name SkyBox's hold id.
    made = run.sandbox.driver.create_sync(Scenario.OI_INVOICE, [Channel.ORDER_INTEGRATION])
    assert run.wait_settled([made.order_id])[made.order_id] == "done"
    with skybox.state.lock:
        (hold,) = [h for h in skybox.state.holds.values() if h.external_ref == made.global_id]
        (invoice,) = [i for i in skybox.state.invoices.values() if i.external_ref == str(made.order_id)]
    shown = run_step(steps[4][0], made.order_id)
    assert f"POS: hold {hold.id}, invoice {invoice.id}, customer " in shown, shown
    lines = log_lines(run)
    assert any(e["event"] == "oi.hold" and e.get("global_id") == made.global_id
               and e.get("pos_hold_id") == str(hold.id) for e in lines)
    moves = [e for e in lines if e["event"] == "order.transition" and e.get("order_id") == made.order_id]
    assert [m["to_state"] for m in moves] == ["invoicing", "fulfilling", "done"]
    assert all(m["pos_hold_id"] == str(hold.id) for m in moves), "named from the first step on"
    assert [m["pos_invoice_id"] for m in moves] == [None, str(invoice.id), str(invoice.id)]

    # 6: the finished order run again creates nothing in SkyBox.
    holds_before = skybox.hold_states(made.global_id)
    run_step(steps[6][0], made.order_id)
    assert run.wait_for(lambda: run.store.job_for_order(made.order_id)["state"] == "done"
                        and run.state(made.order_id) == "done", timeout=30)
    assert skybox.invoices_for(made.order_id) == 1 and skybox.hold_states(made.global_id) == holds_before
    trail = [a.to_state for a in run.store.audit_trail(made.order_id) if a.action == "transition"]
    assert trail[-2:] == ["new", "done"], trail  # it really ran again: sent back, and delivered from the facts


def test_a_plain_retry_of_a_done_order_is_refused_and_says_to_use_redeliver(seller):
    """Why the checklist's step 6 names --redeliver: the plain command is refused for a finished order."""
    run, _ = seller
    made = run.sandbox.driver.create_sync(Scenario.OI_INVOICE, [Channel.ORDER_INTEGRATION])
    assert run.wait_settled([made.order_id])[made.order_id] == "done"
    refused = CliRunner().invoke(app, ["orders", "retry", str(made.order_id), "--config", "config.toml"])
    assert refused.exit_code == 2 and "Use --redeliver" in refused.output, refused.output
