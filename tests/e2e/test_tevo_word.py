"""Views that stay true after delivery: TEvo's word on an order, with its age, and the POS's own references.

Issue 21: a finished order showed ``done (TEvo: accepted)`` and "Delivery: pending" while TEvo said completed,
and the POS's hold id appeared nowhere an operator looks.
"""

from __future__ import annotations

import json
import re

import httpx
from typer.testing import CliRunner

from tevo_bridge.cli import app
from tevo_bridge.loopback.stack import stack
from tevo_bridge.sandbox.scenarios import Channel, Scenario


def cli(run, tmp_path, *args: str) -> str:
    config = tmp_path / "cli.toml"
    config.write_text(run.store_toml())
    result = CliRunner().invoke(app, [*args, "--config", str(config)])
    assert result.exit_code == 0, result.output
    return result.stdout  # stderr names the config file read


def log_events(run, event: str, order_id: int) -> list[dict]:
    lines = (run.tmp / "daemon.log").read_text().splitlines()
    entries = [json.loads(line) for line in lines if line.startswith("{")]
    return [e for e in entries if e.get("event") == event and e.get("order_id") == order_id]


def test_a_delivered_order_shows_the_state_tevo_says_now_with_its_age(tmp_path):
    with stack(tmp_path) as run:
        made = run.sandbox.driver.create_sync(Scenario.OFFICE_ETICKET, [Channel.WEBHOOK])
        assert run.wait_settled([made.order_id])[made.order_id] == "done"
        at_tevo = run.sandbox.world.order(made.order_id)
        assert at_tevo["seller_state"] == "completed"  # the e-tickets' finalize completed it at TEvo

        row = run.store.get_order(made.order_id)
        assert row.seller_state == "completed" and row.tevo_seen_at is not None
        assert [(s["id"], s["state"]) for s in row.tevo_shipments_json()] == \
            [(s["id"], s["state"]) for s in at_tevo["shipments"]] and at_tevo["shipments"][0]["state"] == "delivered"

        shown = cli(run, tmp_path, "orders", "show", str(made.order_id))
        first = shown.splitlines()[0]
        assert f"order {made.order_id}: done (TEvo: completed, " in first and " ago)" in first, first
        assert f"TEvo shipment {at_tevo['shipments'][0]['id']} " in shown and " delivered" in shown

        listed = json.loads(cli(run, tmp_path, "orders", "list", "--json"))
        (view,) = [v for v in listed if v["id"] == made.order_id]
        assert view["tevo"]["state"] == "completed" and view["tevo"]["said"].startswith("completed, ")
        assert isinstance(view["tevo"]["age_seconds"], int) and view["tevo"]["shipments"][0]["state"] == "delivered"
        table = cli(run, tmp_path, "orders", "list")
        assert re.search(rf"^ *{made.order_id} +done +completed \d+[smhd] ", table, re.M), table


def test_a_fedex_order_is_read_again_after_delivery_until_tevo_completes_it(tmp_path):
    with stack(tmp_path, pipeline={"after_delivery_checks": 6, "after_delivery_check_seconds": 0.2}) as run:
        made = run.sandbox.driver.create_sync(Scenario.FEDEX, [Channel.WEBHOOK])
        assert run.wait_settled([made.order_id])[made.order_id] == "done"
        row = run.store.get_order(made.order_id)
        assert row.seller_state == "accepted", "the airbill is saved, but FedEx has not delivered yet"
        (shipment,) = run.sandbox.world.order(made.order_id)["shipments"]
        assert [s["state"] for s in row.tevo_shipments_json()] == [shipment["state"]]

        run.sandbox.world.deliver_shipment(shipment["id"])  # FedEx tracking says delivered: TEvo completes it
        assert run.wait_for(lambda: run.store.get_order(made.order_id).seller_state == "completed", timeout=20)
        row = run.store.get_order(made.order_id)
        assert row.state == "done" and [s["state"] for s in row.tevo_shipments_json()] == ["delivered"]
        # Completed: nothing more to look at, so the order's job ends rather than waiting for its next look.
        assert run.wait_for(lambda: run.store.job_for_order(made.order_id)["state"] == "done", timeout=10)
        assert run.sandbox.inspect(made.order_id)["accept_calls"] == 1 and run.invoices_for(made.order_id) == 1


def test_the_looks_after_delivery_stop_after_the_configured_number(tmp_path):
    with stack(tmp_path, pipeline={"after_delivery_checks": 2, "after_delivery_check_seconds": 0.1}) as run:
        made = run.sandbox.driver.create_sync(Scenario.FEDEX, [Channel.WEBHOOK])
        assert run.wait_settled([made.order_id])[made.order_id] == "done"
        assert run.wait_for(lambda: run.store.job_for_order(made.order_id)["state"] == "done", timeout=20)
        row = run.store.get_order(made.order_id)
        assert (row.state, row.seller_state, row.tevo_checks) == ("done", "accepted", 2)
        assert log_events(run, "order.tevo_not_completed", made.order_id), "the last look says it stopped"


