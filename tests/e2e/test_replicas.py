"""Two daemon processes ("replicas") on one PostgreSQL store: any replica takes any request and runs any order,
every order is accepted and invoiced once, a hold answered by one is replayed byte for byte by the other, and
only one of them polls TEvo."""

from __future__ import annotations

import json
import uuid

import httpx
import psycopg

from tests.e2e.test_crash import start
from tevo_bridge.loopback.stack import API_KEY, WEBHOOK_TOKEN, settings_for, stack, webhook_form
from tevo_bridge.sandbox.inventory import demo_inventory
from tevo_bridge.sandbox.scenarios import Channel, Scenario
from tevo_bridge.serve import free_port

FORM = {"Content-Type": "application/x-www-form-urlencoded"}
SCENARIOS = [Scenario.OFFICE_ETICKET, Scenario.MULTI_ITEM, Scenario.UNDERPRICED, Scenario.LOCAL_PICKUP,
             Scenario.OFFICE_ETICKET, Scenario.FEDEX]


def test_two_replicas_share_one_store_and_do_everything_once(tmp_path, pg_url):
    poller = {"enabled": True, "interval": 60}
    with stack(tmp_path, store={"url": pg_url}, poller=poller) as run:
        other = tmp_path / "replica-b"
        other.mkdir()
        settings_b = settings_for(run.sandbox, other, run.pos_db, free_port(), store={"url": pg_url}, poller=poller)
        process = start(settings_b, None, other / "daemon.log")
        try:
            replicas = [run.daemon.base_url, f"http://127.0.0.1:{settings_b.server.port}"]
            made = [run.sandbox.driver.create_sync(scenario, [Channel.POLL]) for scenario in SCENARIOS]
            for n, order in enumerate(made):  # TEvo's webhook, delivered twice: once to each replica
                body = webhook_form(run.sandbox.world.order(order.order_id))
                for base in (replicas[n % 2], replicas[(n + 1) % 2]):
                    answer = httpx.post(f"{base}/webhooks/tevo/{WEBHOOK_TOKEN}", content=body, headers=FORM,
                                        timeout=10)
                    assert answer.status_code == 200, answer.text
            ids = [order.order_id for order in made]
            states = run.wait_settled(ids, timeout=60)
            for order in made:
                seen = run.sandbox.inspect(order.order_id)
                if order.expected.reject_reason:
                    assert (states[order.order_id], seen["reject_calls"]) == ("rejected", 1), order.scenario
                    assert run.invoices_for(order.order_id) == 0
                else:
                    assert states[order.order_id] == "done", order.scenario
                    assert (seen["accept_calls"], run.invoices_for(order.order_id)) == (1, 1), order.scenario

            spare = demo_inventory()[-1]  # a listing no scenario above sold
            hold = {"remote_id": spare.remote_id, "quantity": 1, "global_id": str(uuid.uuid4()),
                    "price": str(spare.wholesale_price), "ticket_group_id": spare.ticket_group_id}
            answers = [httpx.post(f"{base}/order-integration/holds", json=hold, headers={"X-Api-Key": API_KEY},
                                  timeout=10) for base in replicas]
            assert answers[0].status_code == answers[1].status_code == 200, answers[0].text
            assert answers[0].content == answers[1].content  # the second replica replays the first's answer

            with psycopg.connect(pg_url) as conn:
                leaders = conn.execute("SELECT holder FROM leases WHERE name = 'poller'").fetchall()
                inbox = conn.execute("SELECT COUNT(*) FROM inbox WHERE channel = 'webhook'").fetchone()[0]
            assert len(leaders) == 1
            assert inbox == len(made)  # each webhook recorded once, whichever replica got it first
            polled = [_polled((tmp_path / "daemon.log").read_text()), _polled((other / "daemon.log").read_text())]
            assert sorted(polled) == [False, True], "exactly one replica polls TEvo"
        finally:
            process.terminate()
            process.wait(timeout=15)


def _polled(log: str) -> bool:
    for line in log.splitlines():
        try:
            if json.loads(line).get("event") == "poll.done":
                return True
        except ValueError:
            continue
    return False
