"""One order, one job: re-fetch it from TEvo and take every step it is ready for.

Every step decides from facts, never from the state column: what TEvo says of the
order now (its ``seller_state``, its items' and shipments' delivery flags), whether the
POS has invoiced it (``pos_create_invoice`` is idempotent on the TEvo order id), and
what the POS holds for it. The state column records how far the order got, for people
and metrics. So a crash at any line, a duplicate event, or an operator's retry runs the
same code and continues from where the order really is.

Stock is promised in one place only, the POS: an order reserves its tickets there with
``pos_hold`` *before* it is accepted at TEvo, exactly as an Order Integration checkout
does, so the two channels (and several daemon processes) compete inside the POS's own
transaction and the same tickets are never promised twice.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import structlog

from tevo_bridge.clock import now_iso
from tevo_bridge.config import Settings
from tevo_bridge.crashpoints import crashpoint
from tevo_bridge.log import get_logger
from tevo_bridge.pipeline import pos_args, reads, tevo_word, voids
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
from tevo_bridge.pos.errors import CannotSupply, PosError, PosTimeout, VoidRefused
from tevo_bridge.store import TERMINAL_STATES, AsyncStore, AuditNote, HoldRow, HoldState, OrderRow, OrderState
from tevo_bridge.tevo.client import RejectReason, TevoClient
from tevo_bridge.tevo.errors import NotFound, OutcomeUnknown, TevoError, ValidationFailed
from tevo_bridge.tevo.models import Item, Order

log = get_logger(__name__)

# Fulfilment is a later stage: given the accepted, invoiced order it returns the
# next state ("done", "fulfilling" to wait, or "needs_review") and a reason.
Fulfil = Callable[[Order, OrderRow], Awaitable[tuple[str, str]]]
# Before accepting: why the order could not be delivered (missing settings, bad ticket files), or None.
Precheck = Callable[[Order], Awaitable[str | None]]


class PipelinePos(Protocol):
    """The part of ``PluginHost`` the pipeline uses; each call may raise ``PosTimeout`` or ``PosError``."""

    async def hold(self, hold: pos.Hold) -> pos.HoldResult: ...

    async def release_hold(self, hold: pos.Hold) -> bool: ...

    async def accept_price(self, item: pos.Item) -> pos.PriceDecision: ...

    async def find_customer(self, buyer: pos.Buyer) -> pos.Customer | None: ...

    async def create_customer(self, buyer: pos.Buyer) -> pos.Customer: ...

    async def create_invoice(self, order: pos.Order, customer: pos.Customer | None) -> pos.Invoice: ...

    async def ticket_files(self, order: pos.Order, item: pos.Item) -> list[pos.TicketFile] | None: ...

    async def notify(self, event: pos.OrderEvent) -> None: ...

    async def void_invoice(self, order: pos.Order, invoice_id: str, reason: str) -> None: ...

    def has_hook(self, hook: str) -> bool: ...


class StepFailed(Exception):
    """A step that should be tried again later (or, with ``final``, a human must look)."""

    def __init__(self, message: str, *, final: bool = False) -> None:
        super().__init__(message)
        self.final = final


class StepWaiting(Exception):
    """Nothing is wrong, but the order cannot move until something outside changes: look again later.

    Raised instead of simply returning so that the job is re-queued (without counting a failed
    attempt): an order that is not done must always have a job that will look at it again.
    """

    def __init__(self, message: str, delay: float) -> None:
        super().__init__(message)
        self.delay = delay


def reservation_id(order_id: int, item_id: int, round_: int) -> str:
    """The global id of the daemon's reservation for one order item.

    ``round_`` grows each time the order's reservations are released before it was accepted
    (a person must look, then retries): a released global id can never hold again, by contract.
    """
    return f"{reservation_prefix(order_id, item_id)}{round_}"


def reservation_prefix(order_id: int, item_id: int) -> str:
    """What every round's reservation for the item starts with (an Order Integration hold never does)."""
    return f"order-{order_id}-item-{item_id}-r"


