"""Thread hand-offs per request: ``python -m benchmarks.switches [--count N] [--kinds hold,webhook]``.

The daemon (as in the intake benchmark: ``tevo-bridge run``, SQLite POS, TEvo a socket that never answers) and
the durable bare endpoint (benchmarks/durable_bare.py) each take the intake loads at 16 concurrent; printed per
request, by thread of the server: its CPU time (``/proc/<pid>/task/*/stat``) and its *voluntary context
switches* (``/proc/<pid>/task/*/status``). A thread switches out voluntarily when it blocks: waiting for the GIL another thread holds, for a queue,
an event or a lock, for the socket. So the count is the hand-offs a request costs, by who waits, without
strace slowing the server down (``benchmarks.syscalls`` counts the ``futex`` calls themselves). Threads get
their Python name as their OS name (``prctl``, by a ``sitecustomize`` put first on the server's path), cut to
15 characters; numbered threads of one pool are summed.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import tempfile
from collections import Counter
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

from benchmarks.common import Process, blackhole, daemon_process, durable_bare_process, load
from benchmarks.intake import daemon_settings, seed_pos
from tevo_bridge.serve import free_port

#: Runs in the server at start-up: every thread started by ``threading`` takes its Python name as its OS name.
_SITECUSTOMIZE = '''
import ctypes, threading

_PR_SET_NAME = 15
_libc = ctypes.CDLL(None)
_bootstrap = threading.Thread._bootstrap_inner


def _named(self):
    _libc.prctl(_PR_SET_NAME, self.name[:15].encode(), 0, 0, 0)
    _bootstrap(self)


threading.Thread._bootstrap_inner = _named
'''


def pool_name(comm: str) -> str:
    """``pos-sqlite_pos-3`` and ``store-0`` name a pool, not a thread: drop the trailing number."""
    return re.sub(r"-\d+$", "", comm) or comm


def switches(pid: int) -> Counter[str]:
    """Voluntary context switches so far, by thread pool."""
    counts: Counter[str] = Counter()
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            comm = (task / "comm").read_text().strip()
            status = (task / "status").read_text()
        except FileNotFoundError:  # the thread ended meanwhile
            continue
        for line in status.splitlines():
            if line.startswith("voluntary_ctxt_switches:"):
                counts[pool_name(comm)] += int(line.split()[1])
    return counts


_TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> Counter[str]:
    """User + system CPU so far, by thread pool (``/proc/<pid>/task/*/stat``, in clock ticks)."""
    seconds: Counter[str] = Counter()
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            comm = (task / "comm").read_text().strip()
            fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        seconds[pool_name(comm)] += (int(fields[11]) + int(fields[12])) / _TICK  # utime, stime
    return seconds


def counted(process: Process, kind: str, count: int,
            remote_ids: list[str]) -> tuple[dict[str, float], dict[str, float]]:
    """Warm the server, then count its threads' switches and CPU over ``count`` requests.

    Returns ({thread: switches per request}, {thread: CPU ms per request})."""
    load(kind, process.base_url, concurrency=16, count=300, max_seconds=60, prefix=f"warm-{kind}",
         remote_ids=remote_ids)
    before, cpu_before = switches(process.pid), cpu_seconds(process.pid)
    result = load(kind, process.base_url, concurrency=16, count=count, max_seconds=300, prefix=f"count-{kind}",
                  remote_ids=remote_ids)
    after, cpu_after = switches(process.pid), cpu_seconds(process.pid)
    after.subtract(before)
    cpu_after.subtract(cpu_before)
    return ({name: n / result["count"] for name, n in after.items() if n > 0},
            {name: 1000 * s / result["count"] for name, s in cpu_after.items() if s > 0})


@contextmanager
def _named_threads(tmp: Path) -> Iterator[None]:
    (tmp / "site").mkdir()
    (tmp / "site" / "sitecustomize.py").write_text(_SITECUSTOMIZE)
    saved = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(tmp / "site"), saved]))
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop("PYTHONPATH", None)
        else:
            os.environ["PYTHONPATH"] = saved


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.switches", description=__doc__)
    parser.add_argument("--count", type=int, default=2000, help="requests per load")
    parser.add_argument("--kinds", default="hold,webhook")
    args = parser.parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="tevo-switches-"))
    remote_ids = seed_pos(tmp / "pos.sqlite3")
    with blackhole() as tevo, _named_threads(tmp):
        servers: dict[str, AbstractContextManager[Process]] = {
            "daemon": daemon_process(daemon_settings(tmp, tmp / "pos.sqlite3", tevo, free_port()), tmp / "daemon.log"),
            "durable bare": durable_bare_process(free_port(), tmp / "durable", tmp / "durable.log"),
        }
        for name, server in servers.items():
            with server as process:
                for kind in args.kinds.split(","):
                    by_thread, cpu = counted(process, kind, args.count, remote_ids)
                    top = sorted(by_thread.items(), key=lambda item: -item[1])
                    print(f"{name}, {kind}: {sum(by_thread.values()):.1f} voluntary context switches per request: "
                          + ", ".join(f"{thread} {n:.2f}" for thread, n in top), flush=True)
                    top = sorted(cpu.items(), key=lambda item: -item[1])
                    print(f"{name}, {kind}: {sum(cpu.values()):.3f} ms of CPU per request: "
                          + ", ".join(f"{thread} {ms:.3f}" for thread, ms in top), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
