"""Issue 20 item 7: input that once answered 503 and reset the connection is refused at the boundary (4xx),
on both store backends (PostgreSQL refuses NUL in text, SQLite takes it), and a crash that still escapes a
route is answered completely on a connection that stays usable."""

from __future__ import annotations

import json
import re
from urllib.parse import quote, urlencode

import httpx
import pytest

from tests.e2e.hostile_wire import Wire
from tevo_bridge.dashboard.auth import hash_password
from tevo_bridge.loopback.stack import API_KEY, WEBHOOK_TOKEN, stack

DASHBOARD = {"session_secret": "hostile-input-session-secret-0123456789", "auth": "none"}
WEBHOOK = f"/webhooks/tevo/{WEBHOOK_TOKEN}"
FORM = {"Content-Type": "application/x-www-form-urlencoded"}
OI = {"X-Api-Key": API_KEY, "Content-Type": "application/json"}


def webhook(event_type: str = "order_created", body: str = '{"id": 7}', group: str = "7") -> bytes:
    return urlencode({"event_type": event_type, "recipient": "seller", "order_group_id": group,
                      "body": body}).encode()


def hold(remote_id: str = "88213", global_id: str = "g-1") -> bytes:
    return json.dumps({"remote_id": remote_id, "quantity": 1, "global_id": global_id}).encode()


#: (method, path, body, headers, expected status): each answered 503 (and a reset) before.
INTAKE_CASES = {
    "webhook body.id of 5,000 digits as a string": ("POST", WEBHOOK, webhook(body=json.dumps({"id": "9" * 5000})),
                                                    FORM, 400),
    "webhook body.id of 5,000 digits as a number": ("POST", WEBHOOK, webhook(body='{"id": ' + "9" * 5000 + "}"),
                                                    FORM, 400),
    "webhook event_type with NUL": ("POST", WEBHOOK, webhook(event_type="order_created\x00"), FORM, 400),
    "webhook order_group_id with NUL": ("POST", WEBHOOK, webhook(body="{}", group="7\x00"), FORM, 400),
    "ignored webhook event_type with NUL": ("POST", WEBHOOK, webhook(event_type="x\x00y"), FORM, 400),
    "hold global_id with NUL": ("POST", "/order-integration/holds", hold(global_id="g\x00"), OI, 422),
    "hold remote_id with NUL": ("POST", "/order-integration/holds", hold(remote_id="882\x0013"), OI, 422),
    "hold remote_id with C1 CSI": ("POST", "/order-integration/holds", hold(remote_id="\x9b31m"), OI, 422),
    "invoice global_id with NUL": ("POST", "/order-integration/invoices",
                                   json.dumps({"order_id": 7, "global_id": "\x00"}).encode(), OI, 422),
    "release path with NUL": ("POST", "/order-integration/holds/g%00x/release", b"{}", OI, 422),
}
DASHBOARD_CASES = {
    "date filter to=9999-12-31": "/dashboard/orders?to=9999-12-31",
    "date filter from=1969-12-31": "/dashboard/orders?from=1969-12-31",
    "page cursor of 4,400 digits": "/dashboard/orders?before=" + "9" * 4400,
    "order filter of 4,400 digits": "/dashboard/orders?order=" + "9" * 90,
    "order page of 5,000 digits": "/dashboard/orders/" + "9" * 5000,
    "order page with NUL": "/dashboard/orders/1%00",
    "filter with an escape sequence": "/dashboard/orders?invoice=" + quote("\x1b[2J"),
}


@pytest.fixture(params=["httptools", "h11"])  # both of uvicorn's HTTP parsers ([server] http_parser)
def daemon(request, tmp_path):
    with stack(tmp_path, log_level="info", server={"admin_port": 0, "http_parser": request.param},
               dashboard=DASHBOARD) as run:
        yield run


