"""Prometheus metrics, defined once so every module counts into the same series.

Counters and histograms live in the process-wide registry. What the store knows (orders, jobs
and holds by state) is not kept in gauges a handler sets: a gauge set for a state is never
unset, so ``needs_review`` stayed at 1 after the order left it and its alert never cleared.
Instead ``StoreCollector`` reports a snapshot read at scrape time, every known state included
(0 when empty), and ``MetricsEndpoint`` owns the registry one app serves.
"""

from __future__ import annotations

import asyncio
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol, TypeVar

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from tevo_bridge.config import Settings
from tevo_bridge.log import get_logger
from tevo_bridge.store.aio import AsyncStore
from tevo_bridge.store.vocabulary import HOLD_STATES, JOB_STATES, ORDER_STATES, StoreStats

log = get_logger(__name__)

TEVO_CALLS = Counter("tevo_bridge_tevo_calls_total", "TEvo API calls by endpoint and outcome", ["endpoint", "outcome"])
TEVO_AUTH_FAILURES = Counter(
    "tevo_bridge_tevo_auth_failures_total",
    "TEvo answers of 401 (token, secret or signature refused): every call fails until a person fixes the credentials",
)
INBOUND = Counter("tevo_bridge_inbound_total", "Inbound requests by channel and outcome", ["channel", "outcome"])
HOLD_LATENCY = Histogram(
    "tevo_bridge_hold_seconds",
    "Order Integration hold answer time",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 3.5, 5),
)
HOLDS_ANSWERED = Counter("tevo_bridge_holds_answered_total",
                         "Order Integration hold answers by outcome (held, unavailable, error)", ["outcome"])
POS_LATENCY = Histogram("tevo_bridge_pos_call_seconds", "POS hook call time", ["hook", "outcome"])
POLL_LAST_SUCCESS = Gauge("tevo_bridge_poll_last_success_timestamp_seconds",
                          "When the poller last finished a cycle without error (Unix time; 0: not yet)")
POLL_INTERVAL = Gauge("tevo_bridge_poll_interval_seconds",
                      "The poller's configured interval (absent while the poller is off)")

# Label values known up front are exported at 0 from the start, so rate() and alerts see the series
# before the first event rather than only after it.
for _outcome in ("held", "unavailable", "error"):
    HOLDS_ANSWERED.labels(_outcome)
for _channel, _outcome in (("webhook", "not_found"), ("webhook", "invalid"), ("order_integration", "unauthorized"),
                           ("order_integration", "invalid")):
    INBOUND.labels(_channel, _outcome)

M = TypeVar("M", Counter, Histogram)
_CHILDREN: dict[tuple[object, ...], Any] = {}


def child(metric: M, *labels: str) -> M:
    """``metric.labels(*labels)``, looked up once: ``labels()`` stringifies the values and takes the metric's
    lock on every call, a few microseconds each on the hold's path. The series stays created lazily (as
    ``labels()`` would), so /metrics exports nothing new; no metric here is ever ``clear()``-ed or ``remove()``-d,
    which would detach a cached child."""
    key = (metric, *labels)
    found = _CHILDREN.get(key)
    if found is None:
        found = _CHILDREN[key] = metric.labels(*labels)
    return found  # _CHILDREN holds Any: what labels() gave for this metric, an M (no typing.cast: a call per use)


@dataclass(frozen=True)
class Snapshot:
    """The store's figures and the store disk's space, as of one scrape."""

    stats: StoreStats | None  # None: the store did not answer
    disk_free_bytes: int | None
    disk_size_bytes: int | None
    taken_at: float


def read_snapshot(store: Any, store_path: Path | None) -> Snapshot:
    """Runs on the store's thread (``AsyncStore.call``): SQL and ``statvfs`` both stay off the event loop.

    ``store_path`` None: the store is a PostgreSQL server, whose disk is not this host's to report.
    """
    stats = store.stats()
    free = size = None
    if store_path is None:
        return Snapshot(stats, free, size, time.time())
    try:
        usage = shutil.disk_usage(store_path.parent if store_path.parent.exists() else Path.cwd())
        free, size = usage.free, usage.total
    except OSError:
        pass
    return Snapshot(stats, free, size, time.time())


