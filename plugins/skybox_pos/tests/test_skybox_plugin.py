"""What the SkyBox plugin does beyond the contract: SkyBox's ids, faults, rate limits, credentials, secrets."""

from __future__ import annotations

import base64
import logging
import time
from dataclasses import replace
from decimal import Decimal

import httpx
import pytest
from tevo_bridge_skybox_pos import SkyBoxPos
from tevo_bridge_skybox_pos.client import AuthFailed, Unavailable
from tevo_bridge_skybox_pos.simulator import Faults, SimSettings, running

from tevo_bridge.pos.errors import PluginStartError, PosError, TicketsNotReady
from tevo_bridge.pos.host import PluginHost
from tevo_bridge.pos.types import Buyer, Hold, Item
from tevo_bridge.testing.samples import sample_order

CLIENT = Buyer("Client", 3381027, "Megan Alvarez", "megan.alvarez@example.com", "+1 617-555-0148")


def available(pos: PluginHost, remote_id: str) -> int:
    return pos.call_sync("pos_check_inventory", item=Item(None, 0, remote_id, 1, Decimal(0))).available


def hold(pos: PluginHost, global_id: str, remote_id: str, quantity: int) -> object:
    return pos.call_sync("pos_hold", hold=Hold(global_id, remote_id, quantity))


@pytest.fixture
def pos(make_plugin, make_pos_host) -> PluginHost:
    return make_pos_host(make_plugin())


def upload_files(skybox, pos_id: int, pdf_file: str) -> None:
    """What a broker does in SkyBox: attach a PDF to every ticket of a listing (``PUT /inventory/{id}``, the
    whole ``Inventory`` as read, which SkyBox's model requires, with ``base64FileBytes`` on each ticket)."""
    state = skybox.state
    inventory_id = state.pos_id_history[pos_id]
    with open(pdf_file, "rb") as f:
        pdf = base64.b64encode(f.read()).decode()
    c = skybox.credentials
    headers = {"X-Account": c.account, "X-Api-Token": c.api_token, "X-Application-Token": c.application_token}
    listing = httpx.get(f"{skybox.base_url}/inventory/{inventory_id}", headers=headers).json()
    listing["tickets"] = [t | {"base64FileBytes": pdf} for t in listing["tickets"]]
    answer = httpx.put(f"{skybox.base_url}/inventory/{inventory_id}", json=listing, headers=headers)
    assert answer.status_code == 200, answer.text[:2000]


# -- SkyBox's ids ------------------------------------------------------------------------------------


@pytest.mark.parametrize("sim_settings", [SimSettings(), SimSettings(new_pos_id_on_upload=False)],
                         ids=["pos-id-changes", "pos-id-stable"])
def test_a_listing_is_found_by_its_old_exchange_pos_id_after_files_change_it(skybox, pos, sim_settings,
                                                                            pos_inventory):
    assert hold(pos, "G-1", "88213", 2).held
    upload_files(skybox, 88213, pos_inventory[0].eticket_pdf)
    changed = skybox.state.listings[skybox.state.pos_id_history[88213]].exchange_pos_id != 88213
    assert changed == sim_settings.new_pos_id_on_upload
    assert available(pos, "88213") == 2, "the remote id TEvo knows still names the listing"
    invoice = pos.call_sync("pos_create_invoice", order=sample_order("office_sale_eticket", global_id="G-1"),
                            customer=None)
    assert invoice.created and available(pos, "88213") == 2


def test_a_remote_id_that_is_an_inventory_id_is_found_too(skybox, pos):
    inventory_id = skybox.state.pos_id_history[90417]
    assert available(pos, str(inventory_id)) == 10


def test_the_plugin_never_drops_every_hold_of_a_listing(skybox, pos):
    hold(pos, "G-1", "90417", 3)
    hold(pos, "G-2", "90417", 2)
    assert pos.call_sync("pos_release_hold", hold=Hold("G-1", "90417", 3)) is True
    assert available(pos, "90417") == 8, "releasing one hold freed another's tickets"
    assert not [c for c in skybox.state.calls if c[0] == "DELETE" and c[1].endswith("/hold")]


