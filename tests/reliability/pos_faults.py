"""Part 3: a POS that raises, one that hangs past its budget, one that is slow, all in one daemon.

The sample SQLite POS is subclassed, and each ticket group is given a temper:
its hooks raise, hang far past their budget, or answer slowly but in time.  The
daemon must answer every Order Integration hold within ``server.hold_budget``,
put the orders it cannot serve in ``needs_review`` with the POS's error, serve
every other order, report the trouble on ``/readyz``, and never exit.
"""

from __future__ import annotations

import concurrent.futures
import json
import time
import uuid
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
from tevo_bridge_sqlite_pos.plugin import SqlitePos

from tests.reliability.checks import View
from tevo_bridge import hookimpl
from tevo_bridge.loopback.stack import API_KEY, stack
from tevo_bridge.pos.host import PluginHost
from tevo_bridge.sandbox.inventory import ETICKET, generated_inventory
from tevo_bridge.sandbox.scenarios import Scenario

HOLD_BUDGET = 1.0
HANG = 4.0  # far past every budget below
SLOW = 0.3  # well inside them
BUDGETS = {"pos_hold": 0.8, "pos_check_inventory": 1.0, "pos_accept_price": 1.0}
RAISED = "POS database is offline (injected)"
KEY = {"X-Api-Key": API_KEY}


class TemperedPos(SqlitePos):
    """The SQLite POS, except for the ticket groups named as raising, hanging or slow."""

    raising: frozenset[str] = frozenset()
    hanging: frozenset[str] = frozenset()
    slow: frozenset[str] = frozenset()

    def _temper(self, remote_id: str) -> None:
        if remote_id in self.raising:
            raise ConnectionError(RAISED)
        if remote_id in self.hanging:
            time.sleep(HANG)
        elif remote_id in self.slow:
            time.sleep(SLOW)

    @hookimpl
    def pos_check_inventory(self, item):
        self._temper(item.remote_id)
        return super().pos_check_inventory(item)

    @hookimpl
    def pos_hold(self, hold):
        self._temper(hold.remote_id)
        return super().pos_hold(hold)

    # Tempers are per ticket group, and a batch shares its fate (one hung group would hang the holds beside it):
    # this POS places checkout holds one by one, as a POS without pos_hold_many does.
    pos_hold_many = None


@dataclass
class PosFaultRun:
    hold_latency: dict[str, float] = field(default_factory=dict)  # the slowest hold answer per temper, seen here
    hold_server_ms: float = 0.0  # the slowest, as the daemon measured it
    hold_status: dict[str, set[int]] = field(default_factory=dict)
    order_states: dict[str, dict[str, int]] = field(default_factory=dict)
    wrong: list[str] = field(default_factory=list)
    review_errors: list[str] = field(default_factory=list)
    readyz: dict[str, Any] = field(default_factory=dict)
    readyz_status: int = 0
    alive: bool = False
    settled: bool = False
    active_holds: int = 0
    seconds: float = 0.0

    def figures(self) -> dict[str, Any]:
        return {"hold_budget": HOLD_BUDGET, "slowest_hold_server_ms": self.hold_server_ms,
                "slowest_hold_client_s": {k: round(v, 2) for k, v in self.hold_latency.items()},
                "hold_status": {k: sorted(v) for k, v in self.hold_status.items()},
                "order_states": self.order_states, "wrong": len(self.wrong), "readyz_status": self.readyz_status,
                "alive": self.alive, "settled": self.settled, "active_holds": self.active_holds,
                "seconds": round(self.seconds, 1)}


