"""The stock rules shared by POS plugins, on the cases the contract suite reaches only indirectly."""

from __future__ import annotations

from collections import Counter
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
    assert tickets_to_take(ORDER, ("91508", 2)) == (Counter({"91508": 0}), True)


def test_an_invoice_does_not_consume_a_hold_of_another_quantity() -> None:
    assert tickets_to_take(ORDER, ("91508", 1)) == (Counter({"91508": 2}), False)


def test_supply_short_by_one_is_out_of_stock() -> None:
    with pytest.raises(OutOfStock, match="'91508': 2 requested, 1 available"):
        check_supply(Counter({"91508": 2}), lambda remote_id: 1)


def test_supply_of_an_unknown_group_is_refused() -> None:
    with pytest.raises(UnknownRemoteId):
        check_supply(Counter({"NOPE": 1}), lambda remote_id: None)
