"""TEvo's word is stored on every way out of deciding, though it is no longer a commit of its own.

The processor writes what TEvo said of a pending order together with the move to ``checking``, and
TEvo's answer to the accept together with the move to ``invoicing`` (fewer commits between TEvo's
answer and the accept). These tests pin what the separate writes guaranteed: an order waiting for
the fraud check, one sent to a person before any step, and one accepted all keep TEvo's word (the
snapshot a person reads and ``give_up`` releases from, the state and when it was said).
"""

from __future__ import annotations

import json

from tests.e2e.test_exactly_once import send_webhook
from tests.e2e.test_resume_from_facts import _not_in_hand
from tevo_bridge.loopback.stack import Stack, stack, webhook_form
from tevo_bridge.sandbox.inventory import demo_inventory
from tevo_bridge.sandbox.orders import DEMO_CLIENTS, ItemRequest, OrderRequest


def announce(run: Stack, remote_id: str, **request) -> dict:
    group = next(g for g in run.sandbox.driver.planner.inventory if g.remote_id == remote_id)
    order = run.sandbox.create_order(OrderRequest(items=[ItemRequest(group, 2, group.wholesale_price, group.seats[:2])],
                                                  **request))
    send_webhook(run, webhook_form(order))
    return order


def stored_word(run: Stack, order_id: int) -> tuple[str | None, str | None, int | None]:
    row = run.store.get_order(order_id)
    snapshot = json.loads(row.snapshot) if row.snapshot else {}
    return row.seller_state, row.tevo_seen_at and "seen", snapshot.get("id")


def transitions(run: Stack, order_id: int) -> list[str]:
    return [entry.to_state for entry in run.store.audit_trail(order_id) if entry.action == "transition"]


def test_an_order_waiting_for_the_fraud_check_keeps_what_tevo_said(tmp_path):
    with stack(tmp_path, pipeline={"recheck_seconds": 30}) as run:
        order = announce(run, "88702", client=DEMO_CLIENTS[0], fraud_check_status="pending")
        assert run.wait_for(lambda: run.state(order["id"]) == "awaiting_fraud")
        assert stored_word(run, order["id"]) == ("pending", "seen", order["id"])
        assert "checking" not in transitions(run, order["id"])


def test_an_order_sent_to_a_person_before_any_step_keeps_what_tevo_said(tmp_path):
    with stack(tmp_path) as run:
        order = announce(run, "88702", client=DEMO_CLIENTS[0], fraud_check_status="under_review")
        assert run.wait_settled([order["id"]])[order["id"]] == "needs_review"
        assert stored_word(run, order["id"]) == ("pending", "seen", order["id"])
        assert run.sandbox.inspect(order["id"])["accept_calls"] == 0


def test_an_accepted_order_stores_tevos_answer_with_the_move_to_invoicing(tmp_path):
    # Tickets not in hand: accepted and invoiced, then waiting, so no read after delivery overwrites the answer.
    inventory = [g if g.remote_id != "88702" else _not_in_hand(g) for g in demo_inventory()]
    with stack(tmp_path, inventory=inventory, pipeline={"recheck_seconds": 30}) as run:
        run.pos_write("UPDATE ticket_groups SET eticket_pdf = NULL WHERE remote_id = ?", "88702")
        order = announce(run, "88702")
        assert run.wait_for(lambda: run.state(order["id"]) == "awaiting_tickets")
        assert run.sandbox.inspect(order["id"])["accept_calls"] == 1
        moves = transitions(run, order["id"])
        assert moves[moves.index("checking"):moves.index("invoicing") + 1] == ["checking", "accepting", "invoicing"]
        row = run.store.get_order(order["id"])
        assert row.accepted_at
        assert stored_word(run, order["id"]) == ("accepted", "seen", order["id"])  # the accept's answer
        assert json.loads(row.snapshot)["seller_state"] == "accepted"
