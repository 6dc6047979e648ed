"""``POST /_sandbox/orders`` names the listing and the quantity; a request it cannot serve is a 4xx naming the field."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tevo_bridge.sandbox.server import Sandbox, running_sandbox

KNICKS = 318004512  # 88213: seats 5 and 6, e-tickets
LION_KING = 318094870  # 88755: six seats, e-tickets
EAGLES = 318127706  # 90417: physical tickets


@pytest.fixture
def tevo() -> Iterator[Sandbox]:
    with running_sandbox(seed=5) as sandbox:
        yield sandbox


def post(tevo: Sandbox, body: dict[str, Any]) -> httpx.Response:
    return httpx.post(f"{tevo.base_url}/_sandbox/orders", json=body)


def ordered(tevo: Sandbox, response: httpx.Response) -> tuple[str, int, list[str]]:
    assert response.status_code == 201, response.text
    group = tevo.world.orders[response.json()["order_id"]]["items"][0]["ticket_group"]
    return group["remote_id"], group["quantity"], group["seats"]


def test_an_order_names_its_listing_and_quantity(tevo: Sandbox) -> None:
    first = ordered(tevo, post(tevo, {"scenario": "office_eticket", "ticket_group_id": LION_KING, "quantity": 4}))
    second = ordered(tevo, post(tevo, {"remote_id": "88755", "quantity": 2}))
    assert first == ("88755", 4, ["101", "102", "103", "104"])
    assert second == ("88755", 2, ["105", "106"])


def test_without_a_scenario_a_listing_gets_the_ordinary_sale_of_its_format(tevo: Sandbox) -> None:
    response = post(tevo, {"ticket_group_id": EAGLES})
    assert ordered(tevo, response)[0] == "90417" and response.json()["scenario"] == "fedex"


def test_a_quantity_the_listing_cannot_supply_is_refused_naming_it(tevo: Sandbox) -> None:
    response = post(tevo, {"scenario": "office_eticket", "ticket_group_id": KNICKS, "quantity": 3})
    assert response.status_code == 422
    assert response.json() == {"error": f"quantity 3: ticket_group_id {KNICKS} (remote_id 88213) has only 2 unsold "
                                        "seat(s) left"}
    assert tevo.orders() == []


def test_a_sold_listing_is_refused_naming_it(tevo: Sandbox) -> None:
    ordered(tevo, post(tevo, {"ticket_group_id": KNICKS, "quantity": 2}))
    response = post(tevo, {"ticket_group_id": KNICKS})
    assert (response.status_code, response.json()["error"]) == (
        422, f"ticket_group_id {KNICKS} (remote_id 88213): every seat is sold")


@pytest.mark.parametrize(("body", "error"), [
    ({"ticket_group_id": 1}, "ticket_group_id 1: no such listing in this sandbox"),
    ({"remote_id": "nope"}, "remote_id 'nope': no such listing in this sandbox"),
    ({"ticket_group_id": KNICKS, "remote_id": "88755"}, "name the listing once"),
    ({"ticket_group_id": "318004512"}, "ticket_group_id must be a whole number, not '318004512'"),
    ({"ticket_group_id": KNICKS, "quantity": 0}, "quantity must be a whole number of tickets, at least 1, not 0"),
    ({"scenario": "office_eticket", "quantity": 2}, "quantity: name the listing too"),
    ({"scenario": "fedex", "ticket_group_id": KNICKS}, "fedex needs a Physical listing, and this one is Eticket"),
    ({"scenario": "multi_item", "ticket_group_id": KNICKS}, "multi_item picks its own listings"),
    ({"scenario": "out_of_stock", "ticket_group_id": KNICKS, "quantity": 1}, "quantity: out_of_stock always"),
])
def test_a_wrong_field_is_a_422_naming_it_and_makes_no_order(tevo: Sandbox, body: dict[str, Any],
                                                               error: str) -> None:
    response = post(tevo, body)
    assert response.status_code == 422 and error in response.json()["error"]
    assert tevo.orders() == []


def test_out_of_stock_on_a_named_listing_orders_one_more_than_it_has(tevo: Sandbox) -> None:
    assert ordered(tevo, post(tevo, {"scenario": "out_of_stock", "ticket_group_id": KNICKS}))[1] == 3


def test_a_scenario_alone_still_works(tevo: Sandbox) -> None:
    assert ordered(tevo, post(tevo, {"scenario": "local_pickup"}))[1] == 2
