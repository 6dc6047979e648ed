"""``[server] loop_cpu``: the CPU the daemon keeps its event loop to (tevo_bridge/cpus.py says why).

The choice is pure and tested as such. Keeping a thread to a CPU is tested in a child process (it would pin
the test run itself): the calling thread (the loop's) is kept to the CPU, a thread it starts afterwards stays
with it, a thread that roams may run anywhere again, and a thread started before is left alone."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from pydantic import ValidationError

from tevo_bridge import cpus
from tevo_bridge.config import ServerSettings


def test_auto_keeps_to_the_cpu_it_runs_on() -> None:
    assert cpus.chosen("auto", {0, 1, 2, 3}, 2) == 2


def test_auto_takes_an_allowed_cpu_when_the_current_one_is_unknown_or_not_allowed() -> None:
    assert cpus.chosen("auto", {2, 3}, None) == 2
    assert cpus.chosen("auto", {2, 3}, 0) == 2


def test_a_number_names_the_cpu() -> None:
    assert cpus.chosen(3, {0, 1, 2, 3}, 0) == 3


def test_any_or_a_single_allowed_cpu_changes_nothing() -> None:
    assert cpus.chosen("any", {0, 1}, 0) is None
    assert cpus.chosen("auto", {5}, 5) is None
    assert cpus.chosen(5, {5}, 5) is None


def test_the_default_is_auto() -> None:
    assert ServerSettings().loop_cpu == "auto"


def test_a_cpu_this_process_may_not_use_is_a_config_error_naming_the_ones_it_may() -> None:
    usable = ", ".join(str(cpu) for cpu in sorted(os.sched_getaffinity(0)))
    with pytest.raises(ValidationError, match=rf"CPU 4096 is not one this process may run on \(it may use {usable}\)"
                                              r".*\"auto\" or \"any\""):
        ServerSettings(loop_cpu=4096)


def test_a_word_other_than_auto_or_any_is_refused() -> None:
    with pytest.raises(ValidationError, match="'auto' or 'any'"):
        ServerSettings(loop_cpu="one")


def test_a_number_from_the_environment_is_a_cpu(monkeypatch: pytest.MonkeyPatch) -> None:
    from tevo_bridge.config import Settings

    cpu = min(os.sched_getaffinity(0))
    monkeypatch.setenv("TEVO_BRIDGE_SERVER__LOOP_CPU", str(cpu))
    assert Settings().server.loop_cpu == cpu


def test_where_the_platform_cannot_keep_a_thread_a_number_is_refused_and_auto_is_nothing(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cpus, "supported", lambda: False)
    with pytest.raises(ValidationError, match="this platform cannot keep a thread to one CPU"):
        ServerSettings(loop_cpu=0)
    assert cpus.keep_loop_to("auto") is None


CHILD = """
import json, os, sys, threading
from tevo_bridge import cpus
hold = threading.Event()
seen = {}
def note(name, roam=False):
    if roam:
        cpus.roam()
    seen[name] = sorted(os.sched_getaffinity(0))
    hold.wait()
before = threading.Thread(target=note, args=("before",)); before.start()
kept = cpus.keep_loop_to(json.loads(sys.argv[1]))
seen["loop"] = sorted(os.sched_getaffinity(0))
after = [threading.Thread(target=note, args=("stays",)), threading.Thread(target=note, args=("roams", True))]
for thread in after:
    thread.start()
while len(seen) < 4:
    pass
hold.set()
print(json.dumps({"kept": kept, "seen": seen}))
"""


def _in_a_child(choice: object) -> dict[str, object]:
    done = subprocess.run([sys.executable, "-c", CHILD, json.dumps(choice)], capture_output=True, text=True,
                          timeout=60, check=True)
    result: dict[str, object] = json.loads(done.stdout)
    return result


@pytest.fixture
def two_cpus() -> list[int]:
    usable = sorted(os.sched_getaffinity(0))
    if len(usable) < 2:
        pytest.skip(f"SKIPPED LOUDLY: this process may use only CPU {usable}: nothing to keep the loop to")
    return usable


def test_auto_keeps_the_loop_and_what_it_starts_to_one_cpu_and_a_roaming_thread_runs_anywhere(
        two_cpus: list[int]) -> None:
    result = _in_a_child("auto")
    kept = result["kept"]
    assert kept in two_cpus
    assert result["seen"] == {"before": two_cpus, "loop": [kept], "stays": [kept], "roams": two_cpus}


def test_a_number_keeps_the_loop_to_that_cpu(two_cpus: list[int]) -> None:
    result = _in_a_child(two_cpus[-1])
    assert result["kept"] == two_cpus[-1]
    assert result["seen"] == {"before": two_cpus, "loop": [two_cpus[-1]], "stays": [two_cpus[-1]],
                              "roams": two_cpus}


def test_any_keeps_nothing_and_roaming_changes_nothing(two_cpus: list[int]) -> None:
    result = _in_a_child("any")
    assert result["kept"] is None
    assert result["seen"] == {"before": two_cpus, "loop": two_cpus, "stays": two_cpus, "roams": two_cpus}
