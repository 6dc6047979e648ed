"""1,000 mixed orders drained end to end, and the daemon's memory idle and after them.

The daemon runs as ``tevo-bridge run`` in its own process (so its RSS is its own); the TEvo
sandbox runs in this process and plays every buyer: webhooks, Order Integration hold →
invoice (with the ``order_created`` webhook TEvo also sends), releases and refused holds,
fraud checks that answer 0.3 s later.  The clock starts at the first order and stops when
every order is settled in the daemon's store: accepted or rejected at TEvo, invoiced in the
POS, and fulfilled (e-tickets uploaded with only the ordered pages and finalized, FedEx
airbills, pickups, mobile transfers).  The baseline is the rate at which the sandbox alone
creates and announces the same orders, measured in the same run.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import time
from pathlib import Path
from typing import Any

from benchmarks.common import Figure, cpu_seconds, daemon_process
from tevo_bridge.serve import free_port

SETTLED = ("done", "rejected", "canceled", "needs_review")
LOCAL_STATE = {"completed": "done", "accepted": "done", "rejected": "rejected"}

# Twenty orders' worth of the mix (each creates a TEvo order); OI releases and refused holds ride along.
PATTERN = (["office_eticket"] * 5 + ["oi_invoice"] * 4 + ["client_fraud_approved"] * 2
           + ["client_fraud_declined", "multi_item", "fedex", "local_pickup", "tbd_mobile", "page_selection",
              "out_of_stock", "underpriced"])
EXTRAS = ["oi_release", "oi_out_of_stock"]


def mix(orders: int) -> list[str]:
    out: list[str] = []
    for n in range(orders):
        out.append(PATTERN[n % len(PATTERN)])
        if n % len(PATTERN) == len(PATTERN) - 1:
            out.extend(EXTRAS)
    return out


def _states(db: Path, ids: list[int]) -> dict[int, str]:
    conn = sqlite3.connect(db, timeout=30)
    try:
        marks = ",".join("?" * len(ids))
        return dict(conn.execute(f"SELECT id, state FROM orders WHERE id IN ({marks})", ids).fetchall())
    finally:
        conn.close()


async def _create_all(driver: Any, scenarios: list[str]) -> list[Any]:
    from tevo_bridge.sandbox.scenarios import Channel, Scenario

    # One creation at a time: the driver's planner marks seats sold only once an order exists,
    # so a second plan made while a hold is in flight could pick the same seats, and the POS
    # (rightly) refuse one of them.  Buyers still overlap with the daemon's processing.
    gate = asyncio.Lock()

    async def one(name: str) -> Any:
        scenario = Scenario(name)
        channels = ([Channel.ORDER_INTEGRATION, Channel.WEBHOOK] if scenario.uses_order_integration
                    else [Channel.WEBHOOK])
        async with gate:
            return await driver.create(scenario, channels)

    return [await one(s) for s in scenarios]


def run(tmp: Path, quick: bool = False, **sections: dict[str, Any]) -> tuple[list[Figure], dict[str, Any]]:
    from tevo_bridge.loopback.seed import seed_sqlite_mirror
    from tevo_bridge.loopback.stack import API_KEY, WEBHOOK_TOKEN, settings_for
    from tevo_bridge.sandbox.driver import DriverSettings
    from tevo_bridge.sandbox.inventory import generated_inventory
    from tevo_bridge.sandbox.server import running_sandbox

    orders = 100 if quick else 1000
    tmp.mkdir(parents=True, exist_ok=True)
    inventory = generated_inventory(max(150, orders + orders // 5), seed=11)
    pos_db = tmp / "pos.sqlite3"
    seed_sqlite_mirror(pos_db, inventory, tmp / "tickets")
    port = free_port()
    bridge = f"http://127.0.0.1:{port}"
    driver = DriverSettings(webhook_url=f"{bridge}/webhooks/tevo/{WEBHOOK_TOKEN}", oi_base_url=bridge,
                            oi_api_key=API_KEY, retry_scale=0.005, fraud_delay=0.3)
    raw: dict[str, Any] = {"orders_requested": orders, "listings": len(inventory)}
    with running_sandbox(seed=11, driver=driver, inventory=inventory) as sandbox:
        settings = settings_for(sandbox, tmp, pos_db, port, log={"level": "info"}, **sections)
        with daemon_process(settings, tmp / "daemon.log") as daemon:
            time.sleep(3.0)  # idle: started, polled nothing, waiting for work
            raw["rss_idle_mb"] = daemon.rss_mb()
            scenarios = mix(orders)
            cpu_daemon, cpu_self = cpu_seconds(daemon.pid), cpu_seconds(os.getpid())
            started = time.perf_counter()
            made = sandbox._server.submit(_create_all(sandbox.driver, scenarios)).result(timeout=600)
            raw["create_seconds"] = time.perf_counter() - started
            ids = [m.order_id for m in made if m.order_id is not None]
            deadline = time.monotonic() + (120 if quick else 300)
            states: dict[int, str] = {}
            while time.monotonic() < deadline:
                states = _states(settings.store.path, ids)
                if len(states) == len(ids) and all(s in SETTLED for s in states.values()):
                    break
                time.sleep(0.1)
            raw["drain_seconds"] = time.perf_counter() - started
            raw["daemon_cpu_share"] = (cpu_seconds(daemon.pid) - cpu_daemon) / raw["drain_seconds"]
            raw["sandbox_cpu_share"] = (cpu_seconds(os.getpid()) - cpu_self) / raw["drain_seconds"]
            raw["calls"] = _calls(bridge)
            time.sleep(1.0)
            raw["rss_after_mb"] = daemon.rss_mb()
            sandbox.driver.drain_sync(timeout=30)
        raw["orders_created"] = len(ids)
        raw["scenario_calls"] = len(scenarios)
        raw["unsettled"] = sum(1 for i in ids if states.get(i) not in SETTLED)
        wrong = []
        for m in made:
            if m.order_id is None:
                continue
            want = LOCAL_STATE.get(m.expected.final_state or "", None)
            if states.get(m.order_id) != want:
                wrong.append((m.scenario.value, m.order_id, states.get(m.order_id)))
        raw["unexpected_outcomes"] = wrong[:20]
        raw["unexpected_count"] = len(wrong)
        raw["missing_orders"] = sum(1 for m in made if m.order_id is None and m.expected.order_created)
    return figures(raw), raw


def _calls(bridge: str) -> dict[str, Any]:
    """The daemon's own counts at the end of the drain: TEvo calls per endpoint, POS hook calls and their time."""
    import httpx
    from prometheus_client.parser import text_string_to_metric_families

    tevo: dict[str, float] = {}
    pos: dict[str, list[float]] = {}
    for family in text_string_to_metric_families(httpx.get(f"{bridge}/metrics", timeout=10).text):
        for sample in family.samples:
            if sample.name == "tevo_bridge_tevo_calls_total":
                key = sample.labels["endpoint"]
                tevo[key] = tevo.get(key, 0) + sample.value
            elif sample.name in ("tevo_bridge_pos_call_seconds_count", "tevo_bridge_pos_call_seconds_sum"):
                counts = pos.setdefault(sample.labels["hook"], [0.0, 0.0])
                counts[sample.name.endswith("_sum")] += sample.value
    return {"tevo": tevo, "pos": {hook: {"calls": c, "seconds": s} for hook, (c, s) in pos.items()}}


