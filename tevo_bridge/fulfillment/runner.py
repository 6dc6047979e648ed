"""Plan and run one order's fulfilment from TEvo's current state.

The plan is rebuilt on every run from TEvo's order as that run read it (its
own ``GET /v9/orders/:id``, or TEvo's answer to its accept), never from what
an earlier run believed: after a crash, TEvo's item flags and shipment ids are
the only truth (§4 step 4, §5.3).  Each item and shipment is
handled on its own, so one bad PDF does not hold back the rest of the order,
and the order is ``done`` only when every one of them is.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

from tevo_bridge.fulfillment.context import Context, Outcome, items_of
from tevo_bridge.fulfillment.etickets import fulfil_item
from tevo_bridge.fulfillment.shipments import MOBILE_KINDS, fulfil_fedex, fulfil_local_pickup, fulfil_mobile
from tevo_bridge.log import get_logger
from tevo_bridge.pipeline.processor import StepFailed
from tevo_bridge.tevo.models import Item, Order, Shipment

__all__ = ["Plan", "eticket_items", "fulfil_order", "live_shipments", "plan"]

log = get_logger(__name__)

MAX_PASSES = 3  # a TBD shipment turned Eticket needs a second pass; a third would mean TEvo keeps changing it


Step = Callable[[], Awaitable[Outcome]]


@dataclass
class Plan:
    steps: list[tuple[str, Step]] = field(default_factory=list)
    settled: list[Outcome] = field(default_factory=list)  # decided without calling anyone


def plan(ctx: Context, order: Order) -> Plan:
    result = Plan()
    fedex = [s for s in live_shipments(order) if s.kind == "fedex"]
    for shipment in live_shipments(order):
        kind = shipment.kind
        if kind == "eticket":
            continue  # its items are uploaded item by item, below
        if kind == "fedex":
            path = _airbill_path(ctx.settings.airbill_dir, order.id, shipment, several=len(fedex) > 1)
            result.steps.append((f"shipment {shipment.id}", _bind(fulfil_fedex, ctx, order, shipment, path)))
        elif kind == "localpickup":
            result.steps.append((f"shipment {shipment.id}", _bind(fulfil_local_pickup, ctx, order, shipment)))
        elif kind == "tbd" or kind in MOBILE_KINDS:
            result.steps.append((f"shipment {shipment.id}", _bind(fulfil_mobile, ctx, order, shipment)))
        elif shipment.state == "delivered":
            result.settled.append(Outcome.done(f"shipment {shipment.id} ({shipment.type}) delivered"))
        else:
            result.settled.append(Outcome.review(
                f"shipment {shipment.id} is {shipment.type or 'of no type'}: no automatic handling; deliver it in TEvo"
            ))
    shipped = {item.id for s in live_shipments(order) for item in items_of(order, s)}
    etickets = eticket_items(order)
    for item in order.items:
        if item.id not in shipped and item not in etickets and not item.needs_eticket:
            result.settled.append(Outcome.review(f"item {item.id} is in no shipment TEvo shows"))
    for item in etickets:
        result.steps.append((f"item {item.id}", _bind(fulfil_item, ctx, order, item)))
    return result


def live_shipments(order: Order) -> list[Shipment]:
    """The shipments that will carry something: a canceled one's items travel in the one that replaced it."""
    return [s for s in order.shipments if s.state != "canceled"]


def eticket_items(order: Order) -> list[Item]:
    """The items delivered as e-ticket PDFs from the POS: in an e-ticket shipment, or flagged and not transferred."""
    mobile = {item.id for s in live_shipments(order) if s.kind == "tbd" or s.kind in MOBILE_KINDS
              for item in items_of(order, s)}
    items = [item for s in live_shipments(order) if s.kind == "eticket" for item in items_of(order, s)]
    for item in order.items:
        if item.needs_eticket and item.id not in mobile and item not in items:
            items.append(item)
    return items


async def fulfil_order(ctx: Context, order_id: int, read: Order | None = None) -> tuple[str, str]:
    """``("done" | "fulfilling" | "needs_review", reason)``, as the pipeline's Fulfil contract asks.

    ``read``: the order as this job run read it from TEvo (the run's first fetch, or TEvo's answer to the
    accept), planned from as it is: a GET of its own repeated that read a moment later, one TEvo call in
    six of the drain's. A later pass (a TBD shipment turned Eticket) and every run after a crash read afresh.
    """
    for _ in range(MAX_PASSES):
        order = read if read is not None else await ctx.tevo.get_order(order_id)
        read = None
        if order.seller_state == "completed":
            return "done", "TEvo says the order is completed"
        current = plan(ctx, order)
        outcomes = list(current.settled)
        for label, step in current.steps:
            outcome = await step()
            log.info("fulfil.step", order_id=order_id, step=label, outcome=outcome.state, reason=outcome.reason)
            outcomes.append(outcome)
        if any(o.state == "again" for o in outcomes):
            continue
        return _verdict(outcomes)
    raise StepFailed(f"order {order_id}: shipments kept changing while fulfilling; will look again")


def _verdict(outcomes: list[Outcome]) -> tuple[str, str]:
    if not outcomes:
        return "needs_review", "the order has no items or shipments to fulfil"
    for state, verdict in (("review", "needs_review"), ("wait", "fulfilling")):
        reasons = [o.reason for o in outcomes if o.state == state]
        if reasons:
            return verdict, "; ".join(reasons)
    return "done", "; ".join(o.reason for o in outcomes)


def _airbill_path(directory: Path, order_id: int, shipment: Shipment, *, several: bool) -> Path:
    return directory / (f"{order_id}-{shipment.id}.pdf" if several else f"{order_id}.pdf")


def _bind(fn: Callable[..., Awaitable[Outcome]], *args: object) -> Step:
    async def step() -> Outcome:
        return await fn(*args)

    return step
