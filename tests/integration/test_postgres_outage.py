"""The daemon on PostgreSQL rides out a database restart: not ready while it is down, refuses what it cannot
record (so TEvo sends it again), reconnects by itself, and loses nothing it acknowledged.

This test stops and starts a PostgreSQL server of its own, so the session's shared server is not disturbed.
"""

from __future__ import annotations

import httpx
import pytest

from tests.pg import PgServer, need_postgresql
from tevo_bridge.loopback.stack import WEBHOOK_TOKEN, stack, webhook_form
from tevo_bridge.sandbox.scenarios import Channel, Scenario

FORM = {"Content-Type": "application/x-www-form-urlencoded"}


@pytest.fixture
def own_server():
    server = PgServer(need_postgresql())
    server.start()
    yield server
    server.destroy()


@pytest.mark.slow  # a PostgreSQL stop and start: the fast lane's slowest (README, Development)
def test_readyz_fails_while_the_database_is_down_and_the_daemon_recovers_by_itself(tmp_path, own_server):
    url = own_server.new_database()
    # A job cut off by the outage runs again once its lease ends: short, to keep the test short.
    with stack(tmp_path, store={"url": url}, pipeline={"lease_seconds": 5}, server={"admin_port": 0}) as run:
        base = run.daemon.base_url

        def readyz() -> httpx.Response:
            return httpx.get(f"{base}/readyz", timeout=30)

        def webhook(order_id: int) -> httpx.Response:
            body = webhook_form(run.sandbox.world.order(order_id))
            return httpx.post(f"{base}/webhooks/tevo/{WEBHOOK_TOKEN}", content=body, headers=FORM, timeout=30)

        assert readyz().status_code == 200
        acknowledged = run.sandbox.driver.create_sync(Scenario.OFFICE_ETICKET, [Channel.POLL]).order_id
        assert webhook(acknowledged).status_code == 200

        own_server.stop()
        down = readyz()
        assert (down.status_code, down.json()) == (503, {"status": "not_ready"}), down.text  # no error text
        details = httpx.get(f"{run.daemon.admin_url}/readyz", timeout=30)
        assert details.status_code == 503 and details.json()["checks"]["store"]["ok"] is False, details.text
        while_down = run.sandbox.driver.create_sync(Scenario.OFFICE_ETICKET, [Channel.POLL]).order_id
        refused = webhook(while_down)
        assert refused.status_code == 503, refused.text  # not recorded, so not acknowledged: TEvo retries
        assert url.rsplit("@", 1)[0] not in refused.text
        # A complete answer on a connection that stays open: a balancing proxy reusing it must not see a reset.
        with httpx.Client(base_url=base, timeout=30) as kept:
            body = webhook_form(run.sandbox.world.order(while_down))
            for _ in range(2):
                again = kept.post(f"/webhooks/tevo/{WEBHOOK_TOKEN}", content=body, headers=FORM)
                assert again.status_code == 503 and again.headers.get("connection") != "close", again.headers

        own_server.start()
        assert run.wait_for(lambda: readyz().status_code == 200, timeout=60)
        assert webhook(while_down).status_code == 200  # TEvo's retry
        states = run.wait_settled([acknowledged, while_down], timeout=60)
        assert states == {acknowledged: "done", while_down: "done"}
        for order_id in (acknowledged, while_down):
            assert run.invoices_for(order_id) == 1
            assert run.sandbox.inspect(order_id)["accept_calls"] == 1
