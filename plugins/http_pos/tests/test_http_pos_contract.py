"""http_pos + the reference server pass the POS contract suite, on a real loopback port; every request and answer
of the suite is held to openapi.yaml (the ``reference`` fixture)."""

from __future__ import annotations

import pytest
from tevo_bridge_http_pos import HttpPos

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

    @pytest.fixture
    def pos_plugin_slow(self, make_plugin, reference):
        """The POS answers every request later than any hook's deadline."""
        reference.faults.delay = SLOW_SECONDS
        return make_plugin()

    @pytest.fixture
    def pos_plugin_late(self, make_plugin, reference):
        """The POS applies each write, but its first answer to it is lost (the connection drops)."""
        reference.faults.lose_first_answers = True
        return make_plugin()
