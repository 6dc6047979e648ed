"""One order, one job: re-fetch it from TEvo and take every step it is ready for.

Every step can be interrupted at any line and run again: the job is re-run
after its lease, the order is re-fetched, and each step first looks at what
TEvo and the store already say (an accepted order is never accepted again, an
invoice is idempotent on the TEvo order id).
"""

from __future__ import annotations

import asyncio
import json
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextlib import asynccontextmanager
from typing import Any

from tevo_bridge.clock import now_iso
from tevo_bridge.config import Settings
from tevo_bridge.crashpoints import crashpoint
from tevo_bridge.log import get_logger
from tevo_bridge.pipeline import pos_args
from tevo_bridge.pipeline.rules import (
    BuyerKind,
    Fraud,
    ItemProblem,
    SellerState,
    classify_buyer,
    describe,
    fraud_decision,
    reject_reason,
    seller_state_action,
)
from tevo_bridge.pos import types as pos
from tevo_bridge.pos.errors import CannotSupply, PosError
from tevo_bridge.store import AsyncStore, OrderRow
from tevo_bridge.tevo.client import RejectReason, TevoClient
from tevo_bridge.tevo.errors import NotFound, OutcomeUnknown, ValidationFailed
from tevo_bridge.tevo.models import Order

log = get_logger(__name__)

# Fulfilment is a later stage: given the accepted, invoiced order it returns the
# next state ("done", "fulfilling" to wait, or "needs_review") and a reason.
Fulfil = Callable[[Order, OrderRow], Awaitable[tuple[str, str]]]


class StepFailed(Exception):
    """A step that should be tried again later (or, with ``final``, a human must look)."""

    def __init__(self, message: str, *, final: bool = False) -> None:
        super().__init__(message)
        self.final = final


class RemoteIdLocks:
    """Serialises check → accept → invoice per ticket group, so two orders never both take the last tickets."""

    def __init__(self) -> None:
        self._locks: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)

    @asynccontextmanager
    async def hold(self, remote_ids: Iterable[str]) -> AsyncIterator[None]:
        ordered = sorted(set(remote_ids))  # a fixed order: no deadlock between two multi-item orders
        acquired: list[asyncio.Lock] = []
        try:
            for remote_id in ordered:
                lock = self._locks[remote_id]
                await lock.acquire()
                acquired.append(lock)
            yield
        finally:
            for lock in reversed(acquired):
                lock.release()


