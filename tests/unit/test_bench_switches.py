"""benchmarks.switches counts a process's blocking waits per thread pool, from /proc."""

from __future__ import annotations

import ctypes
import os
import threading
import time

from benchmarks.switches import pool_name, switches

PR_SET_NAME = 15


def test_numbered_threads_of_a_pool_count_as_the_pool() -> None:
    assert [pool_name(n) for n in ("pos-sqlite_pos-3", "store-0", "python", "commit-store.sq")] == [
        "pos-sqlite_pos", "store", "python", "commit-store.sq"]


def test_a_thread_that_blocks_is_counted_under_its_pool() -> None:
    wake, ready = threading.Event(), threading.Event()

    def waits() -> None:
        ctypes.CDLL(None).prctl(PR_SET_NAME, b"swtest-pool-7", 0, 0, 0)
        before = switches(os.getpid())["swtest-pool"]
        ready.set()
        for _ in range(3):
            wake.wait(5)  # blocks: set only after it has surely gone to sleep
            wake.clear()
            ready.set()
        counted.append(switches(os.getpid())["swtest-pool"] - before)

    counted: list[int] = []
    thread = threading.Thread(target=waits)
    thread.start()
    for _ in range(3):
        assert ready.wait(5)
        ready.clear()
        time.sleep(0.05)
        wake.set()
    thread.join(5)
    assert counted and counted[0] >= 3
