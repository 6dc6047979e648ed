"""Re-record the TevoClient cassettes: ``python tests/cassettes/record.py``.

The answers come from the TEvo sample payloads in tests/fixtures (docs/tevo-api.md
shapes), served through an httpx.MockTransport that vcrpy records like any other
transport.  The requests are made by the real client, so each cassette pins the
exact method, path, sorted query and body bytes the client sends.
"""

from __future__ import annotations

import asyncio
import base64
import copy
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from unittest import mock

import httpx
import vcr
from vcr.stubs.httpx_stubs import vcr_handle_async_request

from tevo_bridge.tevo.client import RejectReason, TevoClient
from tevo_bridge.tevo.models import Order
from tevo_bridge.tevo.transport import TevoTransport

HERE = Path(__file__).parent
FIXTURES = HERE.parent / "fixtures"
BASE_URL = "https://api.sandbox.ticketevolution.com"
TOKEN = "a" * 32
SECRET = "s" * 40
TEVO_JSON = "application/vnd.ticketevolution.api+json; version=9; charset=utf-8"


def fixture(name: str) -> dict:
    return json.loads((FIXTURES / "orders" / f"{name}.json").read_text())


class TevoVCR(vcr.VCR):
    """vcrpy patches httpx's own transports; a cassette also stands in for the client's own (tevo/transport.py)."""

    @contextmanager
    def use_cassette(self, path: str, **kwargs: object) -> Iterator[vcr.cassette.Cassette]:  # type: ignore[override]
        with super().use_cassette(path, **kwargs) as cassette:
            stub = vcr_handle_async_request(cassette, TevoTransport.handle_async_request, httpx)
            with mock.patch.object(TevoTransport, "handle_async_request", stub):
                yield cassette


def cassette_vcr(record_mode: str) -> vcr.VCR:
    return TevoVCR(
        cassette_library_dir=str(HERE),
        record_mode=record_mode,
        match_on=["method", "path", "query", "body"],
        filter_headers=["X-Token", "X-Signature"],
        decode_compressed_response=True,
    )


def answer(status: int, body: object) -> httpx.Response:
    """JSON labelled the way TEvo labels it (docs/tevo-api.md §1), not as ``application/json``."""
    return httpx.Response(status, json=body, headers={"Content-Type": TEVO_JSON})


def fake_tevo(request: httpx.Request) -> httpx.Response:
    """The TEvo answers for the recorded calls, from the fixtures."""
    path, method = request.url.path, request.method
    office = fixture("office_sale_eticket")
    item = office["items"][0]
    if path == "/v9/orders" and method == "GET":
        page = request.url.params.get("page")
        return answer(200, json.loads((FIXTURES / "orders" / f"list_pending_page{page}.json").read_text()))
    if path == "/v9/orders/402117" and method == "GET":
        return answer(200, office)
    if path == "/v9/orders/402117/accept":
        return answer(200, {**office, "seller_state": "accepted", "buyer_state": "accepted"})
    if path == "/v9/orders/402133/reject":
        client = fixture("client_sale_fraud_approved")
        return answer(200, {**client, "seller_state": "rejected",
                                         "seller_rejection_reason": "Tickets No Longer Available"})
    if path == "/v9/orders/402117/complete":
        return answer(200, {**office, "seller_state": "completed"})
    if path == "/v9/orders/402117/items/812406":
        return answer(200, item)
    if path == "/v9/orders/402117/items/812406/add_etickets":
        return answer(200, {**item, "eticket_pdf_pages": 2})
    if path == "/v9/orders/402117/items/812406/finalize_etickets":
        return answer(200, {**item, "eticket_pdf_pages": 2, "eticket_finalized": True})
    if path == "/v9/orders/402117/items/812406/remove_etickets":
        return answer(200, {**item, "eticket_pdf_pages": None})
    if path == "/v9/orders/402117/deliver_etickets":
        return answer(200, {"result": "success"})
    if path == "/v9/shipments/291903" and method == "GET":
        return answer(200, fixture("multi_item_fedex")["shipments"][0])
    if path == "/v9/shipments/291903/airbill":
        shipment = copy.deepcopy(fixture("multi_item_fedex")["shipments"][0])
        shipment.update(tracking_number="7712 3456 7890", airbill="/shipments/291903/get_airbill", state="in_transit")
        return answer(200, shipment)
    if path == "/v9/shipments/291903/get_airbill":
        # JSON, as both official clients read it (§5.4); any real PDF stands in for an airbill.
        pdf = (FIXTURES / "pdfs" / "tickets_2_pages.pdf").read_bytes()
        return answer(200, {"id": 291903, "tracking_number": "7712 3456 7890",
                            "airbill": base64.b64encode(pdf).decode("ascii")})
    if path == "/v9/shipments/291915" and method == "PUT":
        shipment = copy.deepcopy(fixture("local_pickup")["shipments"][0])
        shipment.update(json.loads(request.content))
        shipment["id"] = 291916  # an update replaces the shipment (§5.3)
        return answer(200, shipment)
    if path == "/v9/shipments/291930" and method == "PUT":
        shipment = copy.deepcopy(fixture("mobile_transfer_tbd")["shipments"][0])
        shipment.update(id=291931, type="TMMobileLink", mobile_transfer_type="TMMobileLink")
        return answer(200, shipment)
    if path == "/v9/shipments/291931/complete":
        shipment = copy.deepcopy(fixture("mobile_transfer_tbd")["shipments"][0])
        shipment.update(id=291931, type="TMMobileLink", state="delivered")
        return answer(200, shipment)
    if path == "/v9/users/4711":
        return answer(200, {"id": 4711, "name": "Order Bot", "office": {"id": 2187}})
    return answer(404, {"error": "Not Found"})


