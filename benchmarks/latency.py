"""Order created at the sandbox → accepted at TEvo: the webhook path (real clock) vs the poll-only path.

Both run on the loopback stack (``tevo_bridge.loopback.stack``: sandbox, daemon and SQLite POS in
this process), one order at a time, so each figure is a latency, not a queue.  The webhook path is
timed end to end on the real clock.  The poll path is simulated: waiting for the next poll is not
measured but computed (TEvo's advice is a poll every 300 s, and an order arriving at a uniformly
random moment waits 150 s on average, 150 s at the median and up to 300 s), and the processing
after the poll is measured for real: one poll cycle, then re-fetch, checks, accept.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from benchmarks.common import Figure, median, percentile

POLL_INTERVAL = 300.0


def _accepted(run: Any, order_id: int) -> bool:
    world = run.sandbox.world
    with world.lock:
        return world.orders[order_id]["seller_state"] != "pending"


def _time_to_accept(run: Any, order_id: int, started: float, timeout: float = 30.0) -> float:
    while time.perf_counter() - started < timeout:
        if _accepted(run, order_id):
            return time.perf_counter() - started
        time.sleep(0.001)
    raise TimeoutError(f"order {order_id} was not accepted within {timeout} s")


def run(tmp: Path, quick: bool = False) -> tuple[list[Figure], dict[str, Any]]:
    from tevo_bridge.loopback.stack import stack
    from tevo_bridge.sandbox.inventory import generated_inventory
    from tevo_bridge.sandbox.scenarios import Channel, Scenario

    orders = 8 if quick else 40
    tmp.mkdir(parents=True, exist_ok=True)
    webhook: list[float] = []
    processing: list[float] = []
    with stack(tmp, inventory=generated_inventory(6 * orders, seed=5), log_level="info") as run:
        for _ in range(orders):
            started = time.perf_counter()
            made = run.sandbox.driver.create_sync(Scenario.OFFICE_ETICKET, [Channel.WEBHOOK])
            webhook.append(_time_to_accept(run, made.order_id, started))
            run.wait_settled([made.order_id])
        for _ in range(orders):
            made = run.sandbox.driver.create_sync(Scenario.OFFICE_ETICKET, [Channel.POLL])
            started = time.perf_counter()  # the poll happens now: what follows is measured
            run.poll()
            processing.append(_time_to_accept(run, made.order_id, started))
            run.wait_settled([made.order_id])
    raw = {"webhook_s": webhook, "poll_processing_s": processing}
    return figures(raw), raw


def figures(raw: dict[str, Any]) -> list[Figure]:
    webhook, processing = raw["webhook_s"], raw["poll_processing_s"]
    w50, p50 = median(webhook), median(processing)
    poll_median = POLL_INTERVAL / 2 + p50
    return [
        Figure("created → accepted, webhook path (median)", w50, "s", poll_median, "poll-only path at 300 s",
               target="median < 1 s", met=w50 < 1.0,
               note=f"real clock, {len(webhook)} orders; p99 {percentile(webhook, 99):.3f} s, "
                    f"max {max(webhook):.3f} s"),
        Figure("created → accepted, poll-only path (median)", poll_median, "s",
               note=f"simulated wait (uniform in 300 s: median 150 s, worst 300 s) + measured processing "
                    f"{p50 * 1000:.0f} ms median (p99 {percentile(processing, 99) * 1000:.0f} ms); "
                    f"worst case {POLL_INTERVAL + max(processing):.1f} s"),
    ]