# -- customers and invoices ----------------------------------------------------------------------------


def test_office_sales_go_to_the_tevo_marketplace_customer(skybox, pos):
    invoice = pos.call_sync("pos_create_invoice", order=sample_order("office_sale_eticket"), customer=None)
    assert skybox.state.invoices[int(invoice.invoice_id)].customer_id == skybox.state.tevo_customer_id


def test_a_client_is_matched_by_exact_email_not_by_a_lookalike(skybox, pos):
    skybox.state.create_customer(skybox.state.customer_body("Not Megan", "x" + CLIENT.email))
    assert pos.call_sync("pos_find_customer", buyer=CLIENT) is None
    created = pos.call_sync("pos_create_customer", buyer=CLIENT)
    assert pos.call_sync("pos_find_customer", buyer=replace(CLIENT, email=CLIENT.email.upper())) == created
    invoice = pos.call_sync("pos_create_invoice", order=sample_order("client_sale_fraud_approved"), customer=created)
    assert skybox.state.invoices[int(invoice.invoice_id)].customer_id == int(created.id)


def test_an_invoice_line_carries_the_ticket_ids_and_the_line_total(skybox, pos):
    order = sample_order("office_sale_eticket")
    invoice = pos.call_sync("pos_create_invoice", order=order, customer=None)
    (line,) = skybox.state.invoices[int(invoice.invoice_id)].lines
    item = order.items[0]
    assert (len(line["itemIds"]), Decimal(str(line["amount"]))) == (item.quantity, item.price * item.quantity)


def test_each_order_gets_the_seats_tevo_sold_it_though_skybox_held_others(skybox, pos):
    """A checkout hold took seats 1-2 first; TEvo then sold seats 1-2 to another order, reserved on seats 3-4."""
    order = sample_order("multi_item_fedex")
    item = next(i for i in order.items if i.remote_id == "90417")
    assert hold(pos, "G-checkout", "90417", 2).held  # SkyBox picks seats 1, 2
    reserved = replace(item, quantity=2, seats=("1", "2"), global_id=f"order-{order.order_id}-r0")
    assert pos.call_sync("pos_hold", hold=Hold(reserved.global_id, "90417", 2, order_id=order.order_id)).held
    first = replace(order, items=(reserved,))
    pos.call_sync("pos_create_invoice", order=first, customer=None)
    checkout_order = replace(order, order_id=order.order_id + 1,
                             items=(replace(reserved, order_id=order.order_id + 1, seats=("3", "4"),
                                            global_id="G-checkout"),))
    pos.call_sync("pos_create_invoice", order=checkout_order, customer=None)
    sold = {inv.external_ref: sorted(skybox.state.tickets[t].seat for t in inv.lines[0]["itemIds"])
            for inv in skybox.state.invoices.values()}
    assert sold == {str(order.order_id): [1, 2], str(order.order_id + 1): [3, 4]}
    assert available(pos, "90417") == 6 and not skybox.state.live_holds()


# -- ticket files ----------------------------------------------------------------------------------------


def test_files_not_in_skybox_yet_make_the_order_wait_then_come(pos_inventory, make_pos_host):
    with running(SimSettings(), pos_inventory, files_ready=False) as sim:
        plugin = SkyBoxPos(SkyBoxPos.Config.model_validate(sim.plugin_settings()))
        host = make_pos_host(plugin)
        order = sample_order("office_sale_eticket")
        with pytest.raises(PosError) as raised:
            host.call_sync("pos_ticket_files", order=order, item=order.items[0])
        assert isinstance(raised.value.original, TicketsNotReady)
        host.call_sync("pos_create_invoice", order=order, customer=None)
        upload_files(sim, 88213, pos_inventory[0].eticket_pdf)
        files = host.call_sync("pos_ticket_files", order=order, item=order.items[0])
        assert sorted(seat for f in files for seat in f.seat_pages) == ["5", "6"]
        plugin.client.close()


