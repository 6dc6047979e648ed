"""Writes that ride together: an audit note with its order's transition (on SQLite and on PostgreSQL)."""

import json

import pytest

from tevo_bridge.store import AuditNote, Event


@pytest.fixture
def store(store_backend):
    s = store_backend.open()
    yield s
    s.close()


def order_event(order_id=402117, key="k1"):
    return Event("webhook", "order_created", key, "{}", order_id=order_id)


def test_a_note_is_written_before_the_transition_it_rides_with(store):
    store.record_event(order_event())
    store.update_order(402117, state="fulfilling", reason="invoiced in the POS as INV-1", invoice_id="INV-1",
                       notes=(AuditNote("invoice", reason="POS invoice INV-1", details={"consumed": ["g1"]}),))
    trail = store.audit_trail(402117)
    assert [(a.action, a.to_state, a.reason) for a in trail] == [
        ("transition", "new", "first seen via webhook"), ("invoice", None, "POS invoice INV-1"),
        ("transition", "fulfilling", "invoiced in the POS as INV-1")]
    assert json.loads(trail[1].details or "null") == {"consumed": ["g1"]}  # as store.audit writes details
    assert store.get_order(402117).invoice_id == "INV-1"


def test_a_refused_update_writes_no_note(store):
    store.record_event(order_event())
    with pytest.raises(KeyError):  # no such order: the update fails, and the note goes with it
        store.update_order(999, state="fulfilling", reason="r", notes=(AuditNote("invoice", reason="POS invoice"),))
    assert [a.action for a in store.audit_trail(999)] == []
    assert store.count("audit") == 1  # the first-seen transition only


# A job asked for again while it ran, against its run's last read of TEvo (store/statements.py complete_job) ------

def running_job_asked_again(store, order_id=402117):
    """A claimed order job, asked for again while it runs; the ask's stamp as the store wrote it."""
    store.record_event(order_event(order_id, key=f"first-{order_id}"))
    job = store.claim_job(60)
    assert job is not None and job.order_id == order_id
    store.record_event(order_event(order_id, key=f"news-{order_id}"))
    return job, job_row(store, order_id)[2]


def job_row(store, order_id):
    with store._lock:
        row = store._conn.execute("SELECT state, rerun, asked_at FROM jobs WHERE key = ?", (f"order:{order_id}",))
        return tuple(row.fetchone())


def test_an_ask_before_the_runs_last_read_makes_no_second_run_on_sqlite(store):
    job, asked_at = running_job_asked_again(store)
    store.complete_job(job, read_at=asked_at + 0.001)
    expected = "done" if store.backend == "SQLite" else "queued"  # PostgreSQL: the replicas' clocks differ
    assert job_row(store, 402117)[:2] == (expected, 0)


def test_an_ask_at_the_moment_of_the_read_or_after_makes_a_second_run(store):
    for order_id, read_before in ((1, 0.0), (2, 0.001), (3, None)):  # the same moment, earlier, no read at all
        job, asked_at = running_job_asked_again(store, order_id)
        store.complete_job(job, read_at=None if read_before is None else asked_at - read_before)
        assert job_row(store, order_id)[:2] == ("queued", 0), read_before
        assert store.claim_job(60) is not None  # and it runs again


def test_the_latest_ask_is_the_one_compared(store):
    job, first = running_job_asked_again(store)
    store.record_event(order_event(key="k3"))
    latest = job_row(store, 402117)[2]
    assert latest >= first
    store.complete_job(job, read_at=latest)  # after the first ask, at the moment of the latest
    assert job_row(store, 402117)[:2] == ("queued", 0)
