"""Part 10: two daemon replicas on one PostgreSQL store behind Caddy, killed and with the database restarted.

Two ``tevo-bridge run`` processes with the same config and one PostgreSQL store (a server of this
run's own, so restarting it disturbs nothing else) serve TEvo through ``deploy/replicas/Caddyfile``
run for real on loopback. Orders of the usual mix are created at a steady pace through the proxy while
a replica picked at random is SIGKILLed and restarted, and, halfway through, PostgreSQL itself is
restarted. Before that, Order Integration holds are sent to one replica and replayed and released
through the other, each answer compared: the replicas must answer as one.
"""

from __future__ import annotations

import random
import signal
import threading
import time
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx

from tests.caddy import balancing
from tests.e2e.test_crash import start
from tests.pg import PgServer, need_postgresql
from tests.reliability.checks import (
    Tally,
    View,
    inventory_groups,
    mixed_scenarios,
    tally,
)
from tests.reliability.crash import _stop
from tests.reliability.takeover import Takeovers, await_jobs, measure, orphans_of, running_jobs
from tevo_bridge.config import PipelineSettings
from tevo_bridge.loopback.seed import seed_sqlite_mirror
from tevo_bridge.loopback.stack import API_KEY, WEBHOOK_TOKEN, settings_for
from tevo_bridge.sandbox.driver import DriverOrder, DriverSettings
from tevo_bridge.sandbox.inventory import TicketGroupSpec, generated_inventory
from tevo_bridge.sandbox.server import running_sandbox
from tevo_bridge.serve import free_port

SECONDS_PER_KILL = 2.5
#: The job lease a new seller gets ([pipeline] lease_seconds' default): what a killed replica's jobs wait for.
LEASE_SECONDS = PipelineSettings.model_fields["lease_seconds"].default
CROSSING = TicketGroupSpec(
    remote_id="99001", ticket_group_id=399990001, event_name="Replica Check", venue="Loopback Arena",
    occurs_at="2027-02-01T19:30:00-05:00", section="101", row="A", seats=[str(n) for n in range(1, 41)],
    wholesale_price=Decimal("100.00"), retail_price=Decimal("120.00"),
)


@dataclass
class Crossing:
    """Holds asked of one replica, replayed and released through the other."""

    holds: int = 0
    consistent: int = 0
    problems: list[str] = field(default_factory=list)


@dataclass
class ReplicaRun:
    tally: Tally
    crossing: Crossing
    kills: int
    restarts: int
    db_restarts: int
    seconds: float
    settled: bool
    exits: list[int] = field(default_factory=list)
    takeovers: Takeovers = field(default_factory=lambda: Takeovers(LEASE_SECONDS))

    def figures(self) -> dict[str, Any]:
        return {"replicas": 2, "kills": self.kills, "restarts": self.restarts, "db_restarts": self.db_restarts,
                "seconds": round(self.seconds, 1), "settled_in_time": self.settled,
                "crossing_holds": self.crossing.holds, "crossing_consistent": self.crossing.consistent,
                **self.tally.figures(), "lease_seconds": LEASE_SECONDS, **self.takeovers.figures()}

    @property
    def ok(self) -> bool:
        return (self.settled and self.tally.clean and self.tally.as_expected == self.tally.orders
                and self.crossing.holds == self.crossing.consistent > 0 and not self.takeovers.missed)


def cross_holds(a: str, b: str, count: int) -> Crossing:
    """Hold on ``a``, replay on ``b`` (the same bytes), release on ``b``, release again on ``a`` (``not_held``, as
    one daemon answers a repeated release)."""
    result = Crossing()
    headers = {"X-Api-Key": API_KEY}
    with httpx.Client(timeout=10, headers=headers) as http:
        for n in range(count):
            first, second = (a, b) if n % 2 == 0 else (b, a)
            body = {"remote_id": CROSSING.remote_id, "quantity": 1, "global_id": f"crossing-{n}",
                    "price": str(CROSSING.wholesale_price), "ticket_group_id": CROSSING.ticket_group_id}
            held = http.post(f"{first}/order-integration/holds", json=body)
            replay = http.post(f"{second}/order-integration/holds", json=body)
            path = f"/order-integration/holds/{body['global_id']}/release"
            released = http.post(f"{second}{path}", json={"global_id": body["global_id"]})
            again = http.post(f"{first}{path}", json={"global_id": body["global_id"]})
            result.holds += 1
            checks = {"held": held.status_code == 200 and held.json()["status"] == "held",
                      "replay is the same bytes": (replay.status_code, replay.content) == (200, held.content),
                      "released": released.status_code == 200,
                      # What one daemon answers a repeated release too: the hold is no longer held.
                      "release replay agrees": (again.status_code, again.json()) == (
                          200, {"status": "not_held", "global_id": body["global_id"]})}
            failed = [name for name, ok in checks.items() if not ok]
            if failed:
                result.problems.append(f"hold {n}: {', '.join(failed)}: {held.text} / {replay.text} / "
                                       f"{released.text} / {again.text}")
            else:
                result.consistent += 1
    return result


