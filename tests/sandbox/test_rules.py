"""Each TEvo rule, broken on purpose, gets the status and error body TEvo would give (docs/tevo-api.md §3–§5)."""

from __future__ import annotations

import base64
import io
from pathlib import Path

import pytest
from pypdf import PdfReader

from tests.sandbox.conftest import multi_item_request, order_request
from tests.sandbox.helpers import TevoApi, b64, fixture_pdf
from tevo_bridge.sandbox.inspection import delivered_page_texts
from tevo_bridge.sandbox.rules import REJECT_REASONS
from tevo_bridge.sandbox.server import Sandbox, running_sandbox
from tevo_bridge.sandbox.state import World

TWO_PAGES = fixture_pdf("tickets_2_pages.pdf")
TEVO_JSON = "application/vnd.ticketevolution.api+json; version=9; charset=utf-8"
FIVE_PAGES = fixture_pdf("tickets_5_pages_for_3_seats.pdf")


def accepted(sandbox: Sandbox, **kw: object) -> dict:
    return sandbox.create_order(order_request(state="accepted", **kw))  # type: ignore[arg-type]


def item_path(order: dict, n: int = 0) -> str:
    return f"/orders/{order['id']}/items/{order['items'][n]['id']}"


# -- accept and reject ------------------------------------------------------------------------

def test_accept_moves_a_pending_order_to_accepted(api: TevoApi, sandbox: Sandbox) -> None:
    order = sandbox.create_order(order_request())
    response = api.post(f"/orders/{order['id']}/accept", {"reviewer_id": 4711, "seats": [5, 6]})
    assert (response.status_code, response.json()["seller_state"]) == (200, "accepted")


def test_accept_is_refused_unless_the_order_is_pending(api: TevoApi, sandbox: Sandbox) -> None:
    order = accepted(sandbox)
    response = api.post(f"/orders/{order['id']}/accept", {"reviewer_id": 4711})
    assert response.status_code == 422
    assert response.json()["errors"] == {"seller_state": ["is accepted; only a pending order can be accepted"]}
    assert response.json()["id"] == order["id"]


def test_reject_is_refused_unless_the_order_is_pending(api: TevoApi, sandbox: Sandbox) -> None:
    order = accepted(sandbox)
    response = api.post(f"/orders/{order['id']}/reject", {"reason": "Other", "reviewer_id": 4711})
    assert (response.status_code, response.json()["errors"]) == (
        422, {"seller_state": ["is accepted; only a pending order can be rejected"]})


def test_accept_needs_a_reviewer_of_the_sellers_brokerage(api: TevoApi, sandbox: Sandbox) -> None:
    order = sandbox.create_order(order_request())
    response = api.post(f"/orders/{order['id']}/accept", {"reviewer_id": 9001})
    assert (response.status_code, response.json()["errors"]) == (
        422, {"reviewer_id": ["must be a user of the seller's brokerage"]})
    assert sandbox.inspect(order["id"])["state"] == "pending"


def test_accept_without_reviewer_is_refused(api: TevoApi, sandbox: Sandbox) -> None:
    order = sandbox.create_order(order_request())
    response = api.post(f"/orders/{order['id']}/accept", {})
    assert (response.status_code, response.json()["errors"]) == (422, {"reviewer_id": ["can't be blank"]})


def test_reject_needs_a_reviewer_of_the_sellers_brokerage(api: TevoApi, sandbox: Sandbox) -> None:
    order = sandbox.create_order(order_request())
    response = api.post(f"/orders/{order['id']}/reject", {"reason": "Other", "reviewer_id": 123})
    assert (response.status_code, response.json()["errors"]) == (
        422, {"reviewer_id": ["must be a user of the seller's brokerage"]})


