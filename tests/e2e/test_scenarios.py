"""Every sandbox scenario, announced the way TEvo would, ends where it should, exactly once."""

from __future__ import annotations

import pytest

from tevo_bridge.loopback.stack import stack
from tevo_bridge.sandbox.scenarios import Channel, Scenario

LOCAL_STATE = {  # TEvo's final seller_state -> the daemon's final state
    "completed": "done", "accepted": "done", "rejected": "rejected",
}
ORDER_SCENARIOS = [s for s in Scenario if s.expected.order_created]


def check_orders(run, created):
    ids = [c.order_id for c in created]
    states = run.wait_settled(ids, timeout=40)
    for made in created:
        expected = made.expected
        seen = run.sandbox.inspect(made.order_id)
        where = f"{made.scenario.value} (order {made.order_id}, daemon state {states[made.order_id]}, " \
                f"last error {run.store.get_order(made.order_id).last_error})"
        assert states[made.order_id] == LOCAL_STATE[expected.final_state], where
        assert seen["reject_calls"] == (1 if expected.reject_reason else 0), where
        if expected.reject_reason:
            assert seen["rejection_reason"] == expected.reject_reason, where
            assert run.invoices_for(made.order_id) == 0, where
        else:
            assert seen["accept_calls"] == (0 if made.scenario.uses_order_integration else 1), where
            assert run.invoices_for(made.order_id) == 1, where


def test_every_scenario_by_webhook_and_order_integration(tmp_path):
    with stack(tmp_path) as run:
        created = [run.sandbox.driver.create_sync(s) for s in ORDER_SCENARIOS]
        check_orders(run, created)
        for made in created:
            if made.expected.fulfilment == "eticket":
                for item in run.sandbox.inspect(made.order_id)["items"].values():
                    assert item["finalized"] and item["pages_delivered"] == item["quantity"], made.scenario


def test_order_integration_release_and_refusal_leave_no_hold(tmp_path):
    with stack(tmp_path) as run:
        released = run.sandbox.driver.create_sync(Scenario.OI_RELEASE)
        refused = run.sandbox.driver.create_sync(Scenario.OI_OUT_OF_STOCK)
        run.sandbox.driver.drain_sync(timeout=10)
        assert released.order_id is None and refused.order_id is None
        assert refused.hold_status == 409
        assert run.wait_for(lambda: run.pos("SELECT COUNT(*) FROM holds WHERE state = 'held'") == [(0,)])
        assert run.pos("SELECT COUNT(*) FROM holds WHERE state = 'held'") == [(0,)]
        assert run.pos("SELECT state FROM holds WHERE global_id = ?", released.global_id) == [("released",)]


@pytest.mark.parametrize("scenario", [Scenario.OFFICE_ETICKET, Scenario.OUT_OF_STOCK, Scenario.UNDERPRICED])
def test_poll_only_orders_are_found_and_processed(tmp_path, scenario):
    with stack(tmp_path) as run:
        made = run.sandbox.driver.create_sync(scenario, [Channel.POLL])
        assert run.poll() == 1
        check_orders(run, [made])


def test_poll_only_client_sale_waits_for_fraud_then_goes_ahead(tmp_path):
    with stack(tmp_path) as run:
        made = run.sandbox.driver.create_sync(Scenario.CLIENT_FRAUD_APPROVED, [Channel.POLL])
        run.poll()
        assert run.wait_for(lambda: run.state(made.order_id) == "awaiting_fraud")
        assert run.wait_for(lambda: run.sandbox.inspect(made.order_id)["fraud_check_status"] == "approved")
        assert run.poll() == 1  # the same order, changed: queued again
        check_orders(run, [made])


def test_client_fraud_declined_is_rejected_as_fraudulent(tmp_path):
    # TEvo decides after 3 s: long enough that even a loaded machine sees the order wait for it first.
    with stack(tmp_path, driver={"fraud_delay": 3.0}) as run:
        made = run.sandbox.driver.create_sync(Scenario.CLIENT_FRAUD_DECLINED)
        check_orders(run, [made])
        trail = [a.to_state for a in run.store.audit_trail(made.order_id) if a.to_state]
        assert "awaiting_fraud" in trail
