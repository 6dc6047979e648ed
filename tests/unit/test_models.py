"""The pydantic models accept every TEvo sample payload and read the fields the daemon needs."""

from decimal import Decimal

import pytest

from tests.conftest import FIXTURES, load_fixture
from tevo_bridge.tevo.models import HoldRequest, InvoiceRequest, Order, OrderPage, WebhookForm

ORDER_FILES = sorted(p.name for p in (FIXTURES / "orders").glob("*.json") if not p.name.startswith("list_"))


@pytest.mark.parametrize("name", ORDER_FILES)
def test_every_sample_order_parses(name):
    order = Order.model_validate(load_fixture(f"orders/{name}"))
    assert order.id and order.items and order.seller_state


@pytest.mark.parametrize("page", [1, 2])
def test_list_pages_parse(page):
    result = OrderPage.model_validate(load_fixture(f"orders/list_pending_page{page}.json"))
    assert result.total_entries == 3 and result.orders


def test_office_sale_fields():
    order = Order.model_validate(load_fixture("orders/office_sale_eticket.json"))
    item = order.items[0]
    assert order.oid == "73418-402117"  # leading space stripped
    assert order.order_group_id == "73418"
    assert order.buyer.is_tevo
    assert order.total == Decimal("490.0")
    assert (item.id, item.order_item_id) == (812406, 760115)
    assert item.ticket_group.remote_id == "88213"
    assert item.ticket_group.event.id == "2871456"
    assert item.seat_list == ["5", "6"]
    assert order.shipments[0].kind == "eticket"


def test_client_sale_is_not_tevo():
    order = Order.model_validate(load_fixture("orders/client_sale_fraud_pending.json"))
    assert order.buyer.type == "Client" and not order.buyer.is_tevo
    assert order.fraud_check_status == "pending"
    assert order.client and order.client.email_addresses


def test_unknown_fields_are_kept():
    data = {**load_fixture("orders/office_sale_eticket.json"), "brand_new_field": 1}
    assert Order.model_validate(data).model_extra["brand_new_field"] == 1


def test_hold_request_normalises_ids():
    hold = HoldRequest.model_validate({"remote_id": 91508, "quantity": "2", "global_id": "g", "price": "415.0"})
    assert hold.remote_id == "91508" and hold.quantity == 2 and hold.price == Decimal("415.0")


@pytest.mark.parametrize("bad", [{"quantity": 0}, {"quantity": "two"}, {"remote_id": ""}, {"global_id": True}])
def test_hold_request_rejects_bad_fields(bad):
    base = load_fixture("order_integration/hold.json")
    with pytest.raises(ValueError):
        HoldRequest.model_validate({**base, **bad})


def test_invoice_request_fixture():
    assert InvoiceRequest.model_validate(load_fixture("order_integration/invoice.json")).order_id == 402190


def test_webhook_form_body_is_the_order():
    from urllib.parse import parse_qsl

    form = dict(parse_qsl((FIXTURES / "webhooks" / "order_created.form").read_text()))
    hook = WebhookForm.model_validate(form)
    assert hook.event_type == "order_created"
    assert Order.model_validate(hook.body_json()).id == 402117