def test_reject_refuses_a_reason_outside_the_six(api: TevoApi, sandbox: Sandbox) -> None:
    order = sandbox.create_order(order_request())
    response = api.post(f"/orders/{order['id']}/reject", {"reason": "tickets no longer available",
                                                          "reviewer_id": 4711})
    assert (response.status_code, response.json()["errors"]) == (422, {"reason": ["is not included in the list"]})


@pytest.mark.parametrize("reason", REJECT_REASONS)
def test_reject_takes_each_of_the_six_reasons(api: TevoApi, sandbox: Sandbox, reason: str) -> None:
    order = sandbox.create_order(order_request())
    body = api.post(f"/orders/{order['id']}/reject", {"reason": reason, "reviewer_id": 4711,
                                                      "rejection_notes": "n"}).json()
    assert (body["seller_state"], body["seller_rejection_reason"]) == ("rejected", reason)


def test_malformed_json_is_a_bad_request(api: TevoApi, sandbox: Sandbox) -> None:
    order = sandbox.create_order(order_request())
    response = api.post(f"/orders/{order['id']}/accept", b"{reviewer_id: 4711")
    assert (response.status_code, response.json()) == (400, {"error": "The request body is not valid JSON"})


# -- e-tickets -------------------------------------------------------------------------------

def test_uploads_must_be_base64(api: TevoApi, sandbox: Sandbox) -> None:
    order = accepted(sandbox)
    response = api.post(item_path(order) + "/add_etickets", {"files": ["not base64!"]})
    assert (response.status_code, response.json()["errors"]) == (422, {"files": ["is not valid base64"]})


def test_uploads_must_be_pdfs(api: TevoApi, sandbox: Sandbox) -> None:
    order = accepted(sandbox)
    response = api.post(item_path(order) + "/add_etickets", {"files": [b64(b"GIF89a, not a ticket")]})
    assert (response.status_code, response.json()["errors"]) == (422, {"files": ["is not a valid PDF"]})


def test_uploads_need_an_accepted_order(api: TevoApi, sandbox: Sandbox) -> None:
    order = sandbox.create_order(order_request())
    response = api.post(item_path(order) + "/add_etickets", {"files": [b64(TWO_PAGES)]})
    assert (response.status_code, response.json()["errors"]) == (
        422, {"order": ["is pending; e-tickets need an accepted order"]})


def test_uploads_are_refused_for_items_not_delivered_by_eticket(api: TevoApi, sandbox: Sandbox) -> None:
    order = accepted(sandbox, remote_id="90417", shipment="FedEx")
    response = api.post(item_path(order) + "/add_etickets", {"files": [b64(TWO_PAGES)]})
    assert (response.status_code, response.json()["errors"]) == (
        422, {"needs_eticket": ["this item is not delivered by e-ticket"]})


def test_several_uploads_merge_into_one_file(api: TevoApi, sandbox: Sandbox) -> None:
    order = accepted(sandbox)
    api.post(item_path(order) + "/add_etickets", {"files": [b64(TWO_PAGES)]})
    item = api.post(item_path(order) + "/add_etickets", {"files": [b64(FIVE_PAGES)]}).json()
    assert item["eticket_pdf_pages"] == 7


def test_finalize_must_keep_as_many_pages_as_tickets(api: TevoApi, sandbox: Sandbox) -> None:
    order = accepted(sandbox, remote_id="88507", quantity=3)
    api.post(item_path(order) + "/add_etickets", {"files": [b64(FIVE_PAGES)]})
    response = api.post(item_path(order) + "/finalize_etickets", {"keep_pages": [2, 3]})
    assert (response.status_code, response.json()["errors"]) == (
        422, {"keep_pages": ["must keep 3 pages to match the quantity, or send ignore_quantity"]})


def test_finalize_with_ignore_quantity_keeps_any_count(api: TevoApi, sandbox: Sandbox) -> None:
    order = accepted(sandbox, remote_id="88507", quantity=3)
    api.post(item_path(order) + "/add_etickets", {"files": [b64(FIVE_PAGES)]})
    item = api.post(item_path(order) + "/finalize_etickets", {"keep_pages": [1, 2, 3, 4],
                                                              "ignore_quantity": True}).json()
    assert (item["eticket_finalized"], item["eticket_pdf_pages"]) == (True, 4)