def test_hostile_input_is_refused_at_the_boundary_and_the_connection_stays_open(daemon):
    with Wire(daemon.daemon.base_url) as wire:
        for name, (method, path, body, headers, expected) in INTAKE_CASES.items():
            answer = wire.request(method, path, body, headers)
            assert answer.status == expected, (name, answer.status, answer.body[:300])
            assert json.loads(answer.body)["status"] == "invalid", name
            assert not answer.closes, name
        assert wire.request("GET", "/livez").status == 200  # the same connection, after every refusal
    with Wire(daemon.daemon.admin_url) as wire:
        for name, path in DASHBOARD_CASES.items():
            answer = wire.request("GET", path)
            assert answer.status == 400, (name, answer.status, answer.body[:300])
            assert b"<html" in answer.body.lower(), name
            assert not answer.closes, name
        assert wire.request("GET", "/dashboard/orders?from=1970-01-01&to=2999-12-31").status == 200  # the bounds


def test_a_crash_in_an_intake_route_is_answered_503_on_a_connection_that_stays_usable(daemon, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("a bug, not a store outage")

    monkeypatch.setattr(daemon.daemon.runtime.store, "record_event", broken)
    with Wire(daemon.daemon.base_url) as wire:
        for _ in range(3):
            answer = wire.request("POST", WEBHOOK, webhook(), FORM)
            assert answer.status == 503
            assert json.loads(answer.body) == {"status": "error", "error": "temporarily_unavailable"}
            assert not answer.closes
        assert wire.request("GET", "/livez").status == 200
    log = (daemon.tmp / "daemon.log").read_text()
    crashes = [json.loads(line) for line in log.splitlines() if "a bug, not a store outage" in line]
    assert [c["event"] for c in crashes] == ["intake.error"] * 3  # logged once each, not again by uvicorn
    assert WEBHOOK_TOKEN not in log  # the path holds it: masked


def test_a_crash_in_a_dashboard_page_is_an_error_page_on_a_connection_that_stays_usable(daemon, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("a dashboard bug")

    monkeypatch.setattr(daemon.daemon.runtime.store, "stats", broken)
    with Wire(daemon.daemon.admin_url) as wire:
        for _ in range(3):
            answer = wire.request("GET", "/dashboard/")
            assert answer.status == 503
            assert b"Unavailable" in answer.body
            assert not answer.closes
        assert wire.request("GET", "/dashboard/orders").status == 200


def test_dashboard_forms_refuse_control_characters_before_the_store(tmp_path):
    """A login name or a resolve note holding NUL once reached PostgreSQL (which refuses it): a 503."""
    password = "a long enough passphrase"
    with stack(tmp_path, log_level="info", server={"admin_port": 0},
               dashboard={**DASHBOARD, "auth": "password", "password_hash": hash_password(password)}) as run:
        run.daemon.runtime.store.sync.ensure_order(4242, "webhook")
        run.daemon.runtime.store.sync.update_order(4242, state="needs_review", reason="seeded by the test")
        with httpx.Client(base_url=run.daemon.admin_url or "", timeout=10,
                          limits=httpx.Limits(max_connections=1)) as http:
            def csrf(path: str) -> str:
                match = re.search(r'name="csrf" value="([^"]+)"', http.get(path).text)
                assert match, path
                return match.group(1)

            refused = http.post("/dashboard/login", data={"csrf": csrf("/dashboard/login"), "name": "ali\x00ce",
                                                          "password": password})
            assert refused.status_code == 401 and "Give your name" in refused.text
            http.post("/dashboard/login", data={"csrf": csrf("/dashboard/login"), "name": "alice",
                                                "password": password})
            note = http.post("/dashboard/orders/4242/resolve",
                             data={"csrf": csrf("/dashboard/orders/4242"), "note": "sold by phone\x00\x1b[2J"})
            assert note.status_code == 400 and "note" in note.text
            assert run.daemon.runtime.store.sync.get_order(4242).state == "needs_review"
