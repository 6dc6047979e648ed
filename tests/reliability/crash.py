"""Part 1: mixed orders while the daemon process is killed with SIGKILL at random moments and restarted.

The daemon runs as a real subprocess (``tevo-bridge run``, its whole config in
``TEVO_BRIDGE_*`` variables, as in ``tests/e2e/test_crash.py``); the sandbox and
its buyer driver run here.  Orders are created at a steady pace across the whole
kill phase, so kills land during holds, webhooks, accepts, invoices and uploads.
Each restart's start-up poll finds what a dead daemon missed, as in production.
"""

from __future__ import annotations

import random
import signal
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.e2e.test_crash import start
from tests.reliability.checks import Tally, View, inventory_groups, mixed_scenarios, pos_sections, tally
from tevo_bridge.loopback.seed import seed_sqlite_mirror
from tevo_bridge.loopback.stack import API_KEY, WEBHOOK_TOKEN, settings_for
from tevo_bridge.sandbox.driver import DriverOrder, DriverSettings
from tevo_bridge.sandbox.inventory import generated_inventory
from tevo_bridge.sandbox.server import running_sandbox
from tevo_bridge.serve import free_port

SECONDS_PER_KILL = 2.0  # the pace: a kill every 0.3-1.5 s of uptime, plus a restart of about a second


@dataclass
class CrashRun:
    tally: Tally
    kills: int
    restarts: int
    seconds: float
    settled: bool
    log: Path
    exits: list[int] = field(default_factory=list)
    phases: dict[str, float] = field(default_factory=dict)

    def figures(self) -> dict[str, Any]:
        return {"kills": self.kills, "restarts": self.restarts, "seconds": round(self.seconds, 1),
                "settled_in_time": self.settled, "phases": self.phases, **self.tally.figures()}


def run_crash(tmp: Path, orders: int, kills: int, seed: int = 11, settle_timeout: float = 120.0,
              pos: str = "sqlite") -> CrashRun:
    """``pos="skybox"``: the SkyBox plugin against its simulator (which lives here, outliving each kill)."""
    with pos_sections(pos, generated_inventory(inventory_groups(orders), seed=seed), tmp) as (skybox, sections):
        return _run_crash(tmp, orders, kills, seed, settle_timeout, skybox, sections)


def _run_crash(tmp: Path, orders: int, kills: int, seed: int, settle_timeout: float, skybox: Any,
               sections: dict[str, Any]) -> CrashRun:
    started = time.monotonic()
    rng = random.Random(seed)
    port = free_port()
    bridge = f"http://127.0.0.1:{port}"
    # TEvo's webhook retries (10/120/600/3600 s) scaled so a dead daemon's webhooks come back within seconds.
    driver = DriverSettings(webhook_url=f"{bridge}/webhooks/tevo/{WEBHOOK_TOKEN}", oi_base_url=bridge,
                            oi_api_key=API_KEY, retry_scale=0.003, fraud_delay=0.5, http_timeout=10)
    inventory = generated_inventory(inventory_groups(orders), seed=seed)
    pos_db = tmp / "pos.sqlite3"
    seed_sqlite_mirror(pos_db, inventory, tmp / "tickets")
    log = tmp / "daemon.log"
    with running_sandbox(seed=seed, driver=driver, inventory=inventory) as sandbox:
        settings = settings_for(
            sandbox, tmp, pos_db, port,
            # Polling at start-up closes the gap a dead daemon leaves; holds expire soon after TEvo gives up.
            poller={"enabled": True, "interval": 60},
            server={"hold_ttl": 8.0},
            pipeline={"max_attempts": 30, "lease_seconds": 10},
            log={"level": "info"},
            **sections,
        )
        view = View(sandbox, settings.store.path, pos_db, skybox)
        made: list[DriverOrder] = []
        scenarios = mixed_scenarios(orders, seed)
        pace = kills * SECONDS_PER_KILL / max(1, orders)
        failures: list[BaseException] = []

        def create() -> None:
            pick = random.Random(seed + 1)
            try:
                for scenario in scenarios:
                    made.append(sandbox.driver.create_sync(scenario))
                    time.sleep(pick.uniform(0, 2 * pace))
            except BaseException as exc:  # surfaced after the run
                failures.append(exc)

        process = start(settings, None, log)
        creator = threading.Thread(target=create, name="buyers", daemon=True)
        creator.start()
        exits: list[int] = []
        restarts = 0
        try:
            for _ in range(kills):
                time.sleep(rng.uniform(0.3, 1.5))
                process.send_signal(signal.SIGKILL)
                exits.append(process.wait(timeout=10))
                process = start(settings, None, log)
                restarts += 1
            killed_at = time.monotonic()
            creator.join(timeout=600)
            settled = view.wait(made, settle_timeout)
            phases = {"kill_phase": round(killed_at - started, 1), "settle": round(time.monotonic() - killed_at, 1)}
        finally:
            _stop(process)
        if failures:
            raise failures[0]
        result = tally(view, made)
    return CrashRun(result, len(exits), restarts, time.monotonic() - started, settled, log, exits, phases)


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