def test_finalize_refuses_pages_that_do_not_exist(api: TevoApi, sandbox: Sandbox) -> None:
    order = accepted(sandbox)
    api.post(item_path(order) + "/add_etickets", {"files": [b64(TWO_PAGES)]})
    response = api.post(item_path(order) + "/finalize_etickets", {"keep_pages": [2, 3]})
    assert (response.status_code, response.json()["errors"]) == (
        422, {"keep_pages": ["must be distinct page numbers between 1 and 2"]})


def test_finalize_without_an_upload_is_refused(api: TevoApi, sandbox: Sandbox) -> None:
    order = accepted(sandbox)
    response = api.post(item_path(order) + "/finalize_etickets", {"keep_pages": [1, 2]})
    assert (response.status_code, response.json()["errors"]) == (
        422, {"etickets": ["must be uploaded before finalizing"]})


def test_finalize_keeps_exactly_the_chosen_pages(api: TevoApi, sandbox: Sandbox) -> None:
    order = accepted(sandbox, remote_id="88507", quantity=3)
    api.post(item_path(order) + "/add_etickets", {"files": [b64(FIVE_PAGES)]})
    api.post(item_path(order) + "/finalize_etickets", {"keep_pages": [2, 3, 4]})
    texts = delivered_page_texts(sandbox.world, order["items"][0]["id"])
    assert ["SEAT 105" in texts[0], "SEAT 106" in texts[1], "SEAT 107" in texts[2]] == [True, True, True]


def test_a_finalized_item_refuses_further_uploads(api: TevoApi, sandbox: Sandbox) -> None:
    order = accepted(sandbox)
    api.post(item_path(order) + "/add_etickets", {"files": [b64(TWO_PAGES)]})
    api.post(item_path(order) + "/finalize_etickets", {"keep_pages": [1, 2]})
    response = api.post(item_path(order) + "/add_etickets", {"files": [b64(TWO_PAGES)]})
    assert (response.status_code, response.json()["errors"]) == (
        422, {"eticket_finalized": ["e-tickets are already finalized"]})


def test_remove_etickets_is_a_get_that_clears_the_uploads(api: TevoApi, sandbox: Sandbox) -> None:
    order = accepted(sandbox)
    api.post(item_path(order) + "/add_etickets", {"files": [b64(TWO_PAGES)]})
    item = api.get(item_path(order) + "/remove_etickets").json()
    assert (item["eticket_pdf_pages"], sandbox.inspect(order["id"])["items"][item["id"]]["uploads"]) == (None, 0)


def test_deliver_etickets_takes_the_order_item_id(api: TevoApi, sandbox: Sandbox) -> None:
    order = accepted(sandbox)
    item = order["items"][0]
    response = api.post(f"/orders/{order['id']}/deliver_etickets",
                        {"etickets": [{"item_id": item["order_item_id"], "eticket": b64(TWO_PAGES)}]})
    assert (response.status_code, response.json()) == (200, {"result": "success"})
    assert sandbox.inspect(order["id"])["items"][item["id"]]["pages_delivered"] == 2


def test_deliver_etickets_refuses_the_items_id(api: TevoApi, sandbox: Sandbox) -> None:
    order = accepted(sandbox)
    response = api.post(f"/orders/{order['id']}/deliver_etickets",
                        {"etickets": [{"item_id": order["items"][0]["id"], "eticket": b64(TWO_PAGES)}]})
    assert (response.status_code, response.json()["errors"]) == (
        422, {"item_id": ["is not an order_item_id of this order"]})