class OrderProcessor:
    def __init__(
        self, store: AsyncStore, tevo: TevoClient, pos_host: Any, settings: Settings, fulfil: Fulfil | None = None
    ) -> None:
        self.store = store
        self.tevo = tevo
        self.pos = pos_host
        self.settings = settings
        self.fulfil = fulfil
        self.locks = RemoteIdLocks()

    async def process(self, order_id: int) -> None:
        row = await self.store.get_order(order_id)
        if row is not None and row.state == "needs_review":
            return  # a human decides; `tevo-bridge orders retry` sends it back
        try:
            order = await self.tevo.get_order(order_id)
        except NotFound:
            raise StepFailed(f"TEvo has no order {order_id}", final=True) from None
        row = await self._remember(order)
        action = seller_state_action(order.seller_state)

        if row.state in ("done", "rejected", "canceled"):
            if action is SellerState.CANCELED and row.state == "done":
                await self._transition(row, "canceled", "canceled at TEvo after it was invoiced: void invoice "
                                                        f"{row.invoice_id} in the POS")
            return
        if action is SellerState.WAIT:
            return
        if action is SellerState.REVIEW:
            raise StepFailed(f"TEvo seller_state {order.seller_state!r} has no automatic handling", final=True)
        if action is SellerState.REJECTED:
            await self._transition(row, "rejected", f"TEvo says {order.seller_state}",
                                   reject_reason=order.model_extra.get("seller_rejection_reason") or row.reject_reason)
            return
        if action is SellerState.CANCELED:
            await self._cancel(order, row)
            return
        if action is SellerState.DECIDE:
            await self._decide(order, row)
            return
        await self._after_accept(order, row)

    # Steps --------------------------------------------------------------------------

    async def _decide(self, order: Order, row: OrderRow) -> None:
        classified = classify_buyer(order, self.settings.pipeline.other_office_buyers)
        if classified.kind is None:
            raise StepFailed(classified.review_reason or "unclassified buyer", final=True)
        if classified.kind is BuyerKind.CLIENT:
            fraud = fraud_decision(order.fraud_check_status, self.settings.pipeline.fraud_approved_values)
            if fraud is Fraud.WAIT:
                await self._transition(row, "awaiting_fraud", "fraud check pending at TEvo")
                return
            if fraud is Fraud.REVIEW:
                raise StepFailed(f"fraud_check_status {order.fraud_check_status!r} is not an approval", final=True)
            if fraud is Fraud.DECLINED:
                if self.settings.pipeline.fraud_declined == "needs_review":
                    raise StepFailed("fraud check declined", final=True)
                await self._reject(order, row, RejectReason.FRAUDULENT, "fraud check declined")
                return
        row = await self._transition(row, "checking", f"buyer is {classified.kind.value}")
        remote_ids = [item.ticket_group.remote_id or "" for item in order.items]
        async with self.locks.hold(remote_ids):
            problems = await self._check_items(order)
            if problems:
                if not self.settings.pipeline.auto_reject:
                    raise StepFailed(f"cannot supply: {describe(problems)}", final=True)
                await self._reject(order, row, reject_reason(problems), describe(problems))
                return
            accepted = await self._accept(order, row)
            if accepted is None:
                return
            order, row = accepted
            await self._invoice(order, row)
        row = await self._reload(order.id)
        await self._fulfil(order, row)

    async def _check_items(self, order: Order) -> list[ItemProblem]:
        """Every item must be supplied in full at an acceptable price: never accept part of an order."""
        problems: list[ItemProblem] = []
        wanted: dict[str, int] = defaultdict(int)
        for item in order.items:
            wanted[item.ticket_group.remote_id or ""] += item.quantity
        for item in order.items:
            args = pos_args.pos_item(order, item)
            availability = await self.pos.check_inventory(args)
            if not availability.known:
                problems.append(ItemProblem(item.id, args.remote_id, "unknown_remote_id", "unknown to the POS"))
                continue
            need = wanted[args.remote_id]
            if availability.available < need:
                problems.append(ItemProblem(item.id, args.remote_id, "insufficient_quantity",
                                            f"{availability.available} available, {need} ordered"))
                continue
            decision = await self.pos.accept_price(args)
            if not decision.acceptable:
                problems.append(ItemProblem(item.id, args.remote_id, "price_not_acceptable",
                                            decision.reason or f"price {item.price} refused"))
        return problems

    async def _accept(self, order: Order, row: OrderRow) -> tuple[Order, OrderRow] | None:
        row = await self._transition(row, "accepting", "every item can be supplied")
        await self.store.audit("accept", order_id=order.id, reason="calling TEvo accept")
        try:
            accepted = await self.tevo.accept_order(order.id, self.settings.tevo.reviewer_id)
            crashpoint("after_accept")  # accepted at TEvo, not yet recorded here
        except (OutcomeUnknown, ValidationFailed) as exc:
            # Never repeat blindly: look at what TEvo now says, then decide (§9).
            order = await self.tevo.get_order(order.id)
            row = await self._remember(order)
            await self.store.audit("accept", order_id=order.id, reason=f"{exc}; TEvo now says {order.seller_state}")
            action = seller_state_action(order.seller_state)
            if action is SellerState.FULFIL:
                accepted = order
            elif action is SellerState.DECIDE:
                raise StepFailed(f"accept did not go through: {exc}") from None
            else:
                await self.process(order.id)
                return None
        row = await self._remember(accepted)
        row = await self._transition(row, "invoicing", "accepted at TEvo", accepted_at=now_iso())
        return accepted, row

    async def _reject(self, order: Order, row: OrderRow, reason: RejectReason, notes: str) -> None:
        row = await self._transition(row, "rejecting", f"{reason.value}: {notes}", reject_reason=reason.value)
        try:
            await self.tevo.reject_order(order.id, reason, self.settings.tevo.reviewer_id, notes)
        except (OutcomeUnknown, ValidationFailed) as exc:
            order = await self.tevo.get_order(order.id)
            if seller_state_action(order.seller_state) is SellerState.DECIDE:
                raise StepFailed(f"reject did not go through: {exc}") from None
            if seller_state_action(order.seller_state) is not SellerState.REJECTED:
                await self._remember(order)
                raise StepFailed(f"wanted to reject, but TEvo says {order.seller_state}", final=True) from None
        await self._transition(row, "rejected", f"rejected at TEvo: {reason.value}")

    async def _after_accept(self, order: Order, row: OrderRow) -> None:
        if row.invoice_id is None:
            async with self.locks.hold(item.ticket_group.remote_id or "" for item in order.items):
                if row.state not in ("invoicing",):
                    row = await self._transition(row, "invoicing", f"TEvo says {order.seller_state}")
                await self._invoice(order, row)
            row = await self._reload(order.id)
        await self._fulfil(order, row)

    async def _invoice(self, order: Order, row: OrderRow) -> None:
        customer = await self._customer(order)
        hold = await self.store.hold_for_order(order.id)
        global_id = hold.global_id if hold is not None and hold.state in ("held", "invoiced", "expired") else None
        try:
            invoice = await self.pos.create_invoice(pos_args.pos_order(order, global_id), customer)
        except PosError as exc:
            if isinstance(exc.original, CannotSupply):
                # Accepted at TEvo but the POS cannot sell it: a human must source or cancel it.
                raise StepFailed(f"accepted, but the POS cannot invoice it: {exc.original}", final=True) from None
            raise
        crashpoint("after_invoice")  # invoiced in the POS, not yet recorded here
        if hold is not None and hold.state != "invoiced":
            await self.store.mark_hold(hold.global_id, "invoiced", f"invoice {invoice.invoice_id} for order {order.id}")
        await self.store.audit("invoice", order_id=order.id, reason=f"POS invoice {invoice.invoice_id}",
                               details={"created": invoice.created, "customer": customer.id if customer else None})
        await self._transition(row, "fulfilling", f"invoiced in the POS as {invoice.invoice_id}",
                               invoice_id=invoice.invoice_id, customer_id=customer.id if customer else None)

    async def _customer(self, order: Order) -> pos.Customer | None:
        if order.buyer is None or order.buyer.type != "Client":
            return None
        buyer = pos_args.pos_buyer(order)
        customer = await self.pos.find_customer(buyer)
        if customer is None:
            customer = await self.pos.create_customer(buyer)
        return customer

    async def _fulfil(self, order: Order, row: OrderRow) -> None:
        if self.fulfil is None or row.state != "fulfilling":
            return
        state, reason = await self.fulfil(order, row)
        if state == "needs_review":
            raise StepFailed(reason, final=True)
        if state != row.state:
            await self._transition(row, state, reason)

    async def _cancel(self, order: Order, row: OrderRow) -> None:
        hold = await self.store.hold_for_order(order.id)
        reason = f"TEvo says {order.seller_state}"
        if row.invoice_id:
            reason += f"; invoice {row.invoice_id} exists in the POS: void it by hand"
        elif hold is not None and hold.state == "held":
            await self.store.mark_hold(hold.global_id, "released", "order canceled at TEvo")
            await self.pos.release_hold(pos_args.pos_hold(hold))
        await self._transition(row, "canceled", reason)

    # Bookkeeping ----------------------------------------------------------------------

    async def _remember(self, order: Order) -> OrderRow:
        snapshot = json.dumps(order.model_dump(mode="json"), separators=(",", ":"))
        buyer = order.buyer
        await self.store.ensure_order(order.id, "pipeline")
        await self.store.update_order(
            order.id, seller_state=order.seller_state, snapshot=snapshot, created_at=order.created_at,
            buyer_type=buyer.type if buyer else None, buyer_id=buyer.id if buyer else None,
        )
        return await self._reload(order.id)

    async def _reload(self, order_id: int) -> OrderRow:
        row = await self.store.get_order(order_id)
        assert row is not None
        return row

    async def _transition(self, row: OrderRow, state: str, reason: str, **fields: Any) -> OrderRow:
        await self.store.update_order(row.id, state=state, reason=reason, **fields)
        log.info("order.transition", order_id=row.id, from_state=row.state, to_state=state, reason=reason)
        if state != row.state and self.pos.has_hook("pos_order_event"):
            event = pos.OrderEvent(order_id=row.id, state=state, previous_state=row.state, reason=reason)
            asyncio.get_running_loop().create_task(_notify(self.pos, event))
        return await self._reload(row.id)


async def _notify(pos_host: Any, event: pos.OrderEvent) -> None:
    try:
        await pos_host.notify(event)
    except Exception as exc:  # a notification never breaks the pipeline
        log.warning("pos.notify_failed", order_id=event.order_id, error=str(exc))