def run_pos_faults(tmp: Path, orders_per_temper: int = 3, holds_per_temper: int = 4) -> PosFaultRun:
    started = time.monotonic()
    result = PosFaultRun()
    inventory = [g for g in generated_inventory(60, seed=3) if g.format == ETICKET][:24]
    groups = [g.remote_id for g in inventory]
    tempers = {"raising": groups[0:6], "hanging": groups[6:12], "slow": groups[12:18], "sound": groups[18:24]}

    class Pos(TemperedPos):
        raising = frozenset(tempers["raising"])
        hanging = frozenset(tempers["hanging"])
        slow = frozenset(tempers["slow"])

    def host(pos_db: Path) -> PluginHost:
        return PluginHost("sqlite_pos", Pos(Pos.Config(database=pos_db)), BUDGETS)

    temper_of = {remote_id: name for name, ids in tempers.items() for remote_id in ids}
    with stack(tmp, inventory=inventory, pos_host=host, log_level="info",
               server={"hold_budget": HOLD_BUDGET, "admin_port": 0},
               pipeline={"max_attempts": 2, "backoff_base": 0.05, "backoff_cap": 0.1}) as run:
        base = run.daemon.base_url
        # Holds, all tempers at once, so a hung POS call cannot hide behind a quiet moment.
        requests = [(name, remote_id) for name, ids in tempers.items() for remote_id in ids[:holds_per_temper]]
        # One client, connections opened ahead: creating an httpx client costs more than a hold answer.
        limits = httpx.Limits(max_connections=len(requests), max_keepalive_connections=len(requests))
        with httpx.Client(base_url=base, limits=limits, timeout=30) as client, \
                concurrent.futures.ThreadPoolExecutor(len(requests)) as pool:
            list(pool.map(lambda _: client.get("/livez"), requests))
            answers = list(pool.map(lambda r: (r[0], r[1], *_timed_hold(client, r[1])), requests))
        held = []
        for name, remote_id, status, seconds, global_id in answers:
            result.hold_status.setdefault(name, set()).add(status)
            result.hold_latency[name] = max(result.hold_latency.get(name, 0.0), seconds)
            if status == 200:
                held.append((remote_id, global_id))
        result.hold_server_ms = _server_hold_ms(tmp / "daemon.log")
        # Free the holds that were granted: TEvo would invoice or release them.
        for _remote_id, global_id in held:
            httpx.post(f"{base}/order-integration/holds/{global_id}/release", json={}, headers=KEY, timeout=10)
        # Webhook orders, a few on each temper's listings (the planner picks among the listings it is given).
        planner = run.sandbox.driver.planner
        made = []
        for name in tempers:
            planner.inventory = [g for g in inventory if g.remote_id in tempers[name]]
            made += [run.sandbox.driver.create_sync(Scenario.OFFICE_ETICKET) for _ in range(orders_per_temper)]
        view = View(run.sandbox, tmp / "state.sqlite3", run.pos_db)
        # Settled, and no hold left: the late-finishing holds of the hung POS were released.
        result.settled = view.wait(made, timeout=60)
        result.active_holds = view.active_holds()
        for order in made:
            remote_ids = {item["remote_id"] for item in run.sandbox.inspect(order.order_id)["items"].values()}
            name = max((temper_of[r] for r in remote_ids), key=list(tempers).index)
            row = run.store.get_order(order.order_id)
            state = row.state if row else "missing"
            result.order_states.setdefault(name, {}).setdefault(state, 0)
            result.order_states[name][state] += 1
            want = "needs_review" if name in ("raising", "hanging") else "done"
            if state != want:
                result.wrong.append(f"order {order.order_id} ({name}): {state}, last error {row and row.last_error}")
            elif want == "needs_review":
                result.review_errors.append(row.last_error or "")
        # A fresh failure, so /readyz shows the trouble whatever the trouble window.
        with httpx.Client(base_url=base, timeout=30) as client:
            _timed_hold(client, tempers["raising"][1])
        ready = httpx.get(f"{run.daemon.admin_url}/readyz", timeout=10)  # the public one gives no details
        result.readyz_status, result.readyz = ready.status_code, ready.json()
        result.alive = (run.daemon.server.started and not run.daemon.server.should_exit
                        and httpx.get(f"{base}/livez", timeout=10).status_code == 200)
    result.seconds = time.monotonic() - started
    return result


def _timed_hold(client: httpx.Client, remote_id: str) -> tuple[int, float, str]:
    global_id = str(uuid.uuid4())
    body = {"remote_id": remote_id, "quantity": 1, "global_id": global_id, "price": str(Decimal("1000"))}
    began = time.monotonic()
    response = client.post("/order-integration/holds", json=body, headers=KEY)
    return response.status_code, time.monotonic() - began, global_id


def _server_hold_ms(log: Path) -> float:
    """The slowest hold as the daemon measured it, from the request to its committed answer."""
    slowest = 0.0
    for line in log.read_text().splitlines():
        if '"oi.hold"' in line:
            slowest = max(slowest, json.loads(line)["ms"])
    return slowest
