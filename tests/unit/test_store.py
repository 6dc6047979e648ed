"""The durable store: one transaction per event, dedupe, leases, holds, audit (on SQLite and on PostgreSQL)."""

import json
import sqlite3
import time

import psycopg
import pytest

from tests.pg import kill_job_sessions, refuse_job_inserts
from tevo_bridge.store import Event, SqliteStore
from tevo_bridge.store.postgres import PostgresStore
from tevo_bridge.store.schema import MIGRATIONS


@pytest.fixture
def store(store_backend):
    s = store_backend.open()
    yield s
    s.close()


def order_event(order_id=402117, key="k1", channel="webhook"):
    return Event(channel, "order_created", key, "{}", order_id=order_id)


def test_schema_is_migrated_and_wal(tmp_path):
    store = SqliteStore(tmp_path / "state.sqlite3")
    assert store.schema_version == len(MIGRATIONS)
    conn = sqlite3.connect(tmp_path / "state.sqlite3")
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    store.close()
    SqliteStore(tmp_path / "state.sqlite3").close()  # reopening does not migrate twice


def test_event_records_inbox_order_and_job_once(store):
    assert store.record_event(order_event())
    assert not store.record_event(order_event())  # same dedupe key
    assert (store.count("inbox"), store.count("orders"), store.count("jobs")) == (1, 1, 1)
    assert store.get_order(402117).state == "new"


def test_an_event_naming_an_order_and_a_global_id_gives_the_known_order_that_id(store):
    """PostgreSQL records this one as a transaction (the one-statement write does not merge a global id)."""
    assert store.record_event(order_event(key="a"))
    assert store.get_order(402117).global_id is None
    assert store.record_event(Event("webhook", "order_updated", "b", "{}", order_id=402117, global_id="g9"))
    assert store.get_order(402117).global_id == "g9"
    assert (store.count("inbox"), store.count("orders"), store.count("jobs"), store.count("audit")) == (2, 1, 1, 1)


def test_an_event_naming_only_an_order_group_queues_the_groups_job_once(store):
    group = Event("webhook", "order_created", "g", "{}", order_group_id="G7")
    assert store.record_event(group)
    assert not store.record_event(group)
    assert (store.count("inbox"), store.count("orders"), store.count("jobs")) == (1, 0, 1)
    assert store.claim_job(60).key == "group:G7"


def test_ignored_event_queues_nothing(store):
    store.record_event(Event("webhook", "event_updated", "k", "{}", ignored=True))
    assert (store.count("inbox"), store.count("jobs")) == (1, 0)


def test_a_failed_transaction_leaves_nothing(store, monkeypatch):
    def broken(*args, **kwargs):
        raise sqlite3.OperationalError("disk I/O error")

    if isinstance(store, PostgresStore):  # one statement there: its last part, the job, fails on the server
        refuse_job_inserts(store)
        error: type[Exception] = psycopg.Error
    else:
        monkeypatch.setattr(store, "_enqueue", broken)
        error = sqlite3.OperationalError
    with pytest.raises(error):
        store.record_event(order_event())
    assert (store.count("inbox"), store.count("orders"), store.count("jobs")) == (0, 0, 0)


def test_claim_complete_and_requeue_on_news(store):
    store.record_event(order_event(key="a"))
    job = store.claim_job(lease_seconds=60)
    assert job.key == "order:402117" and store.claim_job(60) is None
    store.record_event(order_event(key="b"))  # news while running
    store.complete_job(job)
    again = store.claim_job(60)
    assert again is not None and again.id == job.id  # it runs once more
    store.complete_job(again)
    assert store.claim_job(60) is None and store.job_counts() == {"done": 1}


def test_expired_lease_is_claimed_again(store):
    store.record_event(order_event())
    first = store.claim_job(lease_seconds=0.01)
    kill_job_sessions(store)  # its worker died (on PostgreSQL a live one keeps its job past the lease)
    time.sleep(0.03)
    second = store.claim_job(lease_seconds=60)
    assert second.id == first.id
    store.complete_job(first)  # the dead worker's late completion is ignored
    assert store.job_counts() == {"running": 1}


def test_retry_delays_the_job(store):
    store.record_event(order_event())
    job = store.claim_job(60)
    store.retry_job(job, "TEvo 503", delay=30)
    assert store.claim_job(60) is None
    assert store.next_job_due() > time.time() + 20


def test_a_free_worker_gets_a_job_or_when_to_look_again_in_one_call(store):
    assert store.claim_job_or_next_due(60) == (None, None)  # nothing queued: the idle poll decides
    store.record_event(order_event())
    job, due = store.claim_job_or_next_due(60)
    assert job is not None and job.key == "order:402117" and due is None
    store.retry_job(job, "TEvo 503", delay=30)
    job, due = store.claim_job_or_next_due(60)
    assert job is None and due is not None and due > time.time() + 20  # the retry's backoff bounds the wait
    assert store.job_counts() == {"queued": 1}


