"""One stock arbiter for every channel: the last tickets are promised to exactly one buyer.

The race of the production-trust issue, made deterministic: the POS listing has 2 seats; an
order for both is announced by webhook while an Order Integration checkout asks to hold both.
No sleep decides who wins. In the first test the hold is sent once the store shows the order
``accepting`` (its reservation is committed in the POS before that state is written), with the
sandbox's latency fault keeping the accept call in flight; in the second the hold is answered
before the webhook is sent. Either way exactly one buyer gets the tickets.
"""

from __future__ import annotations

import uuid
from decimal import Decimal

import httpx

from tests.e2e.test_crash import start
from tests.e2e.test_exactly_once import send_webhook
from tevo_bridge.loopback.stack import API_KEY, Stack, settings_for, stack, webhook_form
from tevo_bridge.sandbox.faults import FaultSettings
from tevo_bridge.sandbox.inventory import TicketGroupSpec
from tevo_bridge.sandbox.orders import ItemRequest, OrderRequest
from tevo_bridge.serve import free_port

LAST_TWO = TicketGroupSpec(
    remote_id="77001", ticket_group_id=318770001, event_name="Knicks at Celtics", venue="TD Garden",
    occurs_at="2027-01-15T19:30:00-05:00", section="Loge 4", row="8", seats=["11", "12"],
    wholesale_price=Decimal("210.00"), retail_price=Decimal("260.00"),
)
NEXT_TWO = TicketGroupSpec(
    remote_id="77002", ticket_group_id=318770002, event_name="Knicks at Celtics", venue="TD Garden",
    occurs_at="2027-01-15T19:30:00-05:00", section="Loge 4", row="9", seats=["11", "12"],
    wholesale_price=Decimal("210.00"), retail_price=Decimal("260.00"),
)
LATENCY = 0.4  # seconds per TEvo call: the accept is still in flight when the hold arrives


class _Daemon:
    """A daemon in another process, as ``hold_both`` needs it: where it listens."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url


def order_for_both(run: Stack, group: TicketGroupSpec = LAST_TWO) -> dict:
    item = ItemRequest(group, 2, group.wholesale_price, list(group.seats))
    return run.sandbox.create_order(OrderRequest(items=[item]))


def hold_both(run: Stack | _Daemon, group: TicketGroupSpec = LAST_TWO, global_id: str | None = None
              ) -> httpx.Response:
    body = {"remote_id": group.remote_id, "quantity": 2, "global_id": global_id or str(uuid.uuid4()),
            "price": str(group.wholesale_price), "ticket_group_id": group.ticket_group_id}
    base_url = run.daemon.base_url if isinstance(run, Stack) else run.base_url
    return httpx.post(f"{base_url}/order-integration/holds", json=body,
                      headers={"X-Api-Key": API_KEY}, timeout=10)


def pos_holds(run: Stack) -> list[tuple]:
    return run.pos("SELECT global_id, state FROM holds ORDER BY created_at")


def test_a_hold_arriving_while_the_order_is_being_accepted_is_refused(tmp_path):
    with stack(tmp_path, faults=FaultSettings(latency=LATENCY), inventory=[LAST_TWO]) as run:
        order = order_for_both(run)
        send_webhook(run, webhook_form(order))
        assert run.wait_for(lambda: run.state(order["id"]) == "accepting", timeout=20)
        refused = hold_both(run)
        accepting_still = run.state(order["id"]) == "accepting"
        assert refused.status_code == 409, refused.text
        assert refused.json()["reason"] == "insufficient_quantity"
        assert run.wait_settled([order["id"]], timeout=30)[order["id"]] == "done"
        assert accepting_still, "the hold must have raced the accept call (raise LATENCY if this fails)"
        assert run.sandbox.inspect(order["id"])["accept_calls"] == 1
        assert run.invoices_for(order["id"]) == 1
        assert pos_holds(run) == [(f"order-{order['id']}-item-{order['items'][0]['id']}-r0", "invoiced")]


def test_an_order_for_tickets_a_checkout_holds_is_rejected_without_being_accepted(tmp_path):
    with stack(tmp_path, faults=FaultSettings(latency=LATENCY), inventory=[LAST_TWO]) as run:
        held = hold_both(run)
        assert held.status_code == 200 and held.json()["status"] == "held", held.text
        order = order_for_both(run)
        send_webhook(run, webhook_form(order))
        assert run.wait_settled([order["id"]], timeout=30)[order["id"]] == "rejected"
        seen = run.sandbox.inspect(order["id"])
        assert (seen["accept_calls"], seen["reject_calls"]) == (0, 1)
        assert run.sandbox.world.order(order["id"])["seller_rejection_reason"] == "Tickets No Longer Available"
        assert run.invoices_for(order["id"]) == 0
        assert [state for _, state in pos_holds(run)] == ["held"], "only the checkout's hold may hold the tickets"


def test_two_daemon_processes_sharing_the_pos_promise_the_last_tickets_once(tmp_path):
    """Daemon A (in this process) takes the webhook order, daemon B (its own process and store) the checkout."""
    with stack(tmp_path, faults=FaultSettings(latency=LATENCY), inventory=[LAST_TWO, NEXT_TWO]) as run:
        other = tmp_path / "daemon-b"
        other.mkdir()
        settings_b = settings_for(run.sandbox, other, run.pos_db, free_port())
        process = start(settings_b, None, other / "daemon.log")
        try:
            b = _Daemon(f"http://127.0.0.1:{settings_b.server.port}")
            first = order_for_both(run)
            send_webhook(run, webhook_form(first))
            assert run.wait_for(lambda: run.state(first["id"]) == "accepting", timeout=20)
            assert hold_both(b).status_code == 409  # A's reservation, B's checkout: the POS says no
            assert run.wait_settled([first["id"]], timeout=30)[first["id"]] == "done"

            # And the other way round, on the next listing: B's checkout first, then A's order.
            assert hold_both(b, NEXT_TWO).status_code == 200
            second = order_for_both(run, NEXT_TWO)
            send_webhook(run, webhook_form(second))
            assert run.wait_settled([second["id"]], timeout=30)[second["id"]] == "rejected"
            assert run.sandbox.inspect(second["id"])["accept_calls"] == 0
        finally:
            process.terminate()
            process.wait(timeout=15)


def test_a_pending_order_naming_a_lapsed_checkout_hold_reserves_afresh(tmp_path):
    """The checkout's hold expired before TEvo's invoice call named it: its global id is spent in the POS, so
    the order must take a reservation of its own, not replay the lapsed hold (which the POS refuses forever)."""
    with stack(tmp_path, inventory=[LAST_TWO], server={"hold_ttl": 1.0}) as run:
        checkout = str(uuid.uuid4())
        assert hold_both(run, global_id=checkout).status_code == 200
        assert run.wait_for(lambda: pos_holds(run) == [(checkout, "expired")], timeout=20), pos_holds(run)
        order = order_for_both(run)
        invoice = {"order_id": order["id"], "global_id": checkout}
        httpx.post(f"{run.daemon.base_url}/order-integration/invoices", json=invoice,
                   headers={"X-Api-Key": API_KEY}, timeout=10)
        assert run.wait_settled([order["id"]], timeout=30)[order["id"]] == "done"
        assert run.sandbox.inspect(order["id"])["accept_calls"] == 1
        assert run.invoices_for(order["id"]) == 1
        reservation = f"order-{order['id']}-item-{order['items'][0]['id']}-r0"
        assert pos_holds(run) == [(checkout, "expired"), (reservation, "invoiced")]
