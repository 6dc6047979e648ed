"""The SkyBox plugin passes the POS contract suite against the simulator, under every reading of SkyBox's unknowns."""

from __future__ import annotations

import io

import pytest
from pypdf import PdfReader
from tevo_bridge_skybox_pos.simulator import VARIANTS, SimSettings

from tevo_bridge.pos.host import PluginHost
from tevo_bridge.testing.contract import PosContract
from tevo_bridge.testing.samples import sample_order


class TestSkyBoxContract(PosContract):
    @pytest.fixture(params=list(VARIANTS), ids=list(VARIANTS))
    def sim_settings(self, request: pytest.FixtureRequest) -> SimSettings:
        return VARIANTS[request.param]

    @pytest.fixture
    def pos_plugin(self, make_plugin):
        return make_plugin()

    @pytest.fixture
    def pos_plugin_down(self, make_plugin):
        """A wrong API token, which the simulator refuses with 401 as SkyBox does."""
        return make_plugin(api_token="0" * 36, verify_on_start=False)

    @pytest.fixture(autouse=True)
    def _never_drops_every_hold(self, skybox):
        yield
        dropped = [path for method, path in skybox.state.calls if method == "DELETE" and path.endswith("/hold")]
        assert not dropped, f"the plugin called DELETE /inventory/{{id}}/hold: {dropped}"

    def test_ticket_files_skip_cover_and_advert_pages(self, pos: PluginHost) -> None:
        """SkyBox keeps one file per ticket: the cover and the advert of the seller's PDF are not in any."""
        order = sample_order("office_sale_eticket")
        files = pos.call_sync("pos_ticket_files", order=order, item=order.items[0])
        pages = sorted((seat, page, len(PdfReader(io.BytesIO(f.pdf)).pages)) for f in files for seat, page in
                       f.seat_pages.items())
        assert pages == [("5", 1, 1), ("6", 1, 1)], f"one single-page file per seat expected, got {pages}"
