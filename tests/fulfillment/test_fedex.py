"""FedEx: generate once, fetch, save <order id>.pdf, tell the plugins; done with the airbill in hand (§5.4)."""

from __future__ import annotations

import pytest

from tests.fulfillment.conftest import FEDEX_ORDER
from tests.fulfillment.fake_tevo import ProcessDied, page_text
from tevo_bridge.pipeline.processor import StepFailed

SHIPMENT = 291903
TRACKING = f"7946{SHIPMENT:08d}"


async def test_fedex_order_is_done_with_the_airbill_saved_as_the_order_id(fake, run, tmp_path):
    state, reason = await run(FEDEX_ORDER)

    saved = tmp_path / "airbills" / f"{FEDEX_ORDER}.pdf"
    assert (state, reason) == ("done", f"shipment {SHIPMENT}: airbill saved at {saved}, tracking {TRACKING}")
    assert f"FedEx airbill {TRACKING}" in page_text(saved.read_bytes())


async def test_plugins_hear_of_the_airbill_path_and_tracking_number(host, run, tmp_path):
    await run(FEDEX_ORDER)

    (event,) = host.events
    assert (event.order_id, dict(event.details)) == (FEDEX_ORDER, {
        "event": "airbill_ready", "airbill_path": str(tmp_path / "airbills" / f"{FEDEX_ORDER}.pdf"),
        "tracking_number": TRACKING, "shipment_id": SHIPMENT})


async def test_airbill_given_as_a_url_is_downloaded(fake, run, tmp_path):
    fake.airbill_format = "json"

    state, _ = await run(FEDEX_ORDER)

    assert state == "done" and (tmp_path / "airbills" / f"{FEDEX_ORDER}.pdf").read_bytes().startswith(b"%PDF")


async def test_a_saved_airbill_is_neither_generated_nor_fetched_again(fake, run):
    await run(FEDEX_ORDER)
    fake.calls.clear()

    state, _ = await run(FEDEX_ORDER)

    assert (state, [c.endpoint for c in fake.calls]) == ("done", [])


async def test_an_airbill_generated_before_a_crash_is_fetched_not_generated_again(fake, run, tmp_path):
    fake.fail("shipments.airbill", when="after", error="die")
    with pytest.raises(ProcessDied):
        await run(FEDEX_ORDER)

    state, _ = await run(FEDEX_ORDER)

    assert (state, len(fake.calls_to("shipments.airbill"))) == ("done", 1)
    assert (tmp_path / "airbills" / f"{FEDEX_ORDER}.pdf").is_file()


async def test_generate_whose_answer_is_lost_is_resolved_by_refetching_the_shipment(fake, run):
    fake.fail("shipments.airbill", when="after")

    state, _ = await run(FEDEX_ORDER)

    assert (state, len(fake.calls_to("shipments.airbill")), len(fake.calls_to("shipments.show"))) == ("done", 1, 1)


async def test_generate_that_never_reached_tevo_is_retried_later_not_now(fake, run, tmp_path):
    fake.fail("shipments.airbill", when="before")

    with pytest.raises(StepFailed, match="airbill generation not confirmed"):
        await run(FEDEX_ORDER)
    state, _ = await run(FEDEX_ORDER)

    assert (state, len(fake.calls_to("shipments.airbill"))) == ("done", 2)


async def test_saving_the_airbill_is_on_the_audit_log(store, run):
    await run(FEDEX_ORDER)

    actions = [row.action for row in await store.audit_trail(FEDEX_ORDER) if row.action != "transition"]
    assert actions == ["airbill.generate", "airbill.saved"]
