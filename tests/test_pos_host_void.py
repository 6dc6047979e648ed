"""PluginHost runs pos_void_invoice like any hook: its ``None`` is accepted, anything else is the plugin's bug."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests.pos_stubs import StubPos
from tevo_bridge import hookimpl
from tevo_bridge.pos.errors import PosError
from tevo_bridge.pos.host import PluginHost
from tevo_bridge.pos.types import Buyer, Item, Order

ORDER = Order(7101, Buyer("Office", 6, "Ticket Evolution"),
              (Item(order_id=7101, item_id=1, remote_id="TG-1", quantity=2, price=Decimal("50")),), Decimal("100"))


class VoidingPos(StubPos):
    def __init__(self, answer: object = None) -> None:
        super().__init__()
        self.answer, self.voided = answer, []

    @hookimpl
    def pos_void_invoice(self, order: Order, invoice_id: str, reason: str) -> object:
        self.voided.append((order.order_id, invoice_id, reason))
        return self.answer


async def test_a_void_through_the_host_reaches_the_plugin_and_returns_none() -> None:
    plugin = VoidingPos()
    with PluginHost("voiding", plugin) as host:
        assert await host.void_invoice(ORDER, "INV-1", "canceled by TEvo") is None
    assert plugin.voided == [(7101, "INV-1", "canceled by TEvo")]


def test_a_void_answering_something_else_is_a_pos_error_naming_the_hook() -> None:
    with PluginHost("voiding", VoidingPos(answer=True)) as host, pytest.raises(PosError) as caught:
        host.call_sync("pos_void_invoice", order=ORDER, invoice_id="INV-1", reason="canceled")
    assert "pos_void_invoice returned bool, expected None" in str(caught.value)
