"""Through the lead's OrderProcessor: an invoiced order of each delivery type ends ``done``."""

from __future__ import annotations

import pytest

from tests.fulfillment.conftest import (
    CLIENT_ORDER,
    ETICKET_ORDER,
    FEDEX_ORDER,
    MOBILE_ORDER,
    PICKUP_ORDER,
)
from tevo_bridge.fulfillment import make_fulfil
from tevo_bridge.pipeline.processor import OrderProcessor, StepFailed, StepWaiting


@pytest.fixture
def process(fake, host, store, settings):
    async def run(order_id: int, **fulfillment) -> str:
        await store.ensure_order(order_id, "test")
        await store.update_order(order_id, state="fulfilling", reason="invoiced", invoice_id=f"INV-{order_id}")
        async with fake.client() as tevo:
            config = settings(**fulfillment)
            processor = OrderProcessor(store, tevo, host, config, make_fulfil(config, tevo, host, store,
                                                                              download=fake.download))
            try:
                await processor.process(order_id)
            except StepWaiting:  # delivered, or waiting for tickets: the state says which
                pass
        return (await store.get_order(order_id)).state

    return run


@pytest.mark.parametrize(
    "order_id", [ETICKET_ORDER, CLIENT_ORDER, FEDEX_ORDER, PICKUP_ORDER, MOBILE_ORDER],
    ids=["eticket-2-pages", "eticket-5-pages", "fedex", "local-pickup", "mobile-tm-link"],
)
async def test_each_delivery_type_reaches_done(process, order_id):
    assert await process(order_id) == "done"


async def test_single_file_method_reaches_done(process):
    assert await process(CLIENT_ORDER, eticket_method="single_file") == "done"


async def test_review_reaches_the_pipeline_as_a_final_failure_naming_the_item(process, host):
    host.files[812431] = None

    with pytest.raises(StepFailed, match="item 812431") as failed:
        await process(CLIENT_ORDER)
    assert failed.value.final