def test_deliver_etickets_needs_one_page_per_ticket(api: TevoApi, sandbox: Sandbox) -> None:
    order = accepted(sandbox)
    response = api.post(f"/orders/{order['id']}/deliver_etickets", {"etickets": [
        {"item_id": order["items"][0]["order_item_id"], "eticket": b64(FIVE_PAGES)}]})
    assert response.status_code == 422
    assert list(response.json()["errors"]) == ["eticket"]


# -- completion ------------------------------------------------------------------------------

def test_an_order_completes_when_all_its_etickets_are_finalized(api: TevoApi, sandbox: Sandbox) -> None:
    request = multi_item_request()
    order = sandbox.create_order(request)
    api.post(f"/orders/{order['id']}/accept", {"reviewer_id": 4711})
    api.post(item_path(order, 0) + "/add_etickets", {"files": [b64(TWO_PAGES)]})
    api.post(item_path(order, 0) + "/finalize_etickets", {"keep_pages": [1, 2]})
    halfway = sandbox.inspect(order["id"])["state"]
    api.post(item_path(order, 1) + "/add_etickets", {"files": [b64(FIVE_PAGES)]})
    api.post(item_path(order, 1) + "/finalize_etickets", {"keep_pages": [2, 3, 4]})
    assert (halfway, sandbox.inspect(order["id"])["state"]) == ("accepted", "completed")


def test_complete_order_is_refused_unless_accepted(api: TevoApi, sandbox: Sandbox) -> None:
    order = sandbox.create_order(order_request())
    response = api.post(f"/orders/{order['id']}/complete")
    assert (response.status_code, response.json()["errors"]) == (
        422, {"seller_state": ["is pending; only a accepted order can be completed"]})


# -- shipments -------------------------------------------------------------------------------

PICKUP = {
    "ship_from_name": "Hudson Box Office",
    "ship_from_phone_number_attributes": {"number": "212-555-0199", "extension": None, "is_primary": True},
    "ship_from_address_attributes": {"street_address": "1501 Broadway", "locality": "New York", "region": "NY",
                                     "postal_code": "10036", "country_code": "US"},
    "pickup_time_range": "6-7 PM on show day",
}


def test_updating_a_shipment_replaces_it_with_a_new_id(api: TevoApi, sandbox: Sandbox) -> None:
    order = accepted(sandbox, remote_id="90871", shipment="LocalPickup")
    old_id = order["shipments"][0]["id"]
    new = api.put(f"/shipments/{old_id}", PICKUP).json()
    assert new["id"] != old_id
    assert (new["ship_from_name"], new["type"]) == ("Hudson Box Office", "LocalPickup")
    assert api.get(f"/shipments/{old_id}").status_code == 404
    assert api.get(f"/orders/{order['id']}").json()["items"][0]["delivery_id"] == new["id"]


def test_a_local_pickup_needs_every_pickup_detail(api: TevoApi, sandbox: Sandbox) -> None:
    order = accepted(sandbox, remote_id="90871", shipment="LocalPickup")
    response = api.put(f"/shipments/{order['shipments'][0]['id']}", {"ship_from_name": "Box Office"})
    assert response.status_code == 422
    assert set(response.json()["errors"]) == {"ship_from_phone_number_attributes", "ship_from_address_attributes",
                                              "pickup_time_range"}


def test_shipments_change_only_after_acceptance(api: TevoApi, sandbox: Sandbox) -> None:
    order = sandbox.create_order(order_request(remote_id="90871", shipment="LocalPickup"))
    response = api.put(f"/shipments/{order['shipments'][0]['id']}", PICKUP)
    assert (response.status_code, response.json()["errors"]) == (
        422, {"order": ["is pending; the order must be accepted first"]})


def test_an_airbill_is_only_for_fedex(api: TevoApi, sandbox: Sandbox) -> None:
    order = accepted(sandbox)
    response = api.post(f"/shipments/{order['shipments'][0]['id']}/airbill")
    assert (response.status_code, response.json()["errors"]) == (
        422, {"type": ["airbills are only available for FedEx shipments"]})


