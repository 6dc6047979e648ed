"""``[server] loop_cpu``: the CPU the daemon keeps its event loop to (tevo_bridge/cpus.py says why).

The choice is pure and tested as such. Keeping a thread to a CPU is tested in a child process (it would pin
the test run itself): the calling thread (the loop's) is kept to the CPU, a thread it starts afterwards stays
with it, a thread that roams may run anywhere again, and a thread started before is left alone. Each store is
opened as the daemon opens it (``backends.open_store`` + ``as_async``) in such a child: a SQLite store's threads
roam (their time is SQLite's C and the fsync, with the GIL let go), a PostgreSQL store's stay with the loop
(psycopg's Python and a wait for the server, whose own processes are what another CPU is for)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

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


KEPT_AND_STARTED = """
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


STORE_THREADS = """
import json, os, sys, threading
from tevo_bridge import cpus
from tevo_bridge.config import StoreSettings
from tevo_bridge.store.backends import as_async, open_store

kept = cpus.keep_loop_to("auto")
settings = StoreSettings.model_validate(json.loads(sys.argv[1]))
store = as_async(open_store(settings, daemon=True, jobs=2), settings)
try:
    seen = {t.name: sorted(os.sched_getaffinity(t.native_id))
            for t in threading.enumerate() if t.name.startswith("store")}
finally:
    store.close()
print(json.dumps({"kept": kept, "threads": seen}))
"""


def _in_a_child(script: str, argument: object) -> dict[str, object]:
    """``script`` run by a fresh interpreter (keeping its thread to a CPU would keep the test run's), given
    ``argument`` as JSON; what it printed, as JSON."""
    done = subprocess.run([sys.executable, "-c", script, json.dumps(argument)], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    result: dict[str, object] = json.loads(done.stdout)
    return result


def test_auto_keeps_the_loop_and_what_it_starts_to_one_cpu_and_a_roaming_thread_runs_anywhere(
        two_cpus: list[int]) -> None:
    result = _in_a_child(KEPT_AND_STARTED, "auto")
    kept = result["kept"]
    assert kept in two_cpus
    assert result["seen"] == {"before": two_cpus, "loop": [kept], "stays": [kept], "roams": two_cpus}


def test_a_number_keeps_the_loop_to_that_cpu(two_cpus: list[int]) -> None:
    result = _in_a_child(KEPT_AND_STARTED, two_cpus[-1])
    assert result["kept"] == two_cpus[-1]
    assert result["seen"] == {"before": two_cpus, "loop": [two_cpus[-1]], "stays": [two_cpus[-1]],
                              "roams": two_cpus}


def test_any_keeps_nothing_and_roaming_changes_nothing(two_cpus: list[int]) -> None:
    result = _in_a_child(KEPT_AND_STARTED, "any")
    assert result["kept"] is None
    assert result["seen"] == {"before": two_cpus, "loop": two_cpus, "stays": two_cpus, "roams": two_cpus}


def test_a_sqlite_stores_threads_run_on_any_cpu(tmp_path: Path, two_cpus: list[int]) -> None:
    result = _in_a_child(STORE_THREADS, {"path": str(tmp_path / "state.sqlite3")})

    threads = result["threads"]
    assert isinstance(threads, dict) and set(threads) == {"store-0", "store-sync-0"}
    assert all(cpu_set == two_cpus for cpu_set in threads.values()), result


def test_a_postgresql_stores_threads_stay_on_the_loops_cpu(pg_url: str, two_cpus: list[int]) -> None:
    result = _in_a_child(STORE_THREADS, {"url": pg_url})

    threads = result["threads"]
    assert isinstance(threads, dict) and any(name.startswith("store-intake") for name in threads), threads
    assert all(cpu_set == [result["kept"]] for cpu_set in threads.values()), result
