"""TevoClient: every call against its cassette, and the error mapping per status class (docs/tevo-api.md §9)."""

import json
from decimal import Decimal
from pathlib import Path

import httpx
import pytest

from tests.cassettes.record import BASE_URL, SECRET, TEVO_JSON, TOKEN, cassette_vcr, fixture
from tests.conftest import FIXTURES
from tevo_bridge.tevo.client import ClientOptions, RejectReason, TevoClient, is_json_type
from tevo_bridge.tevo.errors import (
    AuthError,
    ClientError,
    NotFound,
    OutcomeUnknown,
    RetryableError,
    ValidationFailed,
)
from tevo_bridge.tevo.models import Order

PDF = (FIXTURES / "pdfs" / "tickets_2_pages.pdf").read_bytes()
playback = cassette_vcr("none")


@pytest.fixture
async def tevo():
    async with TevoClient(BASE_URL, TOKEN, SECRET) as client:
        yield client


@pytest.fixture
def item():
    return Order.model_validate(fixture("office_sale_eticket")).items[0]


def test_cassettes_hold_no_credentials():
    for path in Path(__file__).parent.parent.joinpath("cassettes").glob("*.yaml"):
        text = path.read_text()
        assert SECRET not in text and TOKEN not in text and "X-Signature" not in text, path.name


async def test_iter_orders_reads_every_page(tevo):
    with playback.use_cassette("orders_list.yaml") as cassette:
        ids = [o.id async for o in tevo.iter_orders(per_page=2, state="pending", type="Order")]
    assert ids == [402158, 402133, 402117]
    assert cassette.all_played


async def test_get_order(tevo):
    with playback.use_cassette("orders_show.yaml"):
        order = await tevo.get_order(402117)
    assert order.seller_state == "pending" and order.items[0].ticket_group.remote_id == "88213"


async def test_accept_sends_reviewer_and_seats(tevo):
    with playback.use_cassette("orders_accept.yaml") as cassette:
        order = await tevo.accept_order(402117, reviewer_id=4711, seats=[5, 6])
    assert order.seller_state == "accepted"
    assert json.loads(cassette.requests[0].body) == {"reviewer_id": 4711, "seats": [5, 6]}


async def test_reject_sends_the_exact_reason(tevo):
    with playback.use_cassette("orders_reject.yaml") as cassette:
        order = await tevo.reject_order(402133, RejectReason.NO_LONGER_AVAILABLE, 4711, notes="Sold elsewhere")
    assert order.seller_state == "rejected"
    assert json.loads(cassette.requests[0].body)["reason"] == "Tickets No Longer Available"


def test_reject_reasons_are_the_six_tevo_strings():
    assert {r.value for r in RejectReason} == {
        "Tickets No Longer Available", "Tickets Priced Incorrectly", "Duplicate Order", "Test Order",
        "Fraudulent Order", "Other",
    }


async def test_complete_order(tevo):
    with playback.use_cassette("orders_complete.yaml"):
        assert (await tevo.complete_order(402117))["seller_state"] == "completed"


async def test_item_calls_use_item_id_in_the_url(tevo, item):
    for name, call in [
        ("items_show.yaml", tevo.get_item(402117, item)),
        ("items_add_etickets.yaml", tevo.add_etickets(402117, item, [PDF])),
        ("items_finalize_etickets.yaml", tevo.finalize_etickets(402117, item, [1, 2])),
        ("items_remove_etickets.yaml", tevo.remove_etickets(402117, item)),
    ]:
        with playback.use_cassette(name) as cassette:
            result = await call
        assert f"/items/{item.id}" in cassette.requests[0].path, name
        assert result.id == item.id


async def test_finalize_marks_item(tevo, item):
    with playback.use_cassette("items_finalize_etickets.yaml") as cassette:
        result = await tevo.finalize_etickets(402117, item, [1, 2])
    assert result.eticket_finalized
    assert json.loads(cassette.requests[0].body) == {"keep_pages": [1, 2]}


async def test_deliver_etickets_uses_order_item_id(tevo, item):
    with playback.use_cassette("orders_deliver_etickets.yaml") as cassette:
        assert (await tevo.deliver_etickets(402117, [(item, PDF)]))["result"] == "success"
    sent = json.loads(cassette.requests[0].body)["etickets"][0]
    assert sent["item_id"] == item.order_item_id != item.id


