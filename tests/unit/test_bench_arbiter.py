"""The arbiter benchmark: its floor (round trips one after another), the gaps between them, its per-process CPU."""

from benchmarks.arbiter import LATENCY, _cpu_text, _gaps, chain, figures, reservation_step, shape, thread_times


def call(arrived: float, answered: float | None) -> dict:
    return {"call": "GET /v9/orders/1", "arrived": arrived, "answered": answered, "order_id": 1}


def test_sequential_calls_each_count() -> None:
    assert chain([call(0.01, 0.11), call(0.12, 0.22)]) == 2


def test_overlapping_calls_count_once() -> None:
    assert chain([call(0.01, 0.11), call(0.05, 0.15), call(0.2, 0.3)]) == 2


def test_gaps_before_and_inside_each_call() -> None:
    gaps = _gaps(0.0, [call(0.01, 0.01 + LATENCY + 0.002), call(0.12, 0.12 + LATENCY)])
    assert [round(g, 3) for g in gaps] == [0.01, 0.002, 0.008, 0.0]


def test_overlapping_calls_are_not_broken_down() -> None:
    assert _gaps(0.0, [call(0.01, 0.11), call(0.05, 0.15)]) == []


def test_shape_hides_ids() -> None:
    assert shape("POST /v9/orders/500002/items/910002/add_etickets") == "POST /v9/orders/{id}/items/{id}/add_etickets"


def test_reservation_step_spans_checking_to_accepting() -> None:
    from tevo_bridge.store.vocabulary import AuditRow

    def row(action: str, to: str, at: str) -> AuditRow:
        return AuditRow(at=at, action=action, from_state=None, to_state=to, reason=None, details=None)

    trail = [row("transition", "checking", "2026-12-04T10:00:00.100Z"), row("reserve", "", "2026-12-04T10:00:00.103Z"),
             row("transition", "accepting", "2026-12-04T10:00:00.106Z")]
    assert round(reservation_step(trail) or 0, 3) == 0.006
    assert reservation_step(trail[:2]) is None


def test_thread_cpu_counts_every_thread_of_a_process() -> None:
    """The daemon's work runs on its store and hook threads: a reading of the main thread alone would miss it."""
    import os
    import threading
    import time

    spun, release = [], threading.Event()

    def work() -> None:
        started = time.thread_time()
        sum(range(3_000_000))
        spun.append(time.thread_time() - started)
        release.wait(60)  # alive while read: an ended thread leaves /proc/<pid>/task

    before = thread_times(os.getpid())[0]
    worker = threading.Thread(target=work)
    worker.start()
    while not spun:
        time.sleep(0.01)
    after = thread_times(os.getpid())[0]
    release.set()
    worker.join(timeout=60)
    assert after - before >= spun[0] > 0


def test_cpu_note_per_process_and_for_older_results() -> None:
    new = {"orders": [{"daemon_cpu_s": 0.012, "daemon_runq_s": 0.003, "benchmark_cpu_s": 0.004,
                       "benchmark_runq_s": 0.001}]}
    assert "the daemon process 12.0 ms" in _cpu_text(new) and "benchmark process (sandbox, client) 4.0 ms" in \
        _cpu_text(new)
    assert "waited for a core 3.0 ms" in _cpu_text(new)
    old = {"orders": [{"cpu_s": 0.018}]}  # benchmarks/results.json from before the daemon had its own process
    assert "the one process" in _cpu_text(old) and "18 ms" in _cpu_text(old)


def test_results_from_before_the_split_still_read_as_one_process() -> None:
    """``python -m benchmarks --rebuild`` re-renders benchmarks/results.json, which may predate the daemon's own process."""
    sample = {"path_s": 0.23, "calls": ["GET /v9/orders/{id}", "POST /v9/orders/{id}/accept"], "sequential": 2,
              "foreign": 0, "gaps_s": [], "reservation_s": 0.006, "pos_hold_s": 0.002, "cpu_s": 0.018}
    old = figures({"latency_s": LATENCY, "warmup": 3, "orders": [sample]})
    assert "daemon in this process" in old[0].note and "the one process" in old[1].note
    split = {**sample, "daemon_cpu_s": 0.012, "daemon_runq_s": 0.0, "benchmark_cpu_s": 0.005, "benchmark_runq_s": 0.0}
    new = figures({"latency_s": LATENCY, "warmup": 3, "orders": [split], "daemon": "own process"})
    assert "in its own process" in new[0].note and "the daemon process 12.0 ms" in new[1].note
