"""Shipments that are not e-tickets: FedEx airbills, local pickup details, mobile transfers (docs/tevo-api.md §5).

Two TEvo quirks shape this module.  ``PUT /v9/shipments/:id`` deletes the
shipment and answers with a new one under a new id (§5.3), so a shipment id is
never carried across an update, and an update that ends in doubt is resolved
by re-reading the order and finding the shipment that now holds the items.
And a state-changing call is never repeated blindly (§9): every doubtful
answer is followed by a re-fetch, and the re-fetched state decides.
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

from tevo_bridge.fulfillment.capability import missing_pickup_keys
from tevo_bridge.fulfillment.context import Context, Outcome, items_of, shipment_holding
from tevo_bridge.fulfillment.pdf_work import off_loop
from tevo_bridge.pipeline import pos_args
from tevo_bridge.pipeline.processor import StepFailed
from tevo_bridge.pos import types as pos
from tevo_bridge.pos.errors import PosError, PosTimeout
from tevo_bridge.private_files import write_private
from tevo_bridge.tevo.errors import NotFound, OutcomeUnknown, ResponseTooLarge, TevoError, ValidationFailed
from tevo_bridge.tevo.models import Item, Order, Shipment

__all__ = [
    "MOBILE_KINDS",
    "fulfil_fedex",
    "fulfil_local_pickup",
    "fulfil_mobile",
    "replace_shipment",
]

#: Shipment kinds a TBD shipment becomes once a mobile transfer type is chosen (§5.6).
MOBILE_KINDS = frozenset({"tmmobilelink", "tmmobile", "flashseats"})
ATTEMPTS = 2

R = TypeVar("R")  # what a state-changing call answers
X = TypeVar("X")  # what its caller makes of a confirmed change


# Replacing a shipment (§5.3) ------------------------------------------------------------------------


async def replace_shipment(
    ctx: Context, order: Order, shipment: Shipment, fields: Mapping[str, Any], *,
    landed: Callable[[Shipment], bool], action: str,
) -> Shipment | Outcome:
    """``PUT`` the fields and return the replacement shipment, or the review outcome if TEvo refuses them.

    ``landed`` recognises a shipment that already carries the change, so an
    update whose answer was lost is not sent a second time.
    """
    item_ids = [item.id for item in items_of(order, shipment)]

    async def sent(current: Shipment, new: Shipment) -> Shipment:
        await ctx.audit(action, order.id, f"shipment {current.id} replaced by {new.id} ({new.type})",
                        old_shipment_id=current.id, shipment_id=new.id, fields=sorted(fields))
        return new

    def found(_: Order, fresh: Shipment | None) -> str:
        return (f"shipment {fresh.id} ({fresh.type}, {fresh.state})" if fresh else "no shipment") + " holds the items"

    return await _send_confirmed(
        ctx, order, shipment, item_ids, send=lambda current: ctx.tevo.update_shipment(current.id, fields), sent=sent,
        settled=lambda _current, _order, fresh: fresh if fresh is not None and landed(fresh) else None,
        found=found, action=action, refused="the update", unconfirmed="update",
    )


async def _send_confirmed(
    ctx: Context, order: Order, shipment: Shipment, item_ids: Sequence[int], *,
    send: Callable[[Shipment], Awaitable[R]],
    sent: Callable[[Shipment, R], Awaitable[X]],
    settled: Callable[[Shipment, Order, Shipment | None], X | None],
    found: Callable[[Order, Shipment | None], str],
    action: str, refused: str, unconfirmed: str,
) -> X | Outcome:
    """Send a state-changing shipment call at most ATTEMPTS times, re-reading the order after each doubtful answer.

    One loop for every such call because the rules are TEvo's, not the call's: never repeat blindly (§9), and follow
    the shipment that now holds the items, since an update moves them to a new id (§5.3).  The re-read state
    decides: ``settled`` recognises a change that already landed, no shipment holding the items fails the step
    (retried later), and TEvo refusing the very shipment it still has goes to a person.
    """
    current = shipment
    last: TevoError | None = None
    for _ in range(ATTEMPTS):
        try:
            answer = await send(current)
        except (OutcomeUnknown, NotFound, ValidationFailed) as exc:
            last = exc
            fresh_order = await ctx.tevo.get_order(order.id)
            fresh = shipment_holding(fresh_order, list(item_ids))
            await ctx.audit(action, order.id, f"shipment {current.id}: {exc}; re-fetched: {found(fresh_order, fresh)}",
                            shipment_id=current.id, error=type(exc).__name__)
            done = settled(current, fresh_order, fresh)
            if done is not None:
                return done
            if fresh is None:
                raise StepFailed(f"shipment {current.id}: after {exc}, no shipment holds items {item_ids}") from None
            if isinstance(exc, ValidationFailed) and fresh.id == current.id:
                return Outcome.review(f"shipment {current.id} ({current.type}): TEvo refused {refused}: {exc}")
            current = fresh
            continue
        return await sent(current, answer)
    raise StepFailed(f"shipment {current.id}: {unconfirmed} not confirmed by TEvo: {last}")


# FedEx (§5.4) ------------------------------------------------------------------------------------


async def fulfil_fedex(ctx: Context, order: Order, shipment: Shipment, airbill_path: Path) -> Outcome:
    """Generate, fetch and save the airbill; TEvo completes the order itself when FedEx delivers."""
    tracking = shipment.tracking_number
    if airbill_path.is_file() and airbill_path.stat().st_size > 0:
        reason = f"shipment {shipment.id}: airbill already saved at {airbill_path}"
    else:
        if not (shipment.tracking_number or shipment.airbill):
            outcome = await _generate_airbill(ctx, order, shipment)
            if isinstance(outcome, Outcome):
                return outcome
            shipment = outcome
        try:
            pdf, tracking = await _fetch_airbill(ctx, shipment)
        except ResponseTooLarge as exc:
            # As large next time: a person looks at it, rather than the pipeline fetching it again and again.
            return Outcome.review(f"shipment {shipment.id}: {exc}. Fix: print the airbill from TEvo, or raise "
                                  "[fulfillment] max_airbill_bytes if an airbill that large is genuine")
        if not pdf.startswith(b"%PDF"):
            return Outcome.review(f"shipment {shipment.id}: the airbill TEvo returned is not a PDF")
        await off_loop(_write_atomically, airbill_path, pdf)  # a synced write: not on the loop answering holds
        reason = f"shipment {shipment.id}: airbill saved at {airbill_path}"
        await ctx.audit("airbill.saved", order.id, reason, shipment_id=shipment.id, path=str(airbill_path),
                        tracking_number=tracking)
    # At least once: a crash after saving but before the order is done repeats this notice.
    await ctx.notify(pos.OrderEvent(
        order_id=order.id, state="fulfilling", previous_state="fulfilling", reason="FedEx airbill ready to print",
        details={"event": "airbill_ready", "airbill_path": str(airbill_path), "tracking_number": tracking,
                 "shipment_id": shipment.id},
    ))
    return Outcome.done(reason + (f", tracking {tracking}" if tracking else ""))


async def _generate_airbill(ctx: Context, order: Order, shipment: Shipment) -> Shipment | Outcome:
    try:
        await ctx.tevo.generate_airbill(shipment.id)
    except (OutcomeUnknown, ValidationFailed) as exc:
        fresh = await ctx.tevo.get_shipment(shipment.id)
        has_it = bool(fresh.tracking_number or fresh.airbill)
        await ctx.audit("airbill.generate", order.id,
                        f"shipment {shipment.id}: {exc}; re-fetched: airbill {'present' if has_it else 'absent'}",
                        shipment_id=shipment.id, error=type(exc).__name__)
        if has_it:
            return fresh
        if isinstance(exc, ValidationFailed):
            return Outcome.review(f"shipment {shipment.id}: TEvo refused to generate the FedEx airbill: {exc}")
        raise StepFailed(f"shipment {shipment.id}: airbill generation not confirmed: {exc}") from None
    await ctx.audit("airbill.generate", order.id, f"shipment {shipment.id}: airbill generated", shipment_id=shipment.id)
    return await ctx.tevo.get_shipment(shipment.id)


async def _fetch_airbill(ctx: Context, shipment: Shipment) -> tuple[bytes, str | None]:
    airbill = await ctx.tevo.get_airbill(shipment.id, max_bytes=ctx.settings.max_airbill_bytes)
    tracking = airbill.tracking_number or shipment.tracking_number
    if airbill.content:
        return airbill.content, tracking
    url = airbill.url or shipment.airbill
    if not url:
        raise StepFailed(f"shipment {shipment.id}: TEvo returned neither an airbill PDF nor its URL")
    # Get Airbill's format is Unknown (§5.4): JSON holding a URL is fetched from that URL.
    try:
        return await ctx.download(url), tracking
    except ResponseTooLarge:
        raise
    except Exception as exc:  # noqa: BLE001 - any download failure is worth another try later
        raise StepFailed(f"shipment {shipment.id}: could not download the airbill from {url}: {exc}") from None


def _write_atomically(path: Path, data: bytes) -> None:
    """A crash mid-write must not leave a truncated file that a later run would take as saved."""
    partial = path.with_name(path.name + ".part")
    write_private(partial, data)  # the airbill shows the buyer's name and address: 0600 in a 0700 folder
    os.replace(partial, path)


# Local pickup (§5.5) -----------------------------------------------------------------------------


def _has_pickup_details(shipment: Shipment) -> bool:
    extra = shipment.model_extra or {}
    return bool(extra.get("ship_from_name")) and bool(extra.get("pickup_time_range"))


def pickup_fields(settings: Any) -> dict[str, Any]:
    """The body of ``PUT /v9/shipments/:id`` for a pickup; hash shapes follow Orders / Create (§5.5 decision)."""
    address = {key: getattr(settings, key) for key in
               ("street_address", "extended_address", "locality", "region", "postal_code", "country_code")}
    fields: dict[str, Any] = {
        "ship_from_name": settings.contact_name,
        "ship_from_phone_number_attributes": {"number": settings.phone_number, "is_primary": True},
        "ship_from_address_attributes": {k: v for k, v in address.items() if v},
        "pickup_time_range": settings.time_range,
    }
    if settings.instructions:
        fields["pickup_instructions"] = settings.instructions
    return fields


async def fulfil_local_pickup(ctx: Context, order: Order, shipment: Shipment) -> Outcome:
    """Tell TEvo where and when the buyer collects; the seller records the handover in TEvo afterwards."""
    if _has_pickup_details(shipment):
        return Outcome.done(f"shipment {shipment.id}: pickup details already at TEvo")
    config = ctx.settings.local_pickup
    missing = missing_pickup_keys(config)
    if missing:
        keys = ", ".join(f"fulfillment.local_pickup.{key}" for key in missing)
        return Outcome.review(f"shipment {shipment.id} is a local pickup, but the config lacks {keys}")
    result = await replace_shipment(ctx, order, shipment, pickup_fields(config),
                                    landed=lambda s: s.kind == "localpickup" and _has_pickup_details(s),
                                    action="pickup.update")
    if isinstance(result, Outcome):
        return result
    return Outcome.done(f"shipment {shipment.id}: pickup details sent (now shipment {result.id})")


# Mobile transfers (§5.6) -------------------------------------------------------------------------


async def fulfil_mobile(ctx: Context, order: Order, shipment: Shipment) -> Outcome:
    """TBD → the POS's transfer type → complete with the claim links, following the replaced shipment id."""
    if shipment.state == "delivered":
        return Outcome.done(f"shipment {shipment.id}: transfer already complete at TEvo")
    items = items_of(order, shipment)
    if not ctx.pos.has_hook("pos_mobile_transfer"):
        return Outcome.review(f"shipment {shipment.id} is {shipment.type}: the POS plugin has no pos_mobile_transfer "
                              "hook; choose the transfer in TEvo")
    transfer = await _transfer(ctx, order, items)
    if isinstance(transfer, Outcome):
        return transfer
    expected = transfer.transfer_type.lower()
    if shipment.kind == "tbd":
        fields: dict[str, Any] = {"mobile_transfer_type": transfer.transfer_type}
        if transfer.transfer_source:
            fields["transfer_source"] = transfer.transfer_source
        result = await replace_shipment(ctx, order, shipment, fields, landed=lambda s: s.kind == expected,
                                        action="mobile.update")
        if isinstance(result, Outcome):
            return result
        shipment = result
    elif shipment.kind != expected:
        return Outcome.review(f"shipment {shipment.id} is {shipment.type} at TEvo, but the POS says "
                              f"{transfer.transfer_type}")
    if expected == "eticket":
        # The tickets now go as PDFs through the e-ticket path (pos_mobile_transfer docs).
        return Outcome("again", f"shipment {shipment.id} is now Eticket")
    return await _complete(ctx, order, shipment, [item.id for item in items], transfer)