async def test_shipment_show_and_update_returns_the_new_id(tevo):
    with playback.use_cassette("shipments_show.yaml"):
        assert (await tevo.get_shipment(291903)).kind == "fedex"
    with playback.use_cassette("shipments_update.yaml"):
        replaced = await tevo.update_shipment(291915, {"ship_from_name": "Box Office", "pickup_time_range": "6-7 PM"})
    assert replaced.id == 291916


async def test_mobile_update_then_complete(tevo):
    with playback.use_cassette("shipments_mobile.yaml") as cassette:
        new = await tevo.update_shipment(291930, {"mobile_transfer_type": "TMMobileLink"})
        done = await tevo.complete_shipment(new.id, tm_mobile_link=["https://example.com/claim/a"], transfer_source="TM")
    assert done.state == "delivered"
    assert json.loads(cassette.requests[1].body) == {"tm_mobile_link": "https://example.com/claim/a",
                                                      "transfer_source": "TM"}


async def test_airbill_generate_and_download(tevo):
    with playback.use_cassette("shipments_airbill.yaml"):
        shipment = await tevo.generate_airbill(291903)
        airbill = await tevo.get_airbill(291903)
    assert shipment["tracking_number"] == airbill.tracking_number == "7712 3456 7890"
    assert airbill.content == PDF and airbill.content_type == TEVO_JSON  # base64 in TEvo's JSON, decoded


@pytest.mark.parametrize("content_type", [
    "application/json", "application/json; charset=utf-8", TEVO_JSON, "application/vnd.ticketevolution.api+json",
    "Application/Problem+JSON", "text/json",
])
def test_any_json_media_type_counts_as_json(content_type):
    assert is_json_type(content_type)


@pytest.mark.parametrize("content_type", [
    "application/pdf", "text/html; charset=utf-8", "application/octet-stream", "application/jsonp", "", None,
])
def test_other_media_types_are_not_json(content_type):
    assert not is_json_type(content_type)


async def test_get_user(tevo):
    with playback.use_cassette("users_show.yaml"):
        assert (await tevo.get_user(4711))["id"] == 4711


async def test_a_request_missing_from_the_cassette_fails(tevo):
    from vcr.errors import CannotOverwriteExistingCassetteException

    with playback.use_cassette("orders_show.yaml"), pytest.raises(CannotOverwriteExistingCassetteException):
        await tevo.get_order(999)


# Error mapping --------------------------------------------------------------------


def scripted(*answers):
    """A transport answering in turn from `answers` (a Response or an exception), counting calls."""
    calls = []

    def handler(request):
        calls.append(request)
        answer = answers[min(len(calls) - 1, len(answers) - 1)]
        if isinstance(answer, Exception):
            raise answer
        return answer

    return httpx.MockTransport(handler), calls


def client_with(transport):
    return TevoClient(BASE_URL, TOKEN, SECRET, ClientOptions(backoff_base=0.01, max_retries=2), transport=transport)


async def test_401_is_an_auth_error_not_retried():
    transport, calls = scripted(httpx.Response(401, json=fixture_error("401_bad_signature")))
    async with client_with(transport) as tevo:
        with pytest.raises(AuthError, match="signature is incorrect"):
            await tevo.get_order(1)
    assert len(calls) == 1


def fixture_error(name):
    return json.loads((FIXTURES / "errors" / f"{name}.json").read_text())


async def test_404_is_not_found_and_keeps_tevos_message():
    body = fixture_error("404_record_not_found")
    transport, _ = scripted(httpx.Response(404, json=body, headers={"Content-Type": TEVO_JSON}))
    async with client_with(transport) as tevo:
        with pytest.raises(NotFound) as info:
            await tevo.get_order(999999)
    assert info.value.message == "Couldn't find Order with ID=999999" and info.value.body == body
    assert str(info.value) == "orders.show: TEvo answered 404: Not Found: Couldn't find Order with ID=999999"


async def test_a_404_for_an_unknown_route_has_no_message():
    body = fixture_error("404_unknown_route")
    transport, _ = scripted(httpx.Response(404, json=body, headers={"Content-Type": TEVO_JSON}))
    async with client_with(transport) as tevo:
        with pytest.raises(NotFound, match="endpoint you requested doesn't exist") as info:
            await tevo.get_order(1)
    assert info.value.message is None


