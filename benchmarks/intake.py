"""Order Integration hold latency and webhook durable acknowledgements, each against the bare app.

The daemon runs as ``tevo-bridge run`` in its own process over a SQLite POS seeded with a
large stock, the load generator in a third process.  TEvo is a socket that never answers:
the jobs the webhooks queue park a worker instead of competing for the CPU, so these
figures are intake alone (processing is the drain benchmark's subject).
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

from benchmarks.common import (
    API_KEY,
    WEBHOOK_TOKEN,
    Figure,
    bare_process,
    blackhole,
    cpu_seconds,
    daemon_process,
    fsync_rate,
    load,
)
from tevo_bridge.serve import free_port

GROUPS = 64
CONCURRENCY = (1, 16, 64)


def seed_pos(path: Path, groups: int = GROUPS) -> list[str]:
    from tevo_bridge_sqlite_pos import store

    from tevo_bridge.pos.inventory import InventoryRow

    rows = [InventoryRow(remote_id=f"B{n:04d}", event="Benchmark Night", venue="Loopback Arena",
                         occurs_at="2027-06-01T19:30:00Z", section=str(100 + n), row="1", seats=(),
                         quantity=1_000_000, min_price=Decimal("50")) for n in range(groups)]
    store.init_db(path)
    with store.connect(path) as conn:
        store.upsert_ticket_groups(conn, rows)
    return [r.remote_id for r in rows]


def daemon_settings(tmp: Path, pos_db: Path | None, tevo_url: str, port: int, plugin: str = "sqlite_pos",
                    plugin_settings: dict[str, Any] | None = None, store: dict[str, Any] | None = None) -> Any:
    """The daemon's settings for a benchmark: TEvo unreachable-but-silent, retries off, the given POS plugin and
    store (the SQLite file in ``tmp`` unless given)."""
    from tevo_bridge.config import Settings

    return Settings(
        tevo={"base_url": tevo_url, "token": "T" * 32, "secret": "S" * 40, "reviewer_id": 4711, "office_id": 2187,
              "brokerage_id": 2241, "connect_timeout": 5, "read_timeout": 300, "max_retries": 0},
        server={"port": port, "webhook_token": WEBHOOK_TOKEN, "order_integration": {"api_keys": [API_KEY]}},
        store=store or {"path": str(tmp / "state.sqlite3")},
        poller={"enabled": False},
        pipeline={"backoff_base": 300, "backoff_cap": 600},
        fulfillment={"airbill_dir": str(tmp / "airbills")},
        pos={"plugin": plugin},
        plugins={plugin: plugin_settings if plugin_settings is not None else {"database": str(pos_db)}},
        log={"format": "json", "level": "info"},
    )


def _measured(process: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
    """One load run, with the server process's CPU time per request (user + system, all threads)."""
    before = cpu_seconds(process.pid)
    result = load(*args, **kwargs)
    result["server_cpu_ms_per_request"] = (cpu_seconds(process.pid) - before) * 1000 / max(1, result["count"])
    return result


def run(tmp: Path, quick: bool = False) -> tuple[list[Figure], dict[str, Any]]:
    counts = {1: 150, 16: 600, 64: 800} if quick else {1: 500, 16: 3000, 64: 4000}
    webhooks = 600 if quick else 4000
    warmup = 50 if quick else 200
    raw: dict[str, Any] = {"hold": {}, "bare_hold": {}}
    tmp.mkdir(parents=True, exist_ok=True)
    remote_ids = seed_pos(tmp / "pos.sqlite3")
    with blackhole() as tevo, daemon_process(daemon_settings(tmp, tmp / "pos.sqlite3", tevo, free_port()),
                                             tmp / "daemon.log") as daemon:
        for c in CONCURRENCY:
            raw["hold"][c] = _measured(daemon, "hold", daemon.base_url, concurrency=c, count=counts[c], max_seconds=60,
                                  prefix=f"hold-c{c}", remote_ids=remote_ids, warmup=warmup)
        raw["webhook"] = _measured(daemon, "webhook", daemon.base_url, concurrency=16, count=webhooks, max_seconds=60,
                              prefix="wh", warmup=warmup)
    with bare_process(free_port(), tmp / "bare.log") as bare:
        for c in CONCURRENCY:
            raw["bare_hold"][c] = _measured(bare, "hold", bare.base_url, concurrency=c, count=counts[c], max_seconds=60,
                                       prefix=f"bare-c{c}", remote_ids=remote_ids, warmup=warmup)
        raw["bare_webhook"] = _measured(bare, "webhook", bare.base_url, concurrency=16, count=webhooks, max_seconds=60,
                                   prefix="bare-wh", warmup=warmup)
    raw["fsync_per_second"] = fsync_rate(tmp)
    return figures(raw), raw


def _check(result: dict[str, Any], ok: str) -> str:
    bad = {k: v for k, v in result["statuses"].items() if str(k) != ok}
    problems = [f"{v}×{k}" for k, v in bad.items()] + [f"{v}× {k}" for k, v in result["errors"].items()]
    return ("UNEXPECTED: " + ", ".join(problems)) if problems else ""


def figures(raw: dict[str, Any]) -> list[Figure]:
    out: list[Figure] = []
    for c in CONCURRENCY:
        hold, bare = raw["hold"][c], raw["bare_hold"][c]
        for q in ("p50", "p99"):
            target, met = "", None
            if c == 16 and q == "p99":
                target = "≤ 3× bare and < 50 ms"
                met = hold[q] <= 3 * bare[q] and hold[q] < 50
            out.append(Figure(f"OI hold latency {q}, {c} concurrent", hold[q], "ms", bare[q], "bare endpoint",
                              target=target, met=met,
                              note=_check(hold, "200") or f"{hold['rate']:.0f} holds/s vs {bare['rate']:.0f}/s; server CPU "
                                                       f"{hold['server_cpu_ms_per_request']:.2f} ms per hold vs "
                                                       f"{bare['server_cpu_ms_per_request']:.2f} ms"))
    wh, bare = raw["webhook"], raw["bare_webhook"]
    out.append(Figure("webhook durable acks, 16 concurrent", wh["rate"], "acks/s", bare["rate"], "bare endpoint",
                      target="≥ 40% of bare", met=wh["rate"] >= 0.4 * bare["rate"],
                      note=_check(wh, "200") or f"p99 {wh['p99']:.1f} ms vs {bare['p99']:.1f} ms; server CPU "
                                                f"{wh['server_cpu_ms_per_request']:.2f} ms per ack vs "
                                                f"{bare['server_cpu_ms_per_request']:.2f} ms; "
                                                f"disk fsync ceiling {raw['fsync_per_second']:.0f}/s"))
    return out
