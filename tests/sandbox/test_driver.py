"""The buyer driver creates orders per scenario and announces them as TEvo does (docs/tevo-api.md §6, §7)."""

from __future__ import annotations

import json
import threading
from decimal import Decimal

import pytest

from tests.sandbox.conftest import driver_settings
from tests.sandbox.helpers import Receiver, TevoApi
from tevo_bridge.sandbox.driver import DriverSettings
from tevo_bridge.sandbox.scenarios import Channel, Scenario
from tevo_bridge.sandbox.server import Sandbox, running_sandbox


def test_order_created_is_a_form_with_the_four_fields(driven: tuple[Sandbox, Receiver]) -> None:
    tevo, fake = driven
    created = tevo.driver.create_sync(Scenario.OFFICE_ETICKET)
    tevo.driver.drain_sync()
    [hook] = fake.webhooks
    assert set(hook) == {"order_group_id", "recipient", "event_type", "body"}
    assert (hook["event_type"], hook["recipient"], hook["order_group_id"]) == (
        "order_created", "seller", created.order_group_id)


def test_the_webhook_body_is_the_order_as_show_returns_it(driven: tuple[Sandbox, Receiver]) -> None:
    tevo, fake = driven
    created = tevo.driver.create_sync(Scenario.OFFICE_ETICKET)
    tevo.driver.drain_sync()
    api = TevoApi(tevo.base_url, tevo.token, tevo.secret)
    shown = api.get(f"/orders/{created.order_id}").json()
    api.close()
    assert json.loads(fake.webhooks[0]["body"]) == shown


def test_a_failing_receiver_is_retried_until_it_answers(driven: tuple[Sandbox, Receiver]) -> None:
    tevo, fake = driven
    fake.webhook_failures = 2
    tevo.driver.create_sync(Scenario.OFFICE_ETICKET)
    tevo.driver.drain_sync()
    attempts = [(d.attempt, d.outcome) for d in tevo.driver.webhooks("order_created")]
    assert (attempts, len(fake.webhooks)) == ([(1, "failed"), (2, "failed"), (3, "sent")], 1)


def test_a_receiver_that_never_answers_is_given_up_after_four_retries() -> None:
    settings = driver_settings("http://127.0.0.1:9")  # discard port: connection refused
    with running_sandbox(driver=settings) as tevo:
        tevo.driver.create_sync(Scenario.OFFICE_ETICKET)
        tevo.driver.drain_sync()
        outcomes = [d.outcome for d in tevo.driver.webhooks()]
    assert outcomes == ["failed"] * 5 + ["gave_up"]


def test_a_fraud_pending_client_sale_is_approved_later_with_a_webhook(driven: tuple[Sandbox, Receiver]) -> None:
    tevo, fake = driven
    created = tevo.driver.create_sync(Scenario.CLIENT_FRAUD_APPROVED)
    tevo.driver.drain_sync()
    bodies = [(h["event_type"], json.loads(h["body"])["fraud_check_status"]) for h in fake.webhooks]
    assert bodies == [("order_created", "pending"), ("fraud_response_received", "approved")]
    assert tevo.inspect(created.order_id)["fraud_check_status"] == "approved"  # type: ignore[arg-type]


def test_a_fraud_declined_client_sale_says_so(driven: tuple[Sandbox, Receiver]) -> None:
    tevo, fake = driven
    created = tevo.driver.create_sync(Scenario.CLIENT_FRAUD_DECLINED)
    tevo.driver.drain_sync()
    order = tevo.inspect(created.order_id)  # type: ignore[arg-type]
    assert (order["fraud_check_status"], fake.webhooks[-1]["event_type"]) == ("declined",
                                                                               "fraud_response_received")


def test_a_catalog_notification_has_no_order_group_id(driven: tuple[Sandbox, Receiver]) -> None:
    tevo, fake = driven
    tevo.driver.send_catalog_event_sync()
    tevo.driver.drain_sync()
    [hook] = fake.webhooks
    assert (hook["event_type"], "order_group_id" in hook, "event_id" in hook) == ("event_updated", False, True)