async def test_422_carries_field_errors():
    transport, _ = scripted(httpx.Response(422, json=fixture_error("422_validation")))
    async with client_with(transport) as tevo:
        with pytest.raises(ValidationFailed) as info:
            await tevo.accept_order(1, 4711)
    assert info.value.errors == {"name": ["can't be blank"]}
    assert "can't be blank" in str(info.value)


async def test_get_500_is_retried_then_succeeds():
    order = fixture("office_sale_eticket")
    transport, calls = scripted(httpx.Response(500, json={"error": "Error"}), httpx.Response(200, json=order))
    async with client_with(transport) as tevo:
        assert (await tevo.get_order(402117)).id == 402117
    assert len(calls) == 2


async def test_get_500_gives_up_as_retryable():
    transport, calls = scripted(httpx.Response(500, json={"error": "Error"}))
    async with client_with(transport) as tevo:
        with pytest.raises(RetryableError):
            await tevo.get_order(1)
    assert len(calls) == 3  # stamina testing mode: 3 attempts


async def test_post_500_is_outcome_unknown_and_never_repeated():
    transport, calls = scripted(httpx.Response(500, json={"error": "Error"}))
    async with client_with(transport) as tevo:
        with pytest.raises(OutcomeUnknown, match="re-fetch"):
            await tevo.accept_order(1, 4711)
    assert len(calls) == 1


async def test_post_read_timeout_is_outcome_unknown_and_never_repeated():
    transport, calls = scripted(httpx.ReadTimeout("slow"))
    async with client_with(transport) as tevo:
        with pytest.raises(OutcomeUnknown):
            await tevo.reject_order(1, RejectReason.OTHER, 4711)
    assert len(calls) == 1


async def test_connect_error_is_retried_even_for_a_post():
    order = fixture("office_sale_eticket")
    transport, calls = scripted(httpx.ConnectError("refused"), httpx.Response(200, json=order))
    async with client_with(transport) as tevo:
        await tevo.accept_order(402117, 4711)
    assert len(calls) == 2


async def test_429_honours_retry_after_and_retries():
    order = fixture("office_sale_eticket")
    transport, calls = scripted(
        httpx.Response(429, headers={"Retry-After": "0.05"}, json={"error": "slow down"}), httpx.Response(200, json=order)
    )
    async with client_with(transport) as tevo:
        await tevo.accept_order(402117, 4711)
    assert len(calls) == 2


async def test_429_pauses_the_whole_client():
    transport, _ = scripted(httpx.Response(429, headers={"Retry-After": "30"}, json={}))
    options = ClientOptions(max_retries=0)
    async with TevoClient(BASE_URL, TOKEN, SECRET, options, transport=transport) as tevo:
        with pytest.raises(RetryableError) as info:
            await tevo.list_orders_page()
        assert info.value.retry_after == 30
        assert tevo._not_before > 0


async def test_redirects_are_not_followed():
    transport, _ = scripted(httpx.Response(302, headers={"Location": "https://elsewhere.example/"}))
    async with client_with(transport) as tevo:
        with pytest.raises(ClientError):
            await tevo.get_order(1)


async def test_non_json_error_body_is_kept_short():
    transport, _ = scripted(httpx.Response(502, text="<html>" + "x" * 5000))
    async with client_with(transport) as tevo:
        with pytest.raises(OutcomeUnknown) as info:
            await tevo.complete_order(1)
    assert len(info.value.body["error"]) == 2048


async def test_pagination_stops_on_an_empty_page():
    pages = [
        httpx.Response(200, json={"total_entries": 500, "per_page": 10, "current_page": 1,
                                  "orders": [fixture("office_sale_eticket")]}),
        httpx.Response(200, json={"total_entries": 500, "per_page": 10, "current_page": 2, "orders": []}),
    ]
    transport, calls = scripted(*pages)
    async with client_with(transport) as tevo:
        assert [o.id async for o in tevo.iter_orders(state="pending")] == [402117]
    assert len(calls) == 2


async def test_signed_query_is_sorted_on_the_wire():
    transport, calls = scripted(httpx.Response(200, json={"orders": []}))
    async with client_with(transport) as tevo:
        await tevo.list_orders_page(type="Order", state="pending")
    assert calls[0].url.query == b"page=1&per_page=100&state=pending&type=Order"
    assert calls[0].headers["X-Token"] == TOKEN and calls[0].headers["X-Signature"]


def test_money_is_decimal():
    assert Order.model_validate(fixture("office_sale_eticket")).items[0].price == Decimal("245.0")
