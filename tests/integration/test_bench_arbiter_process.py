"""The arbiter benchmark measures a daemon in its own process, as a seller runs it, not one sharing the benchmark's.

A short real run (sandbox with its 100 ms latency fault, ``tevo-bridge run`` as a child process, SQLite POS):
every figure the suite prints must still come from the data: the round trips from the sandbox's requests, the
reservation step from the daemon's store file, ``pos_hold`` time from its ``/metrics``, CPU per process.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from benchmarks import arbiter

pytestmark = pytest.mark.slow  # two short benchmark runs, each a few seconds of 100 ms TEvo calls


def test_the_daemon_runs_in_its_own_process_and_every_figure_is_measured(tmp_path: Path) -> None:
    figures, raw = arbiter.run(tmp_path, orders=2)

    assert raw["daemon"] == "own process"
    assert raw["daemon_pid"] != os.getpid() == raw["benchmark_pid"]
    assert raw["daemon_cmdline"][-3:] == ["-m", "tevo_bridge.cli", "run"]
    assert len(raw["orders"]) == 2
    for sample in raw["orders"]:
        assert sample["sequential"] == 2  # the re-fetch, then the accept
        assert sample["calls"] == ["GET /v9/orders/{id}", "POST /v9/orders/{id}/accept"]
        assert sample["path_s"] > 2 * arbiter.LATENCY
        assert sample["reservation_s"] is not None  # read back from the daemon's own store file
        assert sample["pos_hold_s"] > 0  # from the daemon's /metrics, not this process's registry
        assert sample["daemon_cpu_s"] > 0 and sample["benchmark_cpu_s"] > 0
        assert sample["daemon_runq_s"] >= 0 and sample["benchmark_runq_s"] >= 0
    assert [f.baseline for f in figures[:2]] == [200.0, 200.0]
    assert "the daemon process" in figures[1].note and "the benchmark process" in figures[1].note


def test_the_in_process_variant_is_told_apart(tmp_path: Path) -> None:
    """The comparison run (``--in-process``) shares this process: its pid says so, and it claims no daemon CPU."""
    figures, raw = arbiter.run(tmp_path, orders=1, daemon_here=True)

    assert raw["daemon"] == "in this process"
    assert raw["daemon_pid"] == os.getpid()
    assert raw["orders"][0]["daemon_cpu_s"] is None is raw["orders"][0]["daemon_runq_s"]
    assert raw["orders"][0]["pos_hold_s"] > 0 and raw["orders"][0]["reservation_s"] is not None
    assert "the one process" in figures[1].note
