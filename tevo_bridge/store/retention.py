"""Retention: old inbox and audit rows of finished business are deleted after ``[store] retention_days``.

Without it the store grows by every webhook body and audit line forever.  What may go, and what
never does, is decided in one SQL statement per table (``SqlStore.prune``); this module only
says when, in batches small enough that the daemon's own writes never wait long behind them.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime, timedelta

from tevo_bridge.clock import iso
from tevo_bridge.log import get_logger
from tevo_bridge.store.aio import AsyncStore
from tevo_bridge.store.base import Store

log = get_logger(__name__)

#: Rows per table per transaction: a few milliseconds of writer time.
BATCH = 500
#: How often the daemon prunes: retention is counted in days, so hourly is plenty.
EVERY_SECONDS = 3600.0


def cutoff(days: float, now: datetime | None = None) -> str:
    """The store timestamp before which rows are old enough to prune."""
    return iso((now or datetime.now(UTC)) - timedelta(days=days), "milliseconds")


def prune_all(store: Store, days: float, batch: int = BATCH) -> dict[str, int]:
    """Prune until nothing old is left (``tevo-bridge store prune``); the rows deleted per table."""
    before = cutoff(days)
    total = {"inbox": 0, "audit": 0}
    while True:
        deleted = store.prune(before, batch)
        for table, count in deleted.items():
            total[table] += count
        if not any(count > 0 for count in deleted.values()):
            return total


async def run_retention(store: AsyncStore, days: float, stop: asyncio.Event, every: float = EVERY_SECONDS,
                        batch: int = BATCH) -> None:
    """The daemon's task: prune at start and then every ``every`` seconds, one batch per store call."""
    while not stop.is_set():
        try:
            before = cutoff(days)
            total = {"inbox": 0, "audit": 0}
            while not stop.is_set():
                deleted = await store.prune(before, batch)
                for table, count in deleted.items():
                    total[table] += count
                if not any(count > 0 for count in deleted.values()):
                    break
            if any(total.values()):
                log.info("store.pruned", retention_days=days, **total)
        except Exception as exc:  # a full disk or a locked file: try again next time, the daemon goes on
            log.warning("store.prune_failed", error=str(exc))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=every)