def test_a_file_shared_by_seats_maps_a_page_per_seat_only_when_the_pages_add_up(pos_inventory, make_pos_host):
    """Open question: one fileName for several tickets. The uploaded PDF has a cover and an advert (6 pages)."""
    with running(SimSettings(), pos_inventory, files_ready=False) as sim:
        host = make_pos_host(SkyBoxPos(SkyBoxPos.Config.model_validate(sim.plugin_settings())))
        upload_files(sim, 88213, pos_inventory[0].eticket_pdf)  # one 6-page PDF written on each ticket
        state = sim.state
        listing = state.listings[state.pos_id_history[88213]]
        shared = state.tickets[listing.tickets[0]].file_name
        for ticket_id in listing.tickets:
            state.tickets[ticket_id].file_name = shared
        order = sample_order("office_sale_eticket")
        with pytest.raises(PosError, match="cannot tell which page is which seat"):
            host.call_sync("pos_ticket_files", order=order, item=order.items[0])


def test_files_come_from_the_invoiced_tickets_once_invoiced(skybox, pos):
    order = sample_order("office_sale_eticket")
    pos.call_sync("pos_create_invoice", order=order, customer=None)
    files = pos.call_sync("pos_ticket_files", order=order, item=order.items[0])
    assert sorted(seat for f in files for seat in f.seat_pages) == ["5", "6"]
    assert any(path.startswith("/invoices/") and path.endswith("/tickets") for _, path in skybox.state.calls)


# -- faults: writes that happened without an answer, 5xx, outages ----------------------------------------


@pytest.mark.parametrize("sim_settings", [SimSettings(faults=Faults(timeout_rate=1.0, hang_seconds=1.5,
                                                                   methods=("POST",)))], ids=["post-timeouts"])
def test_writes_whose_answer_was_lost_happen_once(skybox, make_plugin, make_pos_host, sim_settings):
    pos = make_pos_host(make_plugin(read_timeout=0.5))
    result = hold(pos, "G-lost", "90417", 3)
    assert result.held and len(skybox.state.holds) == 1, "a re-search must find the hold the lost answer made"
    customer = pos.call_sync("pos_create_customer", buyer=CLIENT)
    assert len([c for c in skybox.state.customers.values() if c.get("email") == CLIENT.email]) == 1
    invoice = pos.call_sync("pos_create_invoice", order=sample_order("client_sale_fraud_approved"), customer=customer)
    assert invoice.created and len(skybox.state.invoices) == 1


@pytest.mark.parametrize("sim_settings", [SimSettings(faults=Faults(error_rate=0.3))], ids=["30pct-5xx"])
def test_5xx_answers_are_retried_and_nothing_happens_twice(skybox, pos, sim_settings):
    results = [hold(pos, f"G-{n}", "90417", 1) for n in range(6)]
    held = [r for r in results if r.held]
    assert len(skybox.state.live_holds()) == len(held) and available(pos, "90417") == 10 - len(held)
    for _ in range(3):
        try:
            pos.call_sync("pos_create_invoice", order=sample_order("multi_item_fedex"), customer=None)
        except PosError:
            continue  # a fault past the retries: the daemon retries the step later
    assert len(skybox.state.invoices) <= 1


def test_a_skybox_outage_during_a_hold_answers_unavailable_within_the_budget(skybox, pos):
    skybox.state.settings.faults.outage = True
    result = hold(pos, "G-down", "90417", 2)  # PluginHost raises PosTimeout past the 3 s budget
    assert (result.held, result.reason) == (False, "insufficient_quantity")
    skybox.state.settings.faults.outage = False
    assert available(pos, "90417") == 10 and not skybox.state.live_holds()


