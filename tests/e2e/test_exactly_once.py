"""The same order through every channel, twice each, out of order: one accept, one invoice."""

from __future__ import annotations

import copy

import httpx

from tevo_bridge.loopback.stack import API_KEY, WEBHOOK_TOKEN, stack, webhook_form
from tevo_bridge.sandbox.faults import FaultSettings
from tevo_bridge.sandbox.scenarios import Channel, Scenario

FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def send_webhook(run, body):
    url = f"{run.daemon.base_url}/webhooks/tevo/{WEBHOOK_TOKEN}"
    response = httpx.post(url, content=body, headers=FORM, timeout=10)
    assert response.status_code == 200, response.text


def test_a_sale_by_webhook_and_poll_twice_each_is_accepted_and_invoiced_once(tmp_path):
    faults = FaultSettings(webhook_duplicate_rate=1.0, webhook_reorder=True)
    with stack(tmp_path, faults=faults) as run:
        made = run.sandbox.driver.create_sync(Scenario.OFFICE_ETICKET, [Channel.WEBHOOK, Channel.POLL])
        stale = copy.deepcopy(run.sandbox.world.order(made.order_id))
        stale["updated_at"] = "2020-01-01T00:00:00Z"  # an older copy arriving late
        run.poll()
        send_webhook(run, webhook_form(stale))
        run.poll()
        assert run.wait_settled([made.order_id])[made.order_id] == "done"
        send_webhook(run, webhook_form(run.sandbox.world.order(made.order_id)))
        run.poll()
        assert run.wait_settled([made.order_id])[made.order_id] == "done"
        seen = run.sandbox.inspect(made.order_id)
        assert seen["accept_calls"] == 1 and seen["reject_calls"] == 0
        assert run.invoices_for(made.order_id) == 1
        assert all(item["upload_calls"] == 1 for item in seen["items"].values())


def test_an_order_integration_order_by_all_three_channels_twice_is_invoiced_once_and_never_accepted(tmp_path):
    with stack(tmp_path) as run:
        made = run.sandbox.driver.create_sync(Scenario.OI_INVOICE, [Channel.ORDER_INTEGRATION])
        order = run.sandbox.world.order(made.order_id)
        send_webhook(run, webhook_form(order))  # TEvo's webhook for the same order
        run.poll()
        invoice = {"order_id": made.order_id, "global_id": made.global_id}
        headers = {"X-Api-Key": API_KEY}
        again = httpx.post(f"{run.daemon.base_url}/order-integration/invoices", json=invoice, headers=headers)
        assert again.status_code in (200, 202)
        send_webhook(run, webhook_form(order))
        run.poll()
        assert run.wait_settled([made.order_id])[made.order_id] == "done"
        seen = run.sandbox.inspect(made.order_id)
        assert seen["accept_calls"] == 0  # Order Integration orders arrive accepted (§7.1)
        assert run.invoices_for(made.order_id) == 1
        assert run.pos("SELECT state FROM holds WHERE global_id = ?", made.global_id) == [("invoiced",)]


def test_secrets_never_reach_the_logs(tmp_path):
    with stack(tmp_path) as run:
        created = [run.sandbox.driver.create_sync(s) for s in (Scenario.OFFICE_ETICKET, Scenario.OI_INVOICE,
                                                               Scenario.UNDERPRICED)]
        run.wait_settled([c.order_id for c in created])
        httpx.post(f"{run.daemon.base_url}/webhooks/tevo/{WEBHOOK_TOKEN}x", content=b"a=1", headers=FORM)
        secrets = [run.sandbox.token, run.sandbox.secret, API_KEY, WEBHOOK_TOKEN]
    text = (tmp_path / "daemon.log").read_text()
    assert "order.transition" in text  # the log is real and full
    for secret in secrets:
        assert secret not in text
