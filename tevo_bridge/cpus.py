"""Which CPU the daemon's event loop runs on: one, kept, unless the config says otherwise.

The daemon is one CPython process whose threads take turns holding one GIL. The event loop's thread holds it
most (every request's Python); the store's threads and the POS's hook threads hold it briefly and spend the rest
in C with the GIL let go (SQLite's steps, the fsync, a remote POS's network wait). Left to the kernel, the loop
was moved from CPU to CPU: a wake-up from another thread (the store's hand-back writes to the loop's self-pipe)
tends to put the woken thread beside the one that woke it, where the two then contend for one CPU while the
other CPU idles, and each move costs the loop its caches. Kept on one CPU, the loop stays put, and the kernel
puts the helpers where a CPU is free, so their C work overlaps the loop's Python. Measured on the two-core
benchmark machine (benchmarks/NOTES.md, "ninth pass"): 10-20% more holds per second for 7-14% less CPU per hold,
and at saturation 2-10% fewer webhook acks (an ack is mostly the loop's own work, and a kept loop cannot step
aside when another process takes its CPU). Keeping every thread on the loop's CPU did less well (their C work then waits for the
loop's Python), and so did sending the helpers to the other CPUs (a helper beside the loop hands the GIL over
without a cross-CPU wake-up).

``[server] loop_cpu``: ``"auto"`` (the default) keeps the loop on the CPU the daemon started on (the kernel
starts a new process on an idle one); a number names the CPU; ``"any"`` leaves the loop to the kernel, as
before. Threads the loop starts stay with it, except the pools that call ``roam`` first (the store's, the
POS's). Linux only: elsewhere ``"auto"`` changes nothing and a number is a config error.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Literal

LoopCpu = Literal["auto", "any"] | int

#: Field 39 of ``/proc/<pid>/stat``: the CPU the thread last ran on (fields 3 on come after the ``)``).
_PROCESSOR_FIELD = 39 - 3

#: The CPUs the process may use, once ``keep_loop_to`` kept the loop to one of them (``roam`` goes back to these).
_process_cpus: set[int] | None = None


def supported() -> bool:
    """Whether this platform lets a thread choose its CPUs (Linux)."""
    return hasattr(os, "sched_setaffinity") and hasattr(os, "sched_getaffinity")


def allowed() -> set[int]:
    """The CPUs this thread may run on (a container's or systemd's CPU set included)."""
    return set(os.sched_getaffinity(0))


def current() -> int | None:
    """The CPU this thread is running on, or None if ``/proc`` cannot say."""
    try:
        stat = Path("/proc/thread-self/stat").read_text()
        return int(stat.rsplit(")", 1)[1].split()[_PROCESSOR_FIELD])
    except (OSError, IndexError, ValueError):
        return None


def check(choice: LoopCpu) -> LoopCpu:
    """``choice`` if it can be kept here; a ``ValueError`` naming the fix if it names a CPU this process cannot use."""
    if isinstance(choice, int):
        if not supported():
            raise ValueError('this platform cannot keep a thread to one CPU; use "auto" or "any"')
        if choice not in allowed():
            raise ValueError(f"CPU {choice} is not one this process may run on (it may use {_listed(allowed())}); "
                             'name one of those, or use "auto" or "any"')
    return choice


def chosen(choice: LoopCpu, allowed: set[int], running_on: int | None) -> int | None:
    """The CPU to keep the loop to, or None to leave it as it is (``"any"``, or nothing to choose from)."""
    if choice == "any" or len(allowed) < 2:
        return None
    if isinstance(choice, int):
        return choice
    return running_on if running_on in allowed else min(allowed)


def keep_loop_to(choice: LoopCpu) -> int | None:
    """Keep the calling thread (the event loop's, before it starts) to the chosen CPU; the CPU, or None."""
    global _process_cpus
    if not supported():
        return None
    everywhere = allowed()
    cpu = chosen(check(choice), everywhere, current())
    if cpu is not None:
        _process_cpus = everywhere
        os.sched_setaffinity(0, {cpu})
    return cpu


def roam() -> None:
    """Let the calling thread run on any CPU the process may use: first thing in a pool thread whose work is mostly
    C with the GIL let go, which a CPU beside the loop's can overlap. Nothing if the loop was not kept to one."""
    if _process_cpus is not None:
        os.sched_setaffinity(0, _process_cpus)


def _listed(cpus: Iterable[int]) -> str:
    return ", ".join(str(cpu) for cpu in sorted(cpus))
