"""``POST /_sandbox/orders/{id}/cancel``: TEvo cancels an order, in any state, and tells the seller by webhook."""

from __future__ import annotations

import json
import time

import httpx

from tests.sandbox.conftest import order_request
from tests.sandbox.helpers import Receiver
from tevo_bridge.sandbox.server import Sandbox, running_sandbox


def cancel(tevo: Sandbox, order_id: int, body: object = None, raw: bytes | None = None) -> httpx.Response:
    url = f"{tevo.base_url}/_sandbox/orders/{order_id}/cancel"
    if raw is not None:
        return httpx.post(url, content=raw, timeout=10)
    return httpx.post(url, json=body, timeout=10) if body is not None else httpx.post(url, timeout=10)


def wait_for_webhooks(fake: Receiver, count: int) -> list[dict[str, str]]:
    deadline = time.monotonic() + 10
    while len(fake.webhooks) < count and time.monotonic() < deadline:
        time.sleep(0.02)
    return fake.webhooks


def test_a_cancel_changes_the_order_at_tevo_and_announces_it_by_webhook(driven: tuple[Sandbox, Receiver]) -> None:
    tevo, fake = driven
    order = tevo.create_order(order_request(state="completed"))  # delivered, then canceled
    answer = cancel(tevo, order["id"], {"reason": "event postponed"})
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"id": order["id"], "seller_state": "canceled",
                             "buyer_cancellation_reason": "event postponed"}
    shown = tevo.world.order(order["id"])
    assert shown is not None and shown["seller_state"] == "canceled"
    (hook,) = wait_for_webhooks(fake, 1)
    body = json.loads(hook["body"])
    assert (hook["event_type"], hook["recipient"], body["id"], body["seller_state"]) == (
        "order_canceled", "seller", order["id"], "canceled")


def test_a_cancel_may_name_tevos_cancel_state_and_needs_no_body(driven: tuple[Sandbox, Receiver]) -> None:
    tevo, _ = driven
    first = tevo.create_order(order_request(state="accepted"))
    second = tevo.create_order(order_request(state="accepted"))
    assert cancel(tevo, first["id"]).json()["seller_state"] == "canceled"
    named = cancel(tevo, second["id"], {"state": "canceled_post_acceptance"})
    assert (named.status_code, named.json()["seller_state"]) == (200, "canceled_post_acceptance")


def test_a_bad_cancel_is_refused_naming_the_problem_and_changes_nothing(driven: tuple[Sandbox, Receiver]) -> None:
    tevo, fake = driven
    order = tevo.create_order(order_request(state="accepted"))
    cases = [
        (cancel(tevo, order["id"], raw=b"not json"), 400, "JSON object"),
        (cancel(tevo, order["id"], ["reason"]), 400, "JSON object"),
        (cancel(tevo, order["id"], {"why": "x"}), 400, "unknown field(s) why"),
        (cancel(tevo, order["id"], {"reason": 5}), 400, "reason must be a string"),
        (cancel(tevo, order["id"], {"state": "rejected"}), 422, "state must be one of canceled"),
    ]
    for answer, status, text in cases:
        assert (answer.status_code, text in answer.text) == (status, True), answer.text
    assert tevo.world.order(order["id"])["seller_state"] == "accepted"  # type: ignore[index]
    missing = cancel(tevo, 999999999)
    assert missing.status_code == 404
    assert cancel(tevo, order["id"]).status_code == 200
    again = cancel(tevo, order["id"])
    assert (again.status_code, "already canceled" in again.text) == (409, True)
    time.sleep(0.2)
    assert len(fake.webhooks) == 1, "only the one real cancel is announced"


def test_without_a_webhook_url_the_cancel_is_found_by_the_next_fetch_only() -> None:
    with running_sandbox(seed=3) as tevo:
        order = tevo.create_order(order_request(state="accepted"))
        assert cancel(tevo, order["id"]).status_code == 200
        assert tevo.world.order(order["id"])["seller_state"] == "canceled"  # type: ignore[index]
        assert tevo.driver.webhooks() == []


def test_a_scenario_can_be_canceled_before_the_seller_acts(driven: tuple[Sandbox, Receiver]) -> None:
    tevo, fake = driven
    made = tevo.driver.create_sync("office_eticket", cancel="before_invoice")
    assert (made.expected.final_state, made.to_json()["cancel"]) == ("canceled", "before_invoice")
    assert tevo.world.order(made.order_id)["seller_state"] == "canceled"  # type: ignore[index]
    hooks = wait_for_webhooks(fake, 2)
    # Both are announced, each by its own delivery (retried on its own, as TEvo's are): they may land in either
    # order, and both carry the order as it now is, canceled.
    assert sorted(h["event_type"] for h in hooks) == ["order_canceled", "order_created"]
    assert all(json.loads(h["body"])["seller_state"] == "canceled" for h in hooks)


def test_a_cancel_after_delivery_waits_for_completed_then_cancels(driven: tuple[Sandbox, Receiver]) -> None:
    tevo, fake = driven
    made = tevo.driver.create_sync("office_eticket", cancel="after_delivery")
    time.sleep(0.3)
    assert tevo.world.order(made.order_id)["seller_state"] == "pending", "no cancel before delivery"  # type: ignore[index]
    with tevo.world.lock:
        tevo.world.set_seller_state(tevo.world.orders[made.order_id], "completed")  # as if delivered
    deadline = time.monotonic() + 10
    while tevo.world.order(made.order_id)["seller_state"] == "completed" and time.monotonic() < deadline:  # type: ignore[index]
        time.sleep(0.02)
    assert tevo.world.order(made.order_id)["seller_state"] == "canceled_post_acceptance"  # type: ignore[index]
    assert [h["event_type"] for h in wait_for_webhooks(fake, 2)] == ["order_created", "order_canceled"]


def test_a_cancel_moment_that_cannot_happen_is_refused_over_http(driven: tuple[Sandbox, Receiver]) -> None:
    tevo, _ = driven
    url = f"{tevo.base_url}/_sandbox/orders"
    cases = {("out_of_stock", "after_delivery"): "never reaches completed",
             ("oi_invoice", "before_invoice"): "cannot be canceled",
             ("office_eticket", "tomorrow"): "unknown cancel moment 'tomorrow'"}
    for (scenario, moment), text in cases.items():
        answer = httpx.post(url, json={"scenario": scenario, "cancel": moment}, timeout=10)
        assert (answer.status_code, text in answer.text) == (422, True), answer.text
    made = httpx.post(url, json={"scenario": "office_eticket", "cancel": "before_invoice"}, timeout=10)
    assert (made.status_code, made.json()["cancel"]) == (201, "before_invoice")