def test_order_transitions_are_audited(store):
    store.record_event(order_event())
    store.update_order(402117, state="checking", reason="buyer is tevo")
    store.update_order(402117, state="checking", reason="again")  # no move, no transition row
    store.audit("accept", order_id=402117, reason="calling TEvo accept")
    trail = store.audit_trail(402117)
    assert [(a.action, a.to_state) for a in trail] == [("transition", "new"), ("transition", "checking"),
                                                       ("accept", None)]


def test_update_refuses_unknown_fields(store):
    store.record_event(order_event())
    with pytest.raises(ValueError):
        store.update_order(402117, state="x", bogus=1)


def hold_event(global_id="g1"):
    return Event("order_integration", "hold", f"oi:hold:{global_id}", "{}", global_id=global_id)


def test_hold_lifecycle_and_replay(store):
    assert store.begin_hold(hold_event(), "91508", 2, "415.0", 318233019, "2099-01-01T00:00:00Z") is None
    again = store.begin_hold(hold_event(), "91508", 2, "415.0", 318233019, "2099-01-01T00:00:00Z")
    assert again.state == "pending" and again.response is None
    store.finish_hold("g1", "held", 200, '{"status":"held"}', hold_id="h1")
    assert store.get_hold("g1").response == '{"status":"held"}'
    before = store.release_hold(Event("order_integration", "release", "r1", "{}", global_id="g1"))
    assert before.state == "held" and store.get_hold("g1").state == "released"
    assert store.claim_job(60).kind == "release_hold"


def test_expired_holds_are_queued_for_release(store):
    store.begin_hold(hold_event("old"), "1", 1, None, None, "2000-01-01T00:00:00Z")
    store.finish_hold("old", "held", 200, "{}")
    store.begin_hold(hold_event("new"), "1", 1, None, None, "2999-01-01T00:00:00Z")
    store.finish_hold("new", "held", 200, "{}")
    assert store.expire_holds("2026-11-27T00:00:00Z") == ["old"]
    assert store.get_hold("old").state == "expired" and store.get_hold("new").state == "held"


def audit_reasons(store, global_id):
    with store._lock:
        rows = store._conn.execute("SELECT reason FROM audit WHERE global_id = ? ORDER BY id", (global_id,)).fetchall()
    return [r[0] for r in rows]


def test_a_repeated_hold_past_its_ttl_is_expired_by_the_repeat_and_audited(store):
    store.begin_hold(hold_event(), "1", 1, None, None, "2000-01-01T00:00:00Z")
    store.finish_hold("g1", "held", 200, "{}")
    again = store.begin_hold(hold_event(), "1", 1, None, None, "2999-01-01T00:00:00Z")
    assert again.state == "expired" and again.closed_as() == "expired"
    assert store.claim_job(60).key == "release:g1"
    assert audit_reasons(store, "g1")[-1] == "TEvo asked for the hold again after it was expired: told it is closed"


def test_a_repeated_hold_for_other_tickets_changes_nothing(store):
    store.begin_hold(hold_event(), "1", 1, None, None, "2000-01-01T00:00:00Z")
    store.finish_hold("g1", "held", 200, "{}")
    before = (store.count("audit"), store.count("jobs"))
    assert store.begin_hold(hold_event(), "1", 2, None, None, "2999-01-01T00:00:00Z").state == "held"
    assert (store.count("audit"), store.count("jobs")) == before


def test_a_still_held_repeat_writes_nothing(store):
    store.begin_hold(hold_event(), "1", 1, None, None, "2999-01-01T00:00:00Z")
    store.finish_hold("g1", "held", 200, "{}")
    before = store.count("audit")
    assert store.begin_hold(hold_event(), "1", 1, None, None, "2999-01-01T00:00:00Z").closed_as() is None
    assert store.count("audit") == before


def test_a_hold_released_while_the_pos_held_it_stays_released(store):
    store.begin_hold(hold_event(), "1", 1, None, None, "2999-01-01T00:00:00Z")
    store.release_hold(Event("order_integration", "release", "r1", "{}", global_id="g1"))
    store.complete_job(store.claim_job(60))  # the release job ran before the POS had held anything
    store.finish_hold("g1", "held", 200, '{"status":"held"}', hold_id="h1")
    hold = store.get_hold("g1")
    assert hold.state == "released" and hold.response == '{"status":"held"}'
    assert store.claim_job(60).key == "release:g1"  # what the POS did hold is freed


def test_interrupted_pending_holds_fail_closed(store):
    store.begin_hold(hold_event(), "1", 1, None, None, "2999-01-01T00:00:00Z")
    assert store.fail_stale_pending_holds("2999-01-01T00:00:00Z") == ["g1"]
    hold = store.get_hold("g1")
    assert hold.state == "failed" and hold.status == 503
    assert audit_reasons(store, "g1") == ["1 x 1: interrupted: the daemon stopped before the POS answered"]