def test_the_pos_references_show_in_orders_show_and_on_each_steps_log_line(tmp_path):
    with stack(tmp_path) as run:
        made = run.sandbox.driver.create_sync(Scenario.CLIENT_FRAUD_APPROVED, [Channel.WEBHOOK])
        assert run.wait_settled([made.order_id])[made.order_id] == "done"
        row = run.store.get_order(made.order_id)
        hold_id = run.pos("SELECT global_id FROM holds WHERE global_id LIKE ?", f"order-{made.order_id}-%")[0][0]
        invoice_id = "INV-" + str(run.pos("SELECT id FROM invoices WHERE tevo_order_id = ?", made.order_id)[0][0])
        assert (row.pos_hold_id, row.invoice_id) == (hold_id, invoice_id) and row.customer_id

        shown = cli(run, tmp_path, "orders", "show", str(made.order_id))
        assert f"POS: hold {hold_id}, invoice {invoice_id}, customer {row.customer_id}" in shown, shown
        as_json = json.loads(cli(run, tmp_path, "orders", "show", str(made.order_id), "--json"))
        assert as_json["pos"] == {"hold_id": hold_id, "invoice_id": invoice_id, "customer_id": row.customer_id}

        done = log_events(run, "order.transition", made.order_id)[-1]
        assert done["to_state"] == "done"
        assert (done["pos_hold_id"], done["pos_invoice_id"], done["pos_customer_id"]) == \
            (hold_id, invoice_id, row.customer_id)
        steps = log_events(run, "fulfil.step", made.order_id)
        assert steps and all(s["pos_invoice_id"] == invoice_id and s["pos_hold_id"] == hold_id for s in steps)


def test_the_dashboard_shows_tevos_word_with_its_age_and_the_pos_references(tmp_path):
    with stack(tmp_path, server={"admin_port": 0}) as run:
        made = run.sandbox.driver.create_sync(Scenario.FEDEX, [Channel.WEBHOOK])
        assert run.wait_settled([made.order_id])[made.order_id] == "done"
        row = run.store.get_order(made.order_id)
        (shipment,) = run.sandbox.world.order(made.order_id)["shipments"]
        with httpx.Client(base_url=run.daemon.admin_url or "", timeout=10) as http:
            page = http.get(f"/dashboard/orders/{made.order_id}").text
            assert re.search(r'class="tevo-said">accepted, \d+ s ago', page), "TEvo's word, not yet completed"
            for css, value in (("pos-hold", row.pos_hold_id), ("pos-invoice", row.invoice_id)):
                assert f'class="{css}">{value}</dd>' in page, css

            run.sandbox.world.deliver_shipment(shipment["id"])
            assert run.wait_for(lambda: run.store.get_order(made.order_id).seller_state == "completed", timeout=20)
            page = http.get(f"/dashboard/orders/{made.order_id}").text
            assert re.search(r'class="tevo-said">completed, \d+ s ago', page)
            delivery = page.split("<h3>Delivery", 1)[1].split("</table>", 1)[0]
            assert "<td>delivered</td>" in delivery and "<td>pending</td>" not in delivery, delivery
            listed = http.get("/dashboard/orders").text
            assert re.search(rf'{made.order_id}</a></td>(?:(?!</tr>).)*?<td data-label="state">.*?</td>\s*'
                             rf'<td data-label="TEvo says" class="tevo-said">completed, \d+ s ago</td>', listed, re.S)


def test_tevo_failing_during_the_looks_after_delivery_never_sends_a_done_order_to_a_person(tmp_path):
    with stack(tmp_path, pipeline={"after_delivery_checks": 3, "after_delivery_check_seconds": 0.5}) as run:
        made = run.sandbox.driver.create_sync(Scenario.FEDEX, [Channel.WEBHOOK])
        assert run.wait_settled([made.order_id])[made.order_id] == "done"
        run.sandbox.faults.settings.error_rate = 1.0  # every TEvo call now answers 500 or 503
        assert run.wait_for(lambda: run.store.job_for_order(made.order_id)["state"] == "done", timeout=30)
        row = run.store.get_order(made.order_id)
        assert (row.state, row.tevo_checks, row.seller_state) == ("done", 3, "accepted")
        moves = [a.to_state for a in run.store.audit_trail(made.order_id) if a.action == "transition"]
        assert "needs_review" not in moves and moves[-1] == "done", moves
        counts = run.sandbox.faults.counts
        assert counts["error_500"] + counts["error_503"] > 0, "the looks met TEvo's errors"
