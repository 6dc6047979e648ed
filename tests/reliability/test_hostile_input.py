"""Part 4: hostile input.  No 5xx, no crash, nothing stored from a refused request."""

from __future__ import annotations

import json
from urllib.parse import urlencode

import httpx
import pytest

from tests.reliability.hostile import Snapshot, run_hostile
from tevo_bridge.loopback.stack import API_KEY, WEBHOOK_TOKEN, stack


def check(run) -> None:
    assert run.server_errors == [], run.server_errors[:10]
    assert run.stored_on_refusal == [], run.stored_on_refusal[:10]
    assert run.alive


def test_fuzzed_order_integration_and_webhooks(tmp_path, figures):
    run = run_hostile(tmp_path, examples=8)
    figures(run.figures())
    check(run)


@pytest.mark.full
def test_fuzzed_order_integration_and_webhooks_at_length(tmp_path, figures):
    run = run_hostile(tmp_path, examples=400, seed=1)
    figures(run.figures())
    check(run)


# Regressions: inputs that answered 503 before (the store raised), now refused as invalid, storing nothing.

BIG = 2**63  # one past SQLite's INTEGER
OI_CASES = {
    "ticket_group_id past 64 bits": ("/order-integration/holds",
                                     json.dumps({"remote_id": "88213", "quantity": 1, "global_id": "g-1",
                                                 "ticket_group_id": BIG})),
    "remote_id a lone surrogate": ("/order-integration/holds",
                                   '{"remote_id": "\\ud800", "quantity": 1, "global_id": "g-2"}'),
    "global_id a lone surrogate": ("/order-integration/holds",
                                   '{"remote_id": "88213", "quantity": 1, "global_id": "a\\udfff"}'),
    "hold as a JSON bomb": ("/order-integration/holds", "[" * 100_000 + "]" * 100_000),
    "invoice order_id past 64 bits": ("/order-integration/invoices",
                                      json.dumps({"order_id": BIG, "global_id": "g-3"})),
    "invoice global_id a lone surrogate": ("/order-integration/invoices",
                                           '{"order_id": 7, "global_id": "\\ud800"}'),
    "release as a JSON bomb": ("/order-integration/holds/g-4/release", '{"a":' * 50_000 + "1" + "}" * 50_000),
}
WEBHOOK_CASES = {
    "order id past 64 bits": json.dumps({"id": BIG}),
    "order id a non-ASCII digit": json.dumps({"id": "²"}),
    "order id far past 64 bits": json.dumps({"id": 10**40}),
}


@pytest.fixture(scope="module")
def daemon(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("hostile-regressions")
    with stack(tmp, log_level="info") as run:
        yield run, Snapshot(tmp / "state.sqlite3", run.pos_db)


@pytest.mark.parametrize("path,body", OI_CASES.values(), ids=OI_CASES.keys())
def test_order_integration_input_the_store_cannot_hold_is_refused_not_503(daemon, path, body):
    run, snapshot = daemon
    before = snapshot.take()
    response = httpx.post(run.daemon.base_url + path, content=body.encode("utf-8", "surrogatepass"),
                          headers={"X-Api-Key": API_KEY, "Content-Type": "application/json"}, timeout=30)
    assert response.status_code == 422, response.text
    assert snapshot.take() == before


@pytest.mark.parametrize("body", WEBHOOK_CASES.values(), ids=WEBHOOK_CASES.keys())
def test_webhook_order_ids_the_store_cannot_hold_are_refused_not_503(daemon, body):
    run, snapshot = daemon
    before = snapshot.take()
    form = urlencode({"event_type": "order_created", "recipient": "seller", "order_group_id": "7", "body": body})
    response = httpx.post(f"{run.daemon.base_url}/webhooks/tevo/{WEBHOOK_TOKEN}", content=form,
                          headers={"Content-Type": "application/x-www-form-urlencoded"}, timeout=30)
    assert response.status_code == 400, response.text
    assert snapshot.take() == before


def test_the_openapi_document_describes_the_order_integration_bodies_and_key(daemon):
    run, _ = daemon
    spec = httpx.get(run.daemon.base_url + "/openapi.json", timeout=10).json()
    hold = spec["paths"]["/order-integration/holds"]["post"]
    assert hold["requestBody"]["content"]["application/json"]["schema"]["required"] == [
        "remote_id", "quantity", "global_id"]
    assert {"name": "X-Api-Key", "in": "header", "required": True, "schema": {"type": "string"}} in hold["parameters"]
