"""/metrics reads the store at scrape time: every state is exported, and a state an order left drops to 0."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.integration.conftest import make_settings
from tevo_bridge.serve import running_daemon
from tevo_bridge.store.vocabulary import HOLD_STATES, JOB_STATES, ORDER_STATES


@pytest.fixture
def daemon(tmp_path, pos_db):
    # Attempts and backoff high enough that a retried order's job (TEvo is unreachable) cannot put it
    # back in needs_review while the test looks.
    settings = make_settings(tmp_path, pos_db, pipeline={"max_attempts": 50, "backoff_base": 30, "backoff_cap": 60})
    with running_daemon(settings) as running:
        yield running


def samples(base_url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = httpx.get(base_url + "/metrics", timeout=10).text
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def on_loop(daemon: Any, coro: Any) -> Any:
    """Run a store call on the daemon's own loop, as its routes do."""
    return asyncio.run_coroutine_threadsafe(coro, daemon.runtime.loop).result(10)


def gauge(values: dict, name: str, state: str) -> float:
    return values[(name, (("state", state),))]


def test_every_known_state_is_exported_at_zero_on_an_empty_store(daemon):
    values = samples(daemon.base_url)
    for name, states in (("tevo_bridge_orders", ORDER_STATES), ("tevo_bridge_jobs", JOB_STATES),
                         ("tevo_bridge_holds", HOLD_STATES)):
        assert {state: gauge(values, name, state) for state in states} == dict.fromkeys(states, 0.0)
    assert values[("tevo_bridge_oldest_open_order_age_seconds", ())] == 0.0
    assert values[("tevo_bridge_store_up", ())] == 1.0
    assert values[("tevo_bridge_store_disk_free_bytes", ())] > 0


def test_needs_review_goes_to_1_then_back_to_0_when_the_order_leaves_it(daemon):
    store = daemon.runtime.store
    on_loop(daemon, store.ensure_order(402117, "operator"))
    on_loop(daemon, store.update_order(402117, state="needs_review", reason="test: a person must look"))
    values = samples(daemon.base_url)
    assert gauge(values, "tevo_bridge_orders", "needs_review") == 1.0
    assert values[("tevo_bridge_oldest_open_order_age_seconds", ())] >= 0.0

    assert on_loop(daemon, store.retry_order(402117)) == "queued"  # what `tevo-bridge orders retry` does
    values = samples(daemon.base_url)
    assert gauge(values, "tevo_bridge_orders", "needs_review") == 0.0
    assert gauge(values, "tevo_bridge_orders", "new") == 1.0


def test_holds_are_counted_by_state(daemon):
    from tests.integration.conftest import API_KEY

    response = httpx.post(daemon.base_url + "/order-integration/holds", headers={"X-Api-Key": API_KEY},
                          json={"remote_id": "91508", "quantity": 1, "global_id": "metrics-hold-1"}, timeout=10)
    assert response.status_code == 200
    values = samples(daemon.base_url)
    assert gauge(values, "tevo_bridge_holds", "held") == 1.0
    assert values[("tevo_bridge_holds_answered_total", (("outcome", "held"),))] >= 1.0


def test_metrics_answer_with_store_up_0_when_the_store_fails(daemon, monkeypatch):
    def broken() -> None:
        raise RuntimeError("disk I/O error")

    monkeypatch.setattr(daemon.runtime.store.sync, "stats", broken)
    response = httpx.get(daemon.base_url + "/metrics", timeout=10)
    assert response.status_code == 200
    assert "tevo_bridge_store_up 0.0" in response.text and 'tevo_bridge_orders{' not in response.text
    assert "tevo_bridge_inbound_total" in response.text  # the process-wide series are still there


def test_scrapes_in_flight_together_share_one_store_read():
    """A burst of scrapes costs the store thread (which also answers holds) one read, not one each."""
    from types import SimpleNamespace

    from tevo_bridge.metrics import MetricsEndpoint, Snapshot
    from tevo_bridge.store.vocabulary import StoreStats

    reads = 0

    async def scenario() -> list[bytes]:
        reading, release = asyncio.Event(), asyncio.Event()

        async def call(fn: Any, *args: Any) -> Snapshot:
            nonlocal reads
            reads += 1
            reading.set()
            await release.wait()
            return Snapshot(StoreStats({"needs_review": 2}, {}, {}, None), 10, 100, 0.0)

        runtime = SimpleNamespace(store=SimpleNamespace(call=call, sync=None),
                                  settings=SimpleNamespace(store=SimpleNamespace(path="state.sqlite3", postgres_url=None)))
        endpoint = MetricsEndpoint()
        scrapes = [asyncio.create_task(endpoint.render(runtime)) for _ in range(5)]
        await reading.wait()  # the scrapes, started in order, have all reached the read in flight by now
        release.set()
        return await asyncio.gather(*scrapes)

    bodies = asyncio.run(scenario())
    assert reads == 1
    assert all(b'tevo_bridge_orders{state="needs_review"} 2.0' in body for body in bodies)
