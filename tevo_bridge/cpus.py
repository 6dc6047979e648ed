"""Which CPU the daemon's event loop runs on: one, kept, unless the config says otherwise.

The daemon is one CPython process whose threads take turns holding one GIL. The event loop's thread holds it most
(every request's Python) and hands it to a POS hook thread and back for every Order Integration hold; a SQLite
store's threads hold it briefly and spend the rest in C with the GIL let go (SQLite's steps, the fsync). Left to
the kernel, the loop was moved from CPU to CPU, next to whichever thread woke it, and each move cost it its
caches; each hand-off of the GIL to a thread on the other CPU was a cross-CPU wake-up. Kept on one CPU with the
POS's hook threads, the loop stays put and hands the GIL over without one, while SQLite's C runs on whichever CPU
is free (a PostgreSQL store's threads, psycopg's Python and a wait for the server, stay with the loop: the
server's processes are what another CPU is for). Measured on the two-core benchmark machine (benchmarks/NOTES.md,
"ninth pass"): 28% more holds per second for 21% less CPU per hold on SQLite, 15% more on PostgreSQL; at
saturation 8-11% fewer webhook acks per second for ~15% more CPU per ack on SQLite (an ack is mostly the loop's
own work, and a kept loop cannot step aside when another process, the load generator there, a proxy in front in
production, takes its CPU). Tried and measured worse: every thread on the loop's CPU (SQLite's C then waits for
the loop's Python), the POS's threads left to roam too (fewer holds per second, and from run to run more or fewer
as the kernel placed them), and the helpers sent to the other CPUs (the kernel's own placement did better).

``[server] loop_cpu``: ``"auto"`` (the default) keeps the loop on the CPU the daemon started on (the kernel
starts a new process on an idle one); a number names the CPU; ``"any"`` leaves the loop to the kernel, as
before. Threads the loop starts stay with it (the POS's hook threads among them), except those that call ``roam``
first (a SQLite store's). Linux only: elsewhere ``"auto"`` changes nothing and a number is a config error.
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
    """Let the calling thread run on any CPU the process may use: first thing in a SQLite store thread, whose work
    is mostly C with the GIL let go, which another CPU can overlap. Nothing if the loop was not kept to one."""
    if _process_cpus is not None:
        os.sched_setaffinity(0, _process_cpus)


def _listed(cpus: Iterable[int]) -> str:
    return ", ".join(str(cpu) for cpu in sorted(cpus))
