"""Where a hold's and a webhook ack's CPU goes: ``python -m benchmarks.profile [--seconds N] [--out DIR]``.

The daemon runs as in the intake benchmark (``tevo-bridge run`` over a seeded SQLite POS, TEvo a
socket that never answers) while py-spy samples it from outside, every thread, only while a
thread holds the GIL: the picture is the Python CPU time a request costs, not time spent waiting.
Each load (holds at 16 concurrent, then webhooks at 16 concurrent) is profiled on its own, and
the samples are summed per function (inclusive: on the stack at all; self: at the top) and per
layer of the stack (uvicorn's HTTP, the ASGI middleware, FastAPI's routing and validation, our
route, the store, logging, metrics...), so a cut can be aimed at what dominates and its effect
read in the next profile. Set-up: ``pip install py-spy`` (benchmarks/setup.sh); it needs ptrace
rights over its child (root, or ``kernel.yama.ptrace_scope=0``).
"""

from __future__ import annotations

import argparse
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from collections import Counter
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.common import ROOT, blackhole, daemon_process, load
from benchmarks.intake import daemon_settings, seed_pos
from benchmarks.replicas import postgres
from tevo_bridge.serve import free_port

#: Which layer a frame belongs to, by the first matching fragment of its file path or function (in order).
LAYERS: tuple[tuple[str, str], ...] = (
    ("psycopg", "PostgreSQL driver (psycopg, pool)"),
    ("tevo_bridge/store/", "store (SQLite thread, commits)"),
    ("sqlite3", "store (SQLite thread, commits)"),
    ("tevo_bridge/pos/", "POS host and worker threads"),
    ("tevo_bridge_sqlite_pos", "POS plugin (SQLite POS)"),
    ("pluggy", "POS host and worker threads"),
    ("structlog", "logging"),
    ("tevo_bridge/log.py", "logging"),
    ("logging/", "logging"),
    ("prometheus_client", "metrics"),
    ("tevo_bridge/metrics.py", "metrics"),
    ("tevo_bridge/intake/", "our routes (intake/)"),
    ("fastapi/", "FastAPI routing, dependencies, validation"),
    ("pydantic", "pydantic validation and serialisation"),
    ("starlette/", "Starlette (requests, middleware, responses)"),
    ("tevo_bridge/asgi_guard.py", "our ASGI middleware"),
    ("tevo_bridge/admin_guard.py", "our ASGI middleware"),
    ("tevo_bridge/connections.py", "uvicorn HTTP protocol (httptools or h11) and connection guard"),
    ("uvicorn/", "uvicorn HTTP protocol (httptools or h11) and connection guard"),
    ("h11/", "uvicorn HTTP protocol (httptools or h11) and connection guard"),
    ("httptools/", "uvicorn HTTP protocol (httptools or h11) and connection guard"),
    ("json/", "json"),
    ("asyncio/", "asyncio event loop and thread hand-offs"),
    ("concurrent/futures", "asyncio event loop and thread hand-offs"),
    ("threading.py", "asyncio event loop and thread hand-offs"),
)


@dataclass
class Profile:
    """Collapsed stacks (py-spy's ``raw`` format): one line a distinct stack, ``frame;frame;... count``."""

    stacks: Counter[tuple[str, ...]]

    @classmethod
    def read(cls, path: Path) -> Profile:
        stacks: Counter[tuple[str, ...]] = Counter()
        for line in path.read_text().splitlines():
            frames, _, count = line.rpartition(" ")
            if frames and count.isdigit():
                stacks[tuple(frames.split(";"))] += int(count)
        return cls(stacks)

    @property
    def samples(self) -> int:
        return sum(self.stacks.values())

    def functions(self) -> tuple[Counter[str], Counter[str]]:
        """Samples per function: inclusive (anywhere on the stack, once per stack) and self (on top)."""
        inclusive: Counter[str] = Counter()
        own: Counter[str] = Counter()
        for stack, count in self.stacks.items():
            for frame in set(stack):
                inclusive[frame] += count
            if stack:
                own[stack[-1]] += count
        return inclusive, own

    def layers(self) -> Counter[str]:
        """Samples per layer, each sample counted once, for the innermost frame that names a layer."""
        per: Counter[str] = Counter()
        for stack, count in self.stacks.items():
            per[_layer_of(stack)] += count
        return per


