"""The pages the check before accepting chose are the ones fulfilment uploads in the same job run (asked once)."""

from __future__ import annotations

from tests.fulfillment.conftest import CLIENT_ITEM, CLIENT_ORDER
from tests.fulfillment.test_etickets import seats_delivered
from tevo_bridge.fulfillment import make_fulfil, make_precheck
from tevo_bridge.pipeline import reads
from tevo_bridge.tevo.models import Order


async def check_then_fulfil(fake, host, store, settings, *, one_run: bool, seats_after_check: list[str] | None = None):
    """The pipeline's order of things: the check before accepting, then (after the accept) fulfilment."""
    order = Order.model_validate(fake.order_json(CLIENT_ORDER))
    await store.ensure_order(CLIENT_ORDER, "test")
    async with fake.client() as tevo:
        fulfil = make_fulfil(settings(), tevo, host, store, download=fake.download)
        with reads.recorded():
            assert await make_precheck(settings(), host)(order) is None
            if not one_run:  # a later run (a retry, a restart): nothing of the first is kept
                with reads.recorded():
                    return await fulfil(order, await store.get_order(CLIENT_ORDER))
            if seats_after_check is not None:  # TEvo's answer to the accept names other seats
                fake.item(CLIENT_ITEM)["seats"] = seats_after_check
                order = Order.model_validate(fake.order_json(CLIENT_ORDER))
            return await fulfil(order, await store.get_order(CLIENT_ORDER))


def files_asked(host) -> int:
    return host.asked.count(("ticket_files", CLIENT_ITEM))


async def test_one_run_asks_the_pos_for_the_files_once_and_uploads_the_pages_the_check_chose(fake, host, store,
                                                                                             settings):
    state, _ = await check_then_fulfil(fake, host, store, settings, one_run=True)
    assert (state, files_asked(host)) == ("done", 1)
    assert seats_delivered(fake, CLIENT_ITEM) == ["SEAT 105", "SEAT 106", "SEAT 107"]


async def test_another_run_asks_again(fake, host, store, settings):
    state, _ = await check_then_fulfil(fake, host, store, settings, one_run=False)
    assert (state, files_asked(host)) == ("done", 2)
    assert seats_delivered(fake, CLIENT_ITEM) == ["SEAT 105", "SEAT 106", "SEAT 107"]


async def test_seats_changed_since_the_check_are_cut_afresh(fake, host, store, settings):
    state, _ = await check_then_fulfil(fake, host, store, settings, one_run=True, seats_after_check=["107", "106", "105"])
    assert (state, files_asked(host)) == ("done", 2)
    assert seats_delivered(fake, CLIENT_ITEM) == ["SEAT 107", "SEAT 106", "SEAT 105"]
