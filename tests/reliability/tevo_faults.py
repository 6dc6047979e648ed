"""Part 2: a TEvo that fails a third of its calls, times out after acting, rate-limits, and mangles webhooks.

The sandbox answers 30% of signed API calls with 500/503 before acting, lets 10%
act and then hang past the bridge's read timeout (the state changed; the bridge
never hears of it), answers some with 429 and ``Retry-After``, and sends
webhooks twice, newest first, or not at all.  The poller (driven here every
second, standing in for its 5-minute interval) must find what webhooks lost.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.reliability.checks import Tally, View, inventory_groups, mixed_scenarios, pos_sections, tally
from tevo_bridge.loopback.stack import stack
from tevo_bridge.sandbox.faults import FaultSettings
from tevo_bridge.sandbox.inventory import generated_inventory

FAULTS = FaultSettings(
    error_rate=0.30, timeout_rate=0.10, hang_seconds=1.5, rate_limit_rate=0.03, retry_after=1,
    webhook_duplicate_rate=0.25, webhook_reorder=True, webhook_reorder_window=0.2, webhook_drop_rate=0.2,
)


@dataclass
class FaultRun:
    tally: Tally
    faults: dict[str, int]
    polls: int
    seconds: float
    settled: bool

    def figures(self) -> dict[str, Any]:
        return {"faults_injected": sum(self.faults.values()), "faults": dict(sorted(self.faults.items())),
                "polls": self.polls, "seconds": round(self.seconds, 1), "settled_in_time": self.settled,
                **self.tally.figures()}


def run_tevo_faults(tmp: Path, orders: int, seed: int = 5, settle_timeout: float = 180.0,
                    pos: str = "sqlite") -> FaultRun:
    """``pos="skybox"``: the SkyBox plugin against its simulator instead of the SQLite sample."""
    started = time.monotonic()
    inventory = generated_inventory(inventory_groups(orders), seed=seed)
    polls = 0
    with pos_sections(pos, inventory, tmp) as (skybox, sections), \
            stack(tmp, faults=FAULTS, seed=seed, inventory=inventory, log_level="info", **sections,
               # Read timeouts shorter than the hang, so a timed-out call is one whose outcome is unknown.
               tevo={"read_timeout": 0.5, "upload_timeout": 1.0, "max_retries": 4},
               # Transient faults must not use up an order's attempts: they are retried, not reviewed.
               pipeline={"max_attempts": 100, "lease_seconds": 30, "backoff_cap": 0.25}) as run:
        made = [run.sandbox.driver.create_sync(s) for s in mixed_scenarios(orders, seed)]
        view = View(run.sandbox, tmp / "state.sqlite3", run.pos_db, skybox)

        def poll() -> None:
            nonlocal polls
            polls += 1
            run.poll()

        settled = view.wait(made, settle_timeout, poll=poll, poll_every=1.0)
        result = tally(view, made)
        counts = dict(run.sandbox.faults.counts)
        counts.pop("latency", None)
    return FaultRun(result, counts, polls, time.monotonic() - started, settled)
