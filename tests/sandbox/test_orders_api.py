"""Orders, items, users and shipments look and page exactly like TEvo's (docs/tevo-api.md §3, §9)."""

from __future__ import annotations

from typing import Any

from tests.sandbox.conftest import multi_item_request, order_request
from tests.sandbox.helpers import TevoApi, fixture_json
from tevo_bridge.sandbox.server import Sandbox


def keys(obj: dict[str, Any]) -> set[str]:
    return set(obj)


def test_an_order_has_every_field_of_the_fixture(api: TevoApi, sandbox: Sandbox) -> None:
    fixture = fixture_json("orders/office_sale_eticket.json")
    order = api.get(f"/orders/{sandbox.create_order(order_request())['id']}").json()
    assert keys(order) == keys(fixture)
    assert keys(order["items"][0]) == keys(fixture["items"][0])
    assert keys(order["items"][0]["ticket_group"]) == keys(fixture["items"][0]["ticket_group"])
    assert keys(order["shipments"][0]) == keys(fixture["shipments"][0])


def test_a_client_order_has_every_field_of_the_client_fixture(api: TevoApi, sandbox: Sandbox) -> None:
    fixture = fixture_json("orders/client_sale_fraud_pending.json")
    order = api.get(f"/orders/{sandbox.create_order(order_request(client=True))['id']}").json()
    assert (keys(order), keys(order["buyer"]), keys(order["client"])) == (
        keys(fixture), keys(fixture["buyer"]), keys(fixture["client"]))


def test_an_order_keeps_tevos_quirks(api: TevoApi, sandbox: Sandbox) -> None:
    order = api.get(f"/orders/{sandbox.create_order(order_request())['id']}").json()
    item = order["items"][0]
    assert order["oid"].startswith(" ")
    assert isinstance(order["total"], str) and order["total"] == "490.0"
    assert isinstance(item["ticket_group"]["event"]["id"], str)
    assert len({item["id"], item["order_item_id"], item["order_item_link_id"]}) == 3


def test_a_sale_to_tevo_is_bought_by_office_6(api: TevoApi, sandbox: Sandbox) -> None:
    order = api.get(f"/orders/{sandbox.create_order(order_request())['id']}").json()
    assert (order["buyer"]["type"], order["buyer"]["id"]) == ("Office", 6)


def test_orders_are_listed_in_the_pagination_envelope(api: TevoApi, sandbox: Sandbox) -> None:
    for _ in range(3):
        sandbox.create_order(order_request())
    page = api.get("/orders", {"page": 2, "per_page": 2, "state": "pending", "type": "Order"}).json()
    assert (page["total_entries"], page["per_page"], page["current_page"], len(page["orders"])) == (3, 2, 2, 1)


def test_per_page_is_capped_at_100(api: TevoApi, sandbox: Sandbox) -> None:
    sandbox.create_order(order_request())
    assert api.get("/orders", {"per_page": 500}).json()["per_page"] == 100


def test_the_state_filter_selects_by_seller_state(api: TevoApi, sandbox: Sandbox) -> None:
    sandbox.create_order(order_request())
    accepted = sandbox.create_order(order_request(state="accepted"))
    orders = api.get("/orders", {"state": "accepted", "type": "Order"}).json()["orders"]
    assert [o["id"] for o in orders] == [accepted["id"]]


def test_type_is_case_sensitive_and_an_unknown_value_filters_nothing(api: TevoApi, sandbox: Sandbox) -> None:
    sandbox.create_order(order_request())
    sandbox.create_order(order_request(state="accepted"))
    assert api.get("/orders", {"type": "order", "state": "pending"}).json()["total_entries"] == 1
    assert api.get("/orders", {"type": "order"}).json()["total_entries"] == 2
    assert api.get("/orders", {"type": "PurchaseOrder"}).json()["total_entries"] == 0


def test_direct_buyer_type_separates_clients_from_offices(api: TevoApi, sandbox: Sandbox) -> None:
    sandbox.create_order(order_request())
    client = sandbox.create_order(order_request(client=True))
    orders = api.get("/orders", {"direct_buyer_type": "Client"}).json()["orders"]
    assert [o["id"] for o in orders] == [client["id"]]


def test_seller_id_matches_only_the_sellers_office(api: TevoApi, sandbox: Sandbox) -> None:
    sandbox.create_order(order_request())
    assert api.get("/orders", {"seller_id": 2187}).json()["total_entries"] == 1
    assert api.get("/orders", {"seller_id": 9999}).json()["total_entries"] == 0


def test_orders_are_listed_newest_first(api: TevoApi, sandbox: Sandbox) -> None:
    first, second = sandbox.create_order(order_request()), sandbox.create_order(order_request())
    assert [o["id"] for o in api.get("/orders").json()["orders"]] == [second["id"], first["id"]]


def test_items_are_shown_by_their_item_id(api: TevoApi, sandbox: Sandbox) -> None:
    order = sandbox.create_order(multi_item_request())
    item = order["items"][1]
    assert api.get(f"/orders/{order['id']}/items/{item['id']}").json()["order_item_id"] == item["order_item_id"]
    assert api.get(f"/orders/{order['id']}/items/{item['order_item_id']}").status_code == 404


def test_an_unknown_order_is_not_found_by_its_id(api: TevoApi) -> None:
    response = api.get("/orders/999999")
    assert (response.status_code, response.json()) == (404, fixture_json("errors/404_record_not_found.json"))


def test_a_missing_shipment_item_or_user_is_named_in_the_404(api: TevoApi, sandbox: Sandbox) -> None:
    order = sandbox.create_order(order_request())
    messages = [api.get(path).json()["message"] for path in
                ("/shipments/424242", f"/orders/{order['id']}/items/777", "/users/9001")]
    assert messages == ["Couldn't find Shipment with ID=424242", "Couldn't find Item with ID=777",
                        "Couldn't find User with ID=9001"]


def test_a_user_of_the_brokerage_is_shown(api: TevoApi) -> None:
    user = api.get("/users/4711").json()
    assert (user["id"], user["office"]["id"], user["office"]["brokerage"]["id"]) == (4711, 2187, 2241)


def test_a_user_of_another_brokerage_is_not_found(api: TevoApi) -> None:
    assert api.get("/users/9001").status_code == 404
    assert api.get("/users/123456").status_code == 404


def test_a_shipment_is_shown_with_its_order_and_items(api: TevoApi, sandbox: Sandbox) -> None:
    order = sandbox.create_order(multi_item_request(shipment="FedEx"))
    shipment = api.get(f"/shipments/{order['shipments'][0]['id']}").json()
    assert (shipment["type"], shipment["order"]["id"], len(shipment["items"])) == ("FedEx", order["id"], 2)