def announced_rate(raw: dict[str, Any]) -> float:
    """Orders the sandbox created and announced per second: the drained rate's unit, so their ratio is the time to
    announce them all ÷ the time until all are settled. (Until 2026-12-05 it counted every scenario call, the OI
    checkouts that make no order too, against orders drained: each ratio was ~0.9× what it should have been.)"""
    orders = raw["orders_created"] if "orders_created" in raw else raw["orders"]
    return float(orders / raw["create_seconds"])


def figures(raw: dict[str, Any]) -> list[Figure]:
    n, secs = raw["orders_created"], raw["drain_seconds"]
    rate = n / secs
    issues = []
    if raw["unsettled"]:
        issues.append(f"{raw['unsettled']} NOT SETTLED")
    if raw["unexpected_count"]:
        issues.append(f"{raw['unexpected_count']} unexpected outcomes, e.g. {raw['unexpected_outcomes'][:3]}")
    if raw["missing_orders"]:
        issues.append(f"{raw['missing_orders']} OI orders not created (hold refused)")
    create_rate = announced_rate(raw)
    return [
        Figure(f"{n} mixed orders drained end to end", rate, "orders/s", create_rate,
               "sandbox creating + announcing them", target="≥ 0.9× the announce rate, every outcome as expected",
               met=rate >= 0.9 * create_rate and not raw["unsettled"] and not raw["unexpected_count"],
               note="; ".join(issues) or f"{secs:.1f} s for {n} orders (+{raw['scenario_calls'] - n} OI "
                                          f"releases/refusals); every outcome as expected"
                                          + ("" if n >= 1000 else f"; 1,000 would take {1000 / rate:.0f} s")),
        Figure("daemon RSS idle", raw["rss_idle_mb"], "MiB", target="< 64 MiB", met=raw["rss_idle_mb"] < 64),
        Figure(f"daemon RSS after {n} orders", raw["rss_after_mb"], "MiB", raw["rss_idle_mb"], "idle",
               target="< 150 MB", met=raw["rss_after_mb"] < 150),
    ]
