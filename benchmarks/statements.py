"""SQLite statements per request: ``python -m benchmarks.statements [--count N] [--kinds hold,webhook]``.

The daemon (as in the intake benchmark: ``tevo-bridge run``, SQLite store and SQLite POS, TEvo a socket that
never answers) takes the intake loads at 16 concurrent with every SQLite connection it opens traced
(``sqlite3.Connection.set_trace_callback``, installed by a ``sitecustomize`` put first on its path); printed per
request, by database file and by statement (its first words). The sqlite3 module lets go of the GIL around
every statement, and under load each is a hand-off between a store or POS thread and the busy event loop:
a statement cut shows here as a count, whatever the machine's load. Everything the daemon runs while the load
runs is counted, the worker's and the sweeps' statements too.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from benchmarks.common import Process, blackhole, daemon_process, load
from benchmarks.intake import daemon_settings, seed_pos
from tevo_bridge.serve import free_port

#: Runs in the daemon at start-up: counts statements per (database file, statement), writes them on SIGUSR2.
_SITECUSTOMIZE = '''
import collections, json, os, signal, sqlite3, threading

_counts = collections.Counter()
_lock = threading.Lock()
_connect = sqlite3.connect


def _kind(statement):
    words = statement.split()
    if not words or words[0].startswith("--"):
        return "(comment)"
    head = words[0].upper()
    if head in ("INSERT", "UPDATE", "DELETE", "SELECT", "WITH") and len(words) > 2:
        target = words[2] if head in ("INSERT", "DELETE") else words[1] if head == "UPDATE" else ""
        return f"{head} {target}".strip()
    return " ".join(words[:2]).upper() if head in ("BEGIN", "ROLLBACK") else head


def connect(database, *args, **kwargs):
    conn = _connect(database, *args, **kwargs)
    name = os.path.basename(str(database))

    def traced(statement):
        with _lock:
            _counts[name + "\\t" + _kind(statement)] += 1

    conn.set_trace_callback(traced)
    return conn


def _dump(signum, frame):
    with _lock:
        snapshot = dict(_counts)
    with open(os.environ["TEVO_STATEMENTS_OUT"], "w") as out:
        json.dump(snapshot, out)


sqlite3.connect = connect
signal.signal(signal.SIGUSR2, _dump)
'''


def snapshot(process: Process, out: Path) -> Counter[str]:
    """The daemon's statement counts so far (it writes them to ``out`` on SIGUSR2)."""
    out.unlink(missing_ok=True)
    os.kill(process.pid, signal.SIGUSR2)
    for _ in range(200):
        if out.exists() and out.stat().st_size:
            time.sleep(0.05)  # written in one json.dump; let it finish
            return Counter(json.loads(out.read_text()))
        time.sleep(0.05)
    raise RuntimeError("the daemon wrote no statement counts")


def counted(process: Process, kind: str, count: int, remote_ids: list[str], out: Path) -> dict[str, float]:
    """Warm the daemon, then count its statements over ``count`` requests: {"file\\tstatement": per request}."""
    load(kind, process.base_url, concurrency=16, count=300, max_seconds=60, prefix=f"warm-{kind}",
         remote_ids=remote_ids)
    before = snapshot(process, out)
    result = load(kind, process.base_url, concurrency=16, count=count, max_seconds=300, prefix=f"count-{kind}",
                  remote_ids=remote_ids)
    after = snapshot(process, out)
    return {key: n / result["count"] for key, n in (after - before).items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.statements", description=__doc__)
    parser.add_argument("--count", type=int, default=1000, help="requests per load")
    parser.add_argument("--kinds", default="hold,webhook")
    args = parser.parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="tevo-statements-"))
    (tmp / "site").mkdir()
    (tmp / "site" / "sitecustomize.py").write_text(_SITECUSTOMIZE)
    remote_ids = seed_pos(tmp / "pos.sqlite3")
    saved = {name: os.environ.get(name) for name in ("PYTHONPATH", "TEVO_STATEMENTS_OUT")}
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(tmp / "site"), saved["PYTHONPATH"]]))
    os.environ["TEVO_STATEMENTS_OUT"] = str(tmp / "counts.json")
    try:
        with blackhole() as tevo, \
                daemon_process(daemon_settings(tmp, tmp / "pos.sqlite3", tevo, free_port()), tmp / "daemon.log") as proc:
            for kind in args.kinds.split(","):
                per_request = counted(proc, kind, args.count, remote_ids, tmp / "counts.json")
                report(kind, per_request)
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
    return 0


def report(kind: str, per_request: dict[str, float]) -> None:
    by_file: dict[str, float] = {}
    for key, n in per_request.items():
        name = key.split("\t")[0]
        by_file[name] = by_file.get(name, 0.0) + n
    files = ", ".join(f"{name} {n:.2f}" for name, n in sorted(by_file.items(), key=lambda item: -item[1]))
    print(f"{kind}: {sum(per_request.values()):.2f} statements per request ({files})", flush=True)
    for key, n in sorted(per_request.items(), key=lambda item: -item[1]):
        if n >= 0.01:
            name, statement = key.split("\t")
            print(f"    {n:6.2f}  {name:16} {statement}", flush=True)


if __name__ == "__main__":
    sys.exit(main())
