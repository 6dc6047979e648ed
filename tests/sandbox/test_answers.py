"""The sandbox answers as TEvo does: its JSON media type everywhere, its two 404s, JSON errors off /v9 too."""

from __future__ import annotations

import dataclasses

import httpx

from tests.sandbox.conftest import group, order_request
from tests.sandbox.helpers import TevoApi, fixture_json
from tevo_bridge.sandbox.faults import FaultSettings
from tevo_bridge.sandbox.server import Sandbox, running_sandbox

# What TEvo labels its JSON with (every recorded answer, errors included); not application/json.
TEVO_JSON = "application/vnd.ticketevolution.api+json; version=9; charset=utf-8"
UNKNOWN_ROUTE = fixture_json("errors/404_unknown_route.json")


def test_every_json_answer_carries_tevos_media_type(api: TevoApi, sandbox: Sandbox) -> None:
    order = sandbox.create_order(order_request())
    answers = {
        "200": api.get(f"/orders/{order['id']}"),
        "401": api.get("/orders", token="A" * 32),
        "404": api.get("/orders/999999"),
        "422": api.post(f"/orders/{order['id']}/accept", {}),
        "inspection": api.http.get(f"{sandbox.base_url}/_sandbox/orders"),
    }
    assert {name: r.headers["content-type"] for name, r in answers.items()} == dict.fromkeys(answers, TEVO_JSON)


def test_injected_faults_carry_tevos_media_type() -> None:
    with running_sandbox(seed=1, faults=FaultSettings(rate_limit_rate=1.0, retry_after=3)) as sandbox:
        api = TevoApi(sandbox.base_url, sandbox.token, sandbox.secret)
        response = api.get("/orders")
        api.close()
    assert (response.status_code, response.headers["content-type"]) == (429, TEVO_JSON)
    assert (response.headers["retry-after"], response.json()) == ("3", {"error": "Too Many Requests"})


def test_an_unknown_route_outside_v9_answers_tevos_json_404(sandbox: Sandbox) -> None:
    for path in ("/", "/v8/orders", "/_sandbox/nothing"):
        response = httpx.get(sandbox.base_url + path)
        assert (response.status_code, response.headers["content-type"], response.json()) == (
            404, TEVO_JSON, UNKNOWN_ROUTE), path


def test_a_wrong_method_off_v9_is_json_too(sandbox: Sandbox) -> None:
    response = httpx.delete(sandbox.base_url + "/_sandbox/orders")
    assert (response.status_code, response.json()) == (405, {"error": "Method Not Allowed"})
    assert response.headers["allow"] and response.headers["content-type"] == TEVO_JSON


def test_a_missing_record_and_a_missing_route_are_told_apart(api: TevoApi, sandbox: Sandbox) -> None:
    record = api.get("/orders/999999").json()
    route = api.get("/orders/999999/nothing").json()
    inspected = httpx.get(f"{sandbox.base_url}/_sandbox/orders/999999").json()
    assert record == inspected == fixture_json("errors/404_record_not_found.json")
    assert route == UNKNOWN_ROUTE


def test_creating_an_order_when_the_inventory_is_used_up_is_a_json_409() -> None:
    two_seats = dataclasses.replace(group("88213"), seats=["1", "2"])
    with running_sandbox(seed=5, inventory=[two_seats]) as sandbox:
        url = f"{sandbox.base_url}/_sandbox/orders"
        first = httpx.post(url, json={"scenario": "office_eticket"})
        second = httpx.post(url, json={"scenario": "office_eticket"})
    assert first.status_code == 201
    assert (second.status_code, second.headers["content-type"]) == (409, TEVO_JSON)
    assert second.json() == {
        "error": "the sandbox's inventory is used up: no 1 Eticket ticket group(s) with 1 unsold seats left"}


def test_creating_an_order_from_bad_input_says_what_is_wrong(sandbox: Sandbox) -> None:
    url = f"{sandbox.base_url}/_sandbox/orders"
    not_json = httpx.post(url, content=b"scenario=fedex")
    unknown = httpx.post(url, json={"scenario": "nope"})
    assert (not_json.status_code, not_json.json()["error"]) == (
        400, 'the body must be a JSON object such as {"scenario": "fedex"}')
    assert unknown.status_code == 422 and unknown.json()["error"].startswith("scenario must be one of: ")
    assert "fedex" in unknown.json()["error"]
