"""The buyer driver: TEvo's side of a sale, from checkout to the seller's notification.

It creates orders per scenario, then announces them the way TEvo does: a
form-encoded webhook retried on TEvo's schedule, Order Integration calls
(hold, then invoice or release), or nothing at all (polling).  It runs on the
sandbox's own event loop, so callers on any thread or loop can use it: ``await
driver.create(...)`` from async code, ``driver.create_sync(...)`` otherwise.
Every call it makes, and every answer, is kept in ``deliveries``.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import dataclasses
import json
import random
import threading
import time
import uuid
from collections.abc import Coroutine, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar
from urllib.parse import urlencode

import httpx

from tevo_bridge.sandbox.faults import Fault, FaultInjector
from tevo_bridge.sandbox.inventory import TicketGroupSpec
from tevo_bridge.sandbox.orders import OrderRequest
from tevo_bridge.sandbox.scenarios import CONSUMES_STOCK, CancelAt, Channel, Expectation, Pick, Planner, Scenario
from tevo_bridge.sandbox.state import World

T = TypeVar("T")

TEVO_RETRY_SCHEDULE = (10.0, 120.0, 600.0, 3600.0)  # seconds between webhook attempts (§6.1, older revision)
HOLD_PATH = "/order-integration/holds"
RELEASE_PATH = "/order-integration/holds/{global_id}/release"
INVOICE_PATH = "/order-integration/invoices"
#: The seller webhook of a cancel. TEvo's wiki has only the heading "Order Canceled"; the string is Assumed
#: (docs/tevo-api.md §6.1), and tevo-bridge acts on it as it does on any order event: by re-fetching the order.
CANCEL_EVENT = "order_canceled"
#: The seller states of a canceled order (docs/tevo-api.md §3.3).
CANCELED_STATES = ("canceled", "canceled_open", "canceled_post_acceptance")


@dataclass
class DriverSettings:
    webhook_url: str | None = None
    oi_base_url: str | None = None  # the bridge's base URL; the §7.3 paths are appended
    oi_api_key: str | None = None
    retry_scale: float = 1.0  # multiplies TEvo's retry schedule; tests use e.g. 0.001
    retry_schedule: tuple[float, ...] = TEVO_RETRY_SCHEDULE
    fraud_delay: float = 60.0  # seconds until Riskified answers a pending Client sale
    cancel_wait: float = 60.0  # how long a cancel after delivery waits for TEvo to say completed
    hold_timeout: float = 30.0  # TEvo waits this long for a hold at checkout (§7.1: up to 30 s)
    http_timeout: float = 10.0


@dataclass
class Delivery:
    """One attempt to reach the seller: a webhook POST or an Order Integration call."""

    kind: str  # webhook, hold, invoice or release; cancel for a cancel after delivery that never came
    url: str
    event_type: str | None
    order_id: int | None
    global_id: str | None
    attempt: int
    status: int | None = None
    response: Any = None
    error: str | None = None
    outcome: str = "sent"  # sent, failed, dropped, duplicate, gave_up
    at: str = ""
    payload: Any = None


@dataclass
class DriverOrder:
    """What one scenario produced: the TEvo order (if any) and how it was announced."""

    scenario: Scenario
    channels: frozenset[Channel]
    order_id: int | None
    order_group_id: str | None = None
    global_id: str | None = None
    hold_status: int | None = None
    hold_response: Any = None
    cancel: CancelAt | None = None
    expected: Expectation = field(init=False)

    def __post_init__(self) -> None:
        self.expected = self.scenario.expected if self.cancel is None else self.cancel.expect(self.scenario.expected)

    def to_json(self) -> dict[str, Any]:
        return {"scenario": self.scenario.value, "channels": sorted(c.value for c in self.channels),
                "order_id": self.order_id, "order_group_id": self.order_group_id, "global_id": self.global_id,
                "cancel": self.cancel.value if self.cancel else None,
                "hold_status": self.hold_status, "hold_response": self.hold_response,
                "expected_state": self.expected.final_state, "expected_reject_reason": self.expected.reject_reason}


class BuyerDriver:
    def __init__(
        self,
        world: World,
        inventory: list[TicketGroupSpec],
        loop: asyncio.AbstractEventLoop,
        settings: DriverSettings | None = None,
        faults: FaultInjector | None = None,
        seed: int | None = None,
    ) -> None:
        self.world = world
        self.settings = settings or DriverSettings()
        self.faults = faults or FaultInjector()
        self.planner = Planner(inventory, sold=sold_seats(world))
        self._loop = loop
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self._deliveries: list[Delivery] = []
        self._tasks: set[asyncio.Task[Any]] = set()
        self._burst: list[tuple[list[tuple[str, str]], str, int | None]] = []
        self._http: httpx.AsyncClient | None = None

    # -- public API: usable from any thread or event loop ------------------------------------

    async def create(self, scenario: Scenario | str, channels: Iterable[Channel | str] | None = None,
                     pick: Pick | None = None, cancel: CancelAt | str | None = None) -> DriverOrder:
        """Create one order of a scenario (from the listing of ``pick``, if given) and start announcing it;
        ``cancel``: when TEvo cancels it."""
        moment = _cancel_at(scenario, cancel)
        return await self._on_loop(self._create(Scenario(scenario), _channels(scenario, channels), pick, moment))

    def create_sync(self, scenario: Scenario | str, channels: Iterable[Channel | str] | None = None,
                    pick: Pick | None = None, cancel: CancelAt | str | None = None) -> DriverOrder:
        return self._submit(self._create(Scenario(scenario), _channels(scenario, channels), pick,
                                         _cancel_at(scenario, cancel))).result()

    def configured_channels(self, scenario: Scenario | str) -> frozenset[Channel] | None:
        """The channels this driver can use for a scenario; None when it cannot announce it at all."""
        scenario = Scenario(scenario)
        if scenario.uses_order_integration:
            return frozenset({Channel.ORDER_INTEGRATION}) if self.settings.oi_base_url else None
        return frozenset({Channel.WEBHOOK if self.settings.webhook_url else Channel.POLL})

    async def create_each(self, channels: Iterable[Channel | str] | None = None) -> list[DriverOrder]:
        """One order of every scenario, in declaration order."""
        return [await self.create(s, channels) for s in Scenario]

    async def cancel(self, order_id: int, state: str = "canceled", reason: str | None = None) -> dict[str, Any]:
        """TEvo cancels an order (any state, delivered included) and tells the seller by webhook.

        ``KeyError`` for an order the world does not have; ``ValueError`` for one already closed.
        """
        return await self._on_loop(self._cancel(order_id, state, reason))

    def cancel_sync(self, order_id: int, state: str = "canceled", reason: str | None = None) -> dict[str, Any]:
        return self._submit(self._cancel(order_id, state, reason)).result()

    async def send_catalog_event(self, group: TicketGroupSpec | None = None) -> None:
        """A catalog notification on the same URL; a receiver must answer 2xx and ignore it (§6.1)."""
        await self._on_loop(self._catalog(group))

    def send_catalog_event_sync(self, group: TicketGroupSpec | None = None) -> None:
        self._submit(self._catalog(group)).result()

    async def drain(self, timeout: float = 30.0) -> None:
        """Wait until every pending retry, fraud decision and buffered webhook is done."""
        await self._on_loop(self._drain(), timeout)

    def drain_sync(self, timeout: float = 30.0) -> None:
        self._submit(self._drain()).result(timeout)

    @property
    def deliveries(self) -> list[Delivery]:
        with self._lock:
            return list(self._deliveries)

    def webhooks(self, event_type: str | None = None) -> list[Delivery]:
        return [d for d in self.deliveries if d.kind == "webhook" and event_type in (None, d.event_type)]

    def oi_calls(self, kind: str | None = None) -> list[Delivery]:
        return [d for d in self.deliveries if d.kind in ("hold", "invoice", "release") and kind in (None, d.kind)]

    async def aclose(self) -> None:
        """Cancel background work; called by the server on stop, on the sandbox loop."""
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._http is not None:
            await self._http.aclose()

    # -- running on the sandbox loop -------------------------------------------------------

    def _submit(self, coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        return asyncio.run_coroutine_threadsafe(coro, self._loop)

    async def _on_loop(self, coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is self._loop:
            return await asyncio.wait_for(coro, timeout)
        return await asyncio.wait_for(asyncio.wrap_future(self._submit(coro)), timeout)

    def _spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        task = self._loop.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _drain(self) -> None:
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    def _client(self) -> httpx.AsyncClient:
        if self._http is None:
            self._http = httpx.AsyncClient(timeout=self.settings.http_timeout)
        return self._http

    # -- scenarios --------------------------------------------------------------------------

    async def _create(self, scenario: Scenario, channels: frozenset[Channel], pick: Pick | None = None,
                      cancel: CancelAt | None = None) -> DriverOrder:
        if Channel.WEBHOOK in channels and not self.settings.webhook_url:
            raise ValueError("webhook announcements need DriverSettings.webhook_url")
        request = self.planner.plan(scenario, pick)
        if Channel.ORDER_INTEGRATION in channels:
            return await self._order_integration(scenario, channels, request)
        order = self.world.create_order(request)
        self.planner.commit(scenario, request)
        result = DriverOrder(scenario, channels, order["id"], _group_id(order), cancel=cancel)
        if cancel is CancelAt.BEFORE_INVOICE:  # TEvo (or the buyer) cancels before the seller heard of it
            order = self.world.cancel_order(order["id"], "canceled", "canceled before the seller acted")
        if Channel.WEBHOOK in channels:
            self._webhook("order_created", order)
        if cancel is CancelAt.BEFORE_INVOICE:
            if Channel.WEBHOOK in channels:
                self._webhook(CANCEL_EVENT, order)
            return result
        if cancel is CancelAt.AFTER_DELIVERY:
            self._spawn(self._cancel_once_completed(order["id"]))
        if request.fraud_check_status == "pending":
            verdict = "declined" if scenario is Scenario.CLIENT_FRAUD_DECLINED else "approved"
            self._spawn(self._fraud_decision(order["id"], verdict, channels))
        return result

    async def _fraud_decision(self, order_id: int, verdict: str, channels: frozenset[Channel]) -> None:
        """Riskified answers later; each update fires ``fraud_response_received`` (§3.5)."""
        await asyncio.sleep(self.settings.fraud_delay)
        order = self.world.set_fraud_status(order_id, verdict)
        if Channel.WEBHOOK in channels:
            self._webhook("fraud_response_received", order)

    async def _order_integration(self, scenario: Scenario, channels: frozenset[Channel],
                                 request: OrderRequest) -> DriverOrder:
        """Hold first; only a held quantity becomes an (already accepted) order (§7.1)."""
        if not self.settings.oi_base_url:
            raise ValueError("Order Integration needs DriverSettings.oi_base_url")
        if len(request.items) != 1:
            raise ValueError("an Order Integration hold covers one ticket group; pick a single-item scenario")
        # Whatever the scenario, an order made after a hold arrives already accepted (§7.1).
        request = dataclasses.replace(request, seller_state="accepted", was_auto_accepted=True)
        item = request.items[0]
        global_id = self._new_global_id()
        hold = {"remote_id": item.group.remote_id, "quantity": item.quantity, "global_id": global_id,
                "price": str(item.price), "ticket_group_id": item.group.ticket_group_id}
        status, answer = await self._oi_once("hold", HOLD_PATH, hold, None, global_id, self.settings.hold_timeout)
        result = DriverOrder(scenario, channels, None, global_id=global_id, hold_status=status, hold_response=answer)
        if status is None or status >= 500:
            # No answer, or an error: the seller may hold the tickets all the same (it died after holding, say).
            # Free them, as a careful integrator would, and sell those seats to nobody else meanwhile: until the
            # release lands, the seller rightly refuses them to another buyer.
            self.planner.set_aside(request)
            for held in request.items:
                self.world.put_aside(held.group.remote_id, held.seats)
            path = RELEASE_PATH.format(global_id=global_id)
            self._spawn(self._oi_with_retries("release", path, {"global_id": global_id}, None, global_id))
            return result
        if status != 200 or not isinstance(answer, dict) or answer.get("status") != "held":
            return result  # the buyer is told; no order exists
        if scenario is Scenario.OI_RELEASE:
            # TEvo failed to create the order, so it frees the hold instead of invoicing.
            path = RELEASE_PATH.format(global_id=global_id)
            self._spawn(self._oi_with_retries("release", path, {"global_id": global_id}, None, global_id))
            return result
        order = self.world.create_order(request)
        self.planner.commit(scenario, request)
        result.order_id, result.order_group_id = order["id"], _group_id(order)
        if Channel.WEBHOOK in channels:
            self._webhook("order_created", order)
        invoice = {"order_id": order["id"], "global_id": global_id}
        self._spawn(self._oi_with_retries("invoice", INVOICE_PATH, invoice, order["id"], global_id))
        return result

    def _new_global_id(self) -> str:
        """A hold id never used before, in this run or one before a restart (the seeded draw repeats)."""
        while True:
            global_id = str(uuid.UUID(int=self._rng.getrandbits(128), version=4))
            if self.world.claim_hold_id(global_id):
                return global_id

    async def _cancel_once_completed(self, order_id: int) -> None:
        """Cancel after delivery: wait (up to ``cancel_wait``) for TEvo to say completed, then cancel."""
        deadline = time.monotonic() + self.settings.cancel_wait
        while time.monotonic() < deadline:
            order = self.world.order(order_id)
            if order is not None and order["seller_state"] == "completed":
                await self._cancel(order_id, "canceled_post_acceptance", "canceled after delivery")
                return
            await asyncio.sleep(0.05)
        self._log(Delivery("cancel", "", CANCEL_EVENT, order_id, None, 0, outcome="gave_up", at=_now(),
                           error=f"never completed within {self.settings.cancel_wait:g} s"))

    async def _cancel(self, order_id: int, state: str, reason: str | None) -> dict[str, Any]:
        if state not in CANCELED_STATES:
            raise ValueError(f"state must be one of {', '.join(CANCELED_STATES)}, not {state!r}")
        with self.world.lock:  # the check and the cancel as one step: an API call may change the order meanwhile
            current = self.world.order(order_id)
            if current is None:
                raise KeyError(order_id)
            if current["seller_state"] in (*CANCELED_STATES, "rejected"):
                raise ValueError(f"order {order_id} is already {current['seller_state']}: there is nothing to cancel")
            order = self.world.cancel_order(order_id, state, reason)
        if self.settings.webhook_url:
            self._webhook(CANCEL_EVENT, order)
        return order

    # -- Order Integration transport -----------------------------------------------------------

    async def _oi_once(self, kind: str, path: str, body: dict[str, Any], order_id: int | None, global_id: str,
                       timeout: float | None = None, attempt: int = 1) -> tuple[int | None, Any]:
        base = self.settings.oi_base_url
        if base is None:  # _order_integration refuses this before any call
            raise ValueError("Order Integration needs DriverSettings.oi_base_url")
        url = base.rstrip("/") + path
        headers = {"X-Api-Key": self.settings.oi_api_key or ""}
        entry = Delivery(kind, url, None, order_id, global_id, attempt, at=_now(), payload=body)
        try:
            response = await self._client().post(url, json=body, headers=headers,
                                                 timeout=timeout or self.settings.http_timeout)
        except httpx.HTTPError as exc:
            entry.error, entry.outcome = f"{type(exc).__name__}: {exc}", "failed"
            self._log(entry)
            return None, None
        entry.status = response.status_code
        try:
            entry.response = response.json()
        except ValueError:
            entry.response = response.text[:2000]
        entry.outcome = "sent" if response.is_success else "failed"
        self._log(entry)
        return response.status_code, entry.response

    async def _oi_with_retries(self, kind: str, path: str, body: dict[str, Any], order_id: int | None,
                               global_id: str) -> None:
        """Invoice and release are retried while the receiver is down or failing (5xx)."""
        for attempt, delay in enumerate((0.0, *self.settings.retry_schedule), start=1):
            await asyncio.sleep(delay * self.settings.retry_scale)
            status, _ = await self._oi_once(kind, path, body, order_id, global_id, attempt=attempt)
            if status is not None and status < 500:
                return
        self._log(Delivery(kind, path, None, order_id, global_id, 0, outcome="gave_up", at=_now()))

    # -- webhooks --------------------------------------------------------------------------

    def _webhook(self, event_type: str, order: dict[str, Any]) -> None:
        form = [("order_group_id", _group_id(order)), ("recipient", "seller"), ("event_type", event_type),
                ("body", json.dumps(order, separators=(",", ":")))]
        self._announce(form, event_type, order["id"])

    async def _catalog(self, group: TicketGroupSpec | None) -> None:
        group = group or self.planner.inventory[0]
        event = {"id": group.event_id, "name": group.event_name, "occurs_at": group.occurs_at, "state": "shown",
                 "updated_at": _now(), "url": f"/events/{group.event_id}",
                 "venue": {"name": group.venue, "location": f"{group.venue_locality}, {group.venue_region}"}}
        form = [("recipient", "seller"), ("event_type", "event_updated"), ("event_id", str(group.event_id)),
                ("body", json.dumps(event, separators=(",", ":")))]
        self._announce(form, "event_updated", None)

    def _announce(self, form: list[tuple[str, str]], event_type: str, order_id: int | None) -> None:
        """Apply the webhook faults, then send (now, or reversed at the end of a burst)."""
        url = self.settings.webhook_url or ""
        if self.faults.roll(self.faults.settings.webhook_drop_rate):
            self.faults.note(Fault.WEBHOOK_DROP, f"{event_type} order {order_id}")
            self._log(Delivery("webhook", url, event_type, order_id, None, 0, outcome="dropped", at=_now(),
                               payload=form))
            return
        copies = 1
        if self.faults.roll(self.faults.settings.webhook_duplicate_rate):
            self.faults.note(Fault.WEBHOOK_DUPLICATE, f"{event_type} order {order_id}")
            copies = 2
        for _ in range(copies):
            if self.faults.settings.webhook_reorder:
                self._burst.append((form, event_type, order_id))
                if len(self._burst) == 1:
                    self._spawn(self._flush_burst())
            else:
                self._spawn(self._send_webhook(form, event_type, order_id))

    async def _flush_burst(self) -> None:
        """Everything announced within the window goes out newest first: out of order on purpose."""
        await asyncio.sleep(self.faults.settings.webhook_reorder_window)
        burst, self._burst = self._burst, []
        if len(burst) > 1:
            self.faults.note(Fault.WEBHOOK_REORDER, f"{len(burst)} webhooks reversed")
        for form, event_type, order_id in reversed(burst):
            # First attempts go one after the other, so the receiver sees exactly this order.
            if not await self._post_webhook(form, event_type, order_id, attempt=1):
                self._spawn(self._retry_webhook(form, event_type, order_id))

    async def _send_webhook(self, form: list[tuple[str, str]], event_type: str, order_id: int | None) -> None:
        if not await self._post_webhook(form, event_type, order_id, attempt=1):
            await self._retry_webhook(form, event_type, order_id)

    async def _retry_webhook(self, form: list[tuple[str, str]], event_type: str, order_id: int | None) -> None:
        """TEvo retries after no answer or a non-success code, 10/120/600/3600 s later, then stops (§6.1)."""
        for attempt, delay in enumerate(self.settings.retry_schedule, start=2):
            await asyncio.sleep(delay * self.settings.retry_scale)
            if await self._post_webhook(form, event_type, order_id, attempt):
                return
        self._log(Delivery("webhook", self.settings.webhook_url or "", event_type, order_id, None, 0,
                           outcome="gave_up", at=_now(), payload=form))

    async def _post_webhook(self, form: list[tuple[str, str]], event_type: str, order_id: int | None,
                            attempt: int) -> bool:
        url = self.settings.webhook_url or ""
        content = urlencode(form).encode("ascii")
        entry = Delivery("webhook", url, event_type, order_id, None, attempt, at=_now(), payload=form)
        try:
            response = await self._client().post(
                url, content=content, headers={"Content-Type": "application/x-www-form-urlencoded"})
        except httpx.HTTPError as exc:
            entry.error, entry.outcome = f"{type(exc).__name__}: {exc}", "failed"
            self._log(entry)
            return False
        entry.status = response.status_code
        entry.response = response.text[:2000]
        entry.outcome = "sent" if response.is_success else "failed"
        self._log(entry)
        return response.is_success

    def _log(self, entry: Delivery) -> None:
        with self._lock:
            self._deliveries.append(entry)


def sold_seats(world: World) -> dict[str, set[str]]:
    """The seats the world's orders sold, and those set aside, by remote id: what a restarted driver must skip.

    Read from the orders rather than kept beside them, so an order and its seats are one write.
    """
    with world.lock:
        sold = {remote_id: set(seats) for remote_id, seats in world.set_aside.items()}
        for order_id, order in world.orders.items():
            record = world.records.get(order_id)
            if record is None or record.scenario not in CONSUMES_STOCK:
                continue
            for item in order["items"]:
                group = item["ticket_group"]
                sold.setdefault(str(group["remote_id"]), set()).update(str(s) for s in group["seats"])
    return sold


def _channels(scenario: Scenario | str, channels: Iterable[Channel | str] | None) -> frozenset[Channel]:
    if channels is None:
        return Scenario(scenario).default_channels
    chosen = frozenset(Channel(c) for c in channels)
    if Scenario(scenario).uses_order_integration and Channel.ORDER_INTEGRATION not in chosen:
        raise ValueError(f"{scenario} is an Order Integration scenario; include {Channel.ORDER_INTEGRATION}")
    return chosen


def _cancel_at(scenario: Scenario | str, cancel: CancelAt | str | None) -> CancelAt | None:
    """The cancel moment, checked against the scenario before anything is created."""
    if cancel is None:
        return None
    moment = CancelAt(cancel)
    moment.check(Scenario(scenario))
    return moment


def _group_id(order: dict[str, Any]) -> str:
    return str(order["oid"]).strip().split("-", 1)[0]


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
