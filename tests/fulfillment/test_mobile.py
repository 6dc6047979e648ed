"""Mobile transfers: TBD → the POS's transfer type → complete on the replacement shipment (§5.3, §5.6)."""

from __future__ import annotations

import pytest

from tests.fulfillment.conftest import MOBILE_ITEM, MOBILE_ORDER, TWO_PAGES
from tests.fulfillment.fake_tevo import ProcessDied
from tevo_bridge.pos.types import MobileTransfer, TicketFile

TBD = 291930


def mobile_calls(fake) -> list[tuple[str, str]]:
    return [(c.endpoint, c.path) for c in fake.calls if c.endpoint in ("shipments.update", "shipments.complete")]


async def test_tm_mobile_link_transfer_updates_then_completes_the_new_shipment(fake, run):
    state, _ = await run(MOBILE_ORDER)

    (shipment,) = fake.order_shipments(MOBILE_ORDER)
    assert state == "done"
    assert mobile_calls(fake) == [("shipments.update", f"/shipments/{TBD}"),
                                  ("shipments.complete", f"/shipments/{shipment['id']}/complete")]
    assert fake.calls_to("shipments.update")[0].body == {"mobile_transfer_type": "TMMobileLink", "transfer_source": "TM"}
    assert fake.calls_to("shipments.complete")[0].body == {
        "tm_mobile_link": "https://example.com/claim/a,https://example.com/claim/b", "transfer_source": "TM"}
    assert (shipment["type"], shipment["state"], fake.orders[MOBILE_ORDER]["seller_state"]) == (
        "TMMobileLink", "delivered", "completed")


async def test_flash_seats_are_completed_without_a_link(fake, host, run):
    host.transfers[MOBILE_ITEM] = MobileTransfer("FlashSeats", (), "FS")

    state, _ = await run(MOBILE_ORDER)

    assert (state, fake.calls_to("shipments.complete")[0].body) == ("done", {"transfer_source": "FS"})


async def test_update_whose_answer_is_lost_is_not_sent_again(fake, run):
    fake.fail("shipments.update", when="after")

    state, _ = await run(MOBILE_ORDER)

    assert (state, [e for e, _ in mobile_calls(fake)]) == ("done", ["shipments.update", "shipments.complete"])


async def test_crash_after_the_update_resumes_at_complete_on_the_replacement(fake, run):
    fake.fail("shipments.update", when="after", error="die")
    with pytest.raises(ProcessDied):
        await run(MOBILE_ORDER)

    state, _ = await run(MOBILE_ORDER)

    (shipment,) = fake.order_shipments(MOBILE_ORDER)
    assert state == "done"
    assert mobile_calls(fake) == [("shipments.update", f"/shipments/{TBD}"),
                                  ("shipments.complete", f"/shipments/{shipment['id']}/complete")]


async def test_complete_whose_answer_is_lost_is_resolved_by_refetching(fake, run):
    fake.fail("shipments.complete", when="after")

    state, _ = await run(MOBILE_ORDER)

    assert (state, len(fake.calls_to("shipments.complete"))) == ("done", 1)


async def test_complete_that_never_reached_tevo_is_sent_again_after_refetching(fake, run):
    fake.fail("shipments.complete", when="before")

    state, _ = await run(MOBILE_ORDER)

    assert (state, len(fake.calls_to("shipments.complete"))) == ("done", 2)


async def test_a_plugin_that_gives_no_transfer_leaves_the_order_for_review(fake, host, run):
    host.transfers[MOBILE_ITEM] = None

    state, reason = await run(MOBILE_ORDER)

    assert (state, reason) == ("needs_review", f"item {MOBILE_ITEM}: the POS gave no mobile transfer "
                                               "(pos_mobile_transfer returned nothing); choose the transfer in "
                                               "TEvo or supply it in the POS")
    assert mobile_calls(fake) == []


async def test_a_plugin_without_the_hook_leaves_the_order_for_review(fake, host, run):
    host.hooks.discard("pos_mobile_transfer")

    state, reason = await run(MOBILE_ORDER)

    assert state == "needs_review" and "no pos_mobile_transfer hook" in reason and mobile_calls(fake) == []


async def test_a_shipment_tevo_shows_as_another_transfer_type_is_left_for_review(fake, host, run):
    fake.shipments[TBD]["type"] = "FlashSeats"

    state, reason = await run(MOBILE_ORDER)

    assert (state, reason) == ("needs_review", f"shipment {TBD} is FlashSeats at TEvo, but the POS says TMMobileLink")


async def test_eticket_transfer_goes_on_through_the_eticket_path(fake, host, run):
    host.transfers[MOBILE_ITEM] = MobileTransfer("Eticket")
    host.files[MOBILE_ITEM] = [TicketFile(TWO_PAGES, {"9": 1, "10": 2})]

    state, _ = await run(MOBILE_ORDER)

    assert state == "done"
    assert [c.endpoint for c in fake.calls if c.method != "GET"] == [
        "shipments.update", "items.add_etickets", "items.finalize_etickets"]
    assert len(fake.delivered[MOBILE_ITEM]) == 2
    # The order handed in shows the shipment as TBD: the second pass planned from a read of its own.
    assert [c.endpoint for c in fake.calls].count("orders.show") == 1


async def test_the_transfer_is_on_the_audit_log(store, run):
    await run(MOBILE_ORDER)

    actions = [row.action for row in await store.audit_trail(MOBILE_ORDER) if row.action != "transition"]
    assert actions == ["mobile.update", "mobile.complete"]
