"""Where the drain's daemon CPU goes: ``python -m benchmarks.profile_drain [--full] [--out DIR]``.

The drain benchmark (100 orders, or 1,000 with ``--full``) with py-spy sampling the daemon from the
moment it is up until it is stopped, only while a thread holds the GIL (as ``benchmarks.profile``);
the report adds the daemon's own counts (TEvo calls per endpoint, POS hooks and their time, read from
its ``/metrics``) and its CPU per order. The 3 s idle wait before the orders costs next to no samples.
Set-up as ``benchmarks.profile``: ``pip install py-spy`` and ptrace rights over the child.
"""

from __future__ import annotations

import argparse
import contextlib
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from benchmarks import drain
from benchmarks.common import ROOT, Process, daemon_process
from benchmarks.profile import Profile, report


@contextlib.contextmanager
def _sampled(out: Path) -> Iterator[None]:
    """``drain.run`` with its daemon sampled by py-spy into ``out`` (raw collapsed stacks)."""

    @contextlib.contextmanager
    def spied(settings: Any, log: Path) -> Iterator[Process]:
        with daemon_process(settings, log) as daemon:
            spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
            recorder = subprocess.Popen([spy, "record", "--pid", str(daemon.pid), "--format", "raw", "--rate",
                                         "200", "--output", str(out), "--nonblocking", "--gil"],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            threading.Event().wait(1.0)  # py-spy attaches
            try:
                yield daemon
            finally:
                recorder.send_signal(signal.SIGINT)
                recorder.communicate(timeout=60)

    original = drain.daemon_process
    drain.daemon_process = spied  # type: ignore[assignment]
    try:
        yield
    finally:
        drain.daemon_process = original


def counts(raw: dict[str, Any]) -> str:
    n = raw["orders_created"]
    tevo = raw["calls"]["tevo"]
    lines = [f"{n} orders in {raw['drain_seconds']:.1f} s; daemon CPU {raw['daemon_cpu_share']:.2f} of a core = "
             f"{raw['daemon_cpu_share'] * raw['drain_seconds'] / n * 1000:.0f} ms per order; sandbox "
             f"{raw['sandbox_cpu_share']:.2f}",
             f"TEvo calls per order: {sum(tevo.values()) / n:.2f} ("
             + ", ".join(f"{k} {v / n:.2f}" for k, v in sorted(tevo.items(), key=lambda kv: -kv[1])) + ")",
             "POS hooks: " + ", ".join(f"{hook} {c['calls']:.0f} calls, {c['seconds'] / c['calls'] * 1000:.1f} ms"
                                      for hook, c in raw["calls"]["pos"].items() if c["calls"])]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.profile_drain", description=__doc__)
    parser.add_argument("--full", action="store_true", help="1,000 orders instead of 100")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "out", help="where the profile goes")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    stacks = args.out / "profile-drain.txt"
    tmp = Path(tempfile.mkdtemp(prefix="tevo-profile-drain-"))
    with _sampled(stacks):
        _, raw = drain.run(tmp, quick=not args.full)
    shutil.rmtree(tmp, ignore_errors=True)
    text = counts(raw) + "\n\n" + report("drain", Profile.read(stacks), raw["orders_created"], top=25)
    (args.out / "PROFILE-drain.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