def test_a_poll_only_order_is_not_announced(driven: tuple[Sandbox, Receiver]) -> None:
    tevo, fake = driven
    created = tevo.driver.create_sync(Scenario.OFFICE_ETICKET, channels=[Channel.POLL])
    tevo.driver.drain_sync()
    assert (fake.webhooks, tevo.inspect(created.order_id)["state"]) == ([], "pending")  # type: ignore[arg-type]


def test_order_integration_holds_then_invoices_an_accepted_order(driven: tuple[Sandbox, Receiver]) -> None:
    tevo, fake = driven
    created = tevo.driver.create_sync(Scenario.OI_INVOICE)
    tevo.driver.drain_sync()
    [hold], [invoice] = fake.calls("hold"), fake.calls("invoice")
    assert set(hold) == {"remote_id", "quantity", "global_id", "price", "ticket_group_id"}
    assert invoice == {"order_id": created.order_id, "global_id": hold["global_id"]}
    order = tevo.world.orders[created.order_id]  # type: ignore[index]
    assert (order["seller_state"], order["was_auto_accepted"]) == ("accepted", True)


def test_order_integration_sends_the_api_key(driven: tuple[Sandbox, Receiver]) -> None:
    tevo, fake = driven
    tevo.driver.create_sync(Scenario.OI_INVOICE)
    tevo.driver.drain_sync()
    assert {headers["x-api-key"] for _, _, headers in fake.oi_calls} == {"k" * 32}


def test_a_released_hold_creates_no_order(driven: tuple[Sandbox, Receiver]) -> None:
    tevo, fake = driven
    created = tevo.driver.create_sync(Scenario.OI_RELEASE)
    tevo.driver.drain_sync()
    assert (created.order_id, [k for k, _, _ in fake.oi_calls], tevo.world.orders) == (None, ["hold", "release"], {})


def test_a_refused_hold_creates_no_order(driven: tuple[Sandbox, Receiver]) -> None:
    tevo, fake = driven
    fake.hold_answer = (409, {"status": "unavailable", "reason": "insufficient_quantity"})
    created = tevo.driver.create_sync(Scenario.OI_OUT_OF_STOCK)
    tevo.driver.drain_sync()
    assert (created.order_id, created.hold_status, tevo.world.orders) == (None, 409, {})


def test_an_invoice_is_retried_while_the_receiver_fails(driven: tuple[Sandbox, Receiver]) -> None:
    tevo, fake = driven
    fake.oi_failures = 2
    tevo.driver.create_sync(Scenario.OI_INVOICE)
    tevo.driver.drain_sync()
    statuses = [d.status for d in tevo.driver.oi_calls("invoice")]
    assert (statuses, len(fake.calls("invoice"))) == ([503, 503, 200], 1)


def test_a_hold_to_a_receiver_that_is_down_creates_no_order() -> None:
    with running_sandbox(driver=driver_settings("http://127.0.0.1:9")) as tevo:
        created = tevo.driver.create_sync(Scenario.OI_INVOICE)
        [hold] = tevo.driver.oi_calls("hold")
    assert (created.order_id, hold.outcome) == (None, "failed")


def test_one_of_each_scenario_creates_orders_as_expected(driven: tuple[Sandbox, Receiver]) -> None:
    tevo, fake = driven
    fake.stock = {g.remote_id: len(g.seats) for g in tevo.driver.planner.inventory}
    results = [tevo.driver.create_sync(s) for s in Scenario]
    tevo.driver.drain_sync()
    assert [r.order_id is not None for r in results] == [s.expected.order_created for s in Scenario]


def test_out_of_stock_orders_more_than_the_listing_holds(driven: tuple[Sandbox, Receiver]) -> None:
    tevo, _ = driven
    created = tevo.driver.create_sync(Scenario.OUT_OF_STOCK)
    item = tevo.world.orders[created.order_id]["items"][0]  # type: ignore[index]
    listing = next(g for g in tevo.driver.planner.inventory if g.remote_id == item["ticket_group"]["remote_id"])
    assert item["quantity"] > len(listing.seats)


