"""Polling, the fail-safe channel (docs/tevo-api.md §8): find what webhooks and Order Integration missed."""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any

from tevo_bridge import health
from tevo_bridge.log import get_logger
from tevo_bridge.metrics import INBOUND, POLL_INTERVAL, POLL_LAST_SUCCESS
from tevo_bridge.store import Event
from tevo_bridge.tevo.errors import TevoError

if TYPE_CHECKING:  # annotations only: tevo_bridge.seams imports modules that import this one
    from tevo_bridge.seams import PollerRuntime

log = get_logger(__name__)

# Orders in these local states need nothing more from a poll (needs_review waits for a human).
SETTLED = frozenset({"done", "rejected", "canceled", "needs_review", "resolved"})


async def poll_once(runtime: PollerRuntime) -> int:
    """One cycle: pending orders to decide, accepted ones to invoice and fulfil.  Returns orders queued."""
    settings = runtime.settings.poller
    queued = 0
    for state in ("pending", "accepted"):
        filters: dict[str, Any] = {"state": state, "type": "Order"}  # `type` is case-sensitive (§3.2)
        if settings.direct_buyer_type:
            filters["direct_buyer_type"] = settings.direct_buyer_type
        if runtime.settings.tevo.office_id:
            filters["seller_id"] = runtime.settings.tevo.office_id
        orders = [o async for o in runtime.tevo.iter_orders(settings.per_page, settings.max_pages, **filters)]
        known = await runtime.store.known_order_states([o.id for o in orders])
        for order in orders:
            if known.get(order.id) in SETTLED:
                continue
            # updated_at has one-second resolution: the state and fraud status make a change visible anyway.
            key = f"poll:{order.id}:{order.updated_at}:{order.seller_state}:{order.fraud_check_status}"
            event = Event("poll", state, key, f'{{"id":{order.id}}}', order_id=order.id)
            if await runtime.store.record_event(event):
                queued += 1
                INBOUND.labels("poll", "queued").inc()
    if queued:
        runtime.wake()
    return queued


def lead_seconds(interval: float) -> float:
    """The poller's lease outlasts one interval plus a long poll, so the leader renews it in time; a follower
    takes over at most this long after the leader died."""
    return 2 * interval + 60


async def run_poller(runtime: PollerRuntime, stop: asyncio.Event) -> None:
    """Poll at start-up (to close the gap left by downtime), then every interval.

    With replicas on one PostgreSQL store, only the holder of the ``poller`` lease polls (the others
    check each interval whether it lapsed); on SQLite the one daemon always leads.
    """
    interval = runtime.settings.poller.interval
    POLL_INTERVAL.set(interval)
    while not stop.is_set():
        try:
            if not await runtime.store.try_lead("poller", runtime.replica_id, lead_seconds(interval)):
                log.debug("poll.follower", reason="another replica holds the poller lease")
                await _wait(stop, interval)
                continue
            queued = await poll_once(runtime)
            POLL_LAST_SUCCESS.set(time.time())
            health.POLLER.ok()
            log.info("poll.done", queued=queued)
        except TevoError as exc:
            log.warning("poll.failed", error=str(exc))
            health.POLLER.failed(str(exc))
        except Exception as exc:  # the poller must outlive any one bad cycle
            log.exception("poll.crashed", error=str(exc))
            health.POLLER.failed(f"{type(exc).__name__}: {exc}")
        await _wait(stop, interval)


async def _wait(stop: asyncio.Event, seconds: float) -> None:
    try:
        await asyncio.wait_for(stop.wait(), timeout=seconds)
    except TimeoutError:
        pass
