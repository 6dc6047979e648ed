"""The intake suite's second baseline (benchmarks/durable_bare.py) and the figures it adds (benchmarks/intake.py).

The durable bare endpoint must make exactly the commits a hold (three: store, POS, store) and an ack (one)
must make, durably, before it answers, and answer the bare app's bytes: otherwise the "floor" it sets
would flatter or wrong the daemon.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import httpx

from benchmarks.bare_app import HELD
from benchmarks.common import bare_process, durable_bare_process
from benchmarks.intake import BARE, DURABLE, figures
from tevo_bridge.serve import free_port


def _rows(path: Path) -> list[bytes]:
    with sqlite3.connect(path) as conn:
        return [bytes(row[0]) for row in conn.execute("SELECT body FROM rows ORDER BY id")]


def test_the_durable_bare_endpoint_commits_a_hold_three_times_and_an_ack_once_before_answering(tmp_path: Path
                                                                                                ) -> None:
    files = tmp_path / "durable"
    with durable_bare_process(free_port(), files, tmp_path / "durable.log") as durable, \
            bare_process(free_port(), tmp_path / "bare.log") as bare:
        answers = {}
        for name, server in (("durable", durable), ("bare", bare)):
            hold = httpx.post(f"{server.base_url}/order-integration/holds", content=b'{"global_id":"G-1"}')
            ack = httpx.post(f"{server.base_url}/webhooks/tevo/tok", content=b'{"event":"order_created"}')
            answers[name] = (hold.status_code, hold.content, hold.headers["content-type"],
                             ack.status_code, ack.content, ack.headers["content-type"])
        # Answered, so committed: read from another connection while the server still runs.
        assert _rows(files / "store.sqlite3") == [b'{"global_id":"G-1"}', HELD, b'{"event":"order_created"}']
        assert _rows(files / "pos.sqlite3") == [b'{"global_id":"G-1"}']
        with sqlite3.connect(files / "store.sqlite3") as conn:
            assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert answers["durable"] == answers["bare"]  # the same bytes: only the durable work differs


def _round(p50: float, p99: float, rate: float, cpu: float, status: str = "200") -> dict:
    return {"p50": p50, "p99": p99, "rate": rate, "server_cpu_ms_per_request": cpu, "statuses": {status: 10},
            "errors": {}}


def _raw(durable: bool) -> dict:
    bare = [_round(2, 4, 2000, 0.2), _round(4, 8, 1000, 0.4)]  # round 2: a slower machine
    floor = [_round(4, 8, 1000, 0.5), _round(8, 16, 500, 1.0)]
    daemon = [_round(8, 16, 500, 1.0), _round(20, 40, 200, 2.5)]
    raw = {"rounds": 2, "fsync_per_second": 100.0,
           "hold": {c: daemon for c in (1, 16, 64)}, "bare_hold": {c: bare for c in (1, 16, 64)},
           "webhook": daemon, "bare_webhook": bare}
    if durable:
        raw |= {"durable_hold": {c: floor for c in (1, 16, 64)}, "durable_webhook": floor}
    return raw


def test_the_floor_and_the_daemon_above_it_are_per_round_ratios_against_their_own_baseline() -> None:
    by_name = {f.name: f for f in figures(_raw(durable=True))}
    floor = by_name["floor: durable bare server CPU per hold, 16 concurrent"]
    assert (floor.baseline_name, floor.ratio) == (BARE, 2.5)  # 0.5/0.2 and 1.0/0.4
    above = by_name["daemon server CPU per hold vs the floor, 16 concurrent"]
    assert above.baseline_name == DURABLE and above.ratio == 2.25  # median of 2.0 and 2.5
    assert above.extra["ratio_low"] == 2.0 and above.extra["ratio_high"] == 2.5
    acks = by_name["daemon acks/s vs the floor, 16 concurrent"]
    assert (acks.value, acks.baseline, acks.ratio) == (350, 750, 0.45)
    # The targets stay against the bare endpoint.
    assert by_name["server CPU per hold, 16 concurrent"].baseline_name == BARE


def test_results_saved_before_the_durable_baseline_still_rebuild() -> None:
    names = [f.name for f in figures(_raw(durable=False))]
    assert "server CPU per hold, 16 concurrent" in names and not any("floor" in n for n in names)


def test_the_syscall_counter_reads_strace_summaries_with_and_without_an_errors_column() -> None:
    from benchmarks.syscalls import _table

    summary = """% time     seconds  usecs/call     calls    errors syscall
------ ----------- ----------- --------- --------- ----------------
 61.20    0.512000           4    107560      9811 futex
 20.10    0.168000           3     40740           pwrite64
------ ----------- ----------- --------- --------- ----------------
100.00    0.836000           5    148300      9811 total
"""
    assert dict(_table(summary)) == {"futex": 107560, "pwrite64": 40740}
