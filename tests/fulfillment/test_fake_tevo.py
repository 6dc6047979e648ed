"""The fake TEvo enforces the rules fulfilment is tested against (docs/tevo-api.md §4, §5.3, §5.6)."""

from __future__ import annotations

import pytest

from tests.fulfillment.conftest import CLIENT_ORDER, FIVE_PAGES, MOBILE_ORDER, PICKUP_ORDER
from tevo_bridge.fulfillment.pages import select_pages
from tevo_bridge.pos.types import TicketFile
from tevo_bridge.tevo.errors import NotFound, ValidationFailed

PAGES = select_pages([TicketFile(FIVE_PAGES, {"105": 2, "106": 3, "107": 4})], ["105", "106", "107"],
                     item_id=812431, quantity=3).pages


@pytest.fixture
async def tevo(fake):
    async with fake.client() as client:
        yield client


@pytest.fixture
async def item(tevo):
    return (await tevo.get_order(CLIENT_ORDER)).items[0]


async def test_finalize_refuses_a_page_count_other_than_the_quantity(tevo, item):
    await tevo.add_etickets(CLIENT_ORDER, item, PAGES)

    with pytest.raises(ValidationFailed, match="keep_pages"):
        await tevo.finalize_etickets(CLIENT_ORDER, item, [1, 2])


async def test_finalize_accepts_another_count_with_ignore_quantity(tevo, item):
    await tevo.add_etickets(CLIENT_ORDER, item, PAGES)

    assert (await tevo.finalize_etickets(CLIENT_ORDER, item, [1, 2], ignore_quantity=True)).eticket_finalized


async def test_finalize_refuses_pages_beyond_the_upload(tevo, item):
    await tevo.add_etickets(CLIENT_ORDER, item, PAGES)

    with pytest.raises(ValidationFailed, match="between 1 and 3"):
        await tevo.finalize_etickets(CLIENT_ORDER, item, [2, 3, 4])


async def test_add_after_finalize_is_refused(tevo, item):
    await tevo.add_etickets(CLIENT_ORDER, item, PAGES)
    await tevo.finalize_etickets(CLIENT_ORDER, item, [1, 2, 3])

    with pytest.raises(ValidationFailed, match="already been finalized"):
        await tevo.add_etickets(CLIENT_ORDER, item, PAGES)


async def test_item_urls_with_the_order_item_id_are_not_found(tevo, item):
    with pytest.raises(NotFound):
        await tevo.get_item(CLIENT_ORDER, item.order_item_id)


async def test_shipment_update_answers_a_new_id_and_the_old_id_is_gone(tevo):
    new = await tevo.update_shipment(291930, {"mobile_transfer_type": "TMMobileLink"})

    with pytest.raises(NotFound):
        await tevo.get_shipment(291930)
    assert new.id != 291930 and (await tevo.get_order(MOBILE_ORDER)).items[0].delivery_id == new.id


async def test_tm_mobile_link_complete_without_a_link_is_refused(tevo):
    new = await tevo.update_shipment(291930, {"mobile_transfer_type": "TMMobileLink"})

    with pytest.raises(ValidationFailed, match="tm_mobile_link"):
        await tevo.complete_shipment(new.id, transfer_source="TM")


async def test_local_pickup_update_needs_its_required_fields(tevo):
    with pytest.raises(ValidationFailed, match="pickup_time_range"):
        await tevo.update_shipment(291915, {"ship_from_name": "x", "ship_from_phone_number_attributes": {"number": "1"},
                                            "ship_from_address_attributes": {"street_address": "1 Main St"}})
    assert (await tevo.get_order(PICKUP_ORDER)).shipments[0].id == 291915
