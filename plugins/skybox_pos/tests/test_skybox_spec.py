"""SkyBox held to SkyBox's own spec: the derived model schemas, the simulator refusing what SkyBox's models
refuse, and the plugin surviving the answers SkyBox's spec allows (or leaves open)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import get_args

import httpx
import pytest
from tevo_bridge_skybox_pos import SkyBoxPos
from tevo_bridge_skybox_pos.client import Unavailable
from tevo_bridge_skybox_pos.holds import parse_seats
from tevo_bridge_skybox_pos.settings import PaymentMethod
from tevo_bridge_skybox_pos.simulator import RunningSimulator, SimSettings
from tevo_bridge_skybox_pos.simulator.spec import spec

from tevo_bridge.pos import deadline
from tevo_bridge.pos.errors import PluginConfigError, PosError, VoidRefused
from tevo_bridge.pos.host import PluginHost
from tevo_bridge.pos.types import Buyer, Hold, Item
from tevo_bridge.testing.samples import sample_order

TOOLS = Path(__file__).resolve().parents[1] / "tools"


@pytest.fixture
def pos(make_plugin, make_pos_host) -> PluginHost:
    return make_pos_host(make_plugin(expired_hold_sweep_seconds=0))


def call(sim: RunningSimulator, method: str, path: str, body: object = None) -> httpx.Response:
    c = sim.credentials
    return httpx.request(method, f"{sim.base_url}{path}", json=body, headers={
        "X-Account": c.account, "X-Api-Token": c.api_token, "X-Application-Token": c.application_token})


def available(pos: PluginHost, remote_id: str) -> int:
    return pos.call_sync("pos_check_inventory", item=Item(None, 0, remote_id, 1, Decimal(0))).available


# -- the derived schemas ---------------------------------------------------------------------------------


def test_the_derived_schemas_name_their_source_commit_and_licence() -> None:
    document = spec().document
    assert document["x-source"]["repository"] == "https://github.com/Evizent/skybox_openapi_client"
    assert len(document["x-source"]["commit"]) == 40 and "NoLicense" in document["x-licence"]
    customer = document["$defs"]["Customer"]
    assert {"address", "salesTerm", "paymentMethod", "defaultDeliveryMethod"} <= set(customer["required"])
    assert document["x-operations"]["DELETE /holds/{hold-id}"]["responses"] == {"200": "Hold", "401": None}


def _derive_schemas():  # the tool is a script, not part of the package
    sys.path.insert(0, str(TOOLS))
    try:
        import derive_schemas
    finally:
        sys.path.remove(str(TOOLS))
    return derive_schemas


@pytest.mark.skipif(not os.environ.get("SKYBOX_OPENAPI_CLIENT_GIT"),
                    reason="set SKYBOX_OPENAPI_CLIENT_GIT to a (bare) clone of Evizent/skybox_openapi_client")
def test_the_committed_schemas_are_what_the_tool_derives_from_the_client() -> None:
    derive_schemas = _derive_schemas()
    source = derive_schemas.Source.from_git(Path(os.environ["SKYBOX_OPENAPI_CLIENT_GIT"]))
    committed = json.loads(derive_schemas.OUT.read_text())
    assert source.commit == committed["x-source"]["commit"], "re-derive: the client has moved on"
    assert derive_schemas.derive(source) == committed


FAKE_MODEL = '''
from pydantic import BaseModel, Field, StrictInt, StrictStr, field_validator
from typing import ClassVar, List, Optional
from typing_extensions import Annotated

class Thing(BaseModel):
    id: Optional[StrictInt] = None
    count: Annotated[int, Field(strict=True, ge=1)]
    term: StrictStr = Field(alias="salesTerm")
    tags: Optional[List[StrictStr]] = Field(default=None, alias="tagList")
    __properties: ClassVar[List[str]] = ["id", "count", "salesTerm", "tagList"]

    @field_validator('term')
    def term_validate_enum(cls, value):
        if value not in set(['NET0', 'NET30']):
            raise ValueError("must be one of enum values ('NET0', 'NET30')")
        return value

    @field_validator('tags')
    def tags_validate_enum(cls, value):
        if value is None:
            return value
        for i in value:
            if i not in set(['A', 'B']):
                raise ValueError("each list item must be one of ('A', 'B')")
        return value
'''
FAKE_API = '''
class ThingsApi:
    def things_insert(self, thing: Annotated[Thing, Field(description="x")]) -> Thing:
        _response_types_map: Dict[str, Optional[str]] = {'200': "Thing", '400': None}

    def _things_insert_serialize(self, thing):
        return self.api_client.param_serialize(method='POST', resource_path='/things')
'''


def test_the_derivation_reads_required_fields_aliases_bounds_and_enums(tmp_path: Path) -> None:
    derive_schemas = _derive_schemas()
    package = tmp_path / "skybox_openapi_client"
    (package / "models").mkdir(parents=True)
    (package / "api").mkdir()
    (package / "models" / "thing.py").write_text(FAKE_MODEL)
    (package / "api" / "things_api.py").write_text(FAKE_API)
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    source = derive_schemas.Source.from_checkout(tmp_path)
    thing = derive_schemas.model_schema(derive_schemas.models(source)["Thing"])
    assert thing["required"] == ["count", "salesTerm"]
    assert thing["properties"]["count"] == {"type": "integer", "minimum": 1}
    assert thing["properties"]["salesTerm"] == {"type": "string", "enum": ["NET0", "NET30"]}
    assert thing["properties"]["tagList"] == {"anyOf": [{"type": "array", "items": {"type": "string",
                                                                                     "enum": ["A", "B"]}},
                                                        {"type": "null"}]}
    assert derive_schemas._api_operations(derive_schemas.ast.parse(FAKE_API)) == {
        "POST /things": {"operationId": "things_insert", "responses": {"200": "Thing", "400": None}, "body": "Thing"}}


def test_client_payment_method_choices_are_skyboxs_enum() -> None:
    allowed = spec().defs["Customer"]["properties"]["paymentMethod"]["enum"]
    assert sorted(get_args(PaymentMethod)) == sorted(allowed)


def test_a_payment_method_skybox_does_not_know_is_refused_at_config_time(skybox) -> None:
    with pytest.raises(PluginConfigError) as raised:
        PluginHost.load("skybox_pos", skybox.plugin_settings(client_payment_method="BITCOIN"))
    message = str(raised.value)
    assert "client_payment_method" in message and "'ZELLE'" in message and "'OTHER'" in message


# -- the simulator refuses what SkyBox's models refuse -----------------------------------------------------


def test_a_customer_with_only_a_display_name_is_refused_naming_each_missing_field(skybox) -> None:
    before = len(skybox.state.customers)
    answer = call(skybox, "POST", "/customers", {"displayName": "Only A Name"})
    assert answer.status_code == 400
    for missing in ("accountId", "email", "address", "customerType", "salesTerm", "paymentMethod",
                    "defaultDeliveryMethod"):
        assert f'"{missing}' in answer.text or f"\\\"{missing}\\\"" in answer.text, (missing, answer.text)
    assert len(skybox.state.customers) == before
    skybox.state.refused_bodies.clear()  # refused on purpose: not a plugin body


def test_an_enum_value_skybox_does_not_have_is_refused(skybox) -> None:
    body = skybox.state.customer_body("Net Nine", "n9@example.com") | {"salesTerm": "NET999"}
    answer = call(skybox, "POST", "/customers", body)
    assert answer.status_code == 400 and "salesTerm" in answer.text and "NET999" in answer.text, answer.text
    ok = call(skybox, "POST", "/customers", body | {"salesTerm": "NET30"})
    assert ok.status_code == 200, ok.text
    skybox.state.refused_bodies.clear()


def test_seeded_customers_and_account_settings_are_what_skyboxs_models_say(skybox) -> None:
    customers = call(skybox, "GET", "/customers").json()["rows"]
    assert customers and all({"address", "salesTerm", "paymentMethod", "defaultDeliveryMethod"} <= set(c)
                             for c in customers)
    settings = call(skybox, "GET", "/account").json()["accountSettings"]
    assert settings and all("settingName" in s and "name" not in s for s in settings)
    assert not skybox.state.spec_mismatches


def test_a_sold_out_listing_is_left_out_of_searches_and_sells_nothing(skybox, pos) -> None:
    order = sample_order("office_sale_eticket")
    item = order.items[0]
    listing = skybox.state.listings[skybox.state.pos_id_history[int(item.remote_id)]]
    sell_all = replace(order, items=(replace(item, quantity=len(listing.tickets), seats=()),))
    pos.call_sync("pos_create_invoice", order=sell_all, customer=None)
    rows = call(skybox, "GET", f"/inventory?exchangePosId={item.remote_id}").json()["rows"]
    assert rows == [], "SkyBox omits sold-out listings (Inventory.quantity is at least 1)"
    assert available(pos, item.remote_id) == 0


# -- the plugin under answers SkyBox's spec allows -----------------------------------------------------------


@pytest.mark.parametrize("status", [400, 410])
def test_a_refused_delete_of_an_expired_hold_never_fails_availability_or_a_new_hold(skybox, pos, status) -> None:
    assert pos.call_sync("pos_hold", hold=Hold("G-old", "90417", 9)).held
    (old,) = skybox.state.live_holds()
    old.expiry = datetime.now(UTC) - timedelta(seconds=1)  # lapsed; SkyBox keeps it (holds_expire is off)
    skybox.state.settings.faults.delete_hold_status = status
    assert available(pos, "90417") == 1, "the sweep's refused DELETE must not fail availability"
    refused = pos.call_sync("pos_hold", hold=Hold("G-new", "90417", 3))
    assert (refused.held, refused.reason) == (False, "insufficient_quantity")
    assert old.removed is None, "the refused hold is kept for a later sweep"
    skybox.state.settings.faults.delete_hold_status = 0
    assert pos.call_sync("pos_hold", hold=Hold("G-new", "90417", 3)).held, "the next sweep deletes it"
    assert old.removed is not None


@pytest.mark.parametrize(("written", "seats"), [
    ("5-7", (5, 6, 7)), ("5,6,7", (5, 6, 7)), ("5, 7-8", (5, 7, 8)), ("12", (12,)), ("", ()), (None, ()),
    ("GA", ()), ("9-7", ()),
])
def test_hold_seats_are_read_as_lists_and_ranges(written, seats) -> None:
    assert parse_seats(written) == seats


@pytest.mark.parametrize("sim_settings", [SimSettings(hold_seats="ranges")], ids=["ranges"])
def test_an_order_held_on_seats_written_as_a_range_is_invoiced_from_its_hold(skybox, pos, sim_settings) -> None:
    order = sample_order("office_sale_eticket", global_id="G-range")
    item = order.items[0]
    assert pos.call_sync("pos_hold", hold=Hold("G-range", item.remote_id, item.quantity)).held
    assert "-" in call(skybox, "GET", "/holds?externalRef=G-range").json()["rows"][0]["seats"]
    invoice = pos.call_sync("pos_create_invoice", order=order, customer=None)
    assert invoice.created and skybox.hold_states("G-range") == ["invoiced"]


def test_a_buyer_without_an_email_is_created_with_the_email_skyboxs_model_requires(skybox, pos) -> None:
    """``Customer.email`` is required (a ``StrictStr`` without default) in SkyBox's model: leaving it out would
    be refused, so it is sent empty; the buyer is found again by name and TEvo id."""
    buyer = Buyer("Client", 5550001, "Pat NoMail", "", "")
    created = pos.call_sync("pos_create_customer", buyer=buyer)
    assert skybox.state.customers[int(created.id)]["email"] == ""
    assert pos.call_sync("pos_find_customer", buyer=buyer) == created


@pytest.mark.parametrize("sim_settings", [SimSettings(unknown_pos_id_status=400)], ids=["unknown-id-400"])
def test_a_400_for_an_unknown_exchange_id_means_an_unknown_listing(skybox, pos, sim_settings) -> None:
    unknown = Item(None, 0, "99999", 1, Decimal(0))
    assert pos.call_sync("pos_check_inventory", item=unknown).known is False
    assert pos.call_sync("pos_hold", hold=Hold("G-unknown", "99999", 1)).reason == "unknown_remote_id"
    assert pos.call_sync("pos_accept_price", item=unknown).acceptable is False


def test_every_request_is_cut_to_the_hooks_deadline(skybox, make_plugin) -> None:
    plugin = make_plugin()
    skybox.state.settings.faults.latency = 5.0
    started = time.monotonic()
    with deadline.running_until(time.monotonic() + 0.5), pytest.raises(Unavailable):
        plugin.pos_check_inventory(Item(None, 0, "90417", 1, Decimal(0)))
    assert time.monotonic() - started < 4.0, "the call waited for SkyBox past the host's deadline"


# -- voids ---------------------------------------------------------------------------------------------------


def test_a_void_puts_the_tickets_back_on_sale_and_marks_the_invoice_void(skybox, pos) -> None:
    order = sample_order("office_sale_eticket")
    item = order.items[0]
    before = available(pos, item.remote_id)
    invoice = pos.call_sync("pos_create_invoice", order=order, customer=None)
    assert available(pos, item.remote_id) == before - item.quantity
    pos.call_sync("pos_void_invoice", order=order, invoice_id=invoice.invoice_id, reason="buyer canceled")
    assert available(pos, item.remote_id) == before
    record = skybox.state.invoices[int(invoice.invoice_id)]
    assert record.body["paymentStatus"] == "VOID" and "buyer canceled" in record.body["internalNotes"]
    writes = len([c for c in skybox.state.calls if c[0] != "GET"])
    pos.call_sync("pos_void_invoice", order=order, invoice_id=invoice.invoice_id, reason="buyer canceled")
    assert len([c for c in skybox.state.calls if c[0] != "GET"]) == writes, "a repeated void wrote again"
    assert available(pos, item.remote_id) == before


def test_a_void_finishes_after_a_crash_between_its_steps(skybox, pos) -> None:
    order = sample_order("office_sale_eticket")
    invoice = pos.call_sync("pos_create_invoice", order=order, customer=None)
    (line,) = skybox.state.invoices[int(invoice.invoice_id)].lines
    assert call(skybox, "DELETE", f"/invoices/{invoice.invoice_id}/lines/{line['id']}").status_code == 200
    pos.call_sync("pos_void_invoice", order=order, invoice_id=invoice.invoice_id, reason="canceled")
    assert skybox.state.invoices[int(invoice.invoice_id)].body["paymentStatus"] == "VOID"


def test_a_paid_invoice_is_not_voided_but_sent_to_a_person(skybox, pos) -> None:
    order = sample_order("office_sale_eticket")
    invoice = pos.call_sync("pos_create_invoice", order=order, customer=None)
    skybox.state.invoices[int(invoice.invoice_id)].body["paymentStatus"] = "PAID"
    with pytest.raises(PosError) as raised:
        pos.call_sync("pos_void_invoice", order=order, invoice_id=invoice.invoice_id, reason="canceled")
    assert isinstance(raised.value.original, VoidRefused) and "PAID" in str(raised.value.original)
    assert skybox.state.invoices[int(invoice.invoice_id)].lines, "nothing was changed"


def test_the_plugin_declares_contract_2() -> None:
    from tevo_bridge_skybox_pos import plugin

    assert plugin.TEVO_BRIDGE_CONTRACT == (2,) and hasattr(SkyBoxPos, "pos_void_invoice")


@pytest.mark.parametrize("sim_settings", [SimSettings(line_tickets="object")], ids=["spec-one-ticket"])
def test_files_of_a_line_come_whole_when_skybox_answers_one_ticket_per_line(skybox, pos, sim_settings) -> None:
    """SkyBox's spec declares ``GET /invoices/{id}/lines/{lineId}/tickets`` answers one ``Ticket``."""
    order = sample_order("office_sale_eticket")
    pos.call_sync("pos_create_invoice", order=order, customer=None)
    files = pos.call_sync("pos_ticket_files", order=order, item=order.items[0])
    assert sorted(seat for f in files for seat in f.seat_pages) == ["5", "6"]


def test_every_endpoint_the_simulator_serves_is_one_of_skyboxs() -> None:
    import re

    from fastapi.routing import APIRoute
    from tevo_bridge_skybox_pos.simulator import SimState
    from tevo_bridge_skybox_pos.simulator.app import create_app

    routes = [r for r in create_app(SimState()).routes if isinstance(r, APIRoute)]
    assert len(routes) > 15
    for route in routes:
        path = re.sub(r"\{[^}]+\}", "7", route.path)
        for method in route.methods:
            assert spec().operation(method, path) is not None, f"{method} {route.path} is not in SkyBox's spec"