async def record_all() -> None:
    pdf = (FIXTURES / "pdfs" / "tickets_2_pages.pdf").read_bytes()
    office = Order.model_validate(fixture("office_sale_eticket"))
    item = office.items[0]
    recorder = cassette_vcr("all")
    async with TevoClient(BASE_URL, TOKEN, SECRET, transport=httpx.MockTransport(fake_tevo)) as tevo:
        with recorder.use_cassette("orders_list.yaml"):
            [o async for o in tevo.iter_orders(per_page=2, state="pending", type="Order")]
        with recorder.use_cassette("orders_show.yaml"):
            await tevo.get_order(402117)
        with recorder.use_cassette("orders_accept.yaml"):
            await tevo.accept_order(402117, reviewer_id=4711, seats=[5, 6])
        with recorder.use_cassette("orders_reject.yaml"):
            await tevo.reject_order(402133, RejectReason.NO_LONGER_AVAILABLE, reviewer_id=4711, notes="Sold elsewhere")
        with recorder.use_cassette("orders_complete.yaml"):
            await tevo.complete_order(402117)
        with recorder.use_cassette("items_show.yaml"):
            await tevo.get_item(402117, item)
        with recorder.use_cassette("items_add_etickets.yaml"):
            await tevo.add_etickets(402117, item, [pdf])
        with recorder.use_cassette("items_finalize_etickets.yaml"):
            await tevo.finalize_etickets(402117, item, [1, 2])
        with recorder.use_cassette("items_remove_etickets.yaml"):
            await tevo.remove_etickets(402117, item)
        with recorder.use_cassette("orders_deliver_etickets.yaml"):
            await tevo.deliver_etickets(402117, [(item, pdf)])
        with recorder.use_cassette("shipments_show.yaml"):
            await tevo.get_shipment(291903)
        with recorder.use_cassette("shipments_update.yaml"):
            await tevo.update_shipment(291915, {"ship_from_name": "Box Office", "pickup_time_range": "6-7 PM"})
        with recorder.use_cassette("shipments_mobile.yaml"):
            await tevo.update_shipment(291930, {"mobile_transfer_type": "TMMobileLink"})
            await tevo.complete_shipment(291931, tm_mobile_link=["https://example.com/claim/a"], transfer_source="TM")
        with recorder.use_cassette("shipments_airbill.yaml"):
            await tevo.generate_airbill(291903)
            await tevo.get_airbill(291903)
        with recorder.use_cassette("users_show.yaml"):
            await tevo.get_user(4711)


if __name__ == "__main__":
    asyncio.run(record_all())
