"""Server CPU per request of two versions of the daemon, alternately: ``python -m benchmarks.ab REV [--rounds N]``.

For steering a cut: the daemon of git revision ``REV`` (exported to a temporary tree) and the daemon of
this worktree run the intake benchmark's loads (holds, then webhook acks, 16 concurrent, TEvo a socket
that never answers) one after the other, in alternating order, each on a fresh store and POS. Each
round prints both daemons' CPU per request (user and system, from /proc), their rates and the ratio
new/old; the summary is the median ratio with its min-max spread, for the total and for user and system
time apart (a cut of system calls shows in the system time even when the user time swings with the
machine's load). CPU per request survives the load other sessions put on a shared machine far better
than latencies or rates do.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path

from benchmarks.common import ROOT, _wait_live, blackhole, load
from benchmarks.intake import daemon_settings, seed_pos
from tevo_bridge.config import settings_env
from tevo_bridge.serve import free_port


@dataclass(frozen=True)
class Sample:
    user_ms: float  # per request
    system_ms: float
    rate: float  # requests per second, client-side

    @property
    def cpu_ms(self) -> float:
        return self.user_ms + self.system_ms


def export(rev: str, into: Path) -> Path:
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", rev], check=True, capture_output=True).stdout
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    return into


def cpu_ticks(pid: int) -> tuple[int, int]:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]), int(fields[12])


def known_to(tree: Path, variables: dict[str, str]) -> dict[str, str]:
    """The settings ``tree``'s config has: an older version refuses a key added since (its sections forbid
    extras), and without it runs as that version did (``[server] http_parser`` before there was a choice)."""
    config = (tree / "tevo_bridge" / "config.py").read_text()
    return {name: value for name, value in variables.items() if "_PLUGINS__" in name  # the plugins' own tables
            or re.search(rf"^\s+{re.escape(name.rsplit('__', 1)[-1].lower())}\s*:", config, re.MULTILINE)}


def measure(tree: Path, kind: str, count: int, tevo: str, store: dict[str, str] | None = None) -> Sample:
    """One daemon of ``tree`` on a fresh store and POS: warm it, then time ``count`` requests. ``store``: the
    daemon's ``[store]`` (a fresh PostgreSQL database), else a fresh SQLite file."""
    tmp = Path(tempfile.mkdtemp(prefix="tevo-ab-"))
    remote_ids = seed_pos(tmp / "pos.sqlite3")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("TEVO_BRIDGE_")}
    env["PYTHONPATH"] = os.pathsep.join([str(tree), str(tree / "plugins" / "sqlite_pos")])
    env.update(known_to(tree, settings_env(daemon_settings(tmp, tmp / "pos.sqlite3", tevo, port, store=store))))
    base = f"http://127.0.0.1:{port}"
    with (tmp / "daemon.log").open("ab") as log:
        daemon = subprocess.Popen([sys.executable, "-m", "tevo_bridge.cli", "run"], cwd=tree, env=env, stdout=log,
                                  stderr=subprocess.STDOUT)
        try:
            _wait_live(daemon, f"{base}/livez", tmp / "daemon.log")
            load(kind, base, concurrency=16, count=300, max_seconds=60, prefix="warm", remote_ids=remote_ids)
            before = cpu_ticks(daemon.pid)
            result = load(kind, base, concurrency=16, count=count, max_seconds=120, prefix="ab", remote_ids=remote_ids)
            after = cpu_ticks(daemon.pid)
        finally:
            daemon.terminate()
            daemon.wait(15)
    tick_ms = 1000 / os.sysconf("SC_CLK_TCK")
    done = result["count"]
    return Sample((after[0] - before[0]) * tick_ms / done, (after[1] - before[1]) * tick_ms / done, result["rate"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.ab", description=__doc__)
    parser.add_argument("rev", help="the old version: a git revision of this repository")
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--count", type=int, default=2000, help="requests per load")
    parser.add_argument("--kinds", default="hold,webhook")
    parser.add_argument("--store", choices=("sqlite", "postgresql"), default="sqlite",
                        help="postgresql: each daemon on a fresh database of one durable server of the run's own")
    args = parser.parse_args(argv)
    old = export(args.rev, Path(tempfile.mkdtemp(prefix="tevo-ab-old-")))
    new = ROOT
    with blackhole() as tevo, _databases(args.store) as database:
        for kind in args.kinds.split(","):
            ratios, user, system = [], [], []
            for n in range(args.rounds):
                order = [("old", old), ("new", new)] if n % 2 == 0 else [("new", new), ("old", old)]
                got = {name: measure(tree, kind, args.count, tevo, database()) for name, tree in order}
                ratios.append(got["new"].cpu_ms / got["old"].cpu_ms)
                user.append(got["new"].user_ms / got["old"].user_ms if got["old"].user_ms else 1.0)
                system.append(got["new"].system_ms / got["old"].system_ms if got["old"].system_ms else 1.0)
                print(f"{kind} round {n + 1}: " + "  ".join(
                    f"{name} {s.cpu_ms:.3f} ms CPU (user {s.user_ms:.3f}, sys {s.system_ms:.3f}), {s.rate:.0f}/s"
                    for name, s in got.items()) + f"  new/old {ratios[-1]:.2f}", flush=True)
            print(f"{kind}: CPU per request new/old median {statistics.median(ratios):.2f} "
                  f"(min {min(ratios):.2f}, max {max(ratios):.2f}) over {args.rounds} alternating rounds; "
                  f"user {statistics.median(user):.2f} ({min(user):.2f}-{max(user):.2f}), "
                  f"system {statistics.median(system):.2f} ({min(system):.2f}-{max(system):.2f})", flush=True)
    return 0


@contextmanager
def _databases(store: str) -> Iterator[Callable[[], dict[str, str] | None]]:
    """A fresh ``[store]`` per daemon: ``None`` (a SQLite file in its folder) or a new PostgreSQL database."""
    if store == "sqlite":
        yield lambda: None
        return
    from benchmarks.replicas import postgres

    with postgres(Path(tempfile.mkdtemp(prefix="tevo-ab-pg-"))) as server:
        yield lambda: {"url": server.new_database()}


if __name__ == "__main__":
    sys.exit(main())
