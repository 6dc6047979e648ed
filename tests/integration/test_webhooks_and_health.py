"""Webhook intake (docs/tevo-api.md §6.2) and health/metrics endpoints on the real server."""

from __future__ import annotations

from urllib.parse import urlencode

import httpx
import pytest

from tests.conftest import FIXTURES
from tests.integration.conftest import WEBHOOK_TOKEN, make_settings
from tevo_bridge.serve import running_daemon

ORDER_CREATED = (FIXTURES / "webhooks" / "order_created.form").read_bytes()
CATALOG = (FIXTURES / "webhooks" / "catalog_event_updated.form").read_bytes()
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


@pytest.fixture
def daemon(tmp_path, pos_db):
    with running_daemon(make_settings(tmp_path, pos_db)) as running:
        yield running


def send(daemon, body, token=WEBHOOK_TOKEN, headers=FORM):
    return httpx.post(f"{daemon.base_url}/webhooks/tevo/{token}", content=body, headers=headers, timeout=10)


def counts(daemon):
    store = daemon.runtime.store.sync
    return {t: store.count(t) for t in ("inbox", "jobs", "orders")}


def test_order_created_is_recorded_queued_and_answered(daemon):
    response = send(daemon, ORDER_CREATED)
    assert response.status_code == 200 and response.json() == {"status": "received"}
    assert daemon.runtime.store.sync.get_order(402117) is not None
    assert daemon.runtime.store.sync.job_for_order(402117) is not None


def test_a_repeated_webhook_is_a_duplicate(daemon):
    send(daemon, ORDER_CREATED)
    before = counts(daemon)
    assert send(daemon, ORDER_CREATED).json() == {"status": "duplicate"}
    assert counts(daemon) == before


def test_catalog_events_are_ignored_but_recorded(daemon):
    response = send(daemon, CATALOG)
    assert response.status_code == 200 and response.json() == {"status": "ignored"}
    assert counts(daemon) == {"inbox": 1, "jobs": 0, "orders": 0}


def test_an_order_canceled_event_is_recorded_and_queued_so_an_invoice_can_be_voided(daemon):
    body = urlencode({"order_group_id": "199", "recipient": "seller", "event_type": "order_canceled",
                      "body": '{"id": 402118, "seller_state": "canceled"}'}).encode()
    assert send(daemon, body).json() == {"status": "received"}
    assert daemon.runtime.store.sync.job_for_order(402118) is not None


def test_buyer_events_are_ignored(daemon):
    body = urlencode({"event_type": "order_accepted", "recipient": "buyer", "body": '{"id": 5}'}).encode()
    assert send(daemon, body).json() == {"status": "ignored"}


def test_wrong_token_is_404_and_stores_nothing(daemon):
    response = send(daemon, ORDER_CREATED, token="wrong-token")
    assert response.status_code == 404 and response.json()["error"] == "not_found"
    assert counts(daemon) == {"inbox": 0, "jobs": 0, "orders": 0}


@pytest.mark.parametrize("body", [
    b"",  # no event_type
    urlencode({"event_type": "order_created", "recipient": "seller"}).encode(),  # no body
    urlencode({"event_type": "order_created", "recipient": "seller", "body": "{not json"}).encode(),
    urlencode({"event_type": "order_created", "recipient": "seller", "body": '{"id": "abc"}'}).encode(),
    urlencode({"event_type": "order_created", "recipient": "seller", "body": "[1]"}).encode(),
    b"event_type=order_created&event_type=order_created",
    b"\xff\xfe=\xff",
])
def test_malformed_webhooks_are_400_and_store_nothing(daemon, body):
    response = send(daemon, body)
    assert response.status_code == 400, response.text
    assert response.json()["status"] == "invalid" and response.json()["errors"]
    assert counts(daemon) == {"inbox": 0, "jobs": 0, "orders": 0}


def test_json_content_type_is_refused(daemon):
    response = send(daemon, b'{"event_type":"order_created"}', headers={"Content-Type": "application/json"})
    assert response.status_code == 400


def test_webhook_route_is_closed_without_a_configured_token(tmp_path, pos_db):
    with running_daemon(make_settings(tmp_path, pos_db, server={"webhook_token": ""})) as daemon:
        assert send(daemon, ORDER_CREATED, token="").status_code == 404
        assert send(daemon, ORDER_CREATED, token="anything").status_code == 404


def test_health_endpoints(tmp_path, pos_db):
    with running_daemon(make_settings(tmp_path, pos_db, server={"admin_port": 0})) as split:
        assert httpx.get(split.base_url + "/livez").json() == {"status": "ok"}
        ready = httpx.get(split.base_url + "/readyz")
        assert (ready.status_code, ready.json()) == (200, {"status": "ready"})  # the public one says no more
        details = httpx.get(split.admin_url + "/readyz")
        assert details.status_code == 200, details.text
        assert set(details.json()["checks"]) == {"store", "plugin", "worker"}
        assert details.json()["checks"]["plugin"]["health"] == {"ok": True, "reason": None}  # sqlite_pos's pos_health