def test_a_fedex_airbill_is_json_holding_a_real_pdf(api: TevoApi, sandbox: Sandbox) -> None:
    order = accepted(sandbox, remote_id="90417", shipment="FedEx")
    shipment_id = order["shipments"][0]["id"]
    shipment = api.post(f"/shipments/{shipment_id}/airbill").json()
    response = api.get(f"/shipments/{shipment_id}/get_airbill")
    body = response.json()
    text = PdfReader(io.BytesIO(base64.b64decode(body["airbill"], validate=True))).pages[0].extract_text()
    assert (response.headers["content-type"], shipment["state"]) == (TEVO_JSON, "in_transit")
    assert body["tracking_number"] == shipment["tracking_number"] and shipment["tracking_number"] in text


def test_the_raw_airbill_option_answers_the_pdf_itself() -> None:
    with running_sandbox(seed=7, raw_airbill=True) as sandbox:
        api = TevoApi(sandbox.base_url, sandbox.token, sandbox.secret)
        order = accepted(sandbox, remote_id="90417", shipment="FedEx")
        shipment_id = order["shipments"][0]["id"]
        tracking = api.post(f"/shipments/{shipment_id}/airbill").json()["tracking_number"]
        response = api.get(f"/shipments/{shipment_id}/get_airbill")
        api.close()
    assert response.headers["content-type"] == "application/pdf"
    assert tracking in PdfReader(io.BytesIO(response.content)).pages[0].extract_text()


def test_an_airbill_cannot_be_fetched_before_it_is_generated(api: TevoApi, sandbox: Sandbox) -> None:
    order = accepted(sandbox, remote_id="90417", shipment="FedEx")
    response = api.get(f"/shipments/{order['shipments'][0]['id']}/get_airbill")
    assert (response.status_code, response.json()["errors"]) == (422, {"airbill": ["has not been generated"]})


def test_fedex_tracking_completes_the_order(api: TevoApi, sandbox: Sandbox) -> None:
    order = accepted(sandbox, remote_id="90417", shipment="FedEx")
    shipment_id = order["shipments"][0]["id"]
    api.post(f"/shipments/{shipment_id}/airbill")
    sandbox.world.deliver_shipment(shipment_id)
    assert api.get(f"/orders/{order['id']}").json()["seller_state"] == "completed"


def mobile_shipment(api: TevoApi, sandbox: Sandbox, kind: str) -> tuple[dict, dict]:
    order = accepted(sandbox, remote_id="91508", shipment="TBD")
    return order, api.put(f"/shipments/{order['shipments'][0]['id']}", {"mobile_transfer_type": kind}).json()


def test_a_tbd_shipment_becomes_the_chosen_mobile_type(api: TevoApi, sandbox: Sandbox) -> None:
    order, shipment = mobile_shipment(api, sandbox, "TMMobileLink")
    assert (shipment["type"], shipment["state"]) == ("TMMobileLink", "pending")
    assert shipment["id"] != order["shipments"][0]["id"]


def test_a_tbd_shipment_refuses_an_unknown_transfer_type(api: TevoApi, sandbox: Sandbox) -> None:
    order = accepted(sandbox, remote_id="91508", shipment="TBD")
    response = api.put(f"/shipments/{order['shipments'][0]['id']}", {"mobile_transfer_type": "Carrier Pigeon"})
    assert (response.status_code, response.json()["errors"]) == (
        422, {"mobile_transfer_type": ["is not included in the list"]})


def test_a_tbd_shipment_cannot_be_completed_before_its_type_is_chosen(api: TevoApi, sandbox: Sandbox) -> None:
    order = accepted(sandbox, remote_id="91508", shipment="TBD")
    response = api.put(f"/shipments/{order['shipments'][0]['id']}/complete", {"tm_mobile_link": "https://x.test/a"})
    assert response.status_code == 422
    assert list(response.json()["errors"]) == ["mobile_transfer_type"]