class StoreCollector(Collector):
    """Reports the last snapshot handed to it; ``collect`` never touches the store itself."""

    def __init__(self) -> None:
        self.snapshot: Snapshot | None = None

    def collect(self) -> Iterator[GaugeMetricFamily]:
        snap = self.snapshot
        stats = snap.stats if snap else None
        up = GaugeMetricFamily("tevo_bridge_store_up", "1 if the store answered this scrape's queries, else 0")
        up.add_metric([], 1 if stats is not None else 0)
        yield up
        if stats is None or snap is None:
            return  # stale counts would mislead an alert more than missing ones
        yield _by_state("tevo_bridge_orders", "Orders by state", ORDER_STATES, stats.orders)
        yield _by_state("tevo_bridge_jobs", "Jobs by state", JOB_STATES, stats.jobs)
        yield _by_state("tevo_bridge_holds", "Order Integration holds by state", HOLD_STATES, stats.holds)
        age = GaugeMetricFamily("tevo_bridge_oldest_open_order_age_seconds",
                                "Age of the oldest order not done, rejected, canceled or resolved (needs_review "
                                "included); 0 when there is none")
        age.add_metric([], _age(stats.oldest_open_order_seen_at, snap.taken_at))
        yield age
        if snap.disk_free_bytes is not None and snap.disk_size_bytes is not None:
            free = GaugeMetricFamily("tevo_bridge_store_disk_free_bytes",
                                     "Free bytes on the file system of the store (a full disk stops intake)")
            free.add_metric([], snap.disk_free_bytes)
            yield free
            size = GaugeMetricFamily("tevo_bridge_store_disk_size_bytes", "Size of the file system of the store")
            size.add_metric([], snap.disk_size_bytes)
            yield size


def _by_state(name: str, doc: str, known: tuple[str, ...], counts: dict[str, int]) -> GaugeMetricFamily:
    family = GaugeMetricFamily(name, doc, labels=["state"])
    for state in [*known, *sorted(set(counts) - set(known))]:
        family.add_metric([state], counts.get(state, 0))
    return family


def _age(seen_at: str | None, now: float) -> float:
    if not seen_at:
        return 0.0
    try:
        return max(0.0, now - datetime.fromisoformat(seen_at.replace("Z", "+00:00")).timestamp())
    except ValueError:
        return 0.0


class _Global(Collector):
    """The process-wide counters and histograms, folded into an app's own registry."""

    def collect(self) -> Iterator[Any]:
        yield from REGISTRY.collect()


class StoreRuntime(Protocol):
    """Settings and the store: all ``/metrics`` needs (``seams`` builds the other parts' Protocols on it).

    Defined here, not in ``seams``: the TEvo client and the POS host count into this module, and
    ``seams`` names them, so taking it from there would make a circle.
    """

    @property
    def settings(self) -> Settings: ...

    @property
    def store(self) -> AsyncStore: ...


class MetricsEndpoint:
    """One app's ``/metrics``: the process-wide series plus its runtime's store snapshot.

    A registry per app (not the global one) because a test process runs many daemons, each with
    its own store.
    """

    def __init__(self) -> None:
        self.collector = StoreCollector()
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(_Global())
        self.registry.register(self.collector)
        self._refreshing: asyncio.Future[Snapshot] | None = None

    async def render(self, runtime: StoreRuntime) -> bytes:
        """Refresh the snapshot through the store thread (awaited: the loop stays free), then render it.

        Scrapes that arrive while a refresh is in flight share it: a burst of scrapes (the public
        listener is reachable by anyone unless ``admin_port`` is set) costs the store thread, which
        also serves the holds, one set of counts, not one per request.
        """
        if self._refreshing is None:
            self._refreshing = asyncio.ensure_future(self._read(runtime))
            self._refreshing.add_done_callback(self._refreshed)
        self.collector.snapshot = await asyncio.shield(self._refreshing)
        return generate_latest(self.registry)

    def _refreshed(self, _future: Any) -> None:
        self._refreshing = None

    async def _read(self, runtime: StoreRuntime) -> Snapshot:
        try:
            store = runtime.settings.store
            path = None if store.postgres_url else Path(store.path)
            return await runtime.store.call(read_snapshot, runtime.store.sync, path)
        except Exception as exc:  # metrics must answer even when the store does not
            log.warning("metrics.store_unavailable", error=str(exc))
            return Snapshot(None, None, None, time.time())
