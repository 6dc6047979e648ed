"""What only PostgreSQL has to get right: several processes ("replicas") on one store.

Each replica here is its own ``PostgresStore`` (its own connection pool), as two daemon processes
would be; the database is a real throwaway server (tests/pg.py).
"""

from __future__ import annotations

import queue
import threading
import time

import psycopg
import pytest

from tests.pg import kill_job_sessions
from tevo_bridge.serve import free_port
from tevo_bridge.store import Event
from tevo_bridge.store.postgres import PostgresStore, listen_for_jobs, mask_url, url_password


@pytest.fixture
def replicas(pg_url):
    a, b = PostgresStore(pg_url), PostgresStore(pg_url)
    yield a, b
    a.close()
    b.close()


def order_event(order_id: int, key: str | None = None) -> Event:
    return Event("webhook", "order_created", key or f"k{order_id}", "{}", order_id=order_id)


def test_two_replicas_claiming_at_once_never_get_the_same_job(replicas):
    for order_id in range(1, 61):
        replicas[0].record_event(order_event(order_id))
    claimed: list[tuple[int, int]] = []
    start = threading.Barrier(4)

    def drain(store: PostgresStore, worker: int) -> None:
        start.wait()
        while (job := store.claim_job(60)) is not None:
            claimed.append((job.id, worker))
            store.complete_job(job)

    threads = [threading.Thread(target=drain, args=(store, n)) for n, store in enumerate(replicas * 2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    ids = [job_id for job_id, _ in claimed]
    assert sorted(ids) == sorted(set(ids)) and len(ids) == 60  # each job exactly once
    assert len({worker for _, worker in claimed}) > 1  # and the replicas really did share the work
    assert replicas[1].job_counts() == {"done": 60}


def test_a_dead_replicas_job_is_taken_over_when_its_lease_ends(replicas):
    a, b = replicas
    a.record_event(order_event(7))
    job = a.claim_job(lease_seconds=0.2)
    assert b.claim_job(60) is None  # running, lease still on
    time.sleep(0.3)
    assert b.claim_job(60) is None  # the lease lapsed, but A is alive and still holds the job: not taken twice
    kill_job_sessions(a)  # A dies
    taken = b.claim_job(60)
    assert taken is not None and taken.id == job.id
    a.complete_job(job)  # the dead worker's late word changes nothing
    assert b.job_for_order(7)["state"] == "running"
    b.complete_job(taken)
    assert b.job_for_order(7)["state"] == "done"


def test_a_replica_starting_requeues_only_the_jobs_no_live_replica_runs(replicas, pg_url):
    a, b = replicas
    a.record_event(order_event(1))
    a.record_event(order_event(2))
    running = a.claim_job(3600)
    dead = PostgresStore(pg_url)
    orphan = dead.claim_job(3600)
    kill_job_sessions(dead)  # a replica that died mid-job
    dead.close()
    assert {running.order_id, orphan.order_id} == {1, 2}
    assert b.requeue_running_jobs() == 1
    assert b.job_for_order(orphan.order_id)["state"] == "queued"
    assert b.job_for_order(running.order_id)["state"] == "running"


def test_one_replica_leads_until_its_lease_lapses(replicas):
    a, b = replicas
    assert a.try_lead("poller", "a", 0.3)
    assert not b.try_lead("poller", "b", 0.3)
    assert a.try_lead("poller", "a", 0.3)  # renewed
    time.sleep(0.4)
    assert b.try_lead("poller", "b", 60)  # A stopped renewing: B takes over
    assert not a.try_lead("poller", "a", 60)


def test_the_same_hold_asked_of_two_replicas_at_once_is_held_once(replicas):
    hold = Event("order_integration", "hold", "oi:hold:g1", "{}", global_id="g1")
    start = threading.Barrier(2)
    answers: list[object] = []

    def ask(store: PostgresStore) -> None:
        start.wait()
        answers.append(store.begin_hold(hold, "91508", 2, None, None, "2999-01-01T00:00:00Z"))

    threads = [threading.Thread(target=ask, args=(store,)) for store in replicas]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(answers, key=lambda a: a is not None)[0] is None  # one began it
    assert [a.state for a in answers if a is not None] == ["pending"]  # the other got that row back
    assert replicas[0].count("holds") == 1


def test_a_job_committed_by_one_replica_wakes_the_others_listener(replicas, pg_url):
    woke = threading.Event()
    connected = threading.Event()
    stop = threading.Event()
    calls = 0

    def on_notify() -> None:
        nonlocal calls
        calls += 1
        (connected if calls == 1 else woke).set()  # the first call is the one made on connecting

    listener = threading.Thread(target=listen_for_jobs, args=(pg_url, on_notify, stop))
    listener.start()
    try:
        assert connected.wait(10)
        assert not woke.wait(0.3)  # nothing committed: no wake-up
        replicas[1].record_event(order_event(5))
        assert woke.wait(10)
    finally:
        stop.set()
        listener.join(10)


def test_a_write_that_settles_an_order_on_one_replica_names_it_to_the_others_listener(replicas, pg_url):
    settled: queue.Queue[int | None] = queue.Queue()
    stop = threading.Event()
    listener = threading.Thread(target=listen_for_jobs, args=(pg_url, lambda: None, stop),
                                kwargs={"on_settled": settled.put})
    listener.start()
    try:
        assert settled.get(timeout=10) is None  # on connecting: any order may have settled unheard
        for order_id in (7, 8):
            replicas[1].ensure_order(order_id, "webhook")
        replicas[1].update_order(7, state="checking")  # settles nothing: no notification
        replicas[1].update_order(8, state="fulfilling", invoice_id="INV-8")
        replicas[1].update_order(7, state="needs_review", reason="a person decides")
        assert [settled.get(timeout=10), settled.get(timeout=10)] == [8, 7]
    finally:
        stop.set()
        listener.join(10)


def test_the_url_password_never_shows():
    url = "postgresql://tevo:s3cr%40t@db.internal:5432/tevo_bridge?sslmode=require"
    assert mask_url(url) == "postgresql://tevo:***@db.internal:5432/tevo_bridge?sslmode=require"
    assert url_password(url) == "s3cr%40t"
    assert mask_url("postgresql://db/x?password=hunter2&x=1") == "postgresql://db/x?password=***&x=1"
    assert url_password("postgresql://db.internal/tevo") is None


def test_an_unreachable_database_is_a_clear_error_without_the_password():
    from tevo_bridge.store import StoreError

    url = f"postgresql://tevo:hunter2@127.0.0.1:{free_port()}/tevo"  # nothing listens there
    with pytest.raises(StoreError) as raised:
        PostgresStore(url, timeout=0.5)
    assert "hunter2" not in str(raised.value) and "postgresql://tevo:***@127.0.0.1" in str(raised.value)


def test_schema_has_the_sqlite_schemas_tables_and_columns(pg_url, tmp_path):
    import sqlite3

    from tevo_bridge.store import SqliteStore

    SqliteStore(tmp_path / "s.sqlite3").close()
    lite = sqlite3.connect(tmp_path / "s.sqlite3")
    tables = [r[0] for r in lite.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
    sqlite_columns = {t: [r[1] for r in lite.execute(f"PRAGMA table_info({t})")] for t in tables}
    PostgresStore(pg_url).close()
    with psycopg.connect(pg_url) as conn:
        pg_columns = {t: [r[0] for r in conn.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = %s ORDER BY ordinal_position",
            (t,))] for t in tables}
    assert pg_columns == sqlite_columns
    # And the same indexes (name and columns), so every query is as cheap on either.
    sqlite_indexes = {(name, tuple(r[2] for r in lite.execute(f"PRAGMA index_info({name})")))
                      for (name,) in lite.execute("SELECT name FROM sqlite_master WHERE type = 'index' "
                                                  "AND name NOT LIKE 'sqlite_autoindex%'")}
    with psycopg.connect(pg_url) as conn:
        pg_indexes = {(name, tuple(columns)) for name, columns in conn.execute(
            "SELECT i.relname, array_agg(a.attname ORDER BY k.n) FROM pg_index x "
            "JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class t ON t.oid = x.indrelid "
            "JOIN pg_namespace ns ON ns.oid = t.relnamespace "
            "CROSS JOIN LATERAL unnest(x.indkey) WITH ORDINALITY AS k(attnum, n) "
            "JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum "
            "WHERE ns.nspname = 'public' AND NOT x.indisprimary AND NOT x.indisunique AND t.relname = ANY(%s) "
            "GROUP BY i.relname", (tables,))}
    assert pg_indexes == sqlite_indexes
    # And the same partial ones: a hold writes no entry into an index of order rows on either.
    sqlite_partial = {name for (name,) in lite.execute("SELECT name FROM pragma_index_list('audit') WHERE partial "
                                                       "UNION SELECT name FROM pragma_index_list('inbox') WHERE partial "
                                                       "UNION SELECT name FROM pragma_index_list('holds') WHERE partial")}
    with psycopg.connect(pg_url) as conn:
        pg_partial = {name for (name,) in conn.execute(
            "SELECT i.relname FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid "
            "WHERE x.indpred IS NOT NULL AND i.relname = ANY(%s)", ([n for n, _ in sqlite_indexes],))}
    assert pg_partial == sqlite_partial == {"inbox_order", "holds_order", "audit_order", "audit_global", "audit_action",
                                            "audit_outcome"}


def test_many_holds_and_webhooks_at_once_on_two_replicas_all_commit(replicas):
    """The intake's hot writes run at READ COMMITTED with row locks: under SERIALIZABLE, neighbouring index
    pages made concurrent holds abort each other until the retries ran out (the request then got 503)."""
    start = threading.Barrier(16)
    failures: list[BaseException] = []

    def intake(store: PostgresStore, worker: int) -> None:
        start.wait()
        try:
            for n in range(15):
                gid = f"w{worker}-{n}"
                event = Event("order_integration", "hold", f"oi:hold:{gid}", "{}", global_id=gid)
                assert store.begin_hold(event, "91508", 1, None, None, "2999-01-01T00:00:00Z") is None
                store.finish_hold(gid, "held", 200, '{"status":"held"}', hold_id=gid)
                assert store.record_event(order_event(worker * 100 + n))
        except BaseException as exc:  # surfaced below
            failures.append(exc)

    threads = [threading.Thread(target=intake, args=(replicas[w % 2], w)) for w in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert replicas[1].count("holds") == 16 * 15 and replicas[1].count("orders") == 16 * 15
    assert {replicas[0].get_hold(f"w{w}-{n}").state for w in range(16) for n in range(15)} == {"held"}


def test_a_release_landing_while_the_pos_answers_keeps_the_hold_released(replicas):
    """finish_hold reads the hold under a row lock: TEvo's release, committed by the other replica first,
    is not overwritten by the POS's "held"."""
    a, b = replicas
    event = Event("order_integration", "hold", "oi:hold:g7", "{}", global_id="g7")
    assert a.begin_hold(event, "91508", 2, None, None, "2999-01-01T00:00:00Z") is None
    b.release_hold(Event("order_integration", "release", "oi:release:g7", "{}", global_id="g7"))
    assert a.finish_hold("g7", "held", 200, '{"status":"held"}', hold_id="g7").state == "released"
    assert b.job_counts().get("queued", 0) >= 1  # whatever the POS held is freed by a job


def test_inspecting_a_database_reads_its_version_and_changes_nothing(pg_url):
    from tevo_bridge.store import StoreError
    from tevo_bridge.store.postgres import PG_SCHEMA_VERSION, inspect_database

    assert inspect_database(pg_url) == 0
    with psycopg.connect(pg_url) as conn:
        assert conn.execute("SELECT to_regclass('orders')").fetchone()[0] is None  # nothing was created
    PostgresStore(pg_url).close()
    assert inspect_database(pg_url) == PG_SCHEMA_VERSION
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("UPDATE tevo_schema SET version = version + 1")
    with pytest.raises(StoreError, match="a newer tevo-bridge wrote it"):
        inspect_database(pg_url)
    with pytest.raises(StoreError, match="a newer tevo-bridge wrote it"):
        PostgresStore(pg_url)
    with pytest.raises(StoreError) as raised:
        inspect_database(f"postgresql://tevo:hunter2@127.0.0.1:{free_port()}/tevo", timeout=1)
    assert "hunter2" not in str(raised.value) and "tevo:***@" in str(raised.value)


def test_a_job_given_up_without_an_outcome_is_taken_again_when_its_lease_ends(replicas):
    a, b = replicas
    a.record_event(order_event(9))
    job = a.claim_job(lease_seconds=0.2)
    time.sleep(0.3)
    assert b.claim_job(60) is None  # A still holds it: its worker may yet record an outcome
    a.abandon_job(job)  # the store failed as A's worker tried to: A lets go
    taken = b.claim_job(60)
    assert taken is not None and taken.id == job.id
