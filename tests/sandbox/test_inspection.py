"""Per-order inspection: the same facts through Python and through GET /_sandbox/orders/{id}."""

from __future__ import annotations

from tests.sandbox.conftest import order_request
from tests.sandbox.helpers import Receiver, TevoApi, b64, fixture_pdf
from tevo_bridge.sandbox.server import Sandbox


def test_accept_calls_are_counted_even_when_refused(api: TevoApi, sandbox: Sandbox) -> None:
    order = sandbox.create_order(order_request())
    for _ in range(3):
        api.post(f"/orders/{order['id']}/accept", {"reviewer_id": 4711})
    assert (sandbox.inspect(order["id"])["accept_calls"], sandbox.inspect(order["id"])["state"]) == (3, "accepted")


def test_every_call_is_logged_with_its_status(api: TevoApi, sandbox: Sandbox) -> None:
    order = sandbox.create_order(order_request())
    api.get(f"/orders/{order['id']}", secret="w" * 40)
    api.get(f"/orders/{order['id']}")
    calls = [(c["method"], c["status"]) for c in sandbox.inspect(order["id"])["calls"]]
    assert calls == [("GET", 401), ("GET", 200)]


def test_uploads_and_delivered_pages_are_reported_per_item(api: TevoApi, sandbox: Sandbox) -> None:
    order = sandbox.create_order(order_request(remote_id="88507", quantity=3, state="accepted"))
    item = order["items"][0]
    path = f"/orders/{order['id']}/items/{item['id']}"
    api.post(path + "/add_etickets", {"files": [b64(fixture_pdf("tickets_5_pages_for_3_seats.pdf"))]})
    api.post(path + "/finalize_etickets", {"keep_pages": [2, 3, 4]})
    view = sandbox.inspect(order["id"])["items"][item["id"]]
    assert (view["uploads"], view["pages_uploaded"], view["pages_delivered"], view["keep_pages"], view["finalized"]) \
        == (1, 5, 3, [2, 3, 4], True)


def test_replaced_shipments_are_followed_in_the_history(api: TevoApi, sandbox: Sandbox) -> None:
    order = sandbox.create_order(order_request(remote_id="91508", shipment="TBD", state="accepted"))
    old = order["shipments"][0]["id"]
    new = api.put(f"/shipments/{old}", {"mobile_transfer_type": "TMMobileLink"}).json()["id"]
    view = sandbox.inspect(order["id"])
    assert [(h["old_id"], h["new_id"]) for h in view["shipment_history"]] == [(old, new)]
    assert [(s["id"], s["type"]) for s in view["shipments"]] == [(new, "TMMobileLink")]


def test_the_http_view_matches_the_python_view(api: TevoApi, sandbox: Sandbox) -> None:
    order = sandbox.create_order(order_request(state="accepted"))
    api.post(f"/orders/{order['id']}/deliver_etickets", {"etickets": [
        {"item_id": order["items"][0]["order_item_id"], "eticket": b64(fixture_pdf("tickets_2_pages.pdf"))}]})
    over_http = api.http.get(f"{sandbox.base_url}/_sandbox/orders/{order['id']}").json()
    item_view = over_http["items"][str(order["items"][0]["id"])]
    assert "SEAT 5" in item_view.pop("page_texts")[0]
    python_view = sandbox.inspect(order["id"])
    python_view["items"] = {str(k): v for k, v in python_view["items"].items()}
    python_view["calls"] = over_http["calls"] = []  # the HTTP call itself is not logged there
    assert over_http == python_view


def test_the_summary_lists_every_order(api: TevoApi, sandbox: Sandbox) -> None:
    ids = [sandbox.create_order(order_request())["id"] for _ in range(2)]
    summary = api.http.get(f"{sandbox.base_url}/_sandbox/orders").json()["orders"]
    assert [o["order_id"] for o in summary] == list(reversed(ids))


def test_an_unknown_order_is_not_found_in_inspection(api: TevoApi, sandbox: Sandbox) -> None:
    assert api.http.get(f"{sandbox.base_url}/_sandbox/orders/1").status_code == 404


def test_a_canceled_order_shows_its_new_state(api: TevoApi, sandbox: Sandbox) -> None:
    order = sandbox.create_order(order_request())
    sandbox.world.cancel_order(order["id"])
    assert api.get(f"/orders/{order['id']}").json()["seller_state"] == "canceled"


def test_orders_can_be_created_by_scenario_over_http(driven: tuple[Sandbox, Receiver]) -> None:
    tevo, fake = driven
    api = TevoApi(tevo.base_url, tevo.token, tevo.secret)
    created = api.http.post(f"{tevo.base_url}/_sandbox/orders", json={"scenario": "fedex"}).json()
    api.close()
    assert (created["expected_state"], tevo.inspect(created["order_id"])["scenario"]) == ("completed", "fedex")
