"""Part 8: a checkout hold and a webhook order race for the same last tickets, many times over.

Every listing has exactly 2 seats, and two buyers want both: one through an Order Integration
hold, one through an order announced by webhook. The arrival order is varied on purpose: the
hold first, the hold while the order is being accepted (once the store shows ``accepting``), and
both at the same instant from two threads. The sandbox's latency fault keeps every TEvo call in
flight long enough for the race to be real. After each race exactly one buyer holds the tickets:
the hold was answered ``held`` and the order rejected "Tickets No Longer Available" without ever
being accepted, or the order was accepted and the hold refused 409; never both, never neither.
"""

from __future__ import annotations

import threading
import uuid
from collections import Counter
from dataclasses import dataclass, field, replace
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx

from tevo_bridge.loopback.stack import API_KEY, WEBHOOK_TOKEN, Stack, stack, webhook_form
from tevo_bridge.sandbox.faults import FaultSettings
from tevo_bridge.sandbox.inventory import TicketGroupSpec
from tevo_bridge.sandbox.orders import ItemRequest, OrderRequest

ARRIVALS = ("hold_first", "hold_while_accepting", "together")
FORM = {"Content-Type": "application/x-www-form-urlencoded"}

_TEMPLATE = TicketGroupSpec(
    remote_id="0", ticket_group_id=0, event_name="Knicks at Celtics", venue="TD Garden",
    occurs_at="2027-01-15T19:30:00-05:00", section="Loge 4", row="8", seats=["11", "12"],
    wholesale_price=Decimal("210.00"), retail_price=Decimal("260.00"),
)


@dataclass
class RaceRun:
    races: int = 0
    by_arrival: Counter[str] = field(default_factory=Counter)
    winners: Counter[str] = field(default_factory=Counter)  # hold | order
    wrong: list[str] = field(default_factory=list)  # races where not exactly one buyer got the tickets

    def figures(self) -> dict[str, Any]:
        return {"races": self.races, "by_arrival": dict(self.by_arrival), "winners": dict(self.winners),
                "double_promises_or_none": len(self.wrong), "wrong": self.wrong[:10]}


def listings(count: int) -> list[TicketGroupSpec]:
    return [replace(_TEMPLATE, remote_id=f"7{i:05d}", ticket_group_id=318700000 + i, row=str(1 + i % 30))
            for i in range(count)]


def run_races(tmp: Path, rounds: int, latency: float = 0.2) -> RaceRun:
    """``rounds`` races of each arrival order, each on a listing of its own."""
    groups = listings(rounds * len(ARRIVALS))
    result = RaceRun()
    with stack(tmp, faults=FaultSettings(latency=latency), inventory=groups, log_level="info") as run:
        for i, group in enumerate(groups):
            arrival = ARRIVALS[i % len(ARRIVALS)]
            verdict = _race(run, group, arrival)
            result.races += 1
            result.by_arrival[arrival] += 1
            if verdict in ("hold", "order"):
                result.winners[verdict] += 1
            else:
                result.wrong.append(f"{group.remote_id} ({arrival}): {verdict}")
    return result


def _race(run: Stack, group: TicketGroupSpec, arrival: str) -> str:
    order = run.sandbox.create_order(OrderRequest(items=[ItemRequest(group, 2, group.wholesale_price,
                                                                     list(group.seats))]))
    hold: list[httpx.Response] = []
    if arrival == "hold_first":
        hold.append(_hold(run, group))
        _webhook(run, order)
    elif arrival == "hold_while_accepting":
        _webhook(run, order)
        if not run.wait_for(lambda: run.state(order["id"]) not in (None, "new", "checking"), timeout=30):
            return "the order never reached accepting"
        hold.append(_hold(run, group))
    else:
        start = threading.Barrier(2)
        sender = threading.Thread(target=lambda: (start.wait(), _webhook(run, order)))
        sender.start()
        start.wait()
        hold.append(_hold(run, group))
        sender.join()
    state = run.wait_settled([order["id"]], timeout=60)[order["id"]]
    return _verdict(run, order, state, hold[0])


def _verdict(run: Stack, order: dict[str, Any], state: str | None, hold: httpx.Response) -> str:
    held = hold.status_code == 200 and hold.json().get("status") == "held"
    seen = run.sandbox.inspect(order["id"])
    accepted = seen["accept_calls"] > 0
    if held and not accepted and state == "rejected" and order_reason(run, order) == "Tickets No Longer Available":
        return "hold"
    if accepted and not held and hold.status_code == 409 and state == "done":
        return "order"
    return f"hold {hold.status_code} {hold.text[:80]}, order {state}, accept calls {seen['accept_calls']}"


def order_reason(run: Stack, order: dict[str, Any]) -> str | None:
    return run.sandbox.world.order(order["id"]).get("seller_rejection_reason")


def _hold(run: Stack, group: TicketGroupSpec) -> httpx.Response:
    body = {"remote_id": group.remote_id, "quantity": 2, "global_id": str(uuid.uuid4()),
            "price": str(group.wholesale_price), "ticket_group_id": group.ticket_group_id}
    return httpx.post(f"{run.daemon.base_url}/order-integration/holds", json=body,
                      headers={"X-Api-Key": API_KEY}, timeout=10)


def _webhook(run: Stack, order: dict[str, Any]) -> None:
    response = httpx.post(f"{run.daemon.base_url}/webhooks/tevo/{WEBHOOK_TOKEN}", content=webhook_form(order),
                          headers=FORM, timeout=10)
    response.raise_for_status()