async def _transfer(ctx: Context, order: Order, items: Sequence[Item]) -> pos.MobileTransfer | Outcome:
    """One transfer for the whole shipment: every item's type and source must agree; the links add up."""
    if not items:
        return Outcome.review("a TBD shipment holds no items of this order")
    transfers: list[pos.MobileTransfer] = []
    for item in items:
        try:
            transfer = await ctx.pos.mobile_transfer(pos_args.pos_order(order), pos_args.pos_item(order, item))
        except (PosTimeout, PosError) as exc:
            raise StepFailed(f"item {item.id}: {exc}") from None
        if transfer is None:
            return Outcome.review(f"item {item.id}: the POS gave no mobile transfer (pos_mobile_transfer returned "
                                  "nothing); choose the transfer in TEvo or supply it in the POS")
        transfers.append(transfer)
    kinds = {t.transfer_type for t in transfers}
    sources = {t.transfer_source for t in transfers if t.transfer_source}
    if len(kinds) > 1 or len(sources) > 1:
        return Outcome.review(f"items {[i.id for i in items]} share a shipment but the POS gives different "
                              f"transfers: {sorted(kinds)} from {sorted(sources)}")
    links = tuple(dict.fromkeys(link for t in transfers for link in t.links))
    return pos.MobileTransfer(transfers[0].transfer_type, links, next(iter(sources), None))


