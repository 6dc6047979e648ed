"""What http_pos does beyond the contract: error codes as the contract's errors, malformed answers named by endpoint
and field, the token never shown, ticket files by URL, and the reference server's own refusals."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from tevo_bridge_http_pos import HttpPos
from tevo_bridge_http_pos.client import BadAnswer, HttpPosError, Unauthorized
from tevo_bridge_http_pos.reference import Exchange, RunningReference

from tevo_bridge.log import REDACTOR
from tevo_bridge.pos.errors import PosError, TicketFileUnreadable, TicketsNotReady, VoidRefused
from tevo_bridge.pos.host import PluginHost
from tevo_bridge.pos.inventory import InventoryRow
from tevo_bridge.pos.types import Buyer, Hold, Item, Order
from tevo_bridge.sandbox.server import serving
from tevo_bridge.testing.samples import sample_order


def office_order(order_id: int, remote_id: str = "88507", quantity: int = 2) -> Order:
    item = Item(order_id, 11, remote_id, quantity, Decimal("400.00"), ("105", "106")[:quantity])
    return Order(order_id, Buyer("Office", 6, "Ticket Evolution"), (item,), Decimal("800.00"))


@pytest.fixture
def pos(make_plugin: Callable[..., HttpPos], make_pos_host: Callable[..., PluginHost]) -> PluginHost:
    return make_pos_host(make_plugin())


# -- error codes as the contract's errors -----------------------------------------------------------


def test_a_refused_void_is_void_refused_with_the_pos_reason(pos: PluginHost, reference: RunningReference) -> None:
    pos.call_sync("pos_create_invoice", order=office_order(701), customer=None)
    reference.faults.refuse_voids = "paid out to the seller on 2026-11-30"
    with pytest.raises(PosError) as caught:
        pos.call_sync("pos_void_invoice", order=office_order(701), invoice_id="INV-701", reason="canceled")
    assert isinstance(caught.value.original, VoidRefused)
    assert caught.value.original.reason == "paid out to the seller on 2026-11-30"
    assert reference.store.count("invoices", state="open") == 1


def test_a_void_of_an_invoice_the_pos_does_not_have_is_refused(pos: PluginHost) -> None:
    with pytest.raises(PosError) as caught:
        pos.call_sync("pos_void_invoice", order=office_order(702), invoice_id="INV-nope", reason="canceled")
    assert isinstance(caught.value.original, VoidRefused) and "no invoice 'INV-nope'" in str(caught.value)


def test_voiding_twice_voids_once_and_brings_the_tickets_back(pos: PluginHost) -> None:
    pos.call_sync("pos_create_invoice", order=office_order(703), customer=None)
    for _ in range(2):
        pos.call_sync("pos_void_invoice", order=office_order(703), invoice_id="INV-703", reason="canceled")
    probe = Item(None, 0, "88507", 1, Decimal(0))
    assert pos.call_sync("pos_check_inventory", item=probe).available == 6


def test_a_hold_expiry_without_a_zone_is_sent_as_utc_and_lapses(pos: PluginHost, reference: RunningReference) -> None:
    lapsed = datetime.now(UTC).replace(tzinfo=None) - timedelta(seconds=1)
    assert pos.call_sync("pos_hold", hold=Hold("G-naive", "88507", 2, expires_at=lapsed)).held
    assert pos.call_sync("pos_check_inventory", item=Item(None, 0, "88507", 1, Decimal(0))).available == 6


def test_tickets_not_in_hand_are_not_ready(pos: PluginHost, reference: RunningReference) -> None:
    reference.store.set_files_ready("88213", False)
    order = sample_order("office_sale_eticket")
    with pytest.raises(PosError) as caught:
        pos.call_sync("pos_ticket_files", order=order, item=order.items[0])
    assert isinstance(caught.value.original, TicketsNotReady)


def test_a_ticket_file_the_pos_cannot_read_is_unreadable_with_its_path(
    pos: PluginHost, reference: RunningReference, pos_inventory: list[InventoryRow], tmp_path: Path,
) -> None:
    knicks = next(row for row in pos_inventory if row.remote_id == "88213")
    reference.store.seed([replace(knicks, eticket_pdf=str(tmp_path / "moved.pdf"))])
    order = sample_order("office_sale_eticket")
    with pytest.raises(PosError) as caught:
        pos.call_sync("pos_ticket_files", order=order, item=order.items[0])
    assert isinstance(caught.value.original, TicketFileUnreadable)
    assert caught.value.original.path == str(tmp_path / "moved.pdf")


def test_ticket_files_given_as_urls_are_fetched(pos: PluginHost, reference: RunningReference) -> None:
    order = sample_order("office_sale_eticket")
    inline = pos.call_sync("pos_ticket_files", order=order, item=order.items[0])
    reference.faults.files_as_urls = True
    fetched = pos.call_sync("pos_ticket_files", order=order, item=order.items[0])
    assert [(f.pdf, dict(f.seat_pages)) for f in fetched] == [(f.pdf, dict(f.seat_pages)) for f in inline]
    assert any(e.path == "/files/88213" for e in reference.exchanges)


# -- malformed answers and secrets ------------------------------------------------------------------


def broken_pos(answers: dict[str, JSONResponse]) -> Starlette:
    """A POS that answers each path with a fixed (wrong) answer."""

    async def answer(request: Request) -> JSONResponse:
        return answers[request.url.path]

    return Starlette(routes=[Route(path, answer, methods=["GET", "POST"]) for path in answers])


def plugin_for(url: str, token: str, make_pos_host: Callable[..., PluginHost]) -> PluginHost:
    return make_pos_host(HttpPos(HttpPos.Config(base_url=url, token=token)))


def test_a_malformed_answer_names_the_endpoint_and_the_field(
    token: str, make_pos_host: Callable[..., PluginHost],
) -> None:
    answers = {"/listings/88507/availability": JSONResponse({"remote_id": "88507", "available": -2}),
               "/holds": JSONResponse({"available": 3}),
               "/listings/88213/ticket-files": JSONResponse({"files": [{"name": "a.pdf", "seat_pages": {"5": 1}}]})}
    with serving(broken_pos(answers)) as server:
        host = plugin_for(server.base_url, token, make_pos_host)
        with pytest.raises(PosError) as caught:
            host.call_sync("pos_check_inventory", item=Item(None, 0, "88507", 1, Decimal(0)))
        assert isinstance(caught.value.original, BadAnswer)
        assert ("GET /listings/88507/availability: the POS answered 200 with a body the API does not allow: "
                "field 'available': Input should be greater than or equal to 0") in str(caught.value)
        with pytest.raises(PosError, match=r"POST /holds: .* field 'hold_id': Field required"):
            host.call_sync("pos_hold", hold=Hold("G-1", "88507", 1))
        order = sample_order("office_sale_eticket")
        with pytest.raises(PosError, match=r"ticket-files: .* field 'files\.0': Value error, a file has exactly one"):
            host.call_sync("pos_ticket_files", order=order, item=order.items[0])


def test_an_error_without_the_api_error_body_is_named_as_such(
    token: str, make_pos_host: Callable[..., PluginHost],
) -> None:
    answers = {"/invoices": JSONResponse({"detail": "boom"}, 500)}
    with serving(broken_pos(answers)) as server:
        host = plugin_for(server.base_url, token, make_pos_host)
        with pytest.raises(PosError, match=r"POST /invoices: the POS answered 500 without the API's error body"):
            host.call_sync("pos_create_invoice", order=office_order(1), customer=None)


def test_the_token_never_appears_in_errors_health_or_logs(
    token: str, make_pos_host: Callable[..., PluginHost],
) -> None:
    """A careless POS echoes the Authorization header back, in an error and in its health reason."""

    async def echo(request: Request) -> JSONResponse:
        said = f"I was sent {request.headers['authorization']!r}"
        if request.url.path == "/health":
            return JSONResponse({"ok": False, "reason": said})
        return JSONResponse({"error": {"code": "internal", "message": said}}, 500)

    app = Starlette(routes=[Route("/health", echo), Route("/holds", echo, methods=["POST"])])
    with serving(app) as server:
        host = plugin_for(server.base_url, token, make_pos_host)
        health = host.health_sync()
        with pytest.raises(PosError) as caught:
            host.call_sync("pos_hold", hold=Hold("G-1", "88507", 1))
    shown = [health.reason, str(caught.value), repr(HttpPos.Config(base_url=server.base_url, token=token)),
             REDACTOR.scrub(f"pos said {token}")]
    assert all(token not in text for text in shown), shown
    assert "I was sent 'Bearer ***'" in health.reason and "I was sent 'Bearer ***'" in str(caught.value)


def test_a_wrong_token_is_unhealthy_and_says_which_setting_to_fix(
    make_plugin: Callable[..., HttpPos], make_pos_host: Callable[..., PluginHost],
) -> None:
    host = make_pos_host(make_plugin(token="not-the-token"))
    answer = host.health_sync()
    assert answer.ok is False and "TEVO_BRIDGE_PLUGINS__HTTP_POS__TOKEN" in answer.reason
    with pytest.raises(PosError) as caught:
        host.call_sync("pos_hold", hold=Hold("G-1", "88507", 1))
    assert isinstance(caught.value.original, Unauthorized) and "not-the-token" not in str(caught.value)


def test_a_hook_before_pos_startup_says_the_client_is_not_open(make_plugin: Callable[..., HttpPos]) -> None:
    with pytest.raises(HttpPosError, match="pos_startup"):
        make_plugin().pos_check_inventory(item=Item(None, 0, "88507", 1, Decimal(0)))


def test_the_host_closes_the_client_at_shutdown(
    make_plugin: Callable[..., HttpPos], make_pos_host: Callable[..., PluginHost],
) -> None:
    plugin = make_plugin()
    host = make_pos_host(plugin)
    assert plugin.client._http is not None
    host.close()
    assert plugin.client._http is None


def test_settings_refuse_a_url_that_is_not_http_and_an_empty_token() -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError) as caught:
        HttpPos.Config(base_url="pos.example.com", token="")
    text = str(caught.value)
    assert "base_url" in text and "is not an http(s) URL" in text and "token" in text


# -- the reference server's own refusals, and the checker that holds it to openapi.yaml ---------------


def test_the_reference_server_refuses_a_write_without_its_key_or_with_another(reference: RunningReference) -> None:
    auth = {"Authorization": f"Bearer {reference.token}"}
    hold = {"global_id": "G-9", "remote_id": "88507", "quantity": 1}
    with httpx.Client(base_url=reference.base_url, headers=auth) as http:
        missing = http.post("/holds", json=hold)
        other = http.post("/holds", json=hold, headers={"Idempotency-Key": "G-10"})
        unknown_field = http.post("/holds", json=hold | {"qty": 1}, headers={"Idempotency-Key": "G-9"})
    assert [(r.status_code, r.json()["error"]["code"]) for r in (missing, other, unknown_field)] == [
        (400, "bad_request")] * 3
    assert "Idempotency-Key" in missing.json()["error"]["message"]
    assert "qty" in unknown_field.json()["error"]["message"]
    assert reference.store.count("holds") == 0
    reference.exchanges.clear()  # deliberately malformed requests: not the API's traffic


def test_the_checker_finds_an_answer_or_a_request_that_strays_from_the_document(openapi) -> None:
    good = Exchange("POST", "/holds", "", {"idempotency-key": "G-1"},
                    json.dumps({"global_id": "G-1", "remote_id": "1", "quantity": 1}).encode(), 200,
                    json.dumps({"hold_id": "G-1", "available": 3}).encode())
    assert openapi.problems(good) == []
    assert openapi.problems(replace(good, answer=b'{"hold_id": "G-1"}'))  # a required field missing
    assert openapi.problems(replace(good, headers={}))  # the Idempotency-Key missing
    assert openapi.problems(replace(good, body=b'{"global_id": "G-1", "remote_id": "1", "quantity": 0}'))
    assert openapi.problems(replace(good, status=409, answer=b'{"error": {"code": "sold_out", "message": ""}}'))
    assert openapi.problems(replace(good, path="/hold"))  # no such operation
    price = Exchange("GET", "/listings/1/price-check", "price=1e3&currency=USD&quantity=1", {}, b"", 200,
                     b'{"acceptable": true}')
    assert openapi.problems(price)  # money is a plain decimal string


def test_the_reference_server_runs_from_its_command_line(tmp_path: Path, token: str) -> None:
    bare = subprocess.run([sys.executable, "-m", "tevo_bridge_http_pos.reference", "--db", str(tmp_path / "p.db")],
                          capture_output=True, text=True, timeout=60, env={k: v for k, v in os.environ.items()
                                                                            if k != "HTTP_POS_TOKEN"})
    assert bare.returncode != 0 and "set HTTP_POS_TOKEN" in bare.stderr
    inventory = tmp_path / "inventory.csv"
    inventory.write_text("remote_id,quantity,min_price\nTG-1,four,10\n")
    bad = subprocess.run([sys.executable, "-m", "tevo_bridge_http_pos.reference", "--db", str(tmp_path / "p.db"),
                          "--inventory", str(inventory)], capture_output=True, text=True, timeout=60,
                         env=os.environ | {"HTTP_POS_TOKEN": token})
    assert bad.returncode != 0 and f"--inventory {inventory}" in bad.stderr and "quantity 'four'" in bad.stderr


def test_the_reference_server_serves_an_inventory_from_its_command_line(tmp_path: Path, token: str,
                                                                        closed_port_url: str) -> None:
    inventory = tmp_path / "inventory.csv"
    inventory.write_text("remote_id,quantity,min_price,seats\nTG-1,4,10,1 2 3 4\n")
    port = closed_port_url.split(":")[2].split("/")[0]  # a free port, just let go
    server = subprocess.Popen([sys.executable, "-m", "tevo_bridge_http_pos.reference", "--db", str(tmp_path / "p.db"),
                               "--inventory", str(inventory), "--port", port],
                              env=os.environ | {"HTTP_POS_TOKEN": token}, stderr=subprocess.PIPE, text=True)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers={"Authorization": f"Bearer {token}"}) as http:
            answer = None
            for _ in range(300):  # a liveness bound: it starts in about a second
                try:
                    answer = http.get("/listings/TG-1/availability")
                    break
                except httpx.TransportError:
                    assert server.poll() is None, server.stderr.read() if server.stderr else ""
                    time.sleep(0.1)
            assert answer is not None and answer.json() == {"remote_id": "TG-1", "available": 4}
            assert http.get("/openapi.yaml", headers={"Authorization": ""}).text.startswith("openapi: 3.1")
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_a_bug_in_the_reference_server_still_answers_the_api_error_shape(
    pos: PluginHost, reference: RunningReference, monkeypatch: pytest.MonkeyPatch,
) -> None:
    def broken(buyer_id: int) -> None:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(reference.store, "customer", broken)
    with pytest.raises(PosError) as caught:
        pos.call_sync("pos_find_customer", buyer=Buyer("Client", 5))
    assert "GET /customers/5: the POS answered 500 internal" in str(caught.value)
    assert "disk on fire" not in str(caught.value)


# -- contract 2's invoice context on the wire -----------------------------------------------------------


def test_the_invoice_carries_the_orders_context_and_its_own_currency(pos: PluginHost, reference: RunningReference
                                                                    ) -> None:
    from tevo_bridge.pos.types import Shipping

    base = office_order(7301)
    item = replace(base.items[0], fees=Decimal("12.50"), currency="CAD")
    order = replace(base, items=(item,), oid="90210-7301", reference="PO-77", currency="CAD",
                    service_fee=Decimal("12.50"), shipping=Shipping("FedEx", Decimal("25.00"), "PRIORITY_OVERNIGHT"),
                    notes=("leave at the box office",))
    pos.call_sync("pos_create_invoice", order=order, customer=None)
    (sent,) = [json.loads(x.body) for x in reference.exchanges if x.method == "POST" and x.path == "/invoices"]
    assert (sent["oid"], sent["reference"], sent["currency"], sent["service_fee"]) == (
        "90210-7301", "PO-77", "CAD", "12.50")
    assert sent["shipping"] == {"method": "FedEx", "cost": "25.00", "service_type": "PRIORITY_OVERNIGHT"}
    assert sent["notes"] == ["leave at the box office"] and sent["items"][0]["fees"] == "12.50"


def test_a_hold_and_a_price_check_send_the_currency_of_their_price(pos: PluginHost, reference: RunningReference
                                                                  ) -> None:
    item = replace(office_order(7302).items[0], currency="EUR")
    pos.call_sync("pos_accept_price", item=item)
    pos.call_sync("pos_hold", hold=Hold("G-eur", "88507", 1, Decimal("400.00"), currency="EUR"))
    price_check = [x for x in reference.exchanges if x.path.endswith("/price-check")][-1]
    held = [json.loads(x.body) for x in reference.exchanges if x.method == "POST" and x.path == "/holds"][-1]
    assert "currency=EUR" in price_check.query and held["currency"] == "EUR"
