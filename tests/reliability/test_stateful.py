"""Part 9: the real pipeline as a Hypothesis state machine, with failures interleaved at every step.

Below the machine, one focused test per bug it found, each reproducing the failing sequence directly.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from tests.reliability.stateful import CALM, Bench, Figures, machine, run_stateful
from tevo_bridge.loopback.stack import API_KEY
from tevo_bridge.sandbox.faults import FaultSettings
from tevo_bridge.sandbox.orders import ItemRequest, OrderRequest
from tevo_bridge.sandbox.scenarios import Channel, Scenario

KEY = {"X-Api-Key": API_KEY}


def test_orders_survive_interleaved_failures_restarts_and_retries(figures):
    collected = run_stateful(examples=3, steps=8)
    figures(collected.figures())
    assert collected.examples >= 3 and collected.orders > 0


def test_every_kind_of_failure_meets_orders_in_flight(figures):
    """The same machine, one scripted run, so CI always interleaves each kind of failure with live orders."""
    collected = Figures()
    m = machine("inprocess", collected)()
    S, W, P = Scenario, Channel.WEBHOOK, Channel.POLL

    def step(rule, *args):
        result = rule(*args)
        m.every_open_order_has_a_job()
        return getattr(result, "values", (result,))

    try:
        first = step(m.first_orders, [(S.OFFICE_ETICKET, W), (S.FEDEX, P), (S.CLIENT_FRAUD_APPROVED, W)])
        step(m.tevo_faults, "tevo_mixed")
        step(m.order_burst, [(S.MULTI_ITEM, W), (S.TBD_MOBILE, W), (S.UNDERPRICED, P)])
        step(m.pos_faults, "raise", "all")
        step(m.order_burst, [(S.OFFICE_ETICKET, W), (S.OI_INVOICE, W), (S.OUT_OF_STOCK, W)])
        step(m.clear_tevo_faults)
        step(m.pos_faults, "hang", "invoice")
        step(m.order_burst, [(S.CLIENT_FRAUD_DECLINED, W), (S.FEDEX, W), (S.OI_INVOICE, W)])
        step(m.clear_pos_faults)
        step(m.break_ticket_files, "delete")
        step(m.create_order, S.OFFICE_ETICKET, W)
        step(m.pickup_settings, True)
        step(m.create_order, S.LOCAL_PICKUP, W)
        step(m.restart)
        step(m.poll)
        step(m.duplicate_webhook, first[0])
        step(m.operator_retry, first[0], True)
        step(m.tevo_cancels, first[-1])
        step(m.restore_ticket_files)
    finally:
        m.teardown()
    figures(collected.figures())
    fired = collected.faults_fired
    assert fired["error_500"] + fired["error_503"] > 0 and fired["pos_raise"] > 0 and fired["pos_hang"] > 0, fired
    assert collected.outcomes["needs_review"] > 0 and collected.after_retry["needs_review"] == 0, collected


@pytest.mark.full
@pytest.mark.parametrize(("kind", "examples"), [("inprocess", 30), ("process", 10)])
def test_stateful_full(figures, kind, examples):
    """30 runs against the daemon in this process; 10 against a daemon process, also SIGKILLed."""
    figures(run_stateful(examples, steps=20, kind=kind, derandomize=False).figures())


# -- what the machine found ---------------------------------------------------------------------------


@pytest.fixture
def bench(tmp_path: Path) -> Iterator[Bench]:
    opened = Bench(tmp_path)
    yield opened
    opened.close()


def wait_until(predicate: Callable[[], bool], timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return predicate()


def test_an_order_given_up_while_its_accept_is_in_doubt_keeps_its_reservation(bench):
    """The accept times out after TEvo acted, then every re-fetch fails until the attempts run out.

    The worker used to mark the order needs_review *before* calling ``give_up``, so ``give_up``
    never saw ``accepting`` and released the reservation of an order TEvo had accepted: the
    tickets went back on sale while the seller owed them to TEvo's buyer. (Calling ``give_up``
    first, as the worker now does, fixed it; this keeps it fixed.)
    """
    bench.set_tevo_faults(FaultSettings(timeout_rate=1.0, hang_seconds=3.0, methods=("POST",)))
    order_id = bench.sandbox.driver.create_sync(Scenario.OFFICE_ETICKET, [Channel.WEBHOOK]).order_id
    assert wait_until(lambda: bench.sandbox.inspect(order_id)["accept_calls"] == 1)
    bench.set_tevo_faults(FaultSettings(error_rate=1.0))  # the re-fetch after the accept fails, and so on
    assert wait_until(lambda: bench.states().get(order_id, ("",))[0] == "needs_review" and bench.quiet())
    assert bench.sandbox.inspect(order_id)["state"] == "accepted"
    held = f"order-{order_id}-%"
    assert bench.pos("SELECT state FROM holds WHERE global_id LIKE ?", held) == [("held",)]
    bench.set_tevo_faults(CALM)
    assert bench.retry(order_id) == "queued"
    assert bench.drain([order_id], 20) and bench.states()[order_id][0] == "done"
    assert bench.pos("SELECT state FROM holds WHERE global_id LIKE ?", held) == [("invoiced",)]
    assert bench.sandbox.inspect(order_id)["accept_calls"] == 1


def test_a_release_keeps_being_retried_while_the_pos_is_down_and_lands_when_it_is_back(bench):
    """TEvo releases an Order Integration hold while the POS is unreachable for longer than max_attempts.

    The release job used to give up like an order job (failed, no order for a person to see), leaving
    the tickets held in the POS until the hold's TTL.
    """
    remote_id = next(g.remote_id for g in bench.inventory if g.format == "Eticket" and g.remote_id not in bench.late)
    global_id = str(uuid.uuid4())
    base = f"http://127.0.0.1:{bench.port}/order-integration/holds"
    held = httpx.post(base, json={"remote_id": remote_id, "quantity": 1, "global_id": global_id}, headers=KEY)
    assert held.status_code == 200, held.text
    bench.set_pos_faults("raise", ("pos_release_hold",))
    released = httpx.post(f"{base}/{global_id}/release", json={}, headers=KEY)
    assert released.status_code == 200, released.text
    attempts = bench.settings_now.pipeline.max_attempts
    job = f"release:{global_id}"
    assert wait_until(lambda: bench.store("SELECT attempts FROM jobs WHERE key = ?", job)[0][0] > attempts)
    assert bench.store("SELECT state FROM jobs WHERE key = ?", job)[0][0] in ("queued", "running")
    bench.set_pos_faults(None)
    assert wait_until(lambda: bench.pos("SELECT state FROM holds WHERE global_id = ?", global_id) == [("released",)])


def test_an_order_integration_order_polled_before_its_invoice_call_consumes_its_hold(bench):
    """TEvo's invoice call is late (the daemon was down when TEvo sent it); a poll finds the accepted order first.

    Only the invoice call names the hold, so the order waits for it (with a job, never invoiced from stock
    while its hold keeps the same seats), and when the call comes the invoice consumes the hold.
    """
    group = next(g for g in bench.inventory if g.format == "Eticket" and g.remote_id not in bench.late)
    global_id = str(uuid.uuid4())
    base = f"http://127.0.0.1:{bench.port}/order-integration"
    hold = {"remote_id": group.remote_id, "quantity": len(group.seats), "global_id": global_id,
            "price": str(group.wholesale_price)}
    assert httpx.post(f"{base}/holds", json=hold, headers=KEY).status_code == 200
    request = OrderRequest(items=[ItemRequest(group, len(group.seats), group.wholesale_price, list(group.seats))],
                           seller_state="accepted", was_auto_accepted=True)
    order_id = bench.sandbox.create_order(request)["id"]
    bench.poll()
    waiting = "SELECT state, last_error FROM jobs WHERE key = ?"
    assert wait_until(lambda: "Order Integration invoice call" in str(bench.store(waiting, f"order:{order_id}")))
    assert bench.states()[order_id][0] == "invoicing" and not bench.orphans()
    assert bench.pos("SELECT COUNT(*) FROM invoices WHERE tevo_order_id = ?", order_id) == [(0,)]
    invoice = httpx.post(f"{base}/invoices", json={"order_id": order_id, "global_id": global_id}, headers=KEY)
    assert invoice.status_code in (200, 202), invoice.text
    assert bench.drain([order_id], 20)
    assert bench.states()[order_id][0] == "done"
    assert bench.pos("SELECT state FROM holds WHERE global_id = ?", global_id) == [("invoiced",)]