async def _complete(
    ctx: Context, order: Order, shipment: Shipment, item_ids: list[int], transfer: pos.MobileTransfer
) -> Outcome:
    # tm_mobile_link is required for TMMobileLink, optional for TMMobile, unused for FlashSeats (§5.6).
    links = list(transfer.links) if transfer.transfer_type in ("TMMobileLink", "TMMobile") else []
    label = f"{transfer.transfer_type} transfer complete"

    async def sent(current: Shipment, _: Shipment) -> Outcome:
        await ctx.audit("mobile.complete", order.id, f"shipment {current.id}: {transfer.transfer_type} completed",
                        shipment_id=current.id, links=len(links), transfer_source=transfer.transfer_source)
        return Outcome.done(f"shipment {current.id}: {label}")

    def settled(current: Shipment, fresh_order: Order, fresh: Shipment | None) -> Outcome | None:
        if fresh_order.seller_state == "completed" or (fresh is not None and fresh.state == "delivered"):
            return Outcome.done(f"shipment {current.id}: {label}")
        return None

    def found(fresh_order: Order, fresh: Shipment | None) -> str:
        return f"order {fresh_order.seller_state}, shipment " + (f"{fresh.id} {fresh.state}" if fresh else "gone")

    return await _send_confirmed(
        ctx, order, shipment, item_ids,
        send=lambda current: ctx.tevo.complete_shipment(current.id, tm_mobile_link=links or None,
                                                        transfer_source=transfer.transfer_source),
        sent=sent, settled=settled, found=found, action="mobile.complete", refused="to complete it",
        unconfirmed="completion",
    )