def run_replicas(tmp: Path, orders: int, kills: int, seed: int = 13, settle_timeout: float = 180.0,
                 crossings: int = 20) -> ReplicaRun:
    started = time.monotonic()
    rng = random.Random(seed)
    server = PgServer(need_postgresql())
    try:
        server.start()
        url = server.new_database()
        ports, lb_port = [free_port(), free_port()], free_port()
        bridge = f"http://127.0.0.1:{lb_port}"
        driver = DriverSettings(webhook_url=f"{bridge}/webhooks/tevo/{WEBHOOK_TOKEN}", oi_base_url=bridge,
                                oi_api_key=API_KEY, retry_scale=0.003, fraud_delay=0.5, http_timeout=10)
        inventory = generated_inventory(inventory_groups(orders), seed=seed)
        pos_db = tmp / "pos.sqlite3"
        seed_sqlite_mirror(pos_db, [*inventory, CROSSING], tmp / "tickets")
        with running_sandbox(seed=seed, driver=driver, inventory=inventory) as sandbox, \
                balancing([f"127.0.0.1:{port}" for port in ports], tmp, lb_port):
            settings = []
            for name, port in zip("ab", ports, strict=True):
                folder = tmp / name
                folder.mkdir()
                settings.append(settings_for(
                    sandbox, folder, pos_db, port, store={"url": url},
                    poller={"enabled": True, "interval": 60}, server={"hold_ttl": 8.0},
                    pipeline={"max_attempts": 30, "lease_seconds": LEASE_SECONDS}, log={"level": "info"}))
            logs = [tmp / "a" / "daemon.log", tmp / "b" / "daemon.log"]
            view = View(sandbox, url, pos_db)
            processes = [start(s, None, log) for s, log in zip(settings, logs, strict=True)]
            made: list[DriverOrder] = []
            failures: list[BaseException] = []
            exits: list[int] = []
            restarts = db_restarts = 0
            takeovers = Takeovers(LEASE_SECONDS)
            try:
                crossing = cross_holds(*(f"http://127.0.0.1:{port}" for port in ports), crossings)

                def create() -> None:
                    pick = random.Random(seed + 1)
                    pace = kills * SECONDS_PER_KILL / max(1, orders)
                    try:
                        for scenario in mixed_scenarios(orders, seed):
                            made.append(sandbox.driver.create_sync(scenario))
                            time.sleep(pick.uniform(0, 2 * pace))
                    except BaseException as exc:  # surfaced after the run
                        failures.append(exc)

                creator = threading.Thread(target=create, name="buyers", daemon=True)
                creator.start()
                for kill in range(kills):
                    time.sleep(rng.uniform(0.5, 2.0))
                    victim = rng.randrange(2)
                    # Frozen first, so the jobs it holds are read while it can change nothing; its statements
                    # already sent land meanwhile. The take-over is timed from the freeze: dead from then on.
                    if kill != kills // 2:
                        await_jobs(url, processes[victim].pid)
                    processes[victim].send_signal(signal.SIGSTOP)
                    killed_at = time.time()
                    time.sleep(0.2)
                    orphans = orphans_of(url, processes[victim].pid, running_jobs(url))
                    processes[victim].send_signal(signal.SIGKILL)
                    exits.append(processes[victim].wait(timeout=10))
                    if kill == kills // 2:  # the database goes away too, with one replica already dead
                        server.restart()
                        db_restarts += 1
                    else:  # the victim stays down until the other replica has taken over its jobs
                        measure(url, killed_at, orphans, takeovers)
                    processes[victim] = start(settings[victim], None, logs[victim])
                    restarts += 1
                creator.join(timeout=600)
                settled = view.wait(made, settle_timeout)
            finally:
                for process in processes:
                    _stop(process)
            if failures:
                raise failures[0]
            result = tally(view, made)
    finally:
        server.destroy()
    return ReplicaRun(result, crossing, len(exits), restarts, db_restarts, time.monotonic() - started, settled,
                      exits, takeovers)