def test_an_order_reservation_during_an_outage_is_a_fault_to_retry_not_a_refusal(skybox, pos):
    """Refusing would make the daemon reject a sale TEvo already made because SkyBox was down for a moment."""
    skybox.state.settings.faults.outage = True
    with pytest.raises(PosError) as raised:
        pos.call_sync("pos_hold", hold=Hold("order-1-item-2-r0", "90417", 2, order_id=1))
    assert isinstance(raised.value.original, Unavailable)
    skybox.state.settings.faults.outage = False
    assert pos.call_sync("pos_hold", hold=Hold("order-1-item-2-r0", "90417", 2, order_id=1)).held


def test_a_hold_skybox_makes_after_the_answer_was_due_is_deleted(skybox, make_plugin, make_pos_host):
    pos = make_pos_host(make_plugin(read_timeout=1.0, hold_deadline_seconds=1.0))
    faults = skybox.state.settings.faults
    faults.timeout_rate, faults.hang_seconds, faults.methods = 1.0, 3.0, ("POST",)  # made, answered too late
    result = hold(pos, "G-late", "90417", 2)
    assert not result.held
    faults.timeout_rate = 0.0
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and (skybox.state.live_holds() or not skybox.state.holds):
        time.sleep(0.1)
    assert skybox.state.holds and not skybox.state.live_holds(), "the late hold must be deleted, not left held"


# -- rate limits -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("sim_settings", [SimSettings(rate_limit=3, retry_after=True),
                                          SimSettings(rate_limit=3, retry_after=False)],
                         ids=["retry-after", "no-retry-after"])
def test_429s_are_waited_out(skybox, make_plugin, make_pos_host, sim_settings):
    pos = make_pos_host(make_plugin(calls_per_second=100, burst=100))
    assert [available(pos, "90417") for _ in range(6)] == [10] * 6
    assert skybox.state.rate_limited > 0, "the simulator should have refused some calls"


@pytest.mark.parametrize("sim_settings", [SimSettings(rate_limit=3)], ids=["limit-3-per-s"])
def test_pacing_keeps_within_the_limit(skybox, make_plugin, make_pos_host, sim_settings):
    pos = make_pos_host(make_plugin(calls_per_second=2.5, burst=1, expired_hold_sweep_seconds=600))
    assert [available(pos, "90417") for _ in range(4)] == [10] * 4
    assert skybox.state.rate_limited == 0


# -- credentials and secrets -----------------------------------------------------------------------------


def test_wrong_tokens_are_named_and_never_shown(skybox, caplog):
    settings = skybox.plugin_settings(api_token="0badc0de-0000-4000-8000-000000000000")
    with pytest.raises(PluginStartError) as raised:
        PluginHost.load("skybox_pos", settings)
    message = str(raised.value)
    assert "X-Api-Token" in message and "0badc0de" not in message and skybox.credentials.application_token not in message


def test_a_wrong_account_is_named(skybox):
    with pytest.raises(AuthFailed, match="X-Account is wrong"):
        SkyBoxPos(SkyBoxPos.Config.model_validate(skybox.plugin_settings(account_id=999)))


def test_tokens_are_masked_in_log_lines(skybox, pos, caplog):
    from tevo_bridge.log import REDACTOR

    event = REDACTOR(None, "info", {"event": f"calling with {skybox.credentials.api_token}"})
    assert skybox.credentials.api_token not in str(event)
    skybox.state.settings.faults.outage = True
    with caplog.at_level(logging.WARNING):
        hold(pos, "G-x", "90417", 1)
    assert caplog.text and skybox.credentials.api_token not in caplog.text


def test_health_names_the_refused_token_without_showing_it(make_plugin, make_pos_host) -> None:
    wrong = "f" * 36
    host = make_pos_host(make_plugin(api_token=wrong, verify_on_start=False))
    answer = host.health_sync()
    assert answer.ok is False and "X-Api-Token" in answer.reason and wrong not in answer.reason, answer


def test_health_of_a_good_account_is_ok_and_shutdown_closes_the_client(make_plugin, make_pos_host) -> None:
    plugin = make_plugin()
    host = make_pos_host(plugin)
    assert host.health_sync().ok is True
    host.close()
    assert plugin.client._http.is_closed