def test_oi_invoice_is_recorded_once_and_links_the_hold(store):
    store.begin_hold(hold_event(), "91508", 2, None, None, "2999-01-01T00:00:00Z")
    store.finish_hold("g1", "held", 200, "{}")
    event = Event("order_integration", "invoice", "oi:invoice:g1", "{}", order_id=402190, global_id="g1")
    earlier, hold = store.record_oi_invoice(event)
    assert earlier is None and hold.global_id == "g1"
    assert store.hold_for_order(402190).global_id == "g1"
    assert store.get_order(402190).global_id == "g1"
    store.set_oi_invoice_response("g1", 202, '{"status":"queued"}')
    store.set_oi_invoice_response("g1", 200, '{"status":"invoiced"}')  # the first answer stays
    earlier, _ = store.record_oi_invoice(event)
    assert (earlier.status, earlier.response) == (202, '{"status":"queued"}')


def test_an_invoice_for_an_order_tevo_lacks_unties_the_hold_and_says_why(store):
    store.begin_hold(hold_event(), "91508", 2, None, None, "2999-01-01T00:00:00Z")
    store.finish_hold("g1", "held", 200, "{}")
    event = Event("order_integration", "invoice", "oi:invoice:g1", "{}", order_id=402190, global_id="g1")
    store.record_oi_invoice(event)
    assert store.get_hold("g1").closed_as() == "invoiced"
    store.update_order(402190, state="needs_review", reason="TEvo has no order 402190")
    store.refuse_oi_invoice("g1", 409, '{"status":"conflict"}', "TEvo has no order 402190, yet ...")
    assert store.get_order(402190).last_error == "TEvo has no order 402190, yet ..."
    hold = store.get_hold("g1")
    assert hold.order_id is None and hold.closed_as() is None  # it expires or is released as if never invoiced
    store.refuse_oi_invoice("g1", 409, "{}", "a second answer")  # the first answer stands
    assert (store.get_oi_invoice("g1").response, store.get_order(402190).last_error) == (
        '{"status":"conflict"}', "TEvo has no order 402190, yet ...")


def test_retry_order_requeues(store):
    store.record_event(order_event())
    job = store.claim_job(60)
    store.fail_job(job, "boom", review=True)
    assert store.retry_order(402117)
    assert store.get_order(402117).state == "new" and store.claim_job(60) is not None


def test_read_only_sqlite_database_cannot_record(tmp_path):
    path = tmp_path / "ro.sqlite3"
    SqliteStore(path).close()
    conn_store = SqliteStore(path)
    conn_store._conn.execute("PRAGMA query_only = ON")
    with pytest.raises(sqlite3.OperationalError):
        conn_store.check_writable()


def test_jobs_left_running_by_a_dead_process_are_requeued_at_start(store_backend):
    dead = store_backend.open()
    dead.record_event(order_event())
    dead.claim_job(lease_seconds=3600)
    kill_job_sessions(dead)  # its process died: PostgreSQL has ended its sessions
    dead.close()
    store = store_backend.open()
    try:
        assert store.requeue_running_jobs() == 1
        assert store.claim_job(60) is not None
    finally:
        store.close()


@pytest.mark.parametrize("implementation", [SqliteStore, PostgresStore])
def test_each_store_implements_the_store_interface_exactly(implementation):
    """The interface the daemon uses is the one both backends implement: no drift."""
    import inspect

    from tevo_bridge.store.base import Store

    public = {n for n in dir(implementation) if not n.startswith("_") and callable(getattr(implementation, n))}
    declared = {n for n in dir(Store) if not n.startswith("_") and callable(getattr(Store, n))}
    assert public == declared
    for name in declared:
        expected = list(inspect.signature(getattr(Store, name)).parameters)
        assert list(inspect.signature(getattr(implementation, name)).parameters) == expected, name


def test_failing_a_job_for_review_marks_its_order_in_the_same_transaction(store):
    store.record_event(order_event())
    job = store.claim_job(60)
    store.update_order(402117, state="checking", reason="buyer is tevo")
    store.fail_job(job, "POS: unreachable", review=True)
    order = store.get_order(402117)
    assert (order.state, order.last_error) == ("needs_review", "POS: unreachable")
    assert store.job_for_order(402117)["state"] == "failed"
    assert [(a.from_state, a.to_state) for a in store.audit_trail(402117)][-1] == ("checking", "needs_review")


def test_a_job_whose_lease_was_lost_marks_nothing(store):
    store.record_event(order_event())
    job = store.claim_job(0.0)  # the lease lapses at once: another worker takes the job over
    kill_job_sessions(store)
    time.sleep(0.01)
    store.claim_job(60)
    store.fail_job(job, "late", review=True)
    assert store.get_order(402117).state == "new" and store.job_for_order(402117)["state"] == "running"


