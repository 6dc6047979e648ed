"""Every TevoClient method over real HTTP against the sandbox, which verifies each signature itself."""

from __future__ import annotations

import io

import pytest
from pypdf import PdfReader

from tests.conftest import FIXTURES
from tevo_bridge.sandbox.inventory import demo_inventory
from tevo_bridge.sandbox.orders import ItemRequest, OrderRequest
from tevo_bridge.sandbox.server import running_sandbox
from tevo_bridge.tevo.client import ClientOptions, RejectReason, TevoClient
from tevo_bridge.tevo.errors import AuthError, NotFound, ValidationFailed

PDF = (FIXTURES / "pdfs" / "tickets_2_pages.pdf").read_bytes()
GROUPS = {g.remote_id: g for g in demo_inventory()}


def page_text(pdf: bytes) -> str:
    return PdfReader(io.BytesIO(pdf)).pages[0].extract_text()


@pytest.fixture(scope="module")
def sandbox():
    with running_sandbox(seed=11) as running:
        yield running


@pytest.fixture
async def tevo(sandbox):
    async with TevoClient(sandbox.base_url, sandbox.token, sandbox.secret, ClientOptions(max_retries=0)) as client:
        yield client


def new_order(sandbox, remote_id="88213", shipment="Eticket", quantity=2):
    group = GROUPS[remote_id]
    item = ItemRequest(group=group, quantity=quantity, price=group.wholesale_price, seats=group.seats[:quantity])
    return sandbox.create_order(OrderRequest(items=[item], shipment_type=shipment))


async def test_orders_list_show_accept_complete(sandbox, tevo):
    created = new_order(sandbox)
    listed = [o.id async for o in tevo.iter_orders(per_page=1, state="pending", type="Order")]
    assert created["id"] in listed
    order = await tevo.get_order(created["id"])
    assert order.items[0].ticket_group.remote_id == "88213"
    accepted = await tevo.accept_order(order.id, sandbox.reviewer_id)
    assert accepted.seller_state == "accepted" and sandbox.inspect(order.id)["accept_calls"] == 1
    with pytest.raises(ValidationFailed):  # only pending orders can be accepted
        await tevo.accept_order(order.id, sandbox.reviewer_id)
    await tevo.complete_order(order.id)


async def test_reject(sandbox, tevo):
    created = new_order(sandbox, "88640")
    rejected = await tevo.reject_order(created["id"], RejectReason.NO_LONGER_AVAILABLE, sandbox.reviewer_id, "gone")
    assert rejected.seller_state == "rejected"


async def test_etickets_add_finalize_remove_and_deliver(sandbox, tevo):
    order = await tevo.get_order(new_order(sandbox, "88702")["id"])
    await tevo.accept_order(order.id, sandbox.reviewer_id)
    item = await tevo.get_item(order.id, order.items[0])
    added = await tevo.add_etickets(order.id, item, [PDF])
    assert added.eticket_pdf_pages == 2
    await tevo.remove_etickets(order.id, item)
    await tevo.add_etickets(order.id, item, [PDF])
    finalized = await tevo.finalize_etickets(order.id, item, [1, 2])
    assert finalized.eticket_finalized
    other = await tevo.get_order(new_order(sandbox, "88755")["id"])
    await tevo.accept_order(other.id, sandbox.reviewer_id)
    assert await tevo.deliver_etickets(other.id, [(other.items[0], PDF)])


async def test_shipments_update_complete_and_airbill(sandbox, tevo):
    mobile = await tevo.get_order(new_order(sandbox, "91522", "TBD")["id"])
    await tevo.accept_order(mobile.id, sandbox.reviewer_id)
    tbd = mobile.shipments[0]
    shown = await tevo.get_shipment(tbd.id)
    assert shown.kind == "tbd"
    replaced = await tevo.update_shipment(tbd.id, {"mobile_transfer_type": "TMMobileLink"})
    assert replaced.id != tbd.id
    with pytest.raises(NotFound):
        await tevo.get_shipment(tbd.id)  # PUT replaced it (§5.3)
    done = await tevo.complete_shipment(replaced.id, tm_mobile_link=["https://example.com/claim/1"],
                                        transfer_source="TM")
    assert done.state == "delivered"

    fedex = await tevo.get_order(new_order(sandbox, "90455", "FedEx")["id"])
    await tevo.accept_order(fedex.id, sandbox.reviewer_id)
    generated = await tevo.generate_airbill(fedex.shipments[0].id)
    airbill = await tevo.get_airbill(fedex.shipments[0].id)
    # The sandbox answers TEvo's JSON, the PDF base64 inside; the client hands over the PDF itself.
    assert airbill.content_type.startswith("application/vnd.ticketevolution.api+json")
    assert airbill.tracking_number == generated["tracking_number"] in page_text(airbill.content)


async def test_a_raw_pdf_airbill_is_taken_as_it_comes():
    with running_sandbox(seed=12, raw_airbill=True) as raw:
        async with TevoClient(raw.base_url, raw.token, raw.secret, ClientOptions(max_retries=0)) as tevo:
            fedex = await tevo.get_order(new_order(raw, "90455", "FedEx")["id"])
            await tevo.accept_order(fedex.id, raw.reviewer_id)
            generated = await tevo.generate_airbill(fedex.shipments[0].id)
            airbill = await tevo.get_airbill(fedex.shipments[0].id)
    assert airbill.content_type == "application/pdf" and airbill.url is None
    assert generated["tracking_number"] in page_text(airbill.content)


async def test_users(sandbox, tevo):
    assert (await tevo.get_user(sandbox.reviewer_id))["id"] == sandbox.reviewer_id
    with pytest.raises(NotFound, match="Couldn't find User with ID=9001"):
        await tevo.get_user(9001)  # a user of another brokerage


async def test_a_missing_order_is_not_found_with_tevos_message(tevo):
    with pytest.raises(NotFound) as info:
        await tevo.get_order(999999)
    assert info.value.message == "Couldn't find Order with ID=999999" and info.value.message in str(info.value)


async def test_a_wrong_secret_is_refused(sandbox):
    async with TevoClient(sandbox.base_url, sandbox.token, "x" * 40, ClientOptions(max_retries=0)) as wrong:
        with pytest.raises(AuthError, match="signature is incorrect"):
            await wrong.get_order(1)


def test_check_online_proves_the_credentials(sandbox, tmp_path, monkeypatch):
    from tevo_bridge_sqlite_pos import store
    from typer.testing import CliRunner

    from tevo_bridge.cli import app

    store.init_db(tmp_path / "pos.sqlite3")
    config = tmp_path / "config.toml"
    config.write_text(f'[tevo]\nbase_url = "{sandbox.base_url}"\nreviewer_id = {sandbox.reviewer_id}\n'
                      '[plugins.sqlite_pos]\ndatabase = "pos.sqlite3"\n')
    monkeypatch.setenv("TEVO_BRIDGE_TEVO__TOKEN", sandbox.token)
    monkeypatch.setenv("TEVO_BRIDGE_TEVO__SECRET", sandbox.secret)
    ok = CliRunner().invoke(app, ["check", "--online", "--config", str(config)])
    assert ok.exit_code == 0 and "online OK" in ok.output and "plugin OK: sqlite_pos started" in ok.output, ok.output
    monkeypatch.setenv("TEVO_BRIDGE_TEVO__SECRET", "y" * 40)
    refused = CliRunner().invoke(app, ["check", "--online", "--config", str(config)])
    assert refused.exit_code == 2 and "refused the credentials" in refused.output
    assert "y" * 40 not in refused.output and sandbox.token not in refused.output
