"""The plan for one order, from TEvo's current state; make_fulfil as the daemon finds it."""

from __future__ import annotations

from tests.fulfillment.conftest import CLIENT_ORDER, ETICKET_ORDER, FEDEX_ORDER
from tevo_bridge.config import Settings
from tevo_bridge.daemon import build_runtime
from tevo_bridge.fulfillment import make_fulfil
from tevo_bridge.tevo.models import Order


async def test_a_delivery_type_without_automatic_handling_goes_to_review(fake, run):
    fake.shipments[291877]["type"] = "UPS"

    state, reason = await run(ETICKET_ORDER)

    assert (state, reason) == ("needs_review", "shipment 291877 is UPS: no automatic handling; deliver it in TEvo")


async def test_an_order_tevo_has_completed_is_done_without_further_calls(fake, run):
    fake.orders[FEDEX_ORDER]["seller_state"] = "completed"

    assert await run(FEDEX_ORDER) == ("done", "TEvo says the order is completed")
    assert [c.endpoint for c in fake.calls] == []  # the order handed in is this run's read of TEvo


async def test_the_plan_comes_from_the_order_this_run_read_without_a_fetch_of_its_own(fake, host, store, settings):
    # The job run's own read (its first fetch, or TEvo's answer to the accept) is planned from as it is. A
    # second pass reads afresh (test_mobile's Eticket transfer); a run after a crash starts with its own
    # fetch (tests/e2e/test_crash.py, after_add_etickets).
    read = Order.model_validate(fake.order_json(CLIENT_ORDER))
    async with fake.client() as tevo:
        state, _ = await make_fulfil(settings(), tevo, host, store)(read, None)  # type: ignore[arg-type]
    assert state == "done"
    assert "orders.show" not in [c.endpoint for c in fake.calls]
    assert host.asked, "planned from the order handed in: its e-tickets were delivered"


def test_the_daemon_wires_make_fulfil_into_the_pipeline(host, tmp_path):
    settings = Settings(store={"path": str(tmp_path / "state.sqlite3")})
    runtime = build_runtime(settings, pos_host=host)
    try:
        assert runtime.processor.fulfil is not None
    finally:
        runtime.store.close()