def test_underpriced_pays_less_than_the_wholesale_price(driven: tuple[Sandbox, Receiver]) -> None:
    tevo, _ = driven
    created = tevo.driver.create_sync(Scenario.UNDERPRICED)
    item = tevo.world.orders[created.order_id]["items"][0]  # type: ignore[index]
    assert Decimal(item["price"]) < Decimal(item["ticket_group"]["wholesale_price"])


def test_page_selection_orders_fewer_tickets_than_the_listing_has(driven: tuple[Sandbox, Receiver]) -> None:
    tevo, _ = driven
    created = tevo.driver.create_sync(Scenario.PAGE_SELECTION)
    item = tevo.world.orders[created.order_id]["items"][0]  # type: ignore[index]
    listing = next(g for g in tevo.driver.planner.inventory if g.remote_id == item["ticket_group"]["remote_id"])
    assert item["quantity"] == len(listing.seats) - 1


@pytest.mark.parametrize(("scenario", "shipment"), [
    (Scenario.FEDEX, "FedEx"), (Scenario.LOCAL_PICKUP, "LocalPickup"), (Scenario.TBD_MOBILE, "TBD"),
    (Scenario.MULTI_ITEM, "Eticket")])
def test_each_delivery_scenario_gets_its_shipment_type(driven: tuple[Sandbox, Receiver], scenario: Scenario,
                                                       shipment: str) -> None:
    tevo, _ = driven
    created = tevo.driver.create_sync(scenario)
    assert tevo.world.orders[created.order_id]["shipments"][0]["type"] == shipment  # type: ignore[index]


def test_sold_seats_are_not_sold_twice(driven: tuple[Sandbox, Receiver]) -> None:
    tevo, _ = driven
    first = tevo.driver.create_sync(Scenario.OFFICE_ETICKET, channels=[Channel.POLL])
    second = tevo.driver.create_sync(Scenario.OFFICE_ETICKET, channels=[Channel.POLL])
    seats = [tuple(s) for o in (first, second)
             for s in [tevo.world.orders[o.order_id]["items"][0]["ticket_group"]["seats"]]]  # type: ignore[index]
    assert seats[0] != seats[1]


async def test_the_driver_can_be_awaited_from_another_event_loop(driven: tuple[Sandbox, Receiver]) -> None:
    tevo, fake = driven
    created = await tevo.driver.create(Scenario.OFFICE_ETICKET)
    await tevo.driver.drain()
    assert fake.webhooks[0]["order_group_id"] == created.order_group_id


def test_the_driver_can_be_used_from_any_thread(driven: tuple[Sandbox, Receiver]) -> None:
    tevo, _ = driven
    results: list[int | None] = []
    worker = threading.Thread(target=lambda: results.append(tevo.driver.create_sync("office_eticket").order_id))
    worker.start()
    worker.join()
    assert results[0] in tevo.world.orders


def test_an_oi_scenario_cannot_skip_order_integration() -> None:
    with running_sandbox(driver=DriverSettings()) as tevo, pytest.raises(ValueError):
        tevo.driver.create_sync(Scenario.OI_INVOICE, channels=[Channel.WEBHOOK])


def test_any_single_item_scenario_can_go_through_order_integration(driven: tuple[Sandbox, Receiver]) -> None:
    tevo, fake = driven
    created = tevo.driver.create_sync(Scenario.TBD_MOBILE, channels=[Channel.ORDER_INTEGRATION])
    tevo.driver.drain_sync()
    order = tevo.world.orders[created.order_id]  # type: ignore[index]
    assert (order["seller_state"], order["was_auto_accepted"], [k for k, _, _ in fake.oi_calls]) == (
        "accepted", True, ["hold", "invoice"])
