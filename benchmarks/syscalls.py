"""System calls per request: ``python -m benchmarks.syscalls [--count N] [--kinds hold,webhook]``.

The daemon (as in the intake benchmark: ``tevo-bridge run``, SQLite POS, TEvo a socket that never answers)
and the durable bare endpoint (benchmarks/durable_bare.py) each take the intake loads at 16 concurrent
while ``strace -c -f`` counts every thread's system calls; printed per request, by call. Counts, unlike
times, do not move with the machine's load: what a cut of writes, reads, fsyncs or thread wake-ups
(``futex``) saves shows here first. ``--store postgresql`` puts the daemon on a durable PostgreSQL server of
the run's own (as benchmarks/replicas.py; only the daemon's process is traced, not the server's backends).
Needs strace and ptrace rights over the child (as py-spy does).
"""

from __future__ import annotations

import argparse
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, ExitStack
from pathlib import Path

from benchmarks.common import Process, blackhole, daemon_process, durable_bare_process, load
from benchmarks.intake import daemon_settings, seed_pos
from benchmarks.replicas import postgres
from tevo_bridge.serve import free_port


def counted(process: Process, kind: str, count: int, remote_ids: list[str], out: Path) -> dict[str, float]:
    """Warm the server, then count its system calls over ``count`` requests: {call: calls per request}."""
    load(kind, process.base_url, concurrency=16, count=300, max_seconds=60, prefix=f"warm-{kind}",
         remote_ids=remote_ids)
    tracer = subprocess.Popen(["strace", "-c", "-f", "-o", str(out), "-p", str(process.pid)],
                              stderr=subprocess.DEVNULL)
    time.sleep(1.0)  # strace attaches to every thread before the load starts
    result = load(kind, process.base_url, concurrency=16, count=count, max_seconds=300, prefix=f"count-{kind}",
                  remote_ids=remote_ids)
    tracer.send_signal(signal.SIGINT)
    tracer.wait(30)
    return {name: calls / result["count"] for name, calls in _table(out.read_text())}


def _table(text: str) -> Iterator[tuple[str, int]]:
    """The rows of ``strace -c``'s summary: ``% time, seconds, usecs/call, calls, [errors,] syscall``."""
    for line in text.splitlines():
        parts = line.split()
        if len(parts) >= 5 and parts[3].isdigit() and parts[-1] != "total":
            yield parts[-1], int(parts[3])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.syscalls", description=__doc__)
    parser.add_argument("--count", type=int, default=2000, help="requests per load")
    parser.add_argument("--kinds", default="hold,webhook")
    parser.add_argument("--store", choices=("sqlite", "postgresql"), default="sqlite",
                        help="the daemon's store; postgresql leaves out the durable bare endpoint (SQLite's floor)")
    args = parser.parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="tevo-syscalls-"))
    remote_ids = seed_pos(tmp / "pos.sqlite3")
    with ExitStack() as stack:
        tevo = stack.enter_context(blackhole())
        store = None if args.store == "sqlite" else {"url": stack.enter_context(postgres(tmp)).new_database()}
        servers: dict[str, AbstractContextManager[Process]] = {
            f"daemon ({args.store})": daemon_process(daemon_settings(tmp, tmp / "pos.sqlite3", tevo, free_port(),
                                                                     store=store), tmp / "daemon.log"),
        }
        if store is None:
            servers["durable bare"] = durable_bare_process(free_port(), tmp / "durable", tmp / "durable.log")
        for name, server in servers.items():
            with server as process:
                for kind in args.kinds.split(","):
                    calls = counted(process, kind, args.count, remote_ids, tmp / f"{name}-{kind}.strace")
                    top = sorted(calls.items(), key=lambda item: -item[1])[:8]
                    print(f"{name}, {kind}: {sum(calls.values()):.1f} system calls per request: "
                          + ", ".join(f"{call} {n:.2f}" for call, n in top), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
