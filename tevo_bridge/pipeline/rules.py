"""Pure decisions of the order state machine (docs/architecture.md; docs/tevo-api.md §3.3, §3.5): no I/O."""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass

from tevo_bridge.tevo.client import RejectReason
from tevo_bridge.tevo.models import Order


class BuyerKind(str, enum.Enum):
    TEVO = "tevo"  # Office 6: TEvo itself, the usual case
    CLIENT = "client"  # the seller's own site or Core: needs a POS customer, may wait on fraud
    OFFICE = "office"  # another brokerage buying directly


@dataclass(frozen=True)
class Classified:
    kind: BuyerKind | None
    review_reason: str | None = None


def classify_buyer(order: Order, other_office_buyers: str = "needs_review") -> Classified:
    buyer = order.buyer
    if buyer is None:
        return Classified(None, "order has no buyer")
    if buyer.is_tevo:
        return Classified(BuyerKind.TEVO)
    if buyer.type == "Client":
        return Classified(BuyerKind.CLIENT)
    if buyer.type == "Office":
        if other_office_buyers == "process":
            return Classified(BuyerKind.OFFICE)
        return Classified(None, f"buyer is Office {buyer.id}, not TEvo; [pipeline] other_office_buyers = "
                                f"\"needs_review\"")
    return Classified(None, f"unknown buyer type {buyer.type!r}")


class Fraud(str, enum.Enum):
    GO = "go"
    WAIT = "wait"
    DECLINED = "declined"
    REVIEW = "review"


def fraud_decision(status: str | None, approved_values: Sequence[str] = ("approved",)) -> Fraud:
    """Client sales only: null means no check was done (§3.5)."""
    if status is None or status in approved_values:
        return Fraud.GO
    if status == "pending":
        return Fraud.WAIT
    if status == "declined":
        return Fraud.DECLINED
    return Fraud.REVIEW  # includes the conflicting "accepted" value (§3.5 decision)


CANCELED_STATES = frozenset({"canceled", "canceled_open", "canceled_post_acceptance", "cancelled"})
REJECTED_STATES = frozenset({"rejected", "pending_substitution", "expired"})


class SellerState(str, enum.Enum):
    WAIT = "wait"
    DECIDE = "decide"
    FULFIL = "fulfil"
    REJECTED = "rejected"
    CANCELED = "canceled"
    REVIEW = "review"


def seller_state_action(seller_state: str) -> SellerState:
    if seller_state == "open":
        return SellerState.WAIT
    if seller_state == "pending":
        return SellerState.DECIDE
    if seller_state in ("accepted", "completed"):
        return SellerState.FULFIL
    if seller_state in REJECTED_STATES:
        return SellerState.REJECTED
    if seller_state in CANCELED_STATES:
        return SellerState.CANCELED
    return SellerState.REVIEW


@dataclass(frozen=True)
class ItemProblem:
    item_id: int
    remote_id: str
    kind: str  # unknown_remote_id | insufficient_quantity | price_not_acceptable
    detail: str


def reject_reason(problems: Sequence[ItemProblem]) -> RejectReason:
    """Price problems only → Priced Incorrectly; anything about supply → No Longer Available (§3.1)."""
    if problems and all(p.kind == "price_not_acceptable" for p in problems):
        return RejectReason.PRICED_INCORRECTLY
    return RejectReason.NO_LONGER_AVAILABLE


def describe(problems: Sequence[ItemProblem]) -> str:
    return "; ".join(f"item {p.item_id} ({p.remote_id}): {p.detail}" for p in problems)
