"""The order state machine's pure decisions."""

import pytest

from tests.conftest import load_fixture
from tevo_bridge.pipeline.rules import (
    BuyerKind,
    Fraud,
    ItemProblem,
    SellerState,
    classify_buyer,
    fraud_decision,
    reject_reason,
    seller_state_action,
)
from tevo_bridge.tevo.client import RejectReason
from tevo_bridge.tevo.models import Order


def order(name="office_sale_eticket", **changes):
    data = load_fixture(f"orders/{name}.json")
    data.update(changes)
    return Order.model_validate(data)


def test_office_6_is_tevo():
    assert classify_buyer(order()).kind is BuyerKind.TEVO


def test_client_is_client():
    assert classify_buyer(order("client_sale_fraud_pending")).kind is BuyerKind.CLIENT


def test_other_office_goes_to_review_by_default():
    other = order(buyer={"type": "Office", "id": 99, "name": "Other Brokers"})
    assert classify_buyer(other).kind is None and "Office 99" in classify_buyer(other).review_reason
    assert classify_buyer(other, "process").kind is BuyerKind.OFFICE


def test_unknown_buyer_type_goes_to_review():
    assert classify_buyer(order(buyer={"type": "Alien", "id": 1})).kind is None


@pytest.mark.parametrize(("status", "expected"), [
    (None, Fraud.GO), ("approved", Fraud.GO), ("pending", Fraud.WAIT), ("declined", Fraud.DECLINED),
    ("accepted", Fraud.REVIEW), ("weird", Fraud.REVIEW),
])
def test_fraud_decisions(status, expected):
    assert fraud_decision(status) is expected


def test_fraud_approving_values_are_configurable():
    assert fraud_decision("accepted", ["approved", "accepted"]) is Fraud.GO


@pytest.mark.parametrize(("state", "action"), [
    ("open", SellerState.WAIT), ("pending", SellerState.DECIDE), ("accepted", SellerState.FULFIL),
    ("completed", SellerState.FULFIL), ("rejected", SellerState.REJECTED), ("pending_substitution", SellerState.REJECTED),
    ("expired", SellerState.REJECTED), ("canceled", SellerState.CANCELED), ("cancelled", SellerState.CANCELED),
    ("canceled_post_acceptance", SellerState.CANCELED), ("cancel_proposed", SellerState.REVIEW),
    ("pending_consignment", SellerState.REVIEW),
])
def test_seller_states(state, action):
    assert seller_state_action(state) is action


def test_reject_reason_price_only_vs_supply():
    price = ItemProblem(1, "a", "price_not_acceptable", "too low")
    stock = ItemProblem(2, "b", "insufficient_quantity", "0 left")
    assert reject_reason([price]) is RejectReason.PRICED_INCORRECTLY
    assert reject_reason([price, stock]) is RejectReason.NO_LONGER_AVAILABLE