class OrderProcessor:
    def __init__(
        self, store: AsyncStore, tevo: TevoClient, pos_host: PipelinePos, settings: Settings,
        fulfil: Fulfil | None = None, precheck: Precheck | None = None,
    ) -> None:
        self.store = store
        self.tevo = tevo
        self.pos = pos_host
        self.settings = settings
        self.fulfil = fulfil
        self.precheck = precheck

    async def process(self, order_id: int) -> None:
        row = await self.store.get_order(order_id)
        if row is not None and row.state == OrderState.NEEDS_REVIEW:
            return  # a human decides; `tevo-bridge orders retry` sends it back
        try:
            order = await reads.reading(self.tevo.get_order(order_id))
        except NotFound as exc:
            raise StepFailed(f"TEvo has no order {order_id} ({exc}): nothing to accept, invoice or deliver; "
                             "check the order id in TEvo's Core", final=True) from None
        except TevoError as exc:
            if row is None or row.state != OrderState.DONE:
                raise
            await self._look_again(row, f"TEvo could not be read ({exc})")  # never a reason to send it to a person
            return
        action = seller_state_action(order.seller_state)
        if action is SellerState.DECIDE and (row is None or row.state not in TERMINAL_STATES):
            if row is None:  # the order's first row, TEvo's word in it
                await self._decide(order, await self._remember(order, None))
            else:  # TEvo's word written with the decision's first step
                await self._decide(order, row, _facts(order))
            return
        row = await self._remember(order, row)

        if row.state in TERMINAL_STATES:
            if action is SellerState.CANCELED and row.state == OrderState.DONE:
                await self._cancel(order, row)  # delivered, then canceled: the invoice is voided all the same
            elif row.state == OrderState.DONE:
                await self._follow_delivered(row)
            return
        if action is SellerState.WAIT:
            raise StepWaiting(f"TEvo says {order.seller_state}: nothing to decide yet", self._recheck)
        if action is SellerState.REVIEW:
            raise StepFailed(f"TEvo seller_state {order.seller_state!r} has no automatic handling", final=True)
        if action is SellerState.REJECTED:
            await self._release_reservations(order, row, f"TEvo says {order.seller_state}")
            await self._transition(row, OrderState.REJECTED, f"TEvo says {order.seller_state}",
                                   reject_reason=(order.model_extra or {}).get("seller_rejection_reason") or row.reject_reason)
            return
        if action is SellerState.CANCELED:
            await self._cancel(order, row)
            return
        await self._deliver(order, row)

    async def give_up(self, order_id: int, reason: str) -> None:
        """A person must look: free what the order reserved unless TEvo already has it accepted.

        Called by the worker when a step fails for good, whatever the step: tickets reserved for
        an order nobody will accept must go back on sale now, not when the reservation lapses.
        """
        row = await self.store.get_order(order_id)
        snapshot = row.snapshot_json() if row is not None else None
        if row is None or not snapshot:
            return
        if seller_state_action(row.seller_state or "") is not SellerState.DECIDE or row.accepted_at:
            return  # accepted (or never ours to decide): its tickets are owed to TEvo's buyer
        if row.state == OrderState.ACCEPTING:
            return  # the accept call's outcome is in doubt: TEvo may have the order accepted
        order = Order.model_validate(snapshot)
        await self._release_reservations(order, row, f"needs a person: {reason}")

    @property
    def _recheck(self) -> float:
        return self.settings.pipeline.recheck_seconds

    # Deciding -----------------------------------------------------------------------

    async def _decide(self, order: Order, row: OrderRow, unsaid: dict[str, Any] | None = None) -> None:
        """``unsaid``: what TEvo just said of the order (``_facts``), not yet stored; it is written with the move
        to ``checking`` (one commit fewer on the webhook-to-accept path), or first on every other way out."""
        classified = classify_buyer(order, self.settings.pipeline.other_office_buyers)
        fraud = fraud_decision(order.fraud_check_status, self.settings.pipeline.fraud_approved_values)
        if unsaid and (classified.kind is None or (classified.kind is BuyerKind.CLIENT and fraud is not Fraud.GO)):
            row = await self._remember(order, row)
            unsaid = None
        if classified.kind is None:
            raise StepFailed(classified.review_reason or "unclassified buyer", final=True)
        if classified.kind is BuyerKind.CLIENT:
            if fraud is Fraud.WAIT:
                await self._transition(row, OrderState.AWAITING_FRAUD, "fraud check pending at TEvo")
                raise StepWaiting("fraud check pending at TEvo", self._recheck)
            if fraud is Fraud.REVIEW:
                raise StepFailed(f"fraud_check_status {order.fraud_check_status!r} is not an approval", final=True)
            if fraud is Fraud.DECLINED:
                if self.settings.pipeline.fraud_declined == "needs_review":
                    raise StepFailed("fraud check declined", final=True)
                await self._reject(order, row, RejectReason.FRAUDULENT, "fraud check declined")
                return
        # The move to `checking` is committed while the POS reserves, not before: nothing it writes is needed
        # by the reservation (its global ids come from the order and the round, so a crash before this commit
        # replays them), and everything after the reservation waits for it, so the order's writes stay in
        # their order and it is durable before the accept. One commit (and its fsync) fewer in series on
        # the webhook-to-accept path; the reservation's first read, queued right behind it, usually shares
        # its store batch.
        checking = asyncio.ensure_future(self._transition(row, OrderState.CHECKING, f"buyer is {classified.kind.value}",
                                                          **(unsaid or {})))
        try:
            # Both are POS work on their own threads, so the deliverability check costs no wall time; its
            # outcome (or error) matters only once every item is reserved: stock is the first question.
            reservation, undeliverable = await asyncio.gather(self._reserve(order, row, checking),
                                                              self._precheck(order), return_exceptions=True)
        finally:
            row = await checking
        if isinstance(reservation, BaseException):
            raise reservation
        reserved, problems, pos_hold_ids, reservation_round = reservation
        # A lapsed round was replaced by the next: the invoice must consume that round's reservations, not
        # the old round's, or the POS would take stock and leave the new ones held until they lapse.
        row = dataclasses.replace(row, reservation_round=reservation_round)
        if problems:
            await self._release(order, row, reserved, "cannot supply every item")
            if not self.settings.pipeline.auto_reject:
                raise StepFailed(f"cannot supply: {describe(problems)}", final=True)
            await self._reject(order, row, reject_reason(problems), describe(problems))
            return
        if isinstance(undeliverable, BaseException):
            raise undeliverable
        if undeliverable:  # known now: must not be found out after TEvo's buyer was told yes (give_up releases)
            raise StepFailed(f"not accepted, it could not be delivered: {undeliverable} Then run "
                             f"`tevo-bridge orders retry {order.id}` (TEvo's order is still pending).", final=True)
        if pos_hold_ids:  # the POS's own ids, for the people who look in the POS (written with the next step)
            row = dataclasses.replace(row, pos_hold_id=", ".join(pos_hold_ids))
        accepted = await self._accept(order, row, reserved)
        if accepted is None:
            return
        order, row = accepted
        await self._deliver(order, row)

    async def _precheck(self, order: Order) -> str | None:
        return None if self.precheck is None else await self.precheck(order)

    async def _reserve(self, order: Order, row: OrderRow,
                       checking: asyncio.Future[OrderRow]) -> tuple[dict[int, str], list[ItemProblem], list[str], int]:
        """Reserve every item in the POS, or say why not: never accept what the POS has not set aside.

        A replay of a held reservation (after a crash) reserves nothing more. ``global_id_used``
        means this round's reservation lapsed or was released meanwhile: start a new round once.
        The checkout's Order Integration hold is replayed only while it holds: once it lapsed, was
        released or invoiced, its global id is spent in the POS and every replay would be refused.
        ``checking``: the move to ``checking``, committed meanwhile; awaited before this writes anything.
        Also returns the round reserved in (the row's, or the next one's).
        """
        oi_hold = await self.store.hold_for_order(order.id)
        if oi_hold is not None and oi_hold.state != HoldState.HELD:
            oi_hold = None
        await self._release_earlier_rounds(order, row, checking)
        for _ in range(2):
            reserved: dict[int, str] = {}
            problems: list[ItemProblem] = []
            pos_hold_ids: list[str] = []
            stale = False
            holds = self._holds_to_consume(order, row, oi_hold)
            for item in order.items:
                hold = self._reservation(order, item, holds[item.id])
                result = await self.pos.hold(hold)
                if result.held:
                    reserved[item.id] = hold.global_id
                    pos_hold_ids += [result.hold_id] if result.hold_id else []
                elif result.reason == "global_id_used":
                    stale = True
                else:
                    problems.append(await self._problem(order, item, result))
            if not stale:
                return reserved, problems, pos_hold_ids, row.reservation_round
            await checking  # this order's writes in their order: the move to `checking` first
            await self._release(order, row, reserved, "a reservation of this round had lapsed")
            row = await self._next_round(row)
        raise StepFailed("the POS refused the reservation's global id twice; will try again")

    def _reservation(self, order: Order, item: Item, global_id: str) -> pos.Hold:
        """The hold that sets ``item`` aside; for the Order Integration hold it came from, a replay of it."""
        lapses = datetime.now(UTC) + timedelta(minutes=self.settings.pipeline.reservation_minutes)
        args = pos_args.pos_item(order, item)
        return pos.Hold(global_id=global_id, remote_id=args.remote_id,
                        quantity=item.quantity, price=item.price, ticket_group_id=args.ticket_group_id,
                        expires_at=lapses, order_id=order.id, currency=args.currency)

    async def _problem(self, order: Order, item: Item, result: pos.HoldResult) -> ItemProblem:
        remote_id = item.ticket_group.remote_id or ""
        kind = result.reason or "insufficient_quantity"
        if kind == "insufficient_quantity":
            detail = f"{result.available or 0} available, {item.quantity} ordered"
        elif kind == "price_not_acceptable":
            decision = await self.pos.accept_price(pos_args.pos_item(order, item))
            detail = decision.reason or f"price {item.price} refused"
        else:
            detail = "unknown to the POS"
        return ItemProblem(item.id, remote_id, kind, detail)

    async def _accept(self, order: Order, row: OrderRow, reserved: Mapping[int, str]) -> tuple[Order, OrderRow] | None:
        # One commit says both what was reserved and that TEvo's accept is being called: this is the
        # webhook path's hot spot, and a crash after it is resolved by re-fetching, never by memory.
        row = await self._transition(row, OrderState.ACCEPTING, "every item is reserved in the POS ("
                                     + ", ".join(reserved.values()) + "); calling TEvo accept",
                                     pos_hold_id=row.pos_hold_id)
        try:
            accepted = await self.tevo.accept_order(order.id, self.settings.tevo.reviewer_id)
            crashpoint("after_accept")  # accepted at TEvo, not yet recorded here
        except (OutcomeUnknown, ValidationFailed) as exc:
            # Never repeat blindly: look at what TEvo now says, then decide.
            order = await self.tevo.get_order(order.id)
            row = await self._remember(order, row)
            await self.store.audit("accept", order_id=order.id, reason=f"{exc}; TEvo now says {order.seller_state}")
            action = seller_state_action(order.seller_state)
            if action is SellerState.FULFIL:
                accepted = order
            elif action is SellerState.DECIDE:
                raise StepFailed(f"accept did not go through: {exc}") from None
            else:
                await self.process(order.id)
                return None
        # TEvo's answer and the move it allows in one commit: the accept's answer is the order as TEvo has it now.
        row = await self._transition(row, OrderState.INVOICING, "accepted at TEvo", accepted_at=now_iso(),
                                     **_facts(accepted))
        return accepted, row

    async def _reject(self, order: Order, row: OrderRow, reason: RejectReason, notes: str) -> None:
        row = await self._transition(row, OrderState.REJECTING, f"{reason.value}: {notes}", reject_reason=reason.value)
        try:
            await self.tevo.reject_order(order.id, reason, self.settings.tevo.reviewer_id, notes)
        except (OutcomeUnknown, ValidationFailed) as exc:
            order = await self.tevo.get_order(order.id)
            if seller_state_action(order.seller_state) is SellerState.DECIDE:
                raise StepFailed(f"reject did not go through: {exc}") from None
            if seller_state_action(order.seller_state) is not SellerState.REJECTED:
                await self._remember(order, row)
                raise StepFailed(f"wanted to reject, but TEvo says {order.seller_state}", final=True) from None
        await self._transition(row, OrderState.REJECTED, f"rejected at TEvo: {reason.value}")

    # Accepted: invoice, then deliver ----------------------------------------------------

    async def _deliver(self, order: Order, row: OrderRow) -> None:
        """Invoice unless the POS already has (the store remembers its id), then fulfil from TEvo's flags."""
        if row.invoice_id is None:
            oi_hold = await self.store.hold_for_order(order.id)
            if row.state != OrderState.INVOICING:  # the checkout hold's POS id shown from here, before the invoice
                row = await self._transition(row, OrderState.INVOICING, f"TEvo says {order.seller_state}",
                                             pos_hold_id=row.pos_hold_id or _checkout_hold_id(oi_hold))
            self._await_invoice_call(order, oi_hold)
            row = await self._invoice(order, row, oi_hold)
        await self._fulfil(order, row)

    def _await_invoice_call(self, order: Order, oi_hold: HoldRow | None) -> None:
        """An order TEvo accepted by itself came from an Order Integration hold: wait for the call naming it.

        Only TEvo's invoice call says which hold the order converts. Found first (a poll after an
        outage, a webhook racing the call), invoicing at once would take the tickets from stock while
        the hold still keeps them: the seats would count twice, or the order would look unsupplied.
        So it waits, looked at again every ``recheck_seconds``, for as long as such a hold can live
        (``[server] hold_ttl``); after that any hold has lapsed and stock is the truth.
        """
        if not order.was_auto_accepted or oi_hold is not None:
            return
        try:
            created = datetime.fromisoformat((order.created_at or "").replace("Z", "+00:00"))
        except ValueError:
            return
        if created.tzinfo is None:
            created = created.replace(tzinfo=UTC)
        left = self.settings.server.hold_ttl - (datetime.now(UTC) - created).total_seconds()
        if left > 0:
            raise StepWaiting("accepted by TEvo itself: waiting for TEvo's Order Integration invoice call to name "
                              f"the hold it converts (at most {left:.0f} s more, then invoiced from stock)",
                              min(self._recheck, left))

    async def _invoice(self, order: Order, row: OrderRow, oi_hold: HoldRow | None) -> OrderRow:
        customer = await self._customer(order)
        holds = self._holds_to_consume(order, row, oi_hold)
        try:
            invoice = await self.pos.create_invoice(pos_args.pos_order(order, holds), customer)
        except PosError as exc:
            if isinstance(exc.original, CannotSupply):
                # Accepted at TEvo but the POS cannot sell it: a human must source or cancel it.
                raise StepFailed(f"accepted, but the POS cannot invoice it: {exc.original}", final=True) from None
            raise
        crashpoint("after_invoice")  # invoiced in the POS, not yet recorded here
        if oi_hold is not None and oi_hold.global_id in holds.values() and oi_hold.state != HoldState.INVOICED:
            await self.store.mark_hold(oi_hold.global_id, HoldState.INVOICED,
                                       f"invoice {invoice.invoice_id} for order {order.id}")
        # The invoice's record rides with the move it allows: one commit, and never one of the two without the other.
        note = AuditNote("invoice", reason=f"POS invoice {invoice.invoice_id}",
                         details={"created": invoice.created, "customer": customer.id if customer else None,
                                  "consumed": sorted(holds.values())})
        return await self._transition(row, OrderState.FULFILLING, f"invoiced in the POS as {invoice.invoice_id}",
                                      notes=(note,),
                                      invoice_id=invoice.invoice_id, customer_id=customer.id if customer else None,
                                      pos_hold_id=row.pos_hold_id or _consumed_hold_id(oi_hold, holds))

    def _holds_to_consume(self, order: Order, row: OrderRow, oi_hold: HoldRow | None) -> dict[int, str]:
        """Each item's hold: the Order Integration hold it came from, else this round's reservation.

        The POS consumes a held one and takes stock for the rest, so an order accepted elsewhere (or
        before an upgrade) invoices all the same. A lapsed checkout hold yields to this order's own
        reservation, which ``_reserve`` took in its place (naming either takes stock if there is none).
        """
        holds = _reservation_ids(order, row)
        if oi_hold is not None and oi_hold.state in (HoldState.HELD, HoldState.INVOICED):
            match = next((i for i in order.items if (i.ticket_group.remote_id, i.quantity)
                          == (oi_hold.remote_id, oi_hold.quantity)), None)
            if match is not None:
                holds[match.id] = oi_hold.global_id
        return holds

    async def _customer(self, order: Order) -> pos.Customer | None:
        if order.buyer is None or order.buyer.type != "Client":
            return None
        buyer = pos_args.pos_buyer(order)
        customer = await self.pos.find_customer(buyer)
        if customer is None:
            customer = await self.pos.create_customer(buyer)
        return customer

    async def _fulfil(self, order: Order, row: OrderRow) -> None:
        if self.fulfil is None or row.state in TERMINAL_STATES or row.invoice_id is None:
            return
        with structlog.contextvars.bound_contextvars(**tevo_word.pos_references(row)):  # on each step's log line
            state, reason = await self.fulfil(order, row)
        if state == OrderState.NEEDS_REVIEW:
            raise StepFailed(reason, final=True)
        if state == OrderState.FULFILLING:  # the POS will have the tickets later: look again then
            await self._transition(row, OrderState.AWAITING_TICKETS, reason)
            raise StepWaiting(reason, self._recheck)
        if state == OrderState.DONE:
            await self._done(order.id, row, reason)
            return
        await self._transition(row, OrderState(state), reason)

    # Delivered: what TEvo says now -------------------------------------------------------

    async def _done(self, order_id: int, row: OrderRow, reason: str) -> None:
        """Done, with TEvo's word read after the last step: the one read before the steps is already stale.

        Written with the state in one update, so no view ever shows ``done`` beside TEvo's word from before.
        """
        try:
            order = await reads.reading(self.tevo.get_order(order_id))
        except TevoError as exc:  # delivered all the same: the looks that follow read it
            row = await self._transition(row, OrderState.DONE, reason, tevo_checks=0)
            await self._look_again(row, f"TEvo could not be read after delivery ({exc})")
            return
        row = await self._transition(row, OrderState.DONE, reason, tevo_checks=0, **_facts(order))
        await self._follow_delivered(row)

    async def _follow_delivered(self, row: OrderRow) -> None:
        """Until TEvo says completed, look again later (a bounded number of times, each wait longer)."""
        await self._look_again(row, f"delivered; TEvo says {row.seller_state}, not yet completed")

    async def _look_again(self, row: OrderRow, why: str) -> None:
        delay = tevo_word.next_check_delay(self.settings.pipeline, row)
        if delay is None:
            if row.seller_state != tevo_word.COMPLETED:
                log.info("order.tevo_not_completed", order_id=row.id, seller_state=row.seller_state,
                         checks=row.tevo_checks, **tevo_word.pos_references(row))
            return
        # Counted before the wait: news that runs the job sooner uses up a look too, so the looks stay bounded.
        await self.store.update_order(row.id, tevo_checks=row.tevo_checks + 1)
        raise StepWaiting(why, delay)

    # Canceled, and giving tickets back --------------------------------------------------

    async def _cancel(self, order: Order, row: OrderRow) -> None:
        hold = await self.store.hold_for_order(order.id)
        if row.invoice_id:
            await self._void(order, row, row.invoice_id, hold)
            return
        await self._release_reservations(order, row, "order canceled at TEvo")
        if hold is not None and hold.state == HoldState.HELD:
            await self.store.mark_hold(hold.global_id, HoldState.RELEASED, "order canceled at TEvo")
            await self.pos.release_hold(pos_args.pos_hold(hold))
        await self._transition(row, OrderState.CANCELED, f"TEvo says {order.seller_state}")

    async def _void(self, order: Order, row: OrderRow, invoice_id: str, oi_hold: HoldRow | None) -> None:
        """Canceled after it was invoiced: void the POS invoice so its tickets go back on sale, or tell a person.

        Crash-safe with no marker of its own: the order waits in ``voiding``, which is not terminal, so its
        job runs again after a crash at any line, and ``pos_void_invoice`` is idempotent by invoice id, so a
        second void changes nothing. A fault is retried like any POS call; a refusal, or a plugin without the
        hook, cannot mend itself and goes to a person with what to do.
        """
        delivered = await self._was_delivered(row)
        if row.state != OrderState.VOIDING:
            reason = voids.voiding_reason(order.seller_state, invoice_id, delivered)
            # Before the move: a crash between the two writes it again on the next run, never loses it.
            await self.store.audit(voids.CANCELED_ACTION, order_id=order.id, reason=reason,
                                   details=voids.canceled_details(invoice_id, delivered))
            row = await self._transition(row, OrderState.VOIDING, reason)
        if not self.pos.has_hook(voids.VOID_HOOK):
            why = f"the POS plugin cannot void invoices (it does not implement {voids.VOID_HOOK})"
            raise StepFailed(voids.void_by_hand(order.id, invoice_id, why, delivered), final=True)
        holds = self._holds_to_consume(order, row, oi_hold)
        try:
            await self.pos.void_invoice(pos_args.pos_order(order, holds), invoice_id,
                                        voids.cancel_reason(order.seller_state, order.model_extra))
        except PosError as exc:
            if isinstance(exc.original, VoidRefused):
                why = f"the POS refused to void it: {exc.original.reason}"
                raise StepFailed(voids.void_by_hand(order.id, invoice_id, why, delivered), final=True) from None
            raise
        crashpoint("after_void")  # voided in the POS, not yet recorded here: the next run voids again, harmlessly
        await self.store.audit(voids.VOIDED_ACTION, order_id=order.id, reason=voids.voided_reason(invoice_id),
                               details={"invoice_id": invoice_id, "delivered": delivered})
        if delivered:  # back on sale, but TEvo's buyer holds the tickets: a person must revoke them
            raise StepFailed(voids.delivered_follow_up(order.id, invoice_id), final=True)
        await self._transition(row, OrderState.CANCELED, voids.voided_reason(invoice_id))

    async def _was_delivered(self, row: OrderRow) -> bool:
        """Whether the order ever reached ``done``: a fact of the audit trail, true after a retry or a crash.

        The move to ``done`` of an old order may have been pruned (``[store] retention_days``) before TEvo
        canceled it, so the ``canceled_after_invoice`` row written as voiding began says it too.
        """
        if row.state == OrderState.DONE:
            return True
        return any(entry.to_state == OrderState.DONE or voids.says_delivered(entry.action, entry.details)
                   for entry in await self.store.audit_trail(row.id))

    async def _release_reservations(self, order: Order, row: OrderRow, why: str) -> None:
        """Free every reservation of the order's current round, and move to the next round."""
        if row.invoice_id:
            return  # invoiced: the reservations were consumed and the tickets are sold
        released = await self._release(order, row, _reservation_ids(order, row), why)
        if released:
            await self._next_round(row)

    async def _release(self, order: Order, row: OrderRow | None, reserved: Mapping[int, str], why: str) -> int:
        """Free ``reserved`` in the POS; how many the POS freed. ``row``: the order, when these are its current
        round's reservations.

        A release that timed out may still be carried out by the POS, late. The current round's global ids are
        then never reserved again (the order moves to the next round before the error goes on): a later
        reservation under the same id would be freed by that late release, after TEvo's accept was called on its
        strength (seen by the stateful reliability run, stop 32: a hung POS's release landed after the operator's
        retry had reserved the same id again, and the invoice found the tickets no longer set aside). What a
        late hold of an old round sets aside is freed when the order reserves again (``_release_earlier_rounds``).
        """
        items = {item.id: item for item in order.items}
        freed = 0
        for item_id, global_id in reserved.items():
            if not global_id.startswith(reservation_prefix(order.id, item_id)):
                continue  # an Order Integration hold: TEvo releases or invoices it, never us
            item = items[item_id]
            hold = pos.Hold(global_id=global_id, remote_id=item.ticket_group.remote_id or "",
                            quantity=item.quantity, order_id=order.id)
            try:
                freed += bool(await self.pos.release_hold(hold))
            except PosTimeout:
                if row is not None:
                    await self._next_round(row)
                raise
        if freed:
            await self.store.audit("release_reservation", order_id=order.id,
                                   reason=f"{why}: freed {freed} reservation(s) in the POS")
        return freed

    async def _release_earlier_rounds(self, order: Order, row: OrderRow, checking: asyncio.Future[OrderRow]) -> None:
        """Free whatever an earlier round still holds before this round asks for the same tickets.

        Each earlier round was released when the order moved on, but a hold or a release of it that timed out
        may have been carried out by the POS after that, in either order, and left tickets set aside that no
        round will consume: this round would then find too few (and the order be refused) until they lapsed.
        Releasing is idempotent (``False``: nothing to free), and only an order that moved on pays for it."""
        if row.reservation_round == 0:
            return
        await checking  # this order's writes in their order (a freed reservation is audited): `checking` first
        for earlier in range(row.reservation_round):
            await self._release(order, None, _reservation_ids(order, row, earlier),
                                f"round {earlier} set aside tickets late")

    async def _next_round(self, row: OrderRow) -> OrderRow:
        await self.store.update_order(row.id, reservation_round=row.reservation_round + 1)
        return await self._reload(row.id)

    # Bookkeeping ----------------------------------------------------------------------

    async def _remember(self, order: Order, row: OrderRow | None) -> OrderRow:
        """Store what TEvo said of the order; ``row`` is the order as stored (None: not yet)."""
        facts = _facts(order)
        if row is None:
            await self.store.ensure_order(order.id, "pipeline")
            await self.store.update_order(order.id, **facts)
            return await self._reload(order.id)
        await self.store.update_order(order.id, **facts)
        # Only this job writes the order while it runs (as in ``_transition``): the row is what was just written.
        return dataclasses.replace(row, **facts)

    async def _reload(self, order_id: int) -> OrderRow:
        row = await self.store.get_order(order_id)
        assert row is not None
        return row

    async def _transition(self, row: OrderRow, to: OrderState, reason: str, notes: Sequence[AuditNote] = (),
                          **fields: Any) -> OrderRow:
        """``notes``: audit rows of the same moment, written first in the transition's commit."""
        state = to.value  # a plain string from here on: stored, logged and handed to plugins as before
        await self.store.update_order(row.id, state=state, reason=reason, notes=notes, **fields)
        log.info("order.transition", order_id=row.id, from_state=row.state, to_state=state, reason=reason,
                 **tevo_word.pos_references(dataclasses.replace(row, **fields)))
        if state != row.state and self.pos.has_hook("pos_order_event"):
            event = pos.OrderEvent(order_id=row.id, state=state, previous_state=row.state, reason=reason)
            asyncio.get_running_loop().create_task(_notify(self.pos, event))
        # Only this job writes the order while it runs: what was just written is the row, without a read.
        return dataclasses.replace(row, state=state, **fields)