def test_readyz_is_not_ready_when_pos_health_fails_and_only_the_admin_one_says_why(tmp_path, pos_db):
    with running_daemon(make_settings(tmp_path, pos_db, server={"admin_port": 0})) as split:
        pos_db.unlink()  # the POS database gone under the running daemon
        public = httpx.get(split.base_url + "/readyz", timeout=10)
        assert (public.status_code, public.json()) == (503, {"status": "not_ready"})
        details = httpx.get(split.admin_url + "/readyz", timeout=10)
        plugin = details.json()["checks"]["plugin"]
        assert details.status_code == 503 and plugin["ok"] is False, details.text
        assert plugin["health"]["ok"] is False and "cannot be read" in plugin["health"]["reason"], plugin


def test_metrics_count_inbound_by_channel(daemon):
    send(daemon, CATALOG)
    text = httpx.get(daemon.base_url + "/metrics").text
    assert 'tevo_bridge_inbound_total{channel="webhook",outcome="ignored"}' in text
    assert "tevo_bridge_hold_seconds_bucket" in text


def test_unknown_routes_answer_json(daemon):
    response = httpx.get(daemon.base_url + "/nope")
    assert response.status_code == 404 and response.json()["status"] == "error"


def test_metrics_include_pos_call_latency_and_jobs(daemon):
    body = {"remote_id": "91508", "quantity": 1, "global_id": "metrics-1"}
    httpx.post(daemon.base_url + "/order-integration/holds", json=body,
               headers={"X-Api-Key": __import__("tests.integration.conftest", fromlist=["API_KEY"]).API_KEY})
    send(daemon, ORDER_CREATED)
    text = httpx.get(daemon.base_url + "/metrics").text
    assert 'tevo_bridge_pos_call_seconds_count{hook="pos_hold",outcome="ok"}' in text
    assert "tevo_bridge_jobs{" in text and "tevo_bridge_tevo_calls_total" in text


def test_polling_readyz_asks_pos_health_once_per_few_seconds(tmp_path, pos_db, monkeypatch):
    """Fifty concurrent /readyz on both listeners: one pos_health call at a time, and a new one only once the
    last answer is older than HEALTH_TTL; the rest share its answer.

    Counted against the time the fifty took, not as exactly one call: on a loaded machine the last requests
    can arrive after the first answer has aged out, and asking again then is the promise, not a fault.
    """
    import threading
    import time
    from concurrent.futures import ThreadPoolExecutor

    from tevo_bridge_sqlite_pos import SqlitePos

    from tevo_bridge import hookimpl
    from tevo_bridge.pos.probe import HEALTH_TTL

    calls: list[int] = []
    running = [0, 0]  # now, most at once
    gate = threading.Event()
    original = SqlitePos.pos_health

    def counting(self):
        calls.append(1)
        running[0] += 1
        running[1] = max(running)
        gate.wait(timeout=10)  # every request arrives while the first call still runs
        running[0] -= 1
        return original(self)

    monkeypatch.setattr(SqlitePos, "pos_health", hookimpl(counting))
    with running_daemon(make_settings(tmp_path, pos_db, server={"admin_port": 0})) as split:
        urls = [split.base_url + "/readyz", split.admin_url + "/readyz"] * 25
        started = time.monotonic()
        with ThreadPoolExecutor(16) as pool:
            answers = pool.map(lambda url: httpx.get(url, timeout=10).status_code, urls)
            threading.Timer(0.5, gate.set).start()
            codes = list(answers)
        took = time.monotonic() - started
    print(f"\n50 /readyz answered {codes.count(200)} x 200 with {len(calls)} pos_health call(s) in {took:.1f} s")
    assert codes == [200] * 50
    assert running[1] == 1, "pos_health was asked twice at once"
    assert 1 <= len(calls) <= 1 + int(took // HEALTH_TTL), f"{len(calls)} pos_health calls in {took:.1f} s"


def test_a_hung_pos_health_makes_readyz_not_ready_within_its_budget(tmp_path, pos_db, monkeypatch):
    import threading

    from tevo_bridge_sqlite_pos import SqlitePos

    from tevo_bridge import hookimpl

    hang = threading.Event()
    monkeypatch.setattr(SqlitePos, "pos_health", hookimpl(lambda self: hang.wait(timeout=30)))
    settings = make_settings(tmp_path, pos_db, server={"admin_port": 0}, pos={"budgets": {"pos_health": 0.5}})
    try:
        with running_daemon(settings) as split:
            details = httpx.get(split.admin_url + "/readyz", timeout=10)
            assert details.status_code == 503, details.text
            assert details.json()["checks"]["plugin"]["health"] == {
                "ok": False, "reason": "pos_health: no answer within its 0.5 s budget"}
            assert httpx.get(split.base_url + "/readyz", timeout=10).json() == {"status": "not_ready"}
    finally:
        hang.set()


def test_the_daemon_serves_on_uvloop_unless_told_asyncio(tmp_path, pos_db):
    import uvloop

    with running_daemon(make_settings(tmp_path / "auto", pos_db)) as daemon:
        assert httpx.get(daemon.base_url + "/livez", timeout=5).status_code == 200
        assert isinstance(daemon.runtime.loop, uvloop.Loop)
    with running_daemon(make_settings(tmp_path / "plain", pos_db, server={"event_loop": "asyncio"})) as daemon:
        assert httpx.get(daemon.base_url + "/livez", timeout=5).status_code == 200
        assert not isinstance(daemon.runtime.loop, uvloop.Loop)
