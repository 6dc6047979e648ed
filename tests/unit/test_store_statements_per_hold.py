"""Statements per hold on SQLite: each one is a GIL hand-off between the store thread and the busy event loop.

Pinned as the statements' kinds, so a re-read or an extra round creeping back in shows here (issue 24); the
outcomes themselves are tests/unit/test_store.py's.
"""

from tevo_bridge.store import Event, SqliteStore


def hold_event(global_id: str = "g1") -> Event:
    return Event("order_integration", "hold", f"oi:hold:{global_id}", "{}", global_id=global_id)


def _heads(statements: list[str]) -> list[str]:
    return [" ".join(s.split()[:3]) if s.startswith("INSERT") else " ".join(s.split()[:2]) for s in statements]


def traced(store: SqliteStore) -> list[str]:
    statements: list[str] = []
    store._db.conn.set_trace_callback(statements.append)
    return statements


def test_a_new_hold_is_two_inserts_and_its_answer_one_update_and_one_insert(tmp_path):
    store = SqliteStore(tmp_path / "state.sqlite3")
    statements = traced(store)
    assert store.begin_hold(hold_event(), "1", 2, None, None, "2999-01-01T00:00:00Z") is None
    assert _heads(statements) == ["BEGIN IMMEDIATE", "INSERT INTO holds", "INSERT INTO inbox", "COMMIT"]
    statements.clear()
    final = store.finish_hold("g1", "held", 200, '{"status":"held"}', hold_id="h1")
    assert _heads(statements) == ["BEGIN IMMEDIATE", "UPDATE holds", "INSERT INTO audit", "COMMIT"]
    store._db.conn.set_trace_callback(None)
    assert final == store.get_hold("g1")  # the row it read back with RETURNING is the row as stored
    assert (final.state, final.status, final.hold_id) == ("held", 200, "h1")
    with store._lock:  # the hold's one audit row: what was asked for and what came of it
        assert [tuple(r) for r in store._conn.execute("SELECT to_state, reason FROM audit")] == [("held", "2 x 1")]
    store.close()


def test_finishing_an_unknown_hold_returns_none_and_audits_the_answer(tmp_path):
    store = SqliteStore(tmp_path / "state.sqlite3")
    before = store.count("audit")
    assert store.finish_hold("nope", "failed", 503, "{}", reason="pos_error") is None
    assert store.count("audit") == before + 1 and store.count("holds") == 0
    store.close()


def test_a_finish_that_asks_for_released_of_a_released_hold_still_frees_it_in_the_pos(tmp_path):
    # The update leaves a released hold released either way, so for an asked-for "released" only a read before
    # it tells whether TEvo had released it first (and a job must free what the POS held).
    store = SqliteStore(tmp_path / "state.sqlite3")
    store.begin_hold(hold_event(), "1", 1, None, None, "2999-01-01T00:00:00Z")
    store.release_hold(Event("order_integration", "release", "r1", "{}", global_id="g1"))
    store.complete_job(store.claim_job(60))
    final = store.finish_hold("g1", "released", 409, "{}", reason="asked")
    assert final is not None and final.state == "released"
    assert store.claim_job(60).key == "release:g1"
    store.close()
