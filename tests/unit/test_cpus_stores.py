"""Which store threads leave the event loop's CPU (tevo_bridge/cpus.py, ``AsyncStore.roams``): a SQLite store's
run on any CPU (their time is SQLite's C and the fsync, with the GIL let go), a PostgreSQL store's stay with the
loop (psycopg's Python and a wait for the server, whose own processes are what another CPU is for).

Each store is opened as the daemon opens it (``backends.open_store`` + ``as_async``), in a child process whose
main thread was first kept to one CPU, as ``daemon.serve`` keeps it; each thread's CPUs are read by its name."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

CHILD = """
import json, os, sys, threading
from tevo_bridge import cpus
from tevo_bridge.config import StoreSettings
from tevo_bridge.store.backends import as_async, open_store

kept = cpus.keep_loop_to("auto")
settings = StoreSettings.model_validate(json.loads(sys.argv[1]))
store = as_async(open_store(settings, daemon=True, jobs=2), settings)
try:
    seen = {t.name: sorted(os.sched_getaffinity(t.native_id)) for t in threading.enumerate() if t.name.startswith("store")}
finally:
    store.close()
print(json.dumps({"kept": kept, "threads": seen}))
"""


def _threads_of(store: dict[str, str]) -> dict[str, object]:
    done = subprocess.run([sys.executable, "-c", CHILD, json.dumps(store)], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    result: dict[str, object] = json.loads(done.stdout)
    return result


@pytest.fixture
def usable() -> list[int]:
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        pytest.skip(f"SKIPPED LOUDLY: this process may use only CPU {cpus}: nothing to keep the loop to")
    return cpus


def test_a_sqlite_stores_threads_run_on_any_cpu(tmp_path, usable: list[int]) -> None:
    result = _threads_of({"path": str(tmp_path / "state.sqlite3")})

    threads = result["threads"]
    assert isinstance(threads, dict) and set(threads) == {"store-0", "store-sync-0"}
    assert all(cpu_set == usable for cpu_set in threads.values()), result


def test_a_postgresql_stores_threads_stay_on_the_loops_cpu(pg_url: str, usable: list[int]) -> None:
    result = _threads_of({"url": pg_url})

    threads = result["threads"]
    assert isinstance(threads, dict) and any(name.startswith("store-intake") for name in threads), threads
    assert all(cpu_set == [result["kept"]] for cpu_set in threads.values()), result
