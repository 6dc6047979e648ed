"""The notifier: its own task, which fills the outbox and empties it to every ``[notify] urls`` destination.

Each tick: read new transitions from the audit trail into the outbox (``record_from_audit``), record an
outage that lasted ``unhealthy_after`` (and its end) and the day's summary, then claim the due
notifications, at most ``batch_size``, and send them as one message per destination. A destination that
takes a message has its id added to the row's ``sent_to``; a row is ``sent`` once every destination has
it, else due again after a backoff, and ``failed`` after ``MAX_ATTEMPTS``. Nothing here is awaited by the
pipeline: a destination that hangs or fails delays only its own messages. See docs/architecture.md,
"Notifications".
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

from tevo_bridge import health
from tevo_bridge.clock import iso
from tevo_bridge.config import Settings
from tevo_bridge.log import get_logger
from tevo_bridge.notify.messages import compose
from tevo_bridge.notify.send import send
from tevo_bridge.notify_urls import destination_id, masked
from tevo_bridge.store import AsyncStore
from tevo_bridge.store.notifications import NotificationRow
from tevo_bridge.store.retention import cutoff
from tevo_bridge.store.vocabulary import TERMINAL_STATES

log = get_logger(__name__)

#: Transitions are re-read this far behind the cursor: longer than any store transaction takes to commit after
#: it wrote its audit row's time, and than the replicas' clocks may differ (they are kept in sync by NTP).
AUDIT_GRACE = 600.0
#: A notification still failing after this many sends is given up (``failed``); with the backoff below that is
#: about 16 hours of trying.
MAX_ATTEMPTS = 12
BACKOFF_BASE = 30.0
BACKOFF_CAP = 3600.0
PRUNE_EVERY = 3600.0
#: The worker counts as stuck when it has not ticked for this long (as ``/readyz`` says).
WORKER_STALE = 60.0

class Ticking(Protocol):
    @property
    def last_tick(self) -> float: ...  # time.monotonic() of the worker's last loop


def backoff(attempts: int) -> float:
    """Seconds before the next try after ``attempts`` failed ones: doubling from 30 s to an hour, with jitter so
    that replicas and destinations recovering together do not retry in step."""
    delay: float = min(BACKOFF_CAP, BACKOFF_BASE * 2.0 ** max(0, attempts - 1))
    return delay * random.uniform(0.8, 1.2)


@dataclass
class Destination:
    url: str
    id: str
    shown: str  # masked


def destinations(settings: Settings) -> list[Destination]:
    urls = [secret.get_secret_value() for secret in settings.notify.urls]
    return [Destination(url, destination_id(url), masked(url)) for url in urls]


def dashboard_link(settings: Settings) -> str:
    """Where messages link orders: ``[notify] dashboard_url``, else the admin listener when it has an address a
    person on this machine can open (loopback or a named host)."""
    if settings.notify.dashboard_url:
        return settings.notify.dashboard_url
    server = settings.server
    if server.admin_port is None or not settings.dashboard.enabled or server.admin_host in ("0.0.0.0", "::"):
        return ""
    host = f"[{server.admin_host}]" if ":" in server.admin_host else server.admin_host
    return f"http://{host}:{server.admin_port}/dashboard"


class Notifier:
    """One per daemon process; several replicas share the outbox, each row sent by one of them."""

    def __init__(self, settings: Settings, store: AsyncStore, worker: Ticking | None = None, *,
                 interval: float = 5.0) -> None:
        self.settings = settings
        self.store = store
        self.worker = worker
        self.interval = interval
        self.destinations = destinations(settings)
        self.link = dashboard_link(settings)
        self._outages: dict[str, float] = {}  # component -> when its failure began (announced or not)
        self._announced: set[str] = set()
        self._summary_done: str | None = None  # the local date whose summary this process recorded
        self._pruned_at: float | None = None  # time.monotonic() of the last prune

    async def run(self, stop: asyncio.Event) -> None:
        log.info("notify.started", destinations=[d.shown for d in self.destinations])
        while not stop.is_set():
            try:
                await self.tick()
            except Exception as exc:  # the store briefly away: the outbox keeps everything for the next tick
                log.warning("notify.tick_failed", error=str(exc))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=self.interval)

    async def tick(self) -> None:
        recorded = await self.store.record_from_audit(AUDIT_GRACE, 500)
        if recorded:
            log.info("notify.recorded", events=recorded)
        await self.watch_health(time.time())
        await self.daily_summary(datetime.now(UTC))
        await self.prune(time.monotonic())
        while await self.send_due() == self.settings.notify.batch_size:
            pass  # a full batch: more may be waiting

    async def prune(self, now: float) -> None:
        """Hourly, forget the notifications sent or given up more than ``[store] retention_days`` ago (0: keep)."""
        days = self.settings.store.retention_days
        if days <= 0 or (self._pruned_at is not None and now - self._pruned_at < PRUNE_EVERY):
            return
        self._pruned_at = now
        while await self.store.prune_notifications(cutoff(days), 500) == 500:
            pass

    # Sending --------------------------------------------------------------------------------------------

    async def send_due(self) -> int:
        """Claim and send one batch; how many notifications it held."""
        batch = self.settings.notify.batch_size
        lease = self.settings.notify.timeout * 2 + 30  # longer than the sends it covers
        rows = await self.store.claim_notifications(batch, lease)
        if not rows:
            return 0
        results = await asyncio.gather(*(self._deliver(dest, rows) for dest in self.destinations))
        done: dict[int, set[str]] = {row.id: set(row.destinations_done()) for row in rows}
        errors: list[str] = []
        for dest, (sent_ids, error) in zip(self.destinations, results, strict=True):
            for row_id in sent_ids:
                done[row_id].add(dest.id)
            if error:
                errors.append(f"{dest.shown}: {error}")
        for row in rows:
            await self._finish(row, done[row.id], errors)
        return len(rows)

    async def _deliver(self, dest: Destination, rows: list[NotificationRow]) -> tuple[list[int], str | None]:
        """Send ``dest`` the rows it does not have yet, as one message: (the ids it took, the error)."""
        missing = [row for row in rows if dest.id not in row.destinations_done()]
        if not missing:
            return [], None
        title, body = compose(missing, self.link)
        error = await send(dest.url, title, body, self.settings.notify.timeout)
        if error is not None:
            log.warning("notify.send_failed", destination=dest.shown, events=len(missing), error=error)
            return [], error
        log.info("notify.sent", destination=dest.shown, events=len(missing), kinds=sorted({r.kind for r in missing}))
        return [row.id for row in missing], None

    async def _finish(self, row: NotificationRow, done: set[str], errors: Sequence[str]) -> None:
        wanted = {dest.id for dest in self.destinations}
        if wanted <= done:
            state, next_at, error = "sent", time.time(), None
        elif row.attempts >= MAX_ATTEMPTS:
            state, next_at, error = "failed", time.time(), "; ".join(errors)
            log.error("notify.given_up", key=row.key, attempts=row.attempts, error=error)
        else:
            state, next_at, error = "pending", time.time() + backoff(row.attempts), "; ".join(errors)
        await self.store.finish_notification(row, state, sorted(done), next_at, error)

    # Events the notifier notices itself -------------------------------------------------------------------

    async def watch_health(self, now: float) -> None:
        """Record an outage of TEvo, the POS or the worker once it has lasted ``unhealthy_after``, and its end.

        Health is this process's own (``health.py``); the key rounds the outage's start to ``unhealthy_after``,
        so replicas that saw the same outage begin in the same window record it once.
        """
        after = self.settings.notify.unhealthy_after
        for component, (since, error, works) in self._failures(now, after).items():
            if since is None:
                if component in self._announced and not works:
                    continue  # quiet, not proven working: the outage is not over until a call succeeds
                if component in self._announced:
                    await self._record("recovered", component, self._outages[component], after, error=None)
                self._outages.pop(component, None)
                self._announced.discard(component)
                continue
            began = self._outages.setdefault(component, since)
            if now - began >= after and component not in self._announced:
                self._announced.add(component)
                await self._record("unhealthy", component, began, after, error=error, minutes=int((now - began) // 60))

    async def _record(self, kind: str, component: str, began: float, after: float, **extra: object) -> None:
        window = int(began // after)
        payload = {"component": component, "since": iso(datetime.fromtimestamp(began, UTC)), **extra,
                   "advice": ADVICE.get(component, "look at the dashboard's Health panel and the log")}
        if await self.store.record_notification(f"{kind}:{component}:{window}", kind, payload):
            log.warning(f"notify.{kind}", component=component)

    def _failures(self, now: float, after: float) -> dict[str, tuple[float | None, str | None, bool]]:
        """Per component: since when it has been failing (None: it is not), its last error, and whether it is
        proven to work (a success since the outage began, or a worker ticking again)."""
        failures = {"TEvo": _ledger_failure(health.TEVO, now, after),
                    "the POS": _ledger_failure(health.POS, now, after)}
        if self.worker is not None:
            age = time.monotonic() - self.worker.last_tick
            failures["the worker"] = ((now - age, f"no tick for {age:.0f} s", False) if age > WORKER_STALE
                                      else (None, None, True))
        return failures

    async def daily_summary(self, now: datetime) -> None:
        """Record today's summary once it is ``daily_summary_at`` in ``[dashboard] time_zone`` (once a day: its key
        is the date, so every replica and restart records the same one)."""
        at = self.settings.notify.daily_summary_at
        if not at:
            return
        local = now.astimezone(ZoneInfo(self.settings.dashboard.time_zone))
        date = local.date().isoformat()
        if self._summary_done == date or local.strftime("%H:%M") < at:
            return
        payload = await self._summary_payload(now, date)
        await self.store.record_notification(f"daily_summary:{date}", "daily_summary", payload)
        self._summary_done = date

    async def _summary_payload(self, now: datetime, date: str) -> dict[str, object]:
        outcomes: dict[str, int] = {}
        for _hour, state, count in await self.store.order_activity(iso(now - timedelta(days=1))):
            name = "accepted" if state == "invoicing" else state
            outcomes[name] = outcomes.get(name, 0) + count
        stats = await self.store.stats()
        waiting = {state: count for state, count in stats.orders.items() if state not in TERMINAL_STATES and count}
        return {"date": date, "outcomes": outcomes, "waiting": waiting,
                "oldest_open": stats.oldest_open_order_seen_at}


ADVICE = {
    "TEvo": "check the network and [tevo] base_url; `tevo-bridge check --online` proves the credentials",
    "the POS": "check that the POS is up and reachable; `tevo-bridge plugins` shows the plugin's status",
    "the worker": "the daemon's worker is stuck: look at its log, and restart it if it does not recover",
}


def _ledger_failure(ledger: health.Ledger, now: float, after: float) -> tuple[float | None, str | None, bool]:
    """A part is failing while nothing has worked since its first error kept after its last success, and errors
    still come (the newest is younger than ``after``): one stray 404 followed by quiet is not an outage."""
    last_ok = ledger.last_ok or 0.0
    failing = [failure for failure in ledger.errors() if failure.at > last_ok]  # newest first
    if not failing or now - failing[0].at >= after:
        return None, None, bool(ledger.last_ok) and not failing
    return failing[-1].at, failing[0].message, False