def _facts(order: Order) -> dict[str, Any]:
    """The order's columns that say what TEvo said in this read of it (the snapshot, TEvo's state and when)."""
    buyer = order.buyer
    # pydantic-core writes the JSON itself: a third of the time of model_dump + json.dumps (three reads per order),
    # the same values (non-ASCII text as UTF-8 rather than \u escapes: every reader parses it).
    return {"snapshot": order.model_dump_json(),
            "created_at": order.created_at, "buyer_type": buyer.type if buyer else None,
            "buyer_id": buyer.id if buyer else None, **tevo_word.tevo_fields(order)}


def _checkout_hold_id(oi_hold: HoldRow | None) -> str | None:
    """The POS's id of the Order Integration hold the order came from, while it keeps (or became) the tickets."""
    return oi_hold.hold_id if oi_hold is not None and oi_hold.state in (HoldState.HELD, HoldState.INVOICED) else None


def _consumed_hold_id(oi_hold: HoldRow | None, holds: Mapping[int, str]) -> str | None:
    """The POS's id of the checkout hold this invoice consumed, if it consumed one."""
    return oi_hold.hold_id if oi_hold is not None and oi_hold.global_id in holds.values() else None


def _reservation_ids(order: Order, row: OrderRow, round_: int | None = None) -> dict[int, str]:
    """A round's reservation of each item, by item id: the order's current round unless ``round_`` says which."""
    chosen = row.reservation_round if round_ is None else round_
    return {item.id: reservation_id(order.id, item.id, chosen) for item in order.items}


async def _notify(pos_host: PipelinePos, event: pos.OrderEvent) -> None:
    try:
        await pos_host.notify(event)
    except Exception as exc:  # a notification never breaks the pipeline
        log.warning("pos.notify_failed", order_id=event.order_id, error=str(exc))