def _layer_of(stack: tuple[str, ...]) -> str:
    for frame in reversed(stack):
        for fragment, layer in LAYERS:
            if fragment in frame:
                return layer
    return "other"


def report(name: str, profile: Profile, requests: int, top: int = 15) -> str:
    total = profile.samples or 1
    inclusive, own = profile.functions()
    lines = [f"### {name}: {profile.samples} samples over {requests} requests", "",
             "| layer (innermost frame) | share of CPU samples |", "|---|---:|"]
    lines += [f"| {layer} | {count / total:.0%} |" for layer, count in profile.layers().most_common()]
    lines += ["", "| function (self time) | self | inclusive |", "|---|---:|---:|"]
    lines += [f"| `{_short(frame)}` | {count / total:.1%} | {inclusive[frame] / total:.1%} |"
              for frame, count in own.most_common(top)]
    return "\n".join(lines) + "\n"


def _short(frame: str) -> str:
    """``fn (path/to/site-packages/pkg/mod.py:12)`` as ``fn (pkg/mod.py:12)``."""
    function, _, where = frame.partition(" (")
    for marker in ("site-packages/", str(ROOT) + "/", "/lib/python3"):
        if marker in where:
            where = where.split(marker, 1)[1]
    return f"{function} ({where}" if where else function


def _profiled(pid: int, out: Path, run: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    recorder = subprocess.Popen([spy, "record", "--pid", str(pid), "--format", "raw", "--rate", "400",
                                 "--output", str(out), "--nonblocking", "--gil"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        threading.Event().wait(1.0)  # py-spy attaches
        result = run()
    finally:
        recorder.send_signal(signal.SIGINT)
        _, err = recorder.communicate(timeout=60)
    if not out.exists():
        raise RuntimeError(f"py-spy wrote no profile: {err.decode()[-2000:]}")
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.profile", description=__doc__)
    parser.add_argument("--count", type=int, default=3000, help="requests per load (default 3000)")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "out", help="where the profiles go")
    parser.add_argument("--store", choices=("sqlite", "postgresql"), default="sqlite",
                        help="the daemon's store: postgresql starts a throwaway durable server (as replicas.py)")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="tevo-profile-"))
    remote_ids = seed_pos(tmp / "pos.sqlite3")
    sections = []
    with ExitStack() as stack:
        store = None
        if args.store == "postgresql":
            store = {"url": stack.enter_context(postgres(tmp)).new_database()}
        tevo = stack.enter_context(blackhole())
        daemon = stack.enter_context(daemon_process(daemon_settings(tmp, tmp / "pos.sqlite3", tevo, free_port(),
                                                                    store=store), tmp / "daemon.log"))
        load("hold", daemon.base_url, concurrency=16, count=300, max_seconds=60, prefix="warm",
             remote_ids=remote_ids)
        for kind, label in (("hold", "OI hold, 16 concurrent"), ("webhook", "webhook ack, 16 concurrent")):
            raw = args.out / f"profile-{args.store}-{kind}.txt"
            result = _profiled(daemon.pid, raw, lambda kind=kind: load(
                kind, daemon.base_url, concurrency=16, count=args.count, max_seconds=120, prefix=f"prof-{kind}",
                remote_ids=remote_ids))
            sections.append(report(f"{label}, {args.store}", Profile.read(raw), result["count"]))
    shutil.rmtree(tmp, ignore_errors=True)
    text = "\n".join(sections)
    (args.out / f"PROFILE-{args.store}.md").write_text(text)
    print(text)
    print(f"raw stacks and this report in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
