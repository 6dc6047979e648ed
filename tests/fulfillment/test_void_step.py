"""The void step of the OrderProcessor (issue 22, "Voids"): a fake TEvo that says canceled, a real store, a POS double.

Each run of ``process`` is one run of the order's job, as after a crash or a retry: the step must resume from
the order's facts and void nothing twice.
"""

from __future__ import annotations

import json
import sqlite3

import pytest

from tests.fulfillment.conftest import ETICKET_ORDER, FakePosHost
from tevo_bridge.pipeline.processor import OrderProcessor, StepFailed
from tevo_bridge.pos import types as pos
from tevo_bridge.pos.errors import PosError, VoidRefused


class VoidingHost(FakePosHost):
    """The POS double, with ``pos_void_invoice``: each queued answer is used once (an exception raises), then ok."""

    def __init__(self, *answers: BaseException) -> None:
        super().__init__()
        self.hooks.add("pos_void_invoice")
        self.answers = list(answers)
        self.voids: list[tuple[int, str, str]] = []
        self.released: list[str] = []

    async def release_hold(self, hold: pos.Hold) -> bool:
        self.released.append(hold.global_id)
        return True

    async def void_invoice(self, order: pos.Order, invoice_id: str, reason: str) -> None:
        self.voids.append((order.order_id, invoice_id, reason))
        if self.answers:
            raise PosError("pos_void_invoice", self.answers.pop(0))


@pytest.fixture
def canceled(fake):
    fake.orders[ETICKET_ORDER]["seller_state"] = "canceled_post_acceptance"
    fake.orders[ETICKET_ORDER]["buyer_cancellation_reason"] = "event postponed"
    return fake


async def invoiced(store, state: str = "awaiting_tickets") -> None:
    await store.ensure_order(ETICKET_ORDER, "test")
    await store.update_order(ETICKET_ORDER, state=state, reason="invoiced", invoice_id="INV-7")


async def process(canceled, store, host, settings) -> str:
    async with canceled.client() as tevo:
        await OrderProcessor(store, tevo, host, settings()).process(ETICKET_ORDER)
    return (await store.get_order(ETICKET_ORDER)).state


async def voided_records(store) -> int:
    return [a.action for a in await store.audit_trail(ETICKET_ORDER)].count("invoice_voided")


async def test_a_fault_leaves_the_order_voiding_and_the_next_run_voids_it_once(canceled, store, settings):
    host = VoidingHost(ConnectionError("POS unreachable"))
    await invoiced(store)
    with pytest.raises(PosError, match="POS unreachable"):  # the worker retries it with backoff
        await process(canceled, store, host, settings)
    assert (await store.get_order(ETICKET_ORDER)).state == "voiding"
    assert await process(canceled, store, host, settings) == "canceled"
    reason = "canceled at TEvo (canceled_post_acceptance); event postponed"
    assert host.voids == [(ETICKET_ORDER, "INV-7", reason)] * 2
    assert await voided_records(store) == 1
    moves = [(a.from_state, a.to_state) for a in await store.audit_trail(ETICKET_ORDER) if a.action == "transition"]
    assert moves[-2:] == [("awaiting_tickets", "voiding"), ("voiding", "canceled")], "voiding entered once"
    assert [e.state for e in host.events if e.state == "voiding"] == ["voiding"], "the event a notifier keys on"


async def test_a_refused_void_is_final_and_says_what_to_do(canceled, store, settings):
    host = VoidingHost(VoidRefused("INV-7", "the invoice is paid out"))
    await invoiced(store)
    with pytest.raises(StepFailed) as failed:
        await process(canceled, store, host, settings)
    assert failed.value.final
    assert "the POS refused to void it: the invoice is paid out" in str(failed.value)
    assert "Fix: void invoice INV-7 in the POS by hand" in str(failed.value)
    assert await voided_records(store) == 0


async def test_a_plugin_without_the_hook_is_final_and_is_never_called(canceled, store, settings):
    host = VoidingHost()
    host.hooks.discard("pos_void_invoice")
    await invoiced(store)
    with pytest.raises(StepFailed, match="does not implement pos_void_invoice") as failed:
        await process(canceled, store, host, settings)
    assert failed.value.final and host.voids == []


async def test_a_delivered_order_is_voided_then_sent_to_a_person_even_after_a_retry(canceled, store, settings):
    host = VoidingHost()
    await invoiced(store, state="done")
    with pytest.raises(StepFailed, match="already delivered") as failed:
        await process(canceled, store, host, settings)
    assert failed.value.final and len(host.voids) == 1 and await voided_records(store) == 1
    assert await store.retry_order(ETICKET_ORDER) == "queued"  # state `new`: delivered is read from the trail
    with pytest.raises(StepFailed, match="already delivered"):
        await process(canceled, store, host, settings)
    assert len(host.voids) == 2, "a repeat void is harmless: the hook is idempotent"


async def test_an_order_canceled_before_an_invoice_voids_nothing(canceled, store, settings):
    host = VoidingHost()
    await store.ensure_order(ETICKET_ORDER, "test")
    assert await process(canceled, store, host, settings) == "canceled"
    assert host.voids == [] and host.released == ["order-402117-item-812406-r0"], "its reservation freed instead"


async def test_delivered_is_remembered_when_the_move_to_done_was_pruned(canceled, store, settings, tmp_path):
    host = VoidingHost(ConnectionError("POS unreachable"))
    await invoiced(store, state="done")
    with pytest.raises(PosError):
        await process(canceled, store, host, settings)
    with sqlite3.connect(tmp_path / "state.sqlite3") as conn:  # retention pruned the old move to done
        assert conn.execute("DELETE FROM audit WHERE to_state = 'done'").rowcount == 1
    with pytest.raises(StepFailed, match="already delivered"):
        await process(canceled, store, host, settings)
    cancels = [a for a in await store.audit_trail(ETICKET_ORDER) if a.action == "canceled_after_invoice"]
    assert [json.loads(a.details) for a in cancels] == [{"invoice_id": "INV-7", "delivered": True}]
