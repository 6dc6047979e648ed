"""Order Integration hold / release / invoice against the real server and the SQLite POS (docs/tevo-api.md §7.3)."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from functools import partial

import httpx
import pytest
from tevo_bridge_sqlite_pos.plugin import SqlitePos

from tests.conftest import load_fixture
from tests.integration.conftest import API_KEY, make_settings, pos_rows
from tevo_bridge import hookimpl
from tevo_bridge.loopback.stack import wait_for as stack_wait_for
from tevo_bridge.pos.host import PluginHost
from tevo_bridge.sandbox.server import running_sandbox
from tevo_bridge.serve import running_daemon

HOLD = load_fixture("order_integration/hold.json")  # 2 x "91508" at 415.0


@pytest.fixture
def daemon(tmp_path, pos_db):
    with running_daemon(make_settings(tmp_path, pos_db)) as running:
        yield running


def post(daemon, path, body, key=API_KEY, raw=None):
    headers = {"X-Api-Key": key} if key else {}
    with httpx.Client(base_url=daemon.base_url, timeout=10) as client:
        if raw is not None:
            return client.post(path, content=raw, headers={**headers, "Content-Type": "application/json"})
        return client.post(path, json=body, headers=headers)


def store_counts(daemon):
    store = daemon.runtime.store.sync
    return {t: store.count(t) for t in ("inbox", "holds", "jobs", "orders")}


# The loopback stack's poll, at this module's pace: 10 s, looked at every 20 ms.
wait_for = partial(stack_wait_for, timeout=10.0, every=0.02)


def test_hold_is_answered_held_and_recorded_in_the_pos(daemon, pos_db):
    response = post(daemon, "/order-integration/holds", HOLD)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "held" and body["global_id"] == HOLD["global_id"] and body["quantity"] == 2
    assert pos_rows(pos_db, "SELECT global_id, quantity, state FROM holds") == [(HOLD["global_id"], 2, "held")]
    assert daemon.runtime.store.sync.get_hold(HOLD["global_id"]).state == "held"


def test_a_replayed_hold_gets_the_same_bytes_and_holds_once(daemon, pos_db):
    first = post(daemon, "/order-integration/holds", HOLD)
    second = post(daemon, "/order-integration/holds", HOLD)
    assert second.status_code == first.status_code and second.content == first.content
    assert pos_rows(pos_db, "SELECT COUNT(*) FROM holds") == [(1,)]


def test_aliases_are_accepted(daemon):
    aliased = {"remoteId": "91508", "quantity": "1", "globalId": "alias-1"}
    assert post(daemon, "/order-integration/holds", aliased).json()["status"] == "held"


@pytest.mark.parametrize(("change", "reason", "available"), [
    ({"quantity": 5}, "insufficient_quantity", 4),
    ({"remote_id": "nope"}, "unknown_remote_id", None),
    ({"price": "100.0"}, "price_not_acceptable", None),
])
def test_a_hold_that_cannot_be_supplied_is_409_and_holds_nothing(daemon, pos_db, change, reason, available):
    response = post(daemon, "/order-integration/holds", {**HOLD, **change})
    assert response.status_code == 409, response.text
    body = response.json()
    assert body["status"] == "unavailable" and body["reason"] == reason
    if available is not None:
        assert body["available_quantity"] == available
    assert pos_rows(pos_db, "SELECT COUNT(*) FROM holds WHERE state = 'held'") == [(0,)]


def test_same_global_id_for_other_tickets_is_422(daemon):
    post(daemon, "/order-integration/holds", HOLD)
    response = post(daemon, "/order-integration/holds", {**HOLD, "quantity": 1})
    assert response.status_code == 422
    assert response.json()["errors"] == {"global_id": ["already used for a different hold"]}


@pytest.mark.parametrize("body", [{"quantity": 2}, {**HOLD, "quantity": 0}, {**HOLD, "quantity": "x"}, [1, 2]])
def test_invalid_holds_are_422_and_store_nothing(daemon, body):
    before = store_counts(daemon)
    response = post(daemon, "/order-integration/holds", body)
    assert response.status_code == 422 and response.json()["status"] == "invalid"
    assert store_counts(daemon) == before


def test_non_json_is_422(daemon):
    assert post(daemon, "/order-integration/holds", None, raw=b"{not json").status_code == 422


@pytest.mark.parametrize("key", [None, "wrong-key"])
def test_missing_or_wrong_key_is_401_and_stores_nothing(daemon, key):
    before = store_counts(daemon)
    response = post(daemon, "/order-integration/holds", HOLD, key=key)
    assert response.status_code == 401 and response.json() == {"status": "error", "error": "unauthorized"}
    assert store_counts(daemon) == before
    assert post(daemon, "/order-integration/invoices", {"order_id": 1, "global_id": "g"}, key=key).status_code == 401


def test_release_frees_the_pos_hold(daemon, pos_db):
    post(daemon, "/order-integration/holds", HOLD)
    response = post(daemon, f"/order-integration/holds/{HOLD['global_id']}/release", {})
    assert response.json() == {"status": "released", "global_id": HOLD["global_id"]}
    assert wait_for(lambda: pos_rows(pos_db, "SELECT state FROM holds") == [("released",)])
    again = post(daemon, f"/order-integration/holds/{HOLD['global_id']}/release", {})
    assert again.json()["status"] == "not_held"


def test_release_of_an_unknown_hold_is_not_held(daemon):
    response = post(daemon, "/order-integration/holds/never-seen/release", {"global_id": "never-seen"})
    assert response.status_code == 200 and response.json()["status"] == "not_held"


def test_release_body_must_match_the_path(daemon):
    assert post(daemon, "/order-integration/holds/a/release", {"global_id": "b"}).status_code == 422


def test_invoice_is_recorded_and_queued_with_an_unknown_hold_warning(daemon):
    response = post(daemon, "/order-integration/invoices", {"order_id": 402190, "global_id": "unknown-g"})
    assert response.status_code == 202
    assert response.json()["warning"] == "unknown_hold"
    assert daemon.runtime.store.sync.get_order(402190) is not None
    replay = post(daemon, "/order-integration/invoices", {"order_id": 402190, "global_id": "unknown-g"})
    assert replay.content == response.content
    other = post(daemon, "/order-integration/invoices", {"order_id": 402191, "global_id": "unknown-g"})
    assert other.status_code == 422 and "already invoiced as order 402190" in other.text


def test_body_over_the_limit_is_413(tmp_path, pos_db):
    settings = make_settings(tmp_path, pos_db, server={"max_body_bytes": 1024})
    with running_daemon(settings) as daemon:
        response = post(daemon, "/order-integration/holds", None, raw=b'{"x":"' + b"a" * 5000 + b'"}')
        assert response.status_code == 413 and response.json()["error"] == "body_too_large"
        assert store_counts(daemon)["inbox"] == 0


class HangingHolds(SqlitePos):
    """The SQLite POS, but its holds take a second (longer than a short budget) and then succeed."""

    @hookimpl
    def pos_hold(self, hold):
        time.sleep(1.0)
        return super().pos_hold(hold)

    @hookimpl
    def pos_hold_many(self, holds):
        time.sleep(1.0)
        return super().pos_hold_many(holds)


def test_a_hanging_pos_answers_503_within_budget_and_the_late_hold_is_released(tmp_path, pos_db):
    settings = make_settings(tmp_path, pos_db, server={"hold_budget": 0.3, "admin_port": 0})
    slow = PluginHost("sqlite_pos", HangingHolds(HangingHolds.Config(database=pos_db)))
    with running_daemon(settings, pos_host=slow) as daemon:
        started = time.monotonic()
        response = post(daemon, "/order-integration/holds", HOLD)
        elapsed = time.monotonic() - started
        assert response.status_code == 503 and response.json()["reason"] == "pos_timeout"
        assert elapsed < 1.0  # answered before the POS finished
        assert wait_for(lambda: pos_rows(pos_db, "SELECT state FROM holds") == [("released",)])
        replay = post(daemon, "/order-integration/holds", HOLD)
        assert replay.status_code == 503  # fail closed for that global id
        assert httpx.get(daemon.base_url + "/readyz").json() == {"status": "not_ready"}  # no details in public
        health = httpx.get(daemon.admin_url + "/readyz").json()
        assert health["checks"]["plugin"]["ok"] is False


def test_a_hold_landing_after_its_timeout_while_the_daemon_stops_is_released_at_the_next_start(tmp_path, pos_db):
    """The 503'd hold's release ran (nothing held yet), then the daemon stopped while the POS was still placing
    it: the shutdown waits for it to land and queues its release, so it does not stay held until its TTL."""
    settings = make_settings(tmp_path, pos_db, server={"hold_budget": 0.3})
    slow = PluginHost("sqlite_pos", HangingHolds(HangingHolds.Config(database=pos_db)))
    with running_daemon(settings, pos_host=slow) as daemon:
        assert post(daemon, HOLDS, HOLD).json()["reason"] == "pos_timeout"
        assert wait_for(lambda: "POS released: False" in audit_reasons(daemon, GID))
        assert pos_rows(pos_db, "SELECT state FROM holds") == []  # the POS is still placing it
    assert pos_rows(pos_db, "SELECT state FROM holds") == [("held",)]  # it landed during the shutdown
    with running_daemon(settings) as daemon:
        assert wait_for(lambda: pos_rows(pos_db, "SELECT state FROM holds") == [("released",)])
        assert "POS hold finished after the budget: releasing it" in audit_reasons(daemon, GID)


# Answers that stay true ----------------------------------------------------------------------------

HOLDS = "/order-integration/holds"
GID = HOLD["global_id"]
FREE_AGAIN = "it holds no tickets any more; hold again under a new global_id"


def audit_reasons(daemon, global_id):
    store = daemon.runtime.store.sync
    with store._lock:
        rows = store._conn.execute("SELECT reason FROM audit WHERE global_id = ? ORDER BY id", (global_id,))
        return [row[0] for row in rows]


def test_a_hold_repeated_after_its_release_is_told_it_is_closed_and_nothing_is_held_again(daemon, pos_db):
    assert post(daemon, HOLDS, HOLD).status_code == 200
    assert post(daemon, f"{HOLDS}/{GID}/release", {}).json()["status"] == "released"
    again = post(daemon, HOLDS, HOLD)
    assert again.status_code == 409, again.text
    assert again.json() == {"status": "conflict", "global_id": GID, "reason": "hold_closed", "state": "released",
                            "detail": f"TEvo released this hold: {FREE_AGAIN}"}
    assert post(daemon, HOLDS, HOLD).content == again.content
    assert audit_reasons(daemon, GID).count("TEvo asked for the hold again after it was released: told it is closed") == 2
    assert wait_for(lambda: pos_rows(pos_db, "SELECT state FROM holds") == [("released",)])
    assert store_counts(daemon)["holds"] == 1


def test_a_hold_repeated_after_it_expired_is_told_so_and_its_tickets_are_freed(tmp_path, pos_db):
    with running_daemon(make_settings(tmp_path, pos_db, server={"hold_ttl": 1.0})) as daemon:
        expires_at = post(daemon, HOLDS, HOLD).json()["expires_at"]
        assert wait_for(lambda: post(daemon, HOLDS, HOLD).status_code == 409, timeout=10)
        body = post(daemon, HOLDS, HOLD).json()
        assert (body["reason"], body["state"]) == ("hold_closed", "expired")
        assert body["detail"] == f"this hold expired at {expires_at} without an invoice: {FREE_AGAIN}"
        assert daemon.runtime.store.sync.get_hold(GID).state == "expired"
        assert wait_for(lambda: pos_rows(pos_db, "SELECT state FROM holds") != [("held",)])


def test_a_hold_repeated_after_its_invoice_is_told_it_is_sold(daemon):
    post(daemon, HOLDS, HOLD)
    assert post(daemon, "/order-integration/invoices", {"order_id": 402190, "global_id": GID}).status_code == 202
    again = post(daemon, HOLDS, HOLD)
    assert again.status_code == 409
    assert again.json()["state"] == "invoiced"
    assert again.json()["detail"] == "this hold was invoiced as order 402190: its tickets are sold"


def test_a_release_that_arrives_while_the_pos_is_holding_wins(tmp_path, pos_db):
    settings = make_settings(tmp_path, pos_db, server={"hold_budget": 3.0})  # the POS's 1 s is within it
    slow = PluginHost("sqlite_pos", HangingHolds(HangingHolds.Config(database=pos_db)))
    with running_daemon(settings, pos_host=slow) as daemon, ThreadPoolExecutor(1) as pool:
        first = pool.submit(post, daemon, HOLDS, HOLD)
        assert wait_for(lambda: daemon.runtime.store.sync.get_hold(GID) is not None)
        assert post(daemon, f"{HOLDS}/{GID}/release", {}).json()["status"] == "released"
        answer = first.result(timeout=10)
        assert answer.status_code == 409 and answer.json()["state"] == "released", answer.text
        assert post(daemon, HOLDS, HOLD).content == answer.content
        assert wait_for(lambda: pos_rows(pos_db, "SELECT state FROM holds") == [("released",)])


def test_the_openapi_document_lists_the_closed_hold_and_missing_order_answers(daemon):
    spec = httpx.get(daemon.base_url + "/openapi.json", timeout=10).json()
    hold = spec["paths"][HOLDS]["post"]["responses"]["409"]["content"]["application/json"]["examples"]
    invoice = spec["paths"]["/order-integration/invoices"]["post"]["responses"]["409"]["content"]
    assert hold["hold_closed"]["value"]["reason"] == "hold_closed"
    assert invoice["application/json"]["examples"]["order_not_found"]["value"]["reason"] == "order_not_found"


@pytest.fixture
def tevo():
    with running_sandbox(seed=7) as sandbox:
        yield sandbox


def test_an_invoice_for_an_order_tevo_lacks_is_answered_so_and_waits_for_a_person(tmp_path, pos_db, tevo):
    missing = 999_999_991  # the sandbox has no such order: Orders / Show answers 404
    settings = make_settings(tmp_path, pos_db, tevo=tevo.bridge_settings(), server={"invoice_budget": 5.0})
    with running_daemon(settings) as daemon:
        post(daemon, HOLDS, HOLD)
        response = post(daemon, "/order-integration/invoices", {"order_id": missing, "global_id": GID})
        assert response.status_code == 409, response.text
        assert response.json() == {"status": "conflict", "order_id": missing, "global_id": GID,
                                   "reason": "order_not_found", "detail": f"TEvo has no order {missing}: nothing was "
                                                                          "invoiced"}
        assert post(daemon, "/order-integration/invoices",
                    {"order_id": missing, "global_id": GID}).content == response.content
        store = daemon.runtime.store.sync
        order = store.get_order(missing)
        assert order.state == "needs_review"
        assert order.last_error.startswith(
            f"TEvo has no order {missing} (Orders / Show answers 404), yet Order Integration asked to invoice it for "
            f"hold {GID} (2 x 91508), which is left to be released or to expire. Nothing was invoiced.")
        hold = store.get_hold(GID)
        assert (hold.state, hold.order_id) == ("held", None)  # not sold: it expires or is released as usual
        assert pos_rows(pos_db, "SELECT COUNT(*) FROM invoices") == [(0,)]
        assert post(daemon, HOLDS, HOLD).status_code == 200  # still held, so the stored answer is still true


def test_without_time_to_ask_the_answer_is_queued_and_the_pipeline_says_why(tmp_path, pos_db, tevo):
    missing = 999_999_992
    settings = make_settings(tmp_path, pos_db, tevo=tevo.bridge_settings(), server={"invoice_budget": 0})
    with running_daemon(settings) as daemon:
        response = post(daemon, "/order-integration/invoices", {"order_id": missing, "global_id": "g-late"})
        assert response.status_code == 202 and response.json()["status"] == "queued"
        store = daemon.runtime.store.sync
        assert wait_for(lambda: store.get_order(missing).state == "needs_review")
        assert f"TEvo has no order {missing}" in store.get_order(missing).last_error


def test_a_store_that_cannot_commit_is_a_complete_503_on_a_connection_that_stays_usable(daemon, monkeypatch):
    """StoreBusy (PostgreSQL's retries lost to concurrent writers) is an answer, not a crash: a crash closes the
    connection after the 503, and a balancing proxy reusing it saw a reset and answered TEvo 502."""
    from tevo_bridge.store import SqliteStore, StoreBusy

    def busy(*args, **kwargs):
        raise StoreBusy("begin_hold: 12 attempts lost to concurrent transactions")

    monkeypatch.setattr(SqliteStore, "begin_hold", busy)
    with httpx.Client(base_url=daemon.base_url, timeout=10, headers={"X-Api-Key": API_KEY}) as client:
        refused = client.post("/order-integration/holds", json=HOLD)
        assert refused.status_code == 503
        assert refused.json() == {"status": "error", "error": "temporarily_unavailable"}
        assert refused.headers.get("connection") != "close"
        monkeypatch.undo()
        assert client.post("/order-integration/holds", json=HOLD).status_code == 200  # the same connection
        assert client.get("/livez").status_code == 200
