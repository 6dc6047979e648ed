"""Local pickup: the seller's pickup details from config replace the shipment (§5.3, §5.5)."""

from __future__ import annotations

import pytest

from tests.fulfillment.conftest import PICKUP, PICKUP_ORDER
from tevo_bridge.tevo.errors import NotFound

SHIPMENT = 291915


async def test_pickup_details_are_sent_with_tevos_field_names(fake, run):
    state, _ = await run(PICKUP_ORDER)

    (update,) = fake.calls_to("shipments.update")
    assert state == "done"
    assert update.body == {
        "ship_from_name": PICKUP["contact_name"],
        "ship_from_phone_number_attributes": {"number": PICKUP["phone_number"], "is_primary": True},
        "ship_from_address_attributes": {"street_address": "1 Main St", "extended_address": "Suite 4",
                                         "locality": "New York", "region": "NY", "postal_code": "10001",
                                         "country_code": "US"},
        "pickup_time_range": PICKUP["time_range"],
        "pickup_instructions": PICKUP["instructions"],
    }


async def test_the_replaced_shipment_has_a_new_id_and_the_old_one_is_gone(fake, run):
    await run(PICKUP_ORDER)

    (shipment,) = fake.order_shipments(PICKUP_ORDER)
    async with fake.client() as tevo:
        with pytest.raises(NotFound):
            await tevo.get_shipment(SHIPMENT)
    assert shipment["id"] != SHIPMENT and shipment["ship_from_name"] == PICKUP["contact_name"]


async def test_missing_pickup_settings_send_the_order_to_review_naming_the_keys(fake, run):
    settings = {**PICKUP, "contact_name": "", "time_range": " "}

    state, reason = await run(PICKUP_ORDER, local_pickup=settings)

    assert (state, reason) == ("needs_review", f"shipment {SHIPMENT} is a local pickup, but the config lacks "
                                               "fulfillment.local_pickup.contact_name, "
                                               "fulfillment.local_pickup.time_range")
    assert not fake.calls_to("shipments.update")


async def test_details_already_at_tevo_are_not_sent_again(fake, run):
    await run(PICKUP_ORDER)
    fake.calls.clear()

    state, _ = await run(PICKUP_ORDER)

    assert (state, [c.endpoint for c in fake.calls]) == ("done", [])


async def test_update_whose_answer_is_lost_is_found_again_by_refetching_the_order(fake, run):
    fake.fail("shipments.update", when="after")

    state, _ = await run(PICKUP_ORDER)

    assert (state, len(fake.calls_to("shipments.update"))) == ("done", 1)


async def test_update_that_never_reached_tevo_is_sent_again_to_the_current_id(fake, run):
    fake.fail("shipments.update", when="before")

    state, _ = await run(PICKUP_ORDER)

    assert (state, [c.path for c in fake.calls_to("shipments.update")]) == (
        "done", [f"/shipments/{SHIPMENT}", f"/shipments/{SHIPMENT}"])


async def test_refused_update_goes_to_review_with_tevos_reason(fake, run):
    fake.fail("shipments.update", when="before", error="refuse")

    state, reason = await run(PICKUP_ORDER)

    assert state == "needs_review" and "TEvo refused the update" in reason and "injected fault" in reason