def test_a_renewed_lease_moves_on_and_completing_needs_the_renewed_claim(store):
    store.record_event(order_event())
    job = store.claim_job(0.5)
    renewed = store.renew_job(job, 60)
    assert renewed is not None and renewed.id == job.id and renewed.lease_until > job.lease_until + 50
    time.sleep(0.6)
    assert store.claim_job(60) is None  # the first lease would have lapsed; the renewed one has not
    store.complete_job(job)  # the superseded claim counts for nothing
    assert store.job_for_order(402117)["state"] == "running"
    store.complete_job(renewed)
    assert store.job_for_order(402117)["state"] == "done"


def test_a_lease_taken_over_is_not_renewed(store):
    store.record_event(order_event())
    job = store.claim_job(0.0)
    kill_job_sessions(store)  # its worker died
    time.sleep(0.01)
    successor = store.claim_job(60)
    assert successor is not None
    assert store.renew_job(job, 60) is None  # the late heartbeat of the dead claim learns it lost the job
    renewed = store.renew_job(successor, 60)
    assert renewed is not None
    store.complete_job(renewed)
    assert store.job_for_order(402117)["state"] == "done"


# The dashboard's reads and its "mark resolved" ------------------------------------------------------


def _seed(store, order_id, state, source="webhook", **fields):
    store.ensure_order(order_id, source)
    store.update_order(order_id, state=state, reason="seeded", **fields)


def test_search_orders_filters_and_pages_by_id(store):
    from tevo_bridge.store import OrderQuery

    for n in range(7):
        _seed(store, 100 + n, "done" if n % 2 else "needs_review", source="poll" if n < 3 else "webhook",
              invoice_id=f"INV-{n}")
    assert [r.id for r in store.search_orders(OrderQuery(), 3)] == [106, 105, 104]
    assert [r.id for r in store.search_orders(OrderQuery(before_id=104), 3)] == [103, 102, 101]
    assert [r.id for r in store.search_orders(OrderQuery(state="needs_review", source="poll"), 10)] == [102, 100]
    assert [r.id for r in store.search_orders(OrderQuery(invoice_id="INV-5"), 10)] == [105]
    assert [r.id for r in store.search_orders(OrderQuery(order_id=101), 10)] == [101]
    assert store.search_orders(OrderQuery(seen_until="2000-01-01T00:00:00.000Z"), 10) == []
    assert len(store.search_orders(OrderQuery(seen_from="2000-01-01T00:00:00.000Z"), 10)) == 7


def test_order_activity_counts_each_order_once_per_hour_and_outcome(store):
    _seed(store, 1, "invoicing")
    _seed(store, 2, "rejected")
    _seed(store, 3, "needs_review")
    store.retry_order(3)
    store.update_order(3, state="needs_review", reason="again")  # twice in the hour: still one order
    rows = store.order_activity("2000-01-01T00:00:00.000Z")
    assert sorted((outcome, n) for _, outcome, n in rows) == [("invoicing", 1), ("needs_review", 1), ("rejected", 1)]
    assert store.order_activity("2999-01-01T00:00:00.000Z") == []


def test_resolve_order_only_from_needs_review_and_records_who(store):
    _seed(store, 5, "needs_review", last_error="POS: unreachable")
    _seed(store, 6, "done")
    assert store.resolve_order(6, "note", "alice") == "not_in_review"
    assert store.resolve_order(7, "note", "alice") == "unknown"
    assert store.oldest_open_order().id == 5
    assert store.resolve_order(5, "voided by hand", "alice") == "resolved"
    assert store.get_order(5).state == "resolved" and store.oldest_open_order() is None
    last = store.audit_trail(5)[-1]
    assert (last.to_state, last.reason, json.loads(last.details)) == ("resolved", "voided by hand", {"by": "alice"})
    assert store.retry_order(5) == "terminal"


def test_list_holds_by_state_most_recent_first(store):
    for global_id in ("a", "b", "c"):
        store.begin_hold(hold_event(global_id), "91508", 1, None, None, "2099-01-01T00:00:00Z")
        time.sleep(0.002)  # distinct updated_at (millisecond stamps)
    store.finish_hold("a", "held", 200, "{}")
    time.sleep(0.002)
    store.finish_hold("b", "failed", 409, "{}", reason="unavailable")
    time.sleep(0.002)
    store.finish_hold("c", "held", 200, "{}")
    assert [h.global_id for h in store.list_holds("held", 10)] == ["c", "a"]
    assert [h.global_id for h in store.list_holds("held", 1)] == ["c"]
    assert [h.global_id for h in store.list_holds("failed", 10)] == ["b"]
