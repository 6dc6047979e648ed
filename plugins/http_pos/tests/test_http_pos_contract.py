"""http_pos + the reference server pass the POS contract suite, on a real loopback port; every request and answer
of the suite is held to openapi.yaml (the ``reference`` fixture)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from tevo_bridge_http_pos import HttpPos

from tevo_bridge.pos.errors import PosCallError
from tevo_bridge.pos.types import Buyer, Hold, Item
from tevo_bridge.testing.contract import PosContract

#: Longer than any hook's default budget (pos_ticket_files has 60 s).
SLOW_SECONDS = 65.0


class TestHttpPosContract(PosContract):
    @pytest.fixture
    def pos_plugin(self, make_plugin):
        return make_plugin()

    @pytest.fixture
    def pos_plugin_down(self, closed_port_url, token):
        """The POS's port closed: nothing listens there."""
        plugin = HttpPos(HttpPos.Config(base_url=closed_port_url, token=token))
        yield plugin
        plugin.client.close()

    # The two below reach the same database as ``pos_plugin`` through a second server with the fault, so a test
    # can check through ``pos`` what the faulty plugin's calls did to the stock.

    @pytest.fixture
    def pos_plugin_slow(self, make_faulty_plugin):
        """The POS answers every request later than any hook's deadline."""
        return make_faulty_plugin(delay=SLOW_SECONDS)

    @pytest.fixture
    def pos_plugin_late(self, make_faulty_plugin):
        """The POS applies each write, but its first answer to it is lost (the connection drops)."""
        return make_faulty_plugin(lose_first_answers=True)


def test_the_late_fixture_writes_once_and_the_healthy_plugin_sees_it(make_faulty_plugin, make_plugin, make_pos_host):
    """The fixtures the contract's slow/late tests use: a lost first answer, the same stock as ``pos_plugin``."""
    late = make_pos_host(make_faulty_plugin(lose_first_answers=True))
    healthy = make_pos_host(make_plugin())
    assert late.call_sync("pos_hold", hold=Hold("G-1", "88507", 2)).held
    assert healthy.call_sync("pos_check_inventory", item=Item(None, 0, "88507", 1, Decimal(0))).available == 4
    sent = [(e.path, e.headers["idempotency-key"]) for e in make_faulty_plugin.servers[0].exchanges]
    assert sent == [("/holds", "G-1"), ("/holds", "G-1")], "the first answer was lost, the hold sent again"


def test_the_slow_fixture_answers_after_the_deadline(make_faulty_plugin, make_pos_host):
    slow = make_pos_host(make_faulty_plugin(delay=SLOW_SECONDS), budgets={"pos_find_customer": 0.3})
    with pytest.raises(PosCallError):
        slow.call_sync("pos_find_customer", buyer=Buyer("Client", 1))
