"""The stock rules shared by POS plugins, on the cases the contract suite reaches only indirectly."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from decimal import Decimal

import pytest

from tevo_bridge.pos.errors import OutOfStock, UnknownRemoteId
from tevo_bridge.pos.inventory import InventoryRow
from tevo_bridge.pos.rules import answer_hold, check_supply, tickets_to_take
from tevo_bridge.pos.types import Hold, HoldResult
from tevo_bridge.testing.samples import sample_order

GROUP = InventoryRow("91508", "Lakers at Warriors", "Chase Center", "", "112", "14", ("9", "10"), 2, Decimal(400))
ORDER = sample_order("mobile_transfer_tbd", global_id="G-1")  # 2 tickets of 91508


def test_a_hold_with_stock_is_left_to_the_plugin_to_reserve() -> None:
    assert answer_hold(Hold("G-1", "91508", 2), GROUP, 2, None) is None


def test_a_replay_for_other_tickets_is_refused() -> None:
    result = answer_hold(Hold("G-1", "91508", 1), GROUP, 0, ("91508", 2, "held"))
    assert result == HoldResult(False, "G-1", 0, "global_id_used")


def test_an_invoice_consumes_a_hold_of_exactly_its_tickets() -> None:
    assert tickets_to_take(ORDER, {"G-1": ("91508", 2)}) == (Counter(), ["G-1"])


def test_an_invoice_does_not_consume_a_hold_of_another_quantity() -> None:
    assert tickets_to_take(ORDER, {"G-1": ("91508", 1)}) == (Counter({"91508": 2}), [])


def test_an_invoice_whose_hold_is_no_longer_held_takes_from_stock() -> None:
    assert tickets_to_take(ORDER, {}) == (Counter({"91508": 2}), [])


def test_each_item_of_a_multi_item_order_consumes_its_own_reservation() -> None:
    order = sample_order("multi_item_fedex")
    first, second = order.items
    order = replace(order, items=(replace(first, global_id="R-1"), replace(second, global_id="R-2")))
    held = {"R-1": (first.remote_id, first.quantity), "R-2": (second.remote_id, second.quantity + 1)}
    assert tickets_to_take(order, held) == (Counter({second.remote_id: second.quantity}), ["R-1"])


def test_one_hold_named_by_two_items_is_consumed_once() -> None:
    order = sample_order("multi_item_fedex")
    first, _ = order.items
    order = replace(order, items=(replace(first, global_id="R-1"), replace(first, item_id=99, global_id="R-1")))
    needed, consumed = tickets_to_take(order, {"R-1": (first.remote_id, first.quantity)})
    assert (needed, consumed) == (Counter({first.remote_id: first.quantity}), ["R-1"])


def test_supply_short_by_one_is_out_of_stock() -> None:
    with pytest.raises(OutOfStock, match="'91508': 2 requested, 1 available"):
        check_supply(Counter({"91508": 2}), lambda remote_id: 1)


def test_supply_of_an_unknown_group_is_refused() -> None:
    with pytest.raises(UnknownRemoteId):
        check_supply(Counter({"NOPE": 1}), lambda remote_id: None)
