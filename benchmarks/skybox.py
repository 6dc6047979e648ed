"""Order Integration hold latency through the SkyBox plugin, against the SkyBox simulator answering each call late.

The daemon runs as ``tevo-bridge run`` in its own process with ``pos.plugin = "skybox_pos"``; the SkyBox
simulator (plugins/skybox_pos) runs in this process with ``latency`` added to every call, as a distant SkyBox
would; the load generator is a third process. A hold makes three SkyBox calls (our hold by ``externalRef`` and
the listing, sent together, then ``POST /holds``): two round trips of waiting, so the baseline is 2 × the
latency, and the figure shows what the plugin and the daemon add on top, and that the p99 stays inside the 3 s
hook budget. The round trips per hook are counted separately, one call of each hook
on a fresh simulator, and reported as a note.
"""

from __future__ import annotations

import os
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

from benchmarks.common import Figure, blackhole, daemon_process, load
from benchmarks.intake import daemon_settings
from tevo_bridge.serve import free_port

LATENCY = 0.05  # seconds per SkyBox call
SEQUENTIAL_TRIPS = 2  # a hold's calls that wait for one another
GROUPS = 16
SEATS = 3000
CONCURRENCY = (1, 8)

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(1, str(ROOT / "plugins" / "skybox_pos"))


def _rows() -> list[Any]:
    from tevo_bridge.pos.inventory import InventoryRow

    seats = tuple(str(s) for s in range(1, SEATS + 1))
    return [InventoryRow(remote_id=str(610000 + n), event="Benchmark Night", venue="Loopback Arena",
                         occurs_at="2027-06-01T19:30:00Z", section=str(100 + n), row="1", seats=seats,
                         quantity=SEATS, min_price=Decimal("50"), format="Physical") for n in range(GROUPS)]


def round_trips_per_hook() -> dict[str, int]:
    """SkyBox calls made by one call of each hook, on a fresh simulator without latency."""
    import tempfile

    from tevo_bridge_skybox_pos import SkyBoxPos
    from tevo_bridge_skybox_pos.simulator import running

    from tevo_bridge.pos.types import Buyer, Hold, Item
    from tevo_bridge.testing.inventory import contract_inventory
    from tevo_bridge.testing.samples import sample_order

    counts: dict[str, int] = {}
    with tempfile.TemporaryDirectory() as folder, running(rows=contract_inventory(Path(folder))) as sim:
        pos = SkyBoxPos(SkyBoxPos.Config.model_validate(sim.plugin_settings(expired_hold_sweep_seconds=3600)))
        client = Buyer("Client", 3381027, "Megan Alvarez", "megan.alvarez@example.com")
        order = sample_order("office_sale_eticket", global_id="G-bench")
        item = order.items[0]
        steps = [
            ("pos_check_inventory", lambda: pos.pos_check_inventory(Item(None, 0, "88213", 1, Decimal(0)))),
            ("pos_accept_price", lambda: pos.pos_accept_price(item)),
            ("pos_find_customer", lambda: pos.pos_find_customer(client)),
            ("pos_create_customer", lambda: pos.pos_create_customer(client)),
            ("pos_hold", lambda: pos.pos_hold(Hold("G-bench", "88213", item.quantity))),
            ("pos_hold (replay)", lambda: pos.pos_hold(Hold("G-bench", "88213", item.quantity))),
            ("pos_create_invoice (consumes the hold)", lambda: pos.pos_create_invoice(order, None)),
            ("pos_ticket_files", lambda: pos.pos_ticket_files(order, item)),
            ("pos_release_hold (nothing left)", lambda: pos.pos_release_hold(Hold("G-bench", "88213", 2))),
        ]
        for name, step in steps:
            before = len(sim.state.calls)
            step()
            counts[name] = len(sim.state.calls) - before
        pos.client.close()
    return counts


def run(tmp: Path, quick: bool = False) -> tuple[list[Figure], dict[str, Any]]:
    from tevo_bridge_skybox_pos.simulator import Faults, SimSettings, running

    counts = {1: 40, 8: 160} if quick else {1: 200, 8: 800}
    tmp.mkdir(parents=True, exist_ok=True)
    raw: dict[str, Any] = {"latency_s": LATENCY, "round_trips": round_trips_per_hook(), "hold": {},
                           "load_average_before": round(os.getloadavg()[0], 2)}
    with running(SimSettings(faults=Faults(latency=LATENCY)), _rows()) as sim, blackhole() as tevo:
        remote_ids = list(sim.pos_ids)
        # Pacing well above the offered load: this measures latency, not the pacer.
        plugin = sim.plugin_settings(calls_per_second=500, burst=100)
        with daemon_process(daemon_settings(tmp, None, tevo, free_port(), "skybox_pos", plugin), tmp / "daemon.log") as daemon:
            for c in CONCURRENCY:
                before = len(sim.state.calls)
                raw["hold"][c] = load("hold", daemon.base_url, concurrency=c, count=counts[c], max_seconds=120,
                                      prefix=f"sky-c{c}", remote_ids=remote_ids, warmup=5)
                raw["hold"][c]["skybox_calls"] = len(sim.state.calls) - before
        raw["load_average_after"] = round(os.getloadavg()[0], 2)
    return figures(raw), raw


def figures(raw: dict[str, Any]) -> list[Figure]:
    trips = raw["round_trips"]
    floor_ms = SEQUENTIAL_TRIPS * raw["latency_s"] * 1000
    per_hook = ", ".join(f"{name} {n}" for name, n in trips.items())
    out: list[Figure] = []
    first = True
    for c in CONCURRENCY:
        hold = raw["hold"][c]
        sent = hold["count"] + 5  # the warm-up holds call SkyBox too
        statuses = ", ".join(f"{v}×{k}" for k, v in sorted(hold["statuses"].items()))
        for q in ("p50", "p99"):
            target, met = "", None
            if q == "p99":
                target = "< 3 s (the pos_hold budget)"
                met = hold[q] < 3000
            out.append(Figure(
                f"SkyBox plugin: OI hold latency {q}, {c} concurrent, {raw['latency_s'] * 1000:.0f} ms per SkyBox call",
                hold[q], "ms", floor_ms, f"{SEQUENTIAL_TRIPS} round trips × {raw['latency_s'] * 1000:.0f} ms",
                target=target, met=met,
                note=f"{hold[q] - floor_ms:.0f} ms above the round trips; {hold['rate']:.1f} holds/s; answers {statuses}; "
                     f"{hold['skybox_calls'] / sent:.2f} SkyBox calls per hold in the run"
                     + (f"; SkyBox calls per hook (one call each, fresh simulator): {per_hook}; machine load average "
                        f"{raw.get('load_average_before', '?')} before, {raw.get('load_average_after', '?')} after "
                        "(other work on the machine shows in the tail)" if first else "")))
            first = False
    return out
