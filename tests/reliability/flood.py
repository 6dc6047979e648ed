"""Part 5 (load): a request flood on loopback, bounded in count and time, degrades gracefully.

Webhooks for distinct orders and Order Integration holds are fired from many
threads at once.  Every answer must be a 2xx or a clean 503 (TEvo retries); no
connection may be dropped; and every event the daemon acknowledged must be in
its store afterwards: nothing accepted is lost.
"""

from __future__ import annotations

import concurrent.futures
import sqlite3
import statistics
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from tevo_bridge.loopback.stack import API_KEY, WEBHOOK_TOKEN, stack, webhook_form

FORM = {"Content-Type": "application/x-www-form-urlencoded"}


@dataclass
class FloodRun:
    sent: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    dropped: int = 0  # no HTTP answer at all
    acknowledged: int = 0
    lost: int = 0  # acknowledged, yet not in the store
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    alive: bool = False

    def figures(self) -> dict[str, Any]:
        ordered = sorted(self.latencies) or [0.0]
        return {"requests": self.sent, "statuses": dict(sorted(self.statuses.items())), "dropped": self.dropped,
                "acknowledged": self.acknowledged, "lost": self.lost, "seconds": round(self.seconds, 1),
                "per_second": round(self.sent / self.seconds, 1) if self.seconds else 0,
                "median_ms": round(statistics.median(ordered) * 1000, 1),
                "p99_ms": round(ordered[int(0.99 * (len(ordered) - 1))] * 1000, 1), "alive": self.alive}


def run_flood(tmp: Path, requests: int, concurrency: int = 32, time_limit: float = 60.0) -> FloodRun:
    result = FloodRun()
    lock = threading.Lock()
    acknowledged_orders: list[int] = []
    acknowledged_holds: list[str] = []
    with stack(tmp, log_level="info", pipeline={"max_attempts": 1}) as run:
        base = run.daemon.base_url
        deadline = time.monotonic() + time_limit
        limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
        with httpx.Client(base_url=base, limits=limits, timeout=30) as client:

            def one(n: int) -> None:
                if time.monotonic() > deadline:
                    return
                began = time.monotonic()
                try:
                    if n % 5 == 4:
                        global_id = f"flood-{n}"
                        response = client.post("/order-integration/holds", headers={"X-Api-Key": API_KEY},
                                               json={"remote_id": "88702", "quantity": 1, "global_id": global_id})
                        ok = response.status_code in (200, 409)
                        key: Any = global_id
                    else:
                        order_id = 800_000_000 + n
                        order = {"id": order_id, "oid": f"{order_id}-1", "updated_at": "2026-01-01T00:00:00Z"}
                        response = client.post(f"/webhooks/tevo/{WEBHOOK_TOKEN}", content=webhook_form(order),
                                               headers=FORM)
                        ok = response.status_code == 200
                        key = order_id
                except httpx.TransportError:
                    with lock:
                        result.sent += 1
                        result.dropped += 1
                    return
                with lock:
                    result.sent += 1
                    result.statuses[response.status_code] += 1
                    result.latencies.append(time.monotonic() - began)
                    if ok:
                        result.acknowledged += 1
                        (acknowledged_holds if isinstance(key, str) else acknowledged_orders).append(key)

            started = time.monotonic()
            with concurrent.futures.ThreadPoolExecutor(concurrency) as pool:
                list(pool.map(one, range(requests)))
            result.seconds = time.monotonic() - started
        result.lost = _missing(tmp / "state.sqlite3", acknowledged_orders, acknowledged_holds)
        result.alive = httpx.get(f"{base}/livez", timeout=10).status_code == 200
    return result


def _missing(store_db: Path, orders: list[int], holds: list[str]) -> int:
    conn = sqlite3.connect(f"file:{store_db}?mode=ro", uri=True, timeout=30)
    try:
        stored_orders = {row[0] for row in conn.execute("SELECT order_id FROM inbox WHERE channel = 'webhook'")}
        stored_holds = {row[0] for row in conn.execute("SELECT global_id FROM holds WHERE response IS NOT NULL")}
    finally:
        conn.close()
    return len(set(orders) - stored_orders) + len(set(holds) - stored_holds)