def test_completing_a_tm_mobile_link_needs_the_link(api: TevoApi, sandbox: Sandbox) -> None:
    _, shipment = mobile_shipment(api, sandbox, "TMMobileLink")
    response = api.put(f"/shipments/{shipment['id']}/complete", {"transfer_source": "TM"})
    assert (response.status_code, response.json()["errors"]) == (422, {"tm_mobile_link": ["can't be blank"]})


def test_completing_a_tm_mobile_link_completes_shipment_and_order(api: TevoApi, sandbox: Sandbox) -> None:
    order, shipment = mobile_shipment(api, sandbox, "TMMobileLink")
    done = api.put(f"/shipments/{shipment['id']}/complete",
                   {"tm_mobile_link": "https://example.com/claim/a,https://example.com/claim/b",
                    "transfer_source": "TM"}).json()
    assert (done["state"], api.get(f"/orders/{order['id']}").json()["seller_state"]) == ("delivered", "completed")


def test_a_transfer_source_outside_the_codes_is_refused(api: TevoApi, sandbox: Sandbox) -> None:
    _, shipment = mobile_shipment(api, sandbox, "TMMobileLink")
    response = api.put(f"/shipments/{shipment['id']}/complete",
                       {"tm_mobile_link": "https://example.com/claim/a", "transfer_source": "Ticketmaster"})
    assert (response.status_code, response.json()["errors"]) == (
        422, {"transfer_source": ["is not included in the list"]})


def test_a_tm_mobile_shipment_names_the_transfer_recipient(api: TevoApi, sandbox: Sandbox) -> None:
    _, shipment = mobile_shipment(api, sandbox, "TMMobile")
    assert shipment["email_address"]["address"]


# -- persistence -----------------------------------------------------------------------------

def test_state_survives_a_restart_only_with_a_state_file(tmp_path: Path) -> None:
    state = tmp_path / "sandbox.json"
    world = World(state_file=state)
    order = world.create_order(order_request())
    world.item_files(order["items"][0]["id"]).uploads.append(TWO_PAGES)
    world.changed()
    reborn = World(state_file=state)
    assert reborn.orders[order["id"]] == order
    assert reborn.files[order["items"][0]["id"]].uploads == [TWO_PAGES]
    assert reborn.next_id("order") == order["id"] + 1


def test_without_a_state_file_nothing_is_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    World().create_order(order_request())
    assert list(tmp_path.iterdir()) == []


def test_fedex_tracking_delivers_on_its_own_after_the_transit_time() -> None:
    from tevo_bridge.sandbox.server import running_sandbox

    with running_sandbox(fedex_transit_seconds=0.0) as tevo:
        api = TevoApi(tevo.base_url, tevo.token, tevo.secret)
        order = accepted(tevo, remote_id="90417", shipment="FedEx")
        api.post(f"/shipments/{order['shipments'][0]['id']}/airbill")
        state = api.get(f"/orders/{order['id']}").json()["seller_state"]
        api.close()
    assert state == "completed"


def test_a_restarted_sandbox_with_a_state_file_still_knows_its_orders(tmp_path: Path) -> None:
    from tevo_bridge.sandbox.server import running_sandbox

    state = tmp_path / "world.json"
    with running_sandbox(seed=1, state_file=state) as first:
        order = first.create_order(order_request())
        api = TevoApi(first.base_url, first.token, first.secret)
        api.post(f"/orders/{order['id']}/accept", {"reviewer_id": 4711})
        api.close()
    with running_sandbox(seed=1, state_file=state) as second:
        api = TevoApi(second.base_url, second.token, second.secret)
        shown = api.get(f"/orders/{order['id']}").json()
        api.close()
    assert (shown["seller_state"], second.inspect(order["id"])["accept_calls"]) == ("accepted", 1)
