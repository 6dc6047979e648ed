"""`tevo-bridge run` keeps its event loop on one CPU unless told otherwise (``[server] loop_cpu``), and lets the
store's threads run on any CPU.

Read from outside, as an operator would: ``/proc/<pid>/task/*/status`` of the running daemon once it answers
/livez, and its start-up line ``daemon.loop_cpu``. The loop runs on the main thread, whose id is the process's;
the store's thread and its syncer are up by then (the POS's hook threads start with the first hook call)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.integration.run_daemon import running


def _cpus_of_threads(pid: int) -> dict[int, str]:
    seen = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        fields = dict(line.split(":\t", 1) for line in (task / "status").read_text().splitlines() if ":\t" in line)
        seen[int(task.name)] = fields["Cpus_allowed_list"].strip()
    return seen


def _started(folder: Path) -> dict[str, object]:
    for line in (folder / "daemon.log").read_text().splitlines():
        if '"daemon.loop_cpu"' in line:
            event: dict[str, object] = json.loads(line)
            return event
    raise AssertionError("no daemon.loop_cpu line at start-up")


@pytest.fixture
def usable(two_cpus: list[int]) -> str:
    """The test run's own CPUs as ``/proc`` lists them (``Cpus_allowed_list``), where there are two or more."""
    return Path("/proc/self/status").read_text().split("Cpus_allowed_list:\t", 1)[1].split("\n", 1)[0]


def _loop_and_others(folder: Path, server: str = "") -> tuple[str, list[str]]:
    with running(folder, server=server) as process:
        threads = _cpus_of_threads(process.pid)
    loop = threads.pop(process.pid)
    return loop, sorted(threads.values())


def test_run_keeps_its_loop_on_the_cpu_it_names_and_the_store_threads_anywhere(tmp_path: Path, usable: str) -> None:
    loop, others = _loop_and_others(tmp_path)

    started = _started(tmp_path)
    assert started["loop_cpu"] == "auto" and isinstance(started["cpu"], int)
    assert loop == str(started["cpu"])
    assert others.count(usable) >= 2, others  # the store's thread and its syncer roam


def test_run_with_a_cpu_number_keeps_its_loop_on_that_cpu(tmp_path: Path, usable: str) -> None:
    last = max(os.sched_getaffinity(0))
    loop, others = _loop_and_others(tmp_path, f"loop_cpu = {last}")

    assert _started(tmp_path)["cpu"] == last
    assert loop == str(last)
    assert others.count(usable) >= 2, others


def test_run_with_any_keeps_no_thread(tmp_path: Path, usable: str) -> None:
    loop, others = _loop_and_others(tmp_path, 'loop_cpu = "any"')

    assert _started(tmp_path)["cpu"] is None
    assert {loop, *others} == {usable}
