"""Each fault setting produces its fault, and never touches /_sandbox (faults.py)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import AbstractContextManager
from typing import Any

import httpx
import pytest

from tests.sandbox.conftest import driver_settings, order_request
from tests.sandbox.helpers import Receiver, TevoApi
from tevo_bridge.sandbox.faults import FaultInjector, FaultSettings
from tevo_bridge.sandbox.scenarios import Channel, Scenario
from tevo_bridge.sandbox.server import Sandbox, running_sandbox


@pytest.fixture
def faulty(request: pytest.FixtureRequest) -> Iterator[tuple[Sandbox, TevoApi]]:
    with running_sandbox(seed=3, faults=request.param) as tevo:
        api = TevoApi(tevo.base_url, tevo.token, tevo.secret)
        yield tevo, api
        api.close()


def faults(**settings: object) -> object:
    return pytest.mark.parametrize("faulty", [FaultSettings(**settings)], indirect=True)  # type: ignore[arg-type]


@faults(error_rate=1.0)
def test_error_rate_answers_500_or_503_without_acting(faulty: tuple[Sandbox, TevoApi]) -> None:
    tevo, api = faulty
    order = tevo.create_order(order_request())
    responses = [api.post(f"/orders/{order['id']}/accept", {"reviewer_id": 4711}) for _ in range(8)]
    assert {r.status_code for r in responses} == {500, 503}
    assert {json.dumps(r.json()) for r in responses if r.status_code == 500} == {'{"error": "Error"}'}
    assert (tevo.inspect(order["id"])["state"], tevo.inspect(order["id"])["accept_calls"]) == ("pending", 0)


@faults(rate_limit_rate=1.0, retry_after=7)
def test_rate_limit_answers_429_with_retry_after(faulty: tuple[Sandbox, TevoApi]) -> None:
    _, api = faulty
    response = api.get("/orders")
    assert (response.status_code, response.headers["retry-after"]) == (429, "7")


@faults(timeout_rate=1.0, hang_seconds=1.0)
def test_a_timeout_applies_the_change_but_the_caller_never_hears(faulty: tuple[Sandbox, TevoApi]) -> None:
    tevo, api = faulty
    order = tevo.create_order(order_request())
    with pytest.raises(httpx.ReadTimeout):
        api.post(f"/orders/{order['id']}/accept", {"reviewer_id": 4711}, timeout=0.2)
    assert tevo.inspect(order["id"])["state"] == "accepted"


@faults(latency=1.0)
def test_latency_delays_every_answer(faulty: tuple[Sandbox, TevoApi]) -> None:
    tevo, api = faulty
    with pytest.raises(httpx.ReadTimeout):
        api.get("/orders", timeout=0.2)
    assert tevo.faults.counts["latency"] == 1


@faults(error_rate=1.0, latency=1.0)
def test_faults_never_touch_the_inspection_routes(faulty: tuple[Sandbox, TevoApi]) -> None:
    tevo, api = faulty
    response = api.http.get(tevo.base_url + "/_sandbox/orders", timeout=0.5)
    assert response.status_code == 200


@faults(error_rate=1.0, methods=("POST",))
def test_faults_can_be_limited_to_some_verbs(faulty: tuple[Sandbox, TevoApi]) -> None:
    tevo, api = faulty
    order = tevo.create_order(order_request())
    statuses = (api.get(f"/orders/{order['id']}").status_code,
                api.post(f"/orders/{order['id']}/accept", {"reviewer_id": 4711}).status_code)
    assert statuses[0] == 200 and statuses[1] in (500, 503)


@faults(error_rate=0.3)
def test_fault_counts_are_reported_on_the_inspection_route(faulty: tuple[Sandbox, TevoApi]) -> None:
    tevo, api = faulty
    statuses = [api.get("/orders").status_code for _ in range(20)]
    counts = api.http.get(tevo.base_url + "/_sandbox/faults").json()["counts"]
    assert counts.get("error_500", 0) + counts.get("error_503", 0) == sum(s >= 500 for s in statuses)


@faults()
def test_fault_settings_changed_while_the_sandbox_runs_apply_from_the_next_request(
        faulty: tuple[Sandbox, TevoApi]) -> None:
    """The stateful reliability test breaks and mends TEvo between steps by replacing ``faults.settings``."""
    tevo, api = faulty
    assert api.get("/orders").status_code == 200
    tevo.faults.settings = FaultSettings(error_rate=1.0)
    assert api.get("/orders").status_code in (500, 503)
    tevo.faults.settings = FaultSettings()
    assert api.get("/orders").status_code == 200


def test_the_same_seed_gives_the_same_faults() -> None:
    def run(seed: int) -> list[object]:
        injector = FaultInjector(FaultSettings(error_rate=0.3, rate_limit_rate=0.2, timeout_rate=0.1), seed=seed)
        return [injector.decide("GET", "/v9/orders") for _ in range(50)]

    assert run(5) == run(5) and run(5) != run(6)


def test_fault_settings_parse_from_the_command_line_form() -> None:
    settings = FaultSettings.parse("error_rate=0.1,latency=0.25,webhook_reorder=true,methods=POST+PUT,retry_after=3")
    assert (settings.error_rate, settings.latency, settings.webhook_reorder, settings.methods, settings.retry_after) \
        == (0.1, 0.25, True, ("POST", "PUT"), 3)


def test_an_unknown_fault_name_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown fault"):
        FaultSettings.parse("eror_rate=0.1")


# -- webhook faults --------------------------------------------------------------------------

def webhook_sandbox(url: str, **fault_settings: Any) -> AbstractContextManager[Sandbox]:
    return running_sandbox(seed=5, driver=driver_settings(url), faults=FaultSettings(**fault_settings))


def test_duplicate_webhooks_arrive_twice(receiver: tuple[Receiver, str]) -> None:
    fake, url = receiver
    with webhook_sandbox(url, webhook_duplicate_rate=1.0) as tevo:
        tevo.driver.create_sync(Scenario.OFFICE_ETICKET)
        tevo.driver.drain_sync()
    assert len(fake.webhooks) == 2 and fake.webhooks[0] == fake.webhooks[1]


def test_reordered_webhooks_arrive_newest_first(receiver: tuple[Receiver, str]) -> None:
    fake, url = receiver
    with webhook_sandbox(url, webhook_reorder=True, webhook_reorder_window=0.2) as tevo:
        created = [tevo.driver.create_sync(Scenario.OFFICE_ETICKET).order_group_id for _ in range(3)]
        tevo.driver.drain_sync()
    assert [h["order_group_id"] for h in fake.webhooks] == list(reversed(created))


def test_dropped_webhooks_leave_the_order_to_polling(receiver: tuple[Receiver, str]) -> None:
    fake, url = receiver
    with webhook_sandbox(url, webhook_drop_rate=1.0) as tevo:
        created = tevo.driver.create_sync(Scenario.OFFICE_ETICKET, channels=[Channel.WEBHOOK])
        tevo.driver.drain_sync()
        api = TevoApi(tevo.base_url, tevo.token, tevo.secret)
        listed = [o["id"] for o in api.get("/orders", {"state": "pending", "type": "Order"}).json()["orders"]]
        api.close()
    assert (fake.webhooks, listed) == ([], [created.order_id])
